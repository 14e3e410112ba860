// A batch of usage records on PostgreSQL: one INSERT whatever the batch's size (one round trip), and every
// value — quotes, backslashes, braces, commas, non-ASCII text, nulls, large integers — stored as given.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { usageRecordFixture } from '../helpers/usage.js';

let database: TestDatabase;
let store: Awaited<ReturnType<typeof openStore>>;

beforeAll(async () => {
  database = await createTestDatabase('usage_batch');
  store = await openStore({ url: database.url });
});

afterAll(async () => {
  await store?.db.destroy();
  await database?.drop();
});

describe('usage batches on PostgreSQL', () => {
  it('inserts a batch of any size in one statement and stores every value as given', async () => {
    const account = await store.accounts.create({ name: 'batch' });
    const tricky = ['a "quoted" {brace}, comma', 'back\\slash \\" and NULL', 'héllo ✓ 日本', '', 'NULL'];
    const records = Array.from({ length: 110 }, (_, i) =>
      usageRecordFixture(account.id, i + 1, i, {
        model: tricky[i % tricky.length],
        deployment: i % 3 === 0 ? null : `dep/${tricky[(i + 1) % tricky.length]}`,
        errorCode: i % 4 === 0 ? null : tricky[(i + 2) % tricky.length],
        ttftMs: i % 2 === 0 ? null : i,
        stream: i % 2 === 0,
        reportedPromptTokens: i % 5 === 0 ? 9_007_199_254_740_000 : undefined,
        mediaUnits: i,
      }),
    );
    const inserts = store.usage.batchStatements(records).filter((s) => /^insert into "usage_records"/.test(s.sql));
    expect(inserts).toHaveLength(1);

    await store.usage.insertBatch(records);
    const stored = await store.usage.list({ accountId: account.id }, { limit: 1000 });
    expect(stored).toHaveLength(110);
    const byId = new Map(stored.map((r) => [r.id, r]));
    for (const r of records) {
      const s = byId.get(r.id)!;
      expect(s).toMatchObject({ model: r.model, deployment: r.deployment, errorCode: r.errorCode, ttftMs: r.ttftMs, stream: r.stream, costMicros: r.costMicros, createdAt: r.createdAt, mediaUnits: r.mediaUnits });
      expect(s.reportedPromptTokens ?? undefined).toBe(r.reportedPromptTokens);
    }
    // The debits went with them, in the same transaction.
    expect((await store.accounts.balances([account.id])).get(account.id)).toBe(-((110 * 111) / 2));
  });
});
