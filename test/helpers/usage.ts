// A usage record for store and accounting tests: request `i` of `accountId`, costing `cost`.
import type { UsageRecord } from '../../src/store/usage.js';
import type { TestGateway } from './gateway.js';

/** The account's usage records, after writing every queued one. */
export async function usageRecordsOf(gw: TestGateway, accountId: string): Promise<UsageRecord[]> {
  await gw.flushUsage();
  return gw.gateway.store.usage.list({ accountId }, { limit: 1000 });
}

/** Polls until the account has `n` records (settlement runs when the response has ended). */
export async function waitForUsageRecords(gw: TestGateway, accountId: string, n: number): Promise<UsageRecord[]> {
  for (let i = 0; i < 100; i++) {
    const records = await usageRecordsOf(gw, accountId);
    if (records.length >= n) return records;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${n} usage records for ${accountId}`);
}

export function usageRecordFixture(accountId: string, cost: number, i = 0, overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    id: `usg_${accountId}_${i}_${Math.random().toString(36).slice(2)}`,
    createdAt: 1_700_000_000_000 + i,
    requestId: `req_${i}`,
    accountId,
    keyId: 'key_x',
    endpoint: 'chat',
    model: 'm',
    deployment: 'sim/m',
    stream: i % 2 === 0,
    promptTokens: 10,
    cachedTokens: 0,
    completionTokens: 5,
    reasoningTokens: 0,
    costMicros: cost,
    status: 200,
    latencyMs: 3,
    ttftMs: null,
    settle: 'complete',
    errorCode: null,
    ...overrides,
  };
}
