// The gateway on a PostgreSQL store (SPEC §11), against the real server: two gateways sharing one database
// serve chat completions to the official SDK, their usage records are written and debited exactly, a video
// job's content goes through bytea and back byte for byte, and the built CLI migrates a database named by
// a config file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { CLI, rawRequest, startTestGateway, testConfig, type TestAccount, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let database: TestDatabase;
let gw: TestGateway;
let second: TestGateway;
let account: TestAccount;

/** Gateways sharing a PostgreSQL store share the pepper (a key made by one is checked by the other). */
function config(): RawConfig {
  const c = testConfig({ store: { url: database.url, pool_size: 4 } });
  c.auth = { ...c.auth, pepper: 'shared-pepper-0123456789abcdef' };
  return c;
}

/** A query on the test database from outside the gateways: what PostgreSQL holds. */
async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  database = await createTestDatabase('gateway');
  // Both start on the empty database at once: they race to migrate it and to make the first account.
  [gw, second] = await Promise.all([startTestGateway(config()), startTestGateway(config())]);
  account = await gw.createAccount({ creditMicros: 5_000_000 });
}, 60_000);

afterAll(async () => {
  await second?.close();
  await gw?.close();
  await database?.drop();
});

describe('gateway on PostgreSQL', () => {
  it('bootstraps once: one of two gateways started together printed the key and the admin token', async () => {
    const keys = [gw.apiKey, second.apiKey].filter((key) => key !== '');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^fk-/);
    expect([gw.adminToken, second.adminToken].filter((token) => token !== undefined)).toHaveLength(1);
    expect(await query(`select name from accounts where name = 'default'`)).toHaveLength(1);
    expect(await query(`select 1 from ledger_entries where actor = 'system:first-start'`)).toHaveLength(1);
    // The default key works at either gateway; nothing went to a SQLite file.
    for (const g of [gw, second]) {
      const models = await new OpenAI({ baseURL: `${g.url}/v1`, apiKey: keys[0], maxRetries: 0 }).models.list();
      expect(models.data.length).toBeGreaterThan(0);
      expect(existsSync(join(g.dataDir, 'floodgate.db'))).toBe(false);
    }
  });

  it('serves chat completions from both gateways and debits every usage record exactly', async () => {
    const clientAt = (g: TestGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: account.apiKey, maxRetries: 0 });
    const clients = [clientAt(gw), clientAt(second)];
    const calls = Array.from({ length: 12 }, async (_, i) => {
      const client = clients[i % 2];
      if (i % 3 === 0) {
        const stream = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: `stream ${i}` }], max_tokens: 16, stream: true, stream_options: { include_usage: true } });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        return text;
      }
      const completion = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 16 });
      expect(completion.usage?.total_tokens).toBeGreaterThan(0);
      return completion.choices[0].message.content ?? '';
    });
    for (const text of await Promise.all(calls)) expect(text.length).toBeGreaterThan(0);

    await Promise.all([gw.flushUsage(), second.flushUsage()]);
    const records = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 100 });
    expect(records).toHaveLength(12);
    expect(records.filter((r) => r.stream)).toHaveLength(4);
    for (const r of records) expect(r).toMatchObject({ endpoint: 'chat', model: 'sim-chat', settle: 'complete', status: 200 });
    const spent = records.reduce((sum, r) => sum + r.costMicros, 0);
    expect(spent).toBeGreaterThan(0);

    const [row] = await query<{ balance_micros: string; debited_micros: string; n: string; cost: string }>(
      `select a.balance_micros, a.debited_micros, count(u.id) as n, sum(u.cost_micros) as cost
       from accounts a join usage_records u on u.account_id = a.id where a.id = $1 group by a.id`,
      [account.accountId],
    );
    expect(row).toEqual({ balance_micros: String(5_000_000 - spent), debited_micros: String(spent), n: '12', cost: String(spent) });
    expect(await second.gateway.store.accounts.credits([account.accountId])).toEqual(new Map([[account.accountId, { balanceMicros: 5_000_000 - spent, debitedMicros: spent }]]));
  });

  it('stores a finished video in bytea and serves it back byte for byte', async () => {
    const headers = { authorization: `Bearer ${account.apiKey}` };
    const created = await rawRequest(`${gw.url}/v1/videos/generations`, { method: 'POST', headers, json: { model: 'sim-video', prompt: 'waves', seconds: 2 } });
    expect(created.status).toBe(200);
    const id = created.json().id as string;
    let job: Record<string, any> = created.json();
    for (const deadline = Date.now() + 15_000; job.status !== 'completed' && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      // Polled at the other gateway: the job lives in the shared store.
      job = (await rawRequest(`${second.url}/v1/videos/generations/${id}`, { headers })).json();
    }
    expect(job).toMatchObject({ status: 'completed', progress: 100 });

    const served = await fetch(`${second.url}${job.result.url}`, { headers });
    expect(served.status).toBe(200);
    const bytes = Buffer.from(await served.arrayBuffer());
    expect(bytes.length).toBe(job.result.bytes);
    expect(bytes.toString('latin1', 0, 4)).toBe('RIFF');
    const [stored] = await query<{ content: Buffer; n: number; type: string }>(`select content, length(content) as n, pg_typeof(content)::text as type from video_jobs where id = $1`, [id]);
    expect(stored.type).toBe('bytea');
    expect(stored.n).toBe(bytes.length);
    expect(Buffer.compare(stored.content, bytes)).toBe(0);

    await gw.flushUsage();
    const [record] = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 1 });
    expect(record).toMatchObject({ endpoint: 'videos', mediaUnit: 'video_second', mediaUnits: 2, costMicros: 100_000 });
  }, 30_000);
});

describe('floodgate migrate (built CLI) on PostgreSQL', () => {
  it('applies every migration to the database in --config, then has nothing to do', async () => {
    const target = await createTestDatabase('cli');
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-pgcli-'));
    try {
      const configPath = join(dir, 'floodgate.yaml');
      writeFileSync(
        configPath,
        `store: { url: "${target.url}" }\nproviders:\n  sim: { type: simulator }\nmodels:\n  - id: sim-chat\n    category: text\n    deployments: [{ provider: sim }]\n`,
      );
      const migrate = () => spawnSync(process.execPath, [CLI, 'migrate', '--config', configPath], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      const first = migrate();
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout.trim().split('\n')).toEqual(['applied 001_accounts_keys', 'applied 002_ledger_usage', 'applied 003_media', 'applied 004_debited', 'applied 005_reported_usage', 'applied 006_portal', 'applied 007_responses', 'applied 008_budgets']);
      const again = migrate();
      expect(again.status).toBe(0);
      expect(again.stdout.trim()).toBe('store is up to date: no migrations to run');
      // No SQLite file, no data directory: the store is the database.
      expect(readdirSync(dir)).toEqual(['floodgate.yaml']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await target.drop();
    }
  });
});
