// A gateway whose PostgreSQL database goes away: a key that must be looked up is a 503
// store_unavailable (never a 401: the key may well be valid), readiness turns 503, the failures are
// counted, and the process keeps serving what needs no database.
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await createTestDatabase('outage');
  gw = await startTestGateway(testConfig({ store: { url: db.url }, auth: { key_cache_ms: 0 } }));
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** Makes the database refuse every connection and ends those open: as if its server went away. */
async function cutOff(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`alter database "${name}" allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL going away', () => {
  it('answers 503 store_unavailable for a key it cannot look up, turns unready, and counts it', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    await expect(acct.client.models.list()).resolves.toBeDefined();
    await cutOff(db.url);

    const err = await acct.client.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('store_unavailable');
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');

    expect((await fetch(`${gw.url}/healthz?ready=1`)).status).toBe(503);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/floodgate_store_errors_total\{operation="key_lookup"\} [1-9]/);
    expect(metrics).toMatch(/floodgate_store_errors_total\{operation="ping"\} [1-9]/);
  });
});
