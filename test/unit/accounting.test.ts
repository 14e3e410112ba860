// Prices in integers, the balance book's reservations, and the usage writer's group commit on a real
// store: SQLite, and PostgreSQL (a throwaway database).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { costMicros, maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { MemoryBalanceBook } from '../../src/accounting/balance-book.js';
import { UsageWriter } from '../../src/accounting/usage-writer.js';
import { directSink } from '../../src/accounting/usage-sink.js';
import { openStore } from '../../src/store/database.js';
import type { Store } from '../../src/store/store.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { usageRecordFixture } from '../helpers/usage.js';
import { billedUsage, PROMPT_MARGIN_FACTOR, PROMPT_MARGIN_TOKENS, promptTokenBound } from '../../src/accounting/settlement.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase } from '../helpers/postgres.js';

const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const DIALECTS = ['sqlite', 'postgres'] as const;
type Dialect = (typeof DIALECTS)[number];

async function tempStore(dialect: Dialect = 'sqlite'): Promise<Store> {
  if (dialect === 'postgres') {
    const database = await createTestDatabase('acct');
    cleanups.push(() => database.drop());
    const store = await openStore({ url: database.url });
    cleanups.push(() => store.close());
    return store;
  }
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-acct-'));
  const store = await openStore({ url: `sqlite:${join(dir, 'f.db')}` });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
  return store;
}

function record(accountId: string, cost: number, i = 0): UsageRecord {
  return usageRecordFixture(accountId, cost, i, { createdAt: 1_700_000_000_000 + i * 1000, stream: false });
}

describe('pricing', () => {
  it('computes in integers and rounds up once', () => {
    const prices = modelPrices({ input: 0.5, cached_input: 0.05, output: 1.5 })!;
    // 1000 × 0.5 + 3 × 1.5 = 504.5 micro-units → 505.
    expect(costMicros(prices, { promptTokens: 1000, cachedTokens: 0, completionTokens: 3 })).toBe(505);
    // Cached tokens are part of the prompt, at their own price: 900 × 0.5 + 100 × 0.05 = 455.
    expect(costMicros(prices, { promptTokens: 1000, cachedTokens: 100, completionTokens: 0 })).toBe(455);
    // 0.1 + 0.2 is not 0.3 in floats; here it is exact.
    const tenths = modelPrices({ input: 0.1, output: 0.2 })!;
    expect(costMicros(tenths, { promptTokens: 10, cachedTokens: 0, completionTokens: 10 })).toBe(3);
    expect(maxCostMicros(prices, 100, 1024)).toBe(Math.ceil(100 * 0.5 + 1024 * 1.5));
    expect(costMicros(null, { promptTokens: 5, cachedTokens: 0, completionTokens: 5 })).toBe(0);
    // One token at 0.000001 per million is one pico-unit: still a whole micro-unit, rounded up.
    expect(costMicros(modelPrices({ input: 0.000001 }), { promptTokens: 1, cachedTokens: 0, completionTokens: 0 })).toBe(1);
    // Past 2^53 pico-units the sum is done in BigInt, still exact: 10^9 tokens × 10^8 + 1 token × 1.
    const huge = modelPrices({ input: 100, output: 0.000001 })!;
    expect(costMicros(huge, { promptTokens: 1_000_000_000, cachedTokens: 0, completionTokens: 1 })).toBe(100_000_000_001);
  });
});

