// The in-memory limiter: token buckets with continuous refill, all-or-nothing admission across scopes,
// leases released and reconciled, and the rate-limit headers' formats.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLimiter } from '../../src/limits/memory-limiter.js';
import { formatResetDuration, rateLimitHeaders } from '../../src/limits/headers.js';
import { limitScopes } from '../../src/limits/scopes.js';
import type { LimitScope } from '../../src/limits/limiter.js';

let now = 1_000_000;
const clock = () => now;
const limiters: MemoryLimiter[] = [];
function limiter(): MemoryLimiter {
  const l = new MemoryLimiter(clock);
  limiters.push(l);
  return l;
}
afterEach(async () => {
  for (const l of limiters.splice(0)) await l.close();
});

const account = (limits: LimitScope['limits']): LimitScope => ({ id: 'acct:a', limits });

describe('requests per minute', () => {
  it('admits the burst, refuses the next with the wait to one request, and refills continuously', async () => {
    const l = limiter();
    const scopes = [account({ requestsPerMinute: 60 })];
    for (let i = 0; i < 60; i++) {
      const r = await l.takeRequest(scopes);
      expect(r.ok).toBe(true);
      expect(r.snapshot.requests?.remaining).toBe(59 - i);
    }
    const refused = await l.takeRequest(scopes);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.kind).toBe('requests');
    expect(refused.retryAfterMs).toBe(1000);
    now += 999;
    expect((await l.takeRequest(scopes)).ok).toBe(false);
    now += 1;
    expect((await l.takeRequest(scopes)).ok).toBe(true);
    // Reset: the time until the bucket is full again.
    expect((await l.peek(scopes)).requests).toEqual({ limit: 60, remaining: 0, resetMs: 60_000 });
  });

  it('takes from every scope or from none', async () => {
    const l = limiter();
    const scopes: LimitScope[] = [account({ requestsPerMinute: 10 }), { id: 'key:k', limits: { requestsPerMinute: 2 } }];
    expect((await l.takeRequest(scopes)).ok).toBe(true);
    expect((await l.takeRequest(scopes)).ok).toBe(true);
    const refused = await l.takeRequest(scopes);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.scope).toBe('key:k');
    // The account's bucket lost only the two admitted requests.
    expect((await l.peek([scopes[0]])).requests?.remaining).toBe(8);
  });
});

describe('tokens and concurrency', () => {
  it('admits tokens at the upper bound and gives back what was not used', async () => {
    const l = limiter();
    const scopes = [account({ tokensPerMinute: 1000 })];
    const a = await l.admitWork(scopes, 600);
    expect(a.ok).toBe(true);
    const b = await l.admitWork(scopes, 600);
    expect(b.ok).toBe(false);
    if (!b.ok) {
      expect(b.kind).toBe('tokens');
      // 200 more tokens at 1000/min: 12 s.
      expect(b.retryAfterMs).toBe(12_000);
    }
    if (a.ok) await l.finish(a.lease, 100);
    expect((await l.peek(scopes)).tokens?.remaining).toBe(900);
    expect((await l.admitWork(scopes, 600)).ok).toBe(true);
  });

  it('refuses for good a request larger than the bucket', async () => {
    const l = limiter();
    const r = await l.admitWork([account({ tokensPerMinute: 1000 })], 1001);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.retryAfterMs).toBeUndefined();
  });

  it('leases concurrency slots, released once however often finish is called', async () => {
    const l = limiter();
    const scopes = [account({ concurrentRequests: 2 })];
    const leases = [];
    for (let i = 0; i < 2; i++) {
      const r = await l.admitWork(scopes, 1);
      expect(r.ok).toBe(true);
      if (r.ok) leases.push(r.lease);
    }
    const third = await l.admitWork(scopes, 1);
    expect(third.ok).toBe(false);
    if (!third.ok) expect(third.kind).toBe('concurrency');
    await l.finish(leases[0], 1);
    await l.finish(leases[0], 1);
    expect((await l.admitWork(scopes, 1)).ok).toBe(true);
    expect((await l.admitWork(scopes, 1)).ok).toBe(false);
  });

  it('takes nothing when one scope refuses', async () => {
    const l = limiter();
    const scopes: LimitScope[] = [account({ tokensPerMinute: 1000, concurrentRequests: 5 }), { id: 'key:k', limits: { concurrentRequests: 1 } }];
    const first = await l.admitWork(scopes, 100);
    expect(first.ok).toBe(true);
    expect((await l.admitWork(scopes, 100)).ok).toBe(false);
    expect((await l.peek([scopes[0]])).tokens?.remaining).toBe(900);
  });
});

describe('limit scopes', () => {
  const config = { defaultTier: 'standard', tiers: { standard: { requests_per_minute: 60, tokens_per_minute: 100_000, concurrent_requests: 5 } } };

  it('uses the tier, the account overrides, and a key never looser than its account', () => {
    const owner = { accountId: 'a', tier: 'standard', accountOverrides: { requests_per_minute: 120 }, keyId: 'k', keyOverrides: null };
    expect(limitScopes(config, owner)).toEqual([{ id: 'acct:a', limits: { requestsPerMinute: 120, tokensPerMinute: 100_000, concurrentRequests: 5 } }]);
    const withKey = limitScopes(config, { ...owner, keyOverrides: { requests_per_minute: 500, concurrent_requests: 2 } });
    expect(withKey[1]).toEqual({ id: 'key:k', limits: { requestsPerMinute: 120, tokensPerMinute: 100_000, concurrentRequests: 2 } });
  });

  it('falls back to the default tier for a tier the config no longer has', () => {
    const scopes = limitScopes(config, { accountId: 'a', tier: 'gone', accountOverrides: null, keyId: 'k', keyOverrides: null });
    expect(scopes[0].limits.requestsPerMinute).toBe(60);
  });
});

describe('rate-limit headers', () => {
  it('writes resets as OpenAI does', () => {
    expect(formatResetDuration(0)).toBe('0ms');
    expect(formatResetDuration(17)).toBe('17ms');
    expect(formatResetDuration(1000)).toBe('1s');
    expect(formatResetDuration(1500)).toBe('1.5s');
    expect(formatResetDuration(360_000)).toBe('6m0s');
    expect(formatResetDuration(3_723_500)).toBe('1h2m3.5s');
  });

  it('names all six headers', () => {
    const headers = rateLimitHeaders({ requests: { limit: 60, remaining: 59, resetMs: 1000 }, tokens: { limit: 1000, remaining: 10, resetMs: 59_400 } });
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '10',
      'x-ratelimit-reset-tokens': '59.4s',
    });
  });
});
