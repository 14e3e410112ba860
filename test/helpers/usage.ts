// A usage record for store and accounting tests: request `i` of `accountId`, costing `cost`.
import type { UsageRecord } from '../../src/store/usage.js';

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