describe('billed usage (SPEC §10: a settled cost never exceeds what the request could cost)', () => {
  const bounds = { promptTokens: 100, maxCompletionTokens: 50 };

  it('bills what the backend reported when it is within the bounds, and says nothing was cut', () => {
    const reported = { promptTokens: 150, cachedTokens: 40, completionTokens: 50, reasoningTokens: 30 };
    expect(billedUsage(reported, bounds)).toEqual({ ...reported, reported: undefined });
    const edge = { promptTokens: promptTokenBound(100), cachedTokens: 0, completionTokens: 50, reasoningTokens: 0 };
    expect(billedUsage(edge, bounds).reported).toBeUndefined();
  });

  it('cuts completion tokens at n × the output cap, and reasoning tokens with them', () => {
    const billed = billedUsage({ promptTokens: 10, cachedTokens: 0, completionTokens: 100_000, reasoningTokens: 99_000 }, bounds);
    expect(billed).toEqual({ promptTokens: 10, cachedTokens: 0, completionTokens: 50, reasoningTokens: 50, reported: { promptTokens: 10, completionTokens: 100_000 } });
  });

  it('cuts prompt tokens at the stated margin over the gateway count, and cached tokens with them', () => {
    expect(promptTokenBound(100)).toBe(100 * PROMPT_MARGIN_FACTOR + PROMPT_MARGIN_TOKENS);
    const bound = promptTokenBound(100);
    const billed = billedUsage({ promptTokens: 1_000_000, cachedTokens: 999_000, completionTokens: 5, reasoningTokens: 0 }, bounds);
    expect(billed).toEqual({ promptTokens: bound, cachedTokens: bound, completionTokens: 5, reasoningTokens: 0, reported: { promptTokens: 1_000_000, completionTokens: 5 } });
    // Exactly one past the bound is cut.
    expect(billedUsage({ promptTokens: bound + 1, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 }, bounds).promptTokens).toBe(bound);
  });

  it('keeps the overshoot past a reservation within the prompt margin', () => {
    const prices = modelPrices({ input: 3, cached_input: 0.3, output: 15 });
    const reserved = maxCostMicros(prices, bounds.promptTokens, bounds.maxCompletionTokens);
    const billed = billedUsage({ promptTokens: 10 ** 9, cachedTokens: 0, completionTokens: 10 ** 9, reasoningTokens: 0 }, bounds);
    const cost = costMicros(prices, billed);
    expect(cost - reserved).toBe(costMicros(prices, { promptTokens: promptTokenBound(100) - 100, cachedTokens: 0, completionTokens: 0 }));
  });
});

describe('balance book', () => {
  it('never reserves more than balance − reserved, however many ask at once', async () => {
    const book = new MemoryBalanceBook(async (ids) => new Map(ids.map((id) => [id, 1000])), 0);
    cleanups.push(() => book.close());
    const results = await Promise.all(Array.from({ length: 50 }, () => book.reserve('a', 100)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refused = results.find((r) => !r.ok);
    expect(refused).toEqual({ ok: false, availableMicros: 0 });
  });

  it('moves settled costs to pending until the writer commits them', async () => {
    let stored = 1000;
    const book = new MemoryBalanceBook(async () => new Map([['a', stored]]), 0);
    cleanups.push(() => book.close());
    const r = await book.reserve('a', 600);
    if (!r.ok) throw new Error('not reserved');
    book.settle(r.reservation, 250);
    book.settle(r.reservation, 250); // idempotent
    // 1000 − 250 pending = 750 available.
    expect((await book.reserve('a', 751)).ok).toBe(false);
    book.beginCommit();
    stored -= 250;
    book.endCommit(new Map([['a', 250]]), true);
    await book.refresh('a');
    const again = await book.reserve('a', 750);
    expect(again.ok).toBe(true);
  });

  it('sees a top-up made behind its back before it refuses', async () => {
    let stored = 0;
    const book = new MemoryBalanceBook(async () => new Map([['a', stored]]), 0);
    cleanups.push(() => book.close());
    expect((await book.reserve('a', 10)).ok).toBe(false);
    stored = 10;
    expect((await book.reserve('a', 10)).ok).toBe(true);
  });
});

describe.each(DIALECTS)('usage writer (%s)', (dialect) => {
  it('writes a batch and its debits in one transaction, and flushes on close', async () => {
    const store = await tempStore(dialect);
    const account = await store.accounts.create({ name: 'a' });
    await store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: 10_000, reason: 'test', actor: 'test' });
    const book = new MemoryBalanceBook((ids) => store.accounts.balances(ids), 0);
    const writer = new UsageWriter(directSink(store.usage), book, { flushMs: 60_000, maxBatch: 1000 }, silent);
    for (let i = 0; i < 25; i++) writer.add(record(account.id, 7, i));
    expect(writer.depth).toBe(25);
    expect(await store.usage.totals({})).toMatchObject({ requests: 0 });
    await writer.close();
    expect(await store.usage.totals({ accountId: account.id })).toMatchObject({ requests: 25, costMicros: 175, promptTokens: 250 });
    expect((await store.accounts.getById(account.id))?.balanceMicros).toBe(10_000 - 175);
    expect(await store.accounts.credits([account.id])).toEqual(new Map([[account.id, { balanceMicros: 10_000 - 175, debitedMicros: 175 }]]));
  });

  // The writer's timing, measured in milliseconds: on the in-process store, where a write takes less than one.
  it.runIf(dialect === 'sqlite')('writes as soon as a batch is full, and after flush_ms otherwise', async () => {
    const store = await tempStore(dialect);
    const account = await store.accounts.create({ name: 'a' });
    const book = new MemoryBalanceBook((ids) => store.accounts.balances(ids), 0);
    const writer = new UsageWriter(directSink(store.usage), book, { flushMs: 50, maxBatch: 10 }, silent);
    cleanups.push(() => writer.close());
    for (let i = 0; i < 10; i++) writer.add(record(account.id, 0, i));
    await new Promise((r) => setTimeout(r, 10));
    expect(writer.written).toBe(10);
    writer.add(record(account.id, 0, 99));
    await new Promise((r) => setTimeout(r, 20));
    expect(writer.written).toBe(10);
    await new Promise((r) => setTimeout(r, 80));
    expect(writer.written).toBe(11);
  });

  it('keeps a batch whose write failed and writes it later, once', async () => {
    const store = await tempStore(dialect);
    const account = await store.accounts.create({ name: 'a' });
    const book = new MemoryBalanceBook((ids) => store.accounts.balances(ids), 0);
    let fail = true;
    const flaky = { insertBatch: (records: readonly UsageRecord[]) => (fail ? Promise.reject(new Error('disk full')) : store.usage.insertBatch(records)), has: (id: string) => store.usage.has(id) };
    const writer = new UsageWriter(directSink(flaky), book, { flushMs: 5, maxBatch: 100 }, silent);
    for (let i = 0; i < 3; i++) writer.add(record(account.id, 1, i));
    await new Promise((r) => setTimeout(r, 30));
    expect(writer.depth).toBe(3);
    fail = false;
    await writer.close();
    expect(writer.depth).toBe(0);
    expect(await store.usage.totals({})).toMatchObject({ requests: 3, costMicros: 3 });
  });
});

