// Routing across deployments (SPEC §7), end to end: several standalone simulator processes as backends —
// healthy, slow, failing, hanging, breaking, and gone — behind the real gateway, the official openai SDK
// (and raw HTTP for headers and streams) as the client, and the gateway's log lines for where each
// request went.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig, RawConfig } from '../../src/config/schema.js';
import { countTokens } from '../../src/accounting/tokenizer.js';
import { rawRequest, spawnCli, spawnSimulator, sseData, startFakeUpstream, startTestGateway, testConfig, type ChildServer, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

type Any = Record<string, any>;

const user = { role: 'user' as const, content: 'Say something.' };

/** Runs `count` calls of `task`, `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** The request log lines of one model, in order. */
function requestLines(gw: TestGateway, model: string): Any[] {
  return gw.logs.filter((l) => l.msg === 'request' && l.model === model);
}

function openai(url: string, extra: Record<string, unknown> = {}) {
  return { type: 'openai' as const, base_url: `${url}/v1`, ...extra };
}

function model(id: string, deployments: ModelConfig['deployments'], extra: Partial<ModelConfig> = {}): ModelConfig {
  return { id, category: 'text', capabilities: ['chat', 'completions'], defaults: { max_tokens: 16 }, deployments, ...extra };
}

/** A port nothing listens on any more: a simulator started and stopped. */
async function deadPort(): Promise<number> {
  const sim = await spawnSimulator();
  await sim.stop();
  return Number(new URL(sim.url).port);
}

describe('balancing, retries and fallbacks', () => {
  const sims: Record<string, ChildServer> = {};
  let gw: TestGateway;

  beforeAll(async () => {
    const flags: Record<string, string[]> = {
      a: [],
      b: [],
      slow: ['--latency-ms', '40'],
      failing: ['--error-rate', '1', '--error-status', '500'],
      overloaded: ['--error-rate', '1', '--error-status', '429'],
      hanging: ['--hang'],
      breaking: ['--break-after-tokens', '4', '--tokens-per-second', '500'],
    };
    const started = await Promise.all(Object.values(flags).map((f) => spawnSimulator(f)));
    Object.keys(flags).forEach((name, i) => (sims[name] = started[i]));
    const gone = await deadPort();
    const config: RawConfig = testConfig({
      // Load tests, not limit tests: no rate limits.
      limits: { default_tier: 'unlimited', tiers: { unlimited: {} } },
      // Requests alone open the breakers here: the liveness check would take `gone` out before any (liveness.test.ts).
      routing: { probes: { liveness_ms: 0 } },
      providers: {
        a: openai(sims.a.url),
        b: openai(sims.b.url),
        slow: openai(sims.slow.url),
        failing: openai(sims.failing.url),
        overloaded: openai(sims.overloaded.url),
        hanging: openai(sims.hanging.url, { timeouts: { first_byte_ms: 250 } }),
        breaking: openai(sims.breaking.url),
        gone: openai(`http://127.0.0.1:${gone}`),
        claude: { type: 'anthropic', base_url: sims.a.url, api_key: 'sk-ant-test' },
      },
      models: [
        model('spread', [
          { provider: 'a', weight: 3 },
          { provider: 'b', weight: 1 },
        ]),
        model('slow-or-fast', [{ provider: 'a' }, { provider: 'slow' }]),
        model('with-gone', [{ provider: 'gone' }, { provider: 'a' }]),
        model('with-failing', [{ provider: 'failing' }, { provider: 'b' }]),
        model('with-hanging', [{ provider: 'hanging' }, { provider: 'a' }]),
        model('with-overloaded', [{ provider: 'overloaded' }, { provider: 'b' }]),
        model('only-breaking', [{ provider: 'breaking' }], { pricing: { input: 1, output: 2 } }),
        model('breaking-then-fine', [{ provider: 'breaking' }, { provider: 'a', weight: 0.001 }]),
        model('all-failing', [{ provider: 'failing' }], { fallbacks: ['priced-fallback'], retry: { attempts: 2 } }),
        model('priced-fallback', [{ provider: 'claude', model: 'claude-sonnet-4-5' }], { capabilities: ['chat'], pricing: { input: 3, output: 15 } }),
        model('fallback-cannot', [{ provider: 'failing' }], { fallbacks: ['embed-only'] }),
        { id: 'embed-only', category: 'embeddings', deployments: [{ provider: 'a' }] },
      ],
    });
    gw = await startTestGateway(config);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all(Object.values(sims).map((s) => s.stop()));
  });

  it('spreads load by weight: 3:1 over 1,000 requests lands within ±5 points of 75%', async () => {
    // One at a time, so no deployment is ever busier than the other: the weights alone decide (σ ≈ 1.4 points).
    await pool(1000, 1, async () => {
      await gw.client.chat.completions.create({ model: 'spread', messages: [user], max_tokens: 4 });
    });
    const lines = requestLines(gw, 'spread');
    expect(lines).toHaveLength(1000);
    expect(lines.every((l) => l.status === 200)).toBe(true);
    const onA = lines.filter((l) => l.deployment === 'a/spread').length;
    expect(onA + lines.filter((l) => l.deployment === 'b/spread').length).toBe(1000);
    expect(onA / 1000).toBeGreaterThan(0.7);
    expect(onA / 1000).toBeLessThan(0.8);
  }, 60_000);

  it('shifts load away from a slow deployment (equal weights, 40 ms slower: well under half)', async () => {
    await pool(300, 8, async () => {
      await gw.client.chat.completions.create({ model: 'slow-or-fast', messages: [user], max_tokens: 4 });
    });
    const lines = requestLines(gw, 'slow-or-fast');
    expect(lines).toHaveLength(300);
    const onSlow = lines.filter((l) => l.deployment === 'slow/slow-or-fast').length;
    expect(onSlow / 300).toBeLessThan(0.25);
  }, 60_000);

  for (const [name, what, code] of [
    ['with-gone', 'refuses connections', 'model_unavailable'],
    ['with-failing', 'answers 500', 'upstream_error'],
    ['with-hanging', 'hangs before its first byte', 'upstream_timeout'],
    ['with-overloaded', 'answers 429', 'model_unavailable'],
  ] as const) {
    it(`hides a backend that ${what}: every request succeeds on the other, and the breaker stops trying it`, async () => {
      // Sequential, equal weights: the bad deployment is drawn first half the time until its breaker opens.
      const count = 40;
      for (let i = 0; i < count; i++) {
        const stream = i % 2 === 1;
        if (stream) {
          const chunks = await gw.client.chat.completions.create({ model: name, messages: [user], max_tokens: 4, stream: true });
          let text = '';
          for await (const chunk of chunks) text += chunk.choices[0]?.delta?.content ?? '';
          expect(text.length).toBeGreaterThan(0);
        } else {
          const done = await gw.client.chat.completions.create({ model: name, messages: [user], max_tokens: 4 });
          expect(done.choices[0].message.content).toBeTruthy();
        }
      }
      const lines = requestLines(gw, name);
      expect(lines.map((l) => l.status)).toEqual(Array(count).fill(200));
      const failed = lines.flatMap((l) => (l.attempts ?? []).filter((a: Any) => a.error !== undefined));
      // Every failed attempt is in the log line, with the deployment, status and duration.
      for (const attempt of failed) {
        expect(attempt.deployment).toMatch(/^(gone|failing|hanging|overloaded)\//);
        expect(attempt.error).toBe(code);
        expect(typeof attempt.ms).toBe('number');
        if (name === 'with-failing') expect(attempt.status).toBe(500);
        if (name === 'with-overloaded') expect(attempt.status).toBe(429);
        if (name === 'with-gone' || name === 'with-hanging') expect(attempt.status).toBeNull();
      }
      // Five failures open the breaker (min_requests 5, error_rate 0.5): no request after the fifth tries it.
      expect(failed).toHaveLength(5);
      const opened = lines.findLastIndex((l) => l.attempts !== undefined);
      expect(lines.slice(opened + 1).every((l) => l.attempts === undefined && !String(l.deployment).startsWith(failed[0].deployment))).toBe(true);
      if (name === 'with-hanging') {
        // A hang costs the client the first-byte timeout, nothing more.
        const slowest = Math.max(...lines.map((l) => l.latency_ms as number));
        expect(slowest).toBeLessThan(2000);
      }
    }, 60_000);
  }

  it('retries a break before the first byte on another deployment; after it, ends the stream with an error event and no retry', async () => {
    // Non-streamed: the break happens before the client has a byte, so another deployment answers.
    const done = await gw.client.chat.completions.create({ model: 'breaking-then-fine', messages: [user], max_tokens: 12 });
    expect(done.choices[0].message.content).toBeTruthy();
    const retried = requestLines(gw, 'breaking-then-fine').at(-1)!;
    expect(retried.attempts.map((a: Any) => a.deployment)).toEqual(['breaking/breaking-then-fine', 'a/breaking-then-fine']);

    // Streamed: the client has text when the backend breaks; no second deployment may add to it.
    const account = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.apiKey}` },
      json: { model: 'only-breaking', messages: [user], max_tokens: 12, stream: true },
    });
    expect(res.status).toBe(200);
    const events = sseData(res.text);
    expect(events.at(-1)).not.toBe('[DONE]');
    const last = JSON.parse(events.at(-1)!);
    expect(last.error.code).toBe('upstream_error');
    const delivered = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '')
      .join('');
    expect(delivered.length).toBeGreaterThan(0);
    const line = requestLines(gw, 'only-breaking').at(-1)!;
    expect(line.attempts).toBeUndefined();
    expect(line.settle).toBe('upstream_error');
    // Billed for what was delivered only: the prompt and the text the client received.
    await gw.flushUsage();
    const [record] = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 10 });
    expect(record.completionTokens).toBe(countTokens(delivered));
    // $1 and $2 per million tokens: 1 and 2 micro-units a token.
    expect(record.costMicros).toBe(record.promptTokens + record.completionTokens * 2);
  }, 30_000);

  it("falls back to the model's fallbacks in order, at the fallback's price, and says so", async () => {
    const account = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.apiKey}` },
      json: { model: 'all-failing', messages: [user], max_tokens: 8 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-floodgate-fallback')).toBe('model=priced-fallback');
    // The client sees the name it asked for.
    expect(res.json().model).toBe('all-failing');
    const line = requestLines(gw, 'all-failing').at(-1)!;
    expect(line.served_model).toBe('priced-fallback');
    expect(line.attempts.map((a: Any) => a.deployment)).toEqual(['failing/all-failing', 'failing/all-failing', 'claude/claude-sonnet-4-5']);
    await gw.flushUsage();
    const [record] = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 10 });
    expect(record.model).toBe('priced-fallback');
    expect(record.costMicros).toBe(record.promptTokens * 3 + record.completionTokens * 15);
  }, 30_000);

  it('skips a fallback that cannot serve the request and reports the original failure', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'fallback-cannot', messages: [user] },
    });
    expect([502, 503]).toContain(res.status);
    expect(res.json().error.type).toMatch(/api_error|service_unavailable/);
  });
});

