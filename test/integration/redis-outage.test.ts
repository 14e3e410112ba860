// A gateway whose Redis goes away mid-run (a private redis-server this test starts and kills, never the
// machine's shared one): each limit behaves as its policy says, balance reservations fail closed, the
// failures are counted in /metrics, nothing crashes; Redis back, the limits are global again.
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import type { RedisConnection } from '../../src/redis/connection.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { privateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';

let redis: PrivateRedis;
let gw: TestGateway;

function statusOf(err: unknown): number {
  return err instanceof OpenAI.APIError ? (err.status ?? 0) : -1;
}

beforeAll(async () => {
  redis = await privateRedis();
  await redis.start();
  const config = testConfig({
    redis: {
      url: redis.url,
      key_prefix: uniquePrefix('outage'),
      command_timeout_ms: 200,
      failure_policy: { requests_per_minute: 'closed', tokens_per_minute: 'open', concurrent_requests: 'local' },
    },
    limits: {
      default_tier: 'default',
      tiers: { default: {}, rpm3: { requests_per_minute: 3 }, slot1: { concurrent_requests: 1, tokens_per_minute: 100 } },
    },
  });
  config.providers.slow = { type: 'simulator', ttft_ms: 800, tokens_per_second: 0, output_tokens: [5, 5] };
  config.models.push({ id: 'free-slow', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'slow' }] });
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await redis?.stop();
});

