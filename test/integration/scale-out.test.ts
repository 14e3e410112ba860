// Scale-out acceptance (SPEC §11): three gateway processes sharing one PostgreSQL database and one Redis
// key prefix, requests spread round-robin. Limits and balances hold globally, a disabled key is refused
// everywhere within a second, and a killed instance's slots come back within the lease time.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import { openStore } from '../../src/store/database.js';
import type { Store } from '../../src/store/store.js';
import { adminJson, spawnCli, testConfig, type ChildServer } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { deletePrefix, freePort, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const ADMIN_TOKEN = 'scale-out-admin-token-0123456789';
const PRICING = { input: 2, output: 8 };
const LEASE_MS = 2000;

let db: TestDatabase;
let prefix: string;
let dir: string;
const instances: ChildServer[] = [];
let store: Store;
let deadPort: number;

function scaleOutConfig(): RawConfig {
  const config = testConfig({
    store: { url: db.url },
    redis: { url: SHARED_REDIS_URL, key_prefix: prefix, lease_ms: LEASE_MS },
    // Every instance must hash keys alike: one pepper for all.
    auth: { pepper: 'scale-out-pepper-0123456789abcdef', admin_token: ADMIN_TOKEN },
    logging: { level: 'warn' },
    limits: {
      default_tier: 'default',
      tiers: {
        default: {},
        rpm60: { requests_per_minute: 60 },
        slots5: { concurrent_requests: 5 },
      },
    },
  });
  config.providers.slow = { type: 'simulator', ttft_ms: 1500, tokens_per_second: 0, output_tokens: [20, 30] };
  config.providers.trickle = { type: 'simulator', ttft_ms: 0, tokens_per_second: 20 };
  const model = (id: string, provider: string) => ({ id, category: 'text' as const, defaults: { max_tokens: 50 }, capabilities: ['chat' as const], pricing: PRICING, deployments: [{ provider }] });
  config.models.push(model('slow-chat', 'slow'), { ...model('trickle-chat', 'trickle'), defaults: { max_tokens: 400 } });
  // A model with a dead deployment beside a live one: the dead one's breaker opens on the first
  // instance's failures, and the others hear of it.
  config.providers.dead = { type: 'openai', base_url: `http://127.0.0.1:${deadPort}/v1` };
  config.models.push({ id: 'half-dead', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'dead' }, { provider: 'sim', model: 'sim-chat' }] });
  // Requests, not the liveness check (which would open it on every instance at start-up), find it dead.
  config.routing = { circuit_breaker: { min_requests: 3, open_ms: 60_000 }, probes: { liveness_ms: 0 } };
  return config;
}

function admin(base: string, method: string, path: string, body?: unknown): Promise<any> {
  return adminJson(base, ADMIN_TOKEN, method, path, body);
}

/** An account of `tier` with `creditMicros` and one key, made through instance 0's admin API. */
async function account(tier: string, creditMicros = 10_000_000): Promise<{ id: string; keyId: string; key: string; clients: OpenAI[] }> {
  const base = instances[0].url;
  const acct = await admin(base, 'POST', '/accounts', { name: `acct-${Math.random().toString(36).slice(2)}`, tier });
  if (creditMicros > 0) await admin(base, 'POST', `/accounts/${acct.id}/credits`, { amount_micros: creditMicros, reason: 'test' });
  const key = await admin(base, 'POST', `/accounts/${acct.id}/keys`, {});
  return { id: acct.id, keyId: key.id, key: key.key, clients: instances.map((i) => new OpenAI({ baseURL: `${i.url}/v1`, apiKey: key.key, maxRetries: 0 })) };
}

function statusOf(err: unknown): number {
  return err instanceof OpenAI.APIError ? (err.status ?? 0) : -1;
}

beforeAll(async () => {
  deadPort = await freePort(); // nothing listens there: connections are refused
  db = await createTestDatabase('scaleout');
  prefix = uniquePrefix('scaleout');
  dir = mkdtempSync(join(tmpdir(), 'floodgate-scaleout-'));
  const file = join(dir, 'floodgate.yaml');
  writeFileSync(file, stringify(scaleOutConfig()));
  // The first start migrates and bootstraps; the others join the same database.
  instances.push(await spawnCli(['serve', '--config', file, '--data-dir', join(dir, 'a')], /Floodgate listening on/));
  instances.push(...(await Promise.all(['b', 'c'].map((d) => spawnCli(['serve', '--config', file, '--data-dir', join(dir, d)], /Floodgate listening on/)))));
  store = await openStore({ url: db.url, migrate: false });
}, 60_000);

afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await store?.close();
  await db?.drop();
  await deletePrefix(prefix);
  rmSync(dir, { recursive: true, force: true });
});

