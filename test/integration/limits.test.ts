// Rate limits against the real server (SPEC §9): requests and tokens per minute hold exactly under a
// concurrent burst, concurrency slots are released however a response ends, Retry-After comes from the
// bucket, and the x-ratelimit-* headers count down on every authenticated /v1 response.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { rawRequest, sseData, startTestGateway, testConfig, type TestAccount, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;

function limitsConfig(): RawConfig {
  const config = testConfig({
    limits: {
      default_tier: 'default',
      tiers: {
        default: { requests_per_minute: 100_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 },
        rpm30: { requests_per_minute: 30 },
        tpm1000: { tokens_per_minute: 1000 },
        // FlintAPI's Standard tier.
        standard: { requests_per_minute: 60, tokens_per_minute: 100_000, concurrent_requests: 5 },
      },
    },
  });
  config.providers.slow = { type: 'simulator', ttft_ms: 600, tokens_per_second: 0, output_tokens: [5, 10] };
  config.providers.broken = { type: 'simulator', faults: { error_rate: 1, error_status: 500 } };
  config.models.push({ id: 'broken-chat', category: 'text', defaults: { max_tokens: 50 }, capabilities: ['chat'], pricing: { input: 1, output: 1 }, deployments: [{ provider: 'broken' }] });
  config.models.push({ id: 'slow-chat', category: 'text', defaults: { max_tokens: 300 }, capabilities: ['chat'], pricing: { input: 0.1, output: 0.1 }, deployments: [{ provider: 'slow' }] });
  return config;
}

function chat(acct: TestAccount, body: Record<string, unknown> = {}) {
  return rawRequest(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${acct.apiKey}` },
    json: { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ...body },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  gw = await startTestGateway(limitsConfig());
});
afterAll(async () => {
  await gw?.close();
});

describe('requests per minute', () => {
  it('admits exactly the burst of a concurrent flood, with Retry-After from the bucket', async () => {
    const acct = await gw.createAccount({ tier: 'rpm30', creditMicros: 1_000_000 });
    const results = await Promise.all(Array.from({ length: 45 }, () => chat(acct)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(30);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(15);
    const error = refused[0].json().error;
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null });
    expect(error.message).toMatch(/requests per minute/);
    // 30 per minute: one request every 2 s.
    const waitMs = Number(refused[0].headers.get('retry-after-ms'));
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(2000);
    expect(Number(refused[0].headers.get('retry-after'))).toBe(Math.ceil(waitMs / 1000));
    expect(refused[0].headers.get('x-ratelimit-remaining-requests')).toBe('0');

    const again = await chat(acct);
    expect(again.status).toBe(429);
    const wait = Number(again.headers.get('retry-after-ms'));
    await sleep(wait + 50);
    expect((await chat(acct)).status).toBe(200);
  });

  it('counts down in the headers, and counts invalid requests too', async () => {
    const acct = await gw.createAccount({ tier: 'standard', creditMicros: 1_000_000 });
    const first = await chat(acct);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('59');
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    const invalid = await chat(acct, { temperature: 5 });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('x-ratelimit-remaining-requests')).toBe('58');
    const third = await chat(acct);
    expect(third.headers.get('x-ratelimit-remaining-requests')).toBe('57');
    expect(third.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|[\d.]+s)$/);
    // GET /v1/models shows the buckets without taking from them.
    const models = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${acct.apiKey}` } });
    expect(models.headers.get('x-ratelimit-remaining-requests')).toBe('57');
    // Streams carry them too.
    const stream = await chat(acct, { stream: true });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(stream.headers.get('x-ratelimit-remaining-requests')).toBe('56');
    expect(Number(stream.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100_000);
    expect(sseData(stream.text).at(-1)).toBe('[DONE]');
  });
});

describe('tokens per minute', () => {
  it('admits prompt + output cap up front, refuses the rest with the wait for the missing tokens, and gives back what was not used', async () => {
    const acct = await gw.createAccount({ tier: 'tpm1000', creditMicros: 1_000_000 });
    // Each request may use its prompt (~8 tokens) + 300 output tokens: three fit in 1000, a fourth does not.
    const results = await Promise.all(Array.from({ length: 6 }, () => chat(acct, { model: 'slow-chat', max_tokens: undefined })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(3);
    expect(refused[0].json().error.message).toMatch(/tokens per minute/);
    const remaining = Number(refused[0].headers.get('x-ratelimit-remaining-tokens'));
    expect(remaining).toBeLessThan(100);
    // The wait is what the bucket needs to hold one more request at 1000 tokens a minute.
    const waitMs = Number(refused[0].headers.get('retry-after-ms'));
    expect(waitMs).toBeGreaterThan(((300 - remaining) * 60_000) / 1000 - 1000);
    expect(waitMs).toBeLessThan(((310 - remaining) * 60_000) / 1000 + 1000);
    // Settled at actual usage (~20 tokens each), the unused tokens are back.
    const after = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${acct.apiKey}` } });
    expect(Number(after.headers.get('x-ratelimit-remaining-tokens'))).toBeGreaterThan(850);
  });

  it('refuses for good a request larger than the whole limit', async () => {
    const acct = await gw.createAccount({ tier: 'tpm1000', creditMicros: 1_000_000 });
    const res = await chat(acct, { max_tokens: 2000 });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.json().error.message).toMatch(/max_tokens/);
  });
});

describe('concurrent requests', () => {
  it('refuses the 6th of 6 concurrent requests on 5 slots, and admits once one has finished', async () => {
    const acct = await gw.createAccount({ tier: 'standard', creditMicros: 1_000_000 });
    const first = Array.from({ length: 5 }, () => chat(acct, { model: 'slow-chat' }));
    await sleep(200);
    const sixth = await chat(acct, { model: 'slow-chat' });
    expect(sixth.status).toBe(429);
    expect(sixth.json().error.message).toMatch(/concurrent requests/);
    expect(sixth.headers.get('retry-after')).toBe('1');
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await chat(acct, { model: 'slow-chat' })).status).toBe(200);
  });

  it('releases the slot of a client that disconnects, and of a request that failed', async () => {
    const acct = await gw.createAccount({ tier: 'standard', creditMicros: 1_000_000, keyLimits: { concurrent_requests: 1 } });
    const controller = new AbortController();
    const abandoned = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acct.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow-chat', messages: [{ role: 'user', content: 'hi' }] }),
      signal: controller.signal,
    }).catch(() => undefined);
    await sleep(150);
    // The key's own limit (1) is tighter than its account's (5).
    const busy = await chat(acct, { model: 'slow-chat' });
    expect(busy.status).toBe(429);
    expect(busy.json().error.message).toMatch(/this API key/);
    controller.abort();
    await abandoned;
    await sleep(50);
    expect((await chat(acct)).status).toBe(200);
    // A backend error ends the request too: its slot comes back, and it costs nothing.
    const failed = await chat(acct, { model: 'broken-chat' });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await chat(acct)).status).toBe(200);
    await gw.flushUsage();
    const [record] = await gw.gateway.store.usage.list({ accountId: acct.accountId, model: 'broken-chat' });
    expect(record).toMatchObject({ settle: 'upstream_error', costMicros: 0, status: failed.status });
  });
});