const ask = (client: OpenAI, model = 'sim-chat', max_tokens = 2) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens }).then(() => 200, statusOf);

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('Redis going away', () => {
  it('follows each policy, fails reservations closed, counts it, and is global again when Redis is back', async () => {
    const rpm = await gw.createAccount({ tier: 'rpm3', creditMicros: 10_000_000 });
    const slot = await gw.createAccount({ tier: 'slot1', creditMicros: 10_000_000 });
    // An invalid request counts against requests per minute too (taken when it settles).
    const invalid = await rpm.client.chat.completions.create({ model: 'sim-chat', messages: [] }).then(() => 200, statusOf);
    expect(invalid).toBe(400);
    expect([await ask(rpm.client), await ask(rpm.client), await ask(rpm.client)]).toEqual([200, 200, 429]);

    await redis.stop();
    // requests_per_minute is `closed`: 503 with Retry-After, not a silent local limit.
    const refused = await rpm.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('limits_unavailable');
    expect((refused as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
    // concurrent_requests is `local`: one slot in this instance's memory; tokens_per_minute is `open`:
    // 1000 tokens pass a 100 a minute limit. The model is free: no reservation needed.
    const two = await Promise.all([ask(slot.client, 'free-slow', 1000), ask(slot.client, 'free-slow', 1000)]);
    expect(two.sort()).toEqual([200, 429]);
    // A priced model needs a balance reservation, which fails closed.
    expect(await ask(slot.client)).toBe(503);
    // The gateway lives, and says why in its metrics.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const failures = await metric('floodgate_redis_failures_total{');
    expect(failures.some((l) => l.includes('policy="closed"'))).toBe(true);
    expect(failures.some((l) => l.includes('policy="local"'))).toBe(true);
    expect(failures.some((l) => l.includes('policy="open"'))).toBe(true);

    // Back (empty): the buckets start full and are shared again.
    await redis.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await ask(rpm.client);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect([await ask(rpm.client), await ask(rpm.client), await ask(rpm.client)]).toEqual([200, 200, 429]);
    expect(await ask(slot.client)).toBe(200);
  });
});

// Three instances on one PostgreSQL store and one private Redis. Requests admitted before and during an
// outage are still running when Redis comes back (empty: it was killed): each instance writes back the
// slots and reservations it holds before admitting again, so the limits count them all — and once they
// end, nothing is left counted.
const HOLD_MS = 10_000;
const LEASE_MS = 1000;
const PRICING = { input: 2, output: 8 };
const MAX_TOKENS = 50;
const MESSAGES = [{ role: 'user' as const, content: 'hi' }];

describe.each(['local', 'open'] as const)('after Redis comes back (concurrency policy %s)', (policy) => {
  let server: PrivateRedis;
  let db: TestDatabase;
  let prefix: string;
  const gws: TestGateway[] = [];
  let inspect: Redis;

  beforeAll(async () => {
    server = await privateRedis();
    await server.start();
    db = await createTestDatabase('redis_back');
    prefix = uniquePrefix('back');
    const config = testConfig({
      store: { url: db.url, pool_size: 4 },
      redis: {
        url: server.url,
        key_prefix: prefix,
        lease_ms: LEASE_MS,
        command_timeout_ms: 200,
        failure_policy: { requests_per_minute: policy, tokens_per_minute: policy, concurrent_requests: policy },
      },
      limits: { default_tier: 'default', tiers: { default: {}, slots5: { concurrent_requests: 5 } } },
    });
    config.auth = { ...config.auth, pepper: 'redis-back-pepper-0123456789abcdef' };
    config.providers.held = { type: 'simulator', ttft_ms: HOLD_MS, tokens_per_second: 0, output_tokens: [5, 5] };
    config.providers.brief = { type: 'simulator', ttft_ms: 1500, tokens_per_second: 0, output_tokens: [5, 5] };
    const model = (id: string, provider: string, priced: boolean) => ({
      id,
      category: 'text' as const,
      capabilities: ['chat' as const],
      defaults: { max_tokens: MAX_TOKENS },
      ...(priced ? { pricing: PRICING } : {}),
      deployments: [{ provider }],
    });
    config.models.push(model('free-held', 'held', false), model('priced-held', 'held', true), model('free-brief', 'brief', false));
    gws.push(await startTestGateway(config));
    gws.push(...(await Promise.all([startTestGateway(config), startTestGateway(config)])));
    inspect = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    inspect.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    inspect?.disconnect();
    for (const gw of gws.splice(0)) await gw.close();
    await server?.stop();
    await db?.drop();
  });

  const clientsOf = (apiKey: string) => gws.map((gw) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 }));
  const call = (client: OpenAI, model: string) => client.chat.completions.create({ model, messages: MESSAGES }).then(() => 200, statusOf);
  const connectionOf = (gw: TestGateway) => (gw.gateway.accounting.limiter as unknown as { redis: RedisConnection }).redis;

  /** How many slots an instance decided by its failure policy (Redis unreachable). */
  async function outageAdmissions(gw: TestGateway): Promise<number> {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('floodgate_redis_failures_total{') && l.includes('operation="admit_concurrency"'));
    return Number(line?.split(' ')[1] ?? 0);
  }

  async function eventually(read: () => Promise<unknown>, expected: unknown, tries = 10): Promise<void> {
    let last: unknown;
    for (let i = 0; i < tries; i++) {
      last = await read();
      if (last === expected) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(last).toBe(expected);
  }

  it('counts every running request and reservation again, renews them, and releases each once', async () => {
    await inspect.connect();
    const limited = await gws[0].createAccount({ tier: 'slots5' });
    const slots = clientsOf(limited.apiKey);
    const slotKey = `${prefix}rl:acct:${limited.accountId}:conc`;
    // A balance that covers exactly three requests at their maximum cost.
    const maxCost = maxCostMicros(modelPrices(PRICING), countChatPromptTokens(MESSAGES), MAX_TOKENS);
    const payer = await gws[0].createAccount({ creditMicros: 3 * maxCost });
    const priced = clientsOf(payer.apiKey);
    const balKey = `${prefix}bal:${payer.accountId}`;

    // Before the outage: two slots and the whole balance held by running requests.
    const running: Promise<number>[] = [call(slots[0], 'free-held'), call(slots[1], 'free-held')];
    running.push(...priced.map((c) => call(c, 'priced-held')));
    await eventually(() => inspect.zcard(slotKey), 2, 100);
    await eventually(() => inspect.hget(balKey, 'reserved'), String(3 * maxCost), 100);
    expect(await call(priced[0], 'priced-held')).toBe(402);

    await server.stop();
    // During it: five more on each instance (`local`: its own memory's limit of 5; `open`: no limit).
    for (const c of slots) for (let i = 0; i < 5; i++) running.push(call(c, 'free-held'));
    for (const gw of gws) await eventually(() => outageAdmissions(gw), 5, 100);
    if (policy === 'local') expect(await Promise.all(slots.map((c) => call(c, 'free-held')))).toEqual([429, 429, 429]);
    // Reservations fail closed.
    expect(await call(priced[1], 'priced-held')).toBe(503);

    // Back, empty. 17 requests run against a limit of 5, and the balance is still all reserved.
    await server.start();
    await Promise.all(gws.map((gw) => connectionOf(gw).ready(10_000)));
    const refusedNow = await Promise.all([...slots, ...slots].map((c) => call(c, 'free-held')));
    expect(refusedNow).toEqual([429, 429, 429, 429, 429, 429]);
    expect(await Promise.all(priced.map((c) => call(c, 'priced-held')))).toEqual([402, 402, 402]);
    expect(await inspect.zcard(slotKey)).toBe(17);
    expect(await inspect.hget(balKey, 'reserved')).toBe(String(3 * maxCost));
    // Renewed like any lease: still counted after more than twice the lease time.
    await new Promise((resolve) => setTimeout(resolve, 2.5 * LEASE_MS));
    expect(await Promise.all(slots.map((c) => call(c, 'free-held')))).toEqual([429, 429, 429]);
    expect(await Promise.all(priced.map((c) => call(c, 'priced-held')))).toEqual([402, 402, 402]);
    expect(await inspect.zcard(slotKey)).toBe(17);

    // All end normally; each gives its slot and reservation back once, and settles its cost once.
    expect((await Promise.all(running)).every((s) => s === 200)).toBe(true);
    await eventually(() => inspect.zcard(slotKey), 0);
    await eventually(() => inspect.hget(balKey, 'reserved'), '0');
    const cost = maxCostMicros(modelPrices(PRICING), countChatPromptTokens(MESSAGES), 5);
    await eventually(() => inspect.hget(balKey, 'spent'), String(3 * cost));
    // The limit is exactly 5 again across the three.
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => call(slots[i % 3], 'free-brief')));
    expect(after.filter((s) => s === 200)).toHaveLength(5);
    expect(after.filter((s) => s === 429)).toHaveLength(3);
  }, 60_000);
});