describe.each(DIALECTS)('usage writer retries (%s)', (dialect) => {
  it('does not write twice a batch that committed although its write reported a failure', async () => {
    const store = await tempStore(dialect);
    const account = await store.accounts.create({ name: 'a' });
    await store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: 1000, reason: 'test', actor: 'test' });
    const book = new MemoryBalanceBook((ids) => store.accounts.balances(ids), 0);
    let lostAnswers = 1;
    // A writer thread that commits and dies before it can say so.
    const dying = {
      insertBatch: async (records: readonly UsageRecord[]) => {
        await store.usage.insertBatch(records);
        if (lostAnswers-- > 0) throw new Error('writer thread exited');
      },
      has: (id: string) => store.usage.has(id),
    };
    const writer = new UsageWriter(directSink(dying), book, { flushMs: 5, maxBatch: 100 }, silent);
    for (let i = 0; i < 3; i++) writer.add(record(account.id, 1, i));
    await new Promise((r) => setTimeout(r, 8));
    // Records that arrive meanwhile are written after the retried batch, not in it.
    for (let i = 3; i < 5; i++) writer.add(record(account.id, 1, i));
    await writer.close();
    expect(writer.depth).toBe(0);
    expect(await store.usage.totals({})).toMatchObject({ requests: 5, costMicros: 5 });
    expect((await store.accounts.getById(account.id))?.balanceMicros).toBe(995);
  });
});

describe.each(DIALECTS)('usage queries (%s)', (dialect) => {
  it('totals and buckets by account, key, model and time', async () => {
    const store = await tempStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const records = [0, 1, 2, 61, 62].map((i) => record(a.id, 10, i));
    records[4].model = 'other';
    await store.usage.insertBatch(records);
    const from = records[0].createdAt;
    expect(await store.usage.totals({ accountId: a.id, model: 'm' })).toMatchObject({ requests: 4, costMicros: 40 });
    const buckets = await store.usage.buckets({ accountId: a.id, from }, 60_000);
    expect(buckets.map((b) => b.requests)).toEqual([3, 2]);
    expect(buckets[0].start % 60_000).toBe(0);
    expect((await store.usage.list({ accountId: a.id }, { limit: 2 })).map((r) => r.requestId)).toEqual(['req_62', 'req_61']);
  });
});