describe('three instances on PostgreSQL and Redis', () => {
  it('a 60 requests/min limit admits 60 in total, not 180', async () => {
    const acct = await account('rpm60');
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        acct.clients[i % 3].chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }).then(
          () => 200,
          statusOf,
        ),
      ),
    );
    const admitted = results.filter((s) => s === 200).length;
    expect(results.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBeGreaterThanOrEqual(59);
    expect(admitted).toBeLessThanOrEqual(61);
  });

  it('5 concurrent slots are 5 in total', async () => {
    const acct = await account('slots5');
    const results = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        acct.clients[i % 3].chat.completions.create({ model: 'slow-chat', messages: [{ role: 'user', content: 'hi' }] }).then(() => 200, statusOf),
      ),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(5);
    expect(results.filter((s) => s === 429)).toHaveLength(10);
  });

  it('a balance covering 10 maximum-cost requests admits at most 10 across the three, and the ledger balances to the micro-unit', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about token buckets.' }];
    const maxCost = maxCostMicros(modelPrices(PRICING), countChatPromptTokens(messages), 50);
    const start = 10 * maxCost;
    const acct = await account('default', start);
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) => acct.clients[i % 3].chat.completions.create({ model: 'slow-chat', messages }).then(() => 200, statusOf)),
    );
    expect(results.filter((s) => s !== 200 && s !== 402)).toEqual([]);
    const admitted = results.filter((s) => s === 200).length;
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(10);
    // Every instance writes its records within its flush interval.
    let records = await store.usage.list({ accountId: acct.id }, { limit: 1000 });
    for (let i = 0; i < 100 && records.length < admitted; i++) {
      await new Promise((r) => setTimeout(r, 50));
      records = await store.usage.list({ accountId: acct.id }, { limit: 1000 });
    }
    expect(records).toHaveLength(admitted);
    const spent = records.reduce((sum, r) => sum + r.costMicros, 0);
    const after = await store.accounts.getById(acct.id);
    expect(after!.balanceMicros).toBe(start - spent);
    expect(after!.balanceMicros).toBeGreaterThanOrEqual(0);
    const credits = await store.accounts.credits([acct.id]);
    expect(credits.get(acct.id)).toEqual({ balanceMicros: start - spent, debitedMicros: spent });
  });

  it('a key disabled through one instance is refused by the others within 1 s', async () => {
    const acct = await account('default');
    // Warm every instance's key cache.
    for (const c of acct.clients) await c.models.list();
    await admin(instances[0].url, 'POST', `/keys/${acct.keyId}/disable`);
    const disabledAt = Date.now();
    const refusedAfter = await Promise.all(
      [1, 2].map(async (i) => {
        for (;;) {
          const status = await acct.clients[i].models.list().then(() => 200, statusOf);
          if (status === 403) return Date.now() - disabledAt;
          if (Date.now() - disabledAt > 3000) return Infinity;
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    for (const ms of refusedAfter) expect(ms).toBeLessThanOrEqual(1000);
  });

  it("a deployment's breaker opened by one instance's failures is open on the others at once", async () => {
    const acct = await account('default');
    const deadName = 'dead/half-dead';
    const stateOn = async (i: number): Promise<string | undefined> => {
      const list = await admin(instances[i].url, 'GET', '/deployments');
      return (list.data as { id: string; state: string }[]).find((d) => d.id === deadName)?.state;
    };
    expect(await Promise.all([0, 1, 2].map(stateOn))).toEqual(['closed', 'closed', 'closed']);
    // Instance 0 alone meets the dead deployment (each failure retried on the live one).
    for (let i = 0; i < 12 && (await stateOn(0)) === 'closed'; i++) {
      await acct.clients[0].chat.completions.create({ model: 'half-dead', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    }
    expect(await stateOn(0)).toBe('open');
    const openedAt = Date.now();
    let states = await Promise.all([1, 2].map(stateOn));
    while (states.some((s) => s !== 'open') && Date.now() - openedAt < 1000) {
      await new Promise((r) => setTimeout(r, 20));
      states = await Promise.all([1, 2].map(stateOn));
    }
    expect(states).toEqual(['open', 'open']);
  });

  it('the slots of an instance killed with SIGKILL are usable again within the lease time', async () => {
    const acct = await account('slots5');
    const victim = instances[2];
    // Five long streams on the victim hold all five slots.
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => acct.clients[2].chat.completions.create({ model: 'trickle-chat', messages: [{ role: 'user', content: 'hi' }], stream: true })),
    );
    const reading = streams.map(async (s) => {
      try {
        for await (const chunk of s) void chunk;
      } catch {
        // the victim dies mid-stream
      }
    });
    const ask = () => acct.clients[0].chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }).then(() => 200, statusOf);
    expect(await ask()).toBe(429);
    const exited = new Promise((resolve) => victim.process.once('exit', resolve));
    victim.process.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    let status = await ask();
    while (status === 429 && Date.now() - killedAt < LEASE_MS + 2000) {
      await new Promise((r) => setTimeout(r, 100));
      status = await ask();
    }
    expect(status).toBe(200);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS + 500);
    await Promise.all(reading);
  });
});