describe('every deployment down', () => {
  let gw: TestGateway;
  let ports: number[];
  let revived: ChildServer | undefined;

  beforeAll(async () => {
    ports = [await deadPort(), await deadPort()];
    const config: RawConfig = testConfig({
      // Requests open the breakers and trial probes bring one back; the liveness check (liveness.test.ts) is off.
      routing: { circuit_breaker: { min_requests: 2, open_ms: 300 }, probes: { enabled: true, timeout_ms: 1000, liveness_ms: 0 } },
    });
    config.providers = {
      ...config.providers,
      down1: openai(`http://127.0.0.1:${ports[0]}`),
      down2: openai(`http://127.0.0.1:${ports[1]}`),
    };
    config.models = [...config.models, model('fragile', [{ provider: 'down1' }, { provider: 'down2' }])];
    gw = await startTestGateway(config);
  });

  afterAll(async () => {
    await gw?.close();
    await revived?.stop();
  });

  async function listed(): Promise<string[]> {
    const list = await gw.client.models.list();
    return list.data.map((m) => m.id);
  }

  it('answers 503 with Retry-After, leaves /v1/models, and comes back by itself when a backend recovers', async () => {
    expect(await listed()).toContain('fragile');
    let last: Awaited<ReturnType<typeof rawRequest>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: { model: 'fragile', messages: [user] } });
      // Refused connections: unavailable before the breakers open as after.
      expect(last.status).toBe(503);
    }
    expect(last!.status).toBe(503);
    expect(last!.json().error).toMatchObject({ type: 'service_unavailable', code: 'model_unavailable' });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(last!.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    const models = await listed();
    expect(models).not.toContain('fragile');
    // Readiness lists the models with a live deployment, and no longer this one.
    const ready = await rawRequest(`${gw.url}/healthz?ready=1`);
    expect(ready.status).toBe(200);
    expect(ready.json().models).not.toContain('fragile');
    expect(ready.json().models).toContain('sim-chat');
    // The admin API shows why.
    const health = await rawRequest(`${gw.url}/admin/v1/deployments`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
    const fragile = health.json().data.filter((d: Any) => d.models.includes('fragile'));
    expect(fragile.map((d: Any) => [d.id, d.state === 'closed'])).toEqual([
      ['down1/fragile', false],
      ['down2/fragile', false],
    ]);
    expect(fragile.every((d: Any) => d.in_flight === 0)).toBe(true);
    // The others are still there.
    expect(models.length).toBeGreaterThan(0);

    // A backend comes back on its old port: a probe finds it, with no client traffic.
    revived = await spawnCli(['simulate', '--port', String(ports[0])], /Simulator listening on/);
    const deadline = Date.now() + 10_000;
    while (!(await listed()).includes('fragile') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await listed()).toContain('fragile');
    const done = await gw.client.chat.completions.create({ model: 'fragile', messages: [user], max_tokens: 4 });
    expect(done.choices[0].message.content).toBeTruthy();
    expect(requestLines(gw, 'fragile').at(-1)!.deployment).toBe('down1/fragile');
    const after = await rawRequest(`${gw.url}/admin/v1/deployments`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
    expect(after.json().data.find((d: Any) => d.id === 'down1/fragile')).toMatchObject({ state: 'closed', retry_at: null, upstream_model: 'fragile', models: ['fragile'] });
  }, 30_000);
});

describe('a backend that refuses our credentials', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    upstream = await startFakeUpstream((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }));
    });
    const config: RawConfig = testConfig({
      routing: { retry: { attempts: 1 }, circuit_breaker: { min_requests: 1, open_ms: 100, max_open_ms: 800 }, probes: { enabled: true, timeout_ms: 500 } },
    });
    config.providers = { ...config.providers, locked: openai(upstream.url, { api_key: 'sk-wrong-credentials-0123456789' }) };
    config.models = [...config.models, model('locked', [{ provider: 'locked' }])];
    gw = await startTestGateway(config);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('is probed ever more rarely (exponential backoff with jitter up to max_open_ms), not every open_ms forever', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: { model: 'locked', messages: [user] } });
    expect(res.status).toBe(502);
    const opened = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    // Every open_ms (100 ms) that would be ~30 probes in 3 s; backed off (≤ 100, 200, 400, 800, 800, …
    // each at least half that), at most 1 + 3000 / 50-ish in theory, but in practice well under 15.
    const probes = upstream.requests.length - 1;
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(probes).toBeLessThan(15);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(3000);
  }, 15_000);
});
