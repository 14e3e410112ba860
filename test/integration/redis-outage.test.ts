// A gateway whose Redis goes away mid-run (a private redis-server this test starts and kills, never the
// machine's shared one): each limit behaves as its policy says, balance reservations fail closed, the
// failures are counted in /metrics, nothing crashes; Redis back, the limits are global again.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
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
