// The usage writer's thread on a SQLite file (the compiled worker in dist/): batches written with their
// debits, a failing batch reported back, and the thread closed with the writer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { openUsageSink } from '../../src/accounting/usage-sink.js';
import { createLogger } from '../../src/observability/logger.js';
import { openStore } from '../../src/store/database.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { REPO_ROOT } from '../helpers/gateway.js';

const WORKER = join(REPO_ROOT, 'dist', 'store', 'sqlite-writer.js');
const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function record(accountId: string, id: string, cost: number): UsageRecord {
  return { id, createdAt: Date.now(), requestId: `req_${id}`, accountId, keyId: 'key_x', endpoint: 'chat', model: 'm', deployment: null, stream: false, promptTokens: 3, cachedTokens: 0, completionTokens: 2, reasoningTokens: 0, costMicros: cost, status: 200, latencyMs: 1, ttftMs: null, settle: 'complete', errorCode: null };
}

describe('usage writer thread', () => {
  it('writes batches and debits on its own connection, and reports a failed batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-uw-'));
    dirs.push(dir);
    const url = `sqlite:${join(dir, 'f.db')}`;
    const store = await openStore({ url });
    const account = await store.accounts.create({ name: 'a' });
    await store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: 100, reason: 't', actor: 't' });
    const sink = await openUsageSink(url, store.usage, silent, WORKER);
    expect(sink.constructor.name).toBe('WorkerSink');
    await sink.insertBatch([record(account.id, 'usg_1', 10), record(account.id, 'usg_2', 5)]);
    // The same id twice: the primary key refuses it, and the whole batch (debit included) is rolled back.
    await expect(sink.insertBatch([record(account.id, 'usg_3', 1), record(account.id, 'usg_1', 1)])).rejects.toThrow(/UNIQUE/);
    await sink.close();
    expect(await store.usage.totals({})).toMatchObject({ requests: 2, costMicros: 15 });
    expect((await store.accounts.getById(account.id))?.balanceMicros).toBe(85);
    // The thread's statements add what they debit to debited_micros, in the same transaction.
    expect(await store.accounts.credits([account.id])).toEqual(new Map([[account.id, { balanceMicros: 85, debitedMicros: 15 }]]));
    await store.close();
  });

  it('adds to budget periods and leaves postpaid balances alone, in the batch\'s transaction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-uw-'));
    dirs.push(dir);
    const url = `sqlite:${join(dir, 'f.db')}`;
    const store = await openStore({ url });
    const account = await store.accounts.create({ name: 'a' });
    const sink = await openUsageSink(url, store.usage, silent, WORKER);
    expect(sink.constructor.name).toBe('WorkerSink');
    const day = `b:key_x:day:${Date.UTC(2026, 11, 6)}`;
    const month = `b:${account.id}:month:${Date.UTC(2026, 11, 1)}`;
    await sink.insertBatch([
      { ...record(account.id, 'usg_1', 10), budgets: [day, month] },
      { ...record(account.id, 'usg_2', 7), budgets: [day, month], postpaid: true },
    ]);
    await sink.insertBatch([{ ...record(account.id, 'usg_3', 5), budgets: [day] }]);
    await sink.close();
    expect(
      await store.budgets.spent([
        { ownerId: 'key_x', period: 'day', start: Date.UTC(2026, 11, 6) },
        { ownerId: account.id, period: 'month', start: Date.UTC(2026, 11, 1) },
      ]),
    ).toEqual([22, 17]);
    // Only the prepaid records were debited.
    expect(await store.accounts.credits([account.id])).toEqual(new Map([[account.id, { balanceMicros: -15, debitedMicros: 15 }]]));
    await store.close();
  });
});
