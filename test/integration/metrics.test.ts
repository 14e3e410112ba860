// /metrics against the real server (SPEC §12): after chat (streamed and not), embeddings, a reasoning
// model, a 401, a 429 and a 402, a scrape shows each family with the counts, tokens and latencies those
// requests produced; the scrape itself is not counted; `metrics.enabled: false` leaves no route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { rawRequest, startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';

/** One sample of a scrape: its labels and value. */
interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition, by metric name (`_bucket`, `_sum`, `_count` as their own names). */
function parseMetrics(text: string): Map<string, Sample[]> {
  const byName = new Map<string, Sample[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    const samples = byName.get(m[1]) ?? [];
    samples.push({ labels, value: Number(m[3]) });
    byName.set(m[1], samples);
  }
  return byName;
}

/** The value of the sample of `name` whose labels include `labels` (summed when several match; 0 when none). */
function value(metrics: Map<string, Sample[]>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const sample of metrics.get(name) ?? []) {
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) sum += sample.value;
  }
  return sum;
}

const CHAT = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';

let gw: TestGateway;
/** Usage the SDK saw, summed per model. */
const seen: Record<string, { prompt: number; completion: number; cached: number; reasoning: number }> = {};

function addUsage(model: string, usage: OpenAI.CompletionUsage | OpenAI.CreateEmbeddingResponse.Usage | null | undefined): void {
  expect(usage).toBeTruthy();
  const totals = (seen[model] ??= { prompt: 0, completion: 0, cached: 0, reasoning: 0 });
  totals.prompt += usage!.prompt_tokens;
  if ('completion_tokens' in usage!) {
    totals.completion += usage.completion_tokens;
    totals.cached += usage.prompt_tokens_details?.cached_tokens ?? 0;
    totals.reasoning += usage.completion_tokens_details?.reasoning_tokens ?? 0;
  }
}

async function scrape(url = gw.url): Promise<{ status: number; contentType: string | null; text: string; metrics: Map<string, Sample[]> }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, metrics: res.status === 200 ? parseMetrics(text) : new Map() };
}

/** Requests are observed once their response has closed: waits until `n` have been. */
async function scrapeAfter(n: number): Promise<Map<string, Sample[]>> {
  for (let i = 0; ; i++) {
    const { metrics } = await scrape();
    if (value(metrics, 'floodgate_requests_total') >= n || i === 100) return metrics;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  const config = testConfig({
    limits: {
      default_tier: 'default',
      tiers: {
        default: { requests_per_minute: 100_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 },
        rpm1: { requests_per_minute: 1 },
      },
    },
  });
  // A stream that lasts about a second.
  config.providers.slow = { type: 'simulator', ttft_ms: 0, tokens_per_second: 20, output_tokens: [20, 20] };
  config.models.push({ id: 'slow-chat', category: 'text', defaults: { max_tokens: 50 }, capabilities: ['chat'], pricing: { input: 1, output: 1 }, deployments: [{ provider: 'slow' }] });
  gw = await startTestGateway(config);
});
afterAll(async () => {
  await gw?.close();
});

describe('/metrics', () => {
  let metrics: Map<string, Sample[]>;
  let contentType: string | null;

  beforeAll(async () => {
    const chat = await gw.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 20 });
    addUsage('sim-chat', chat.usage);

    const stream = await gw.client.chat.completions.create({
      model: 'simulator-chat', // an alias: counted under the catalog id
      messages: [{ role: 'user', content: 'Stream something.' }],
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamUsage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) streamUsage = chunk.usage;
    addUsage('sim-chat', streamUsage);

    const reasoned = await gw.client.chat.completions.create({ model: 'sim-reasoner', messages: [{ role: 'user', content: 'Think first.' }], max_tokens: 60 });
    addUsage('sim-reasoner', reasoned.usage);

    const embedded = await gw.client.embeddings.create({ model: 'sim-embed', input: ['one text', 'and another'] });
    addUsage('sim-embed', embedded.usage);

    // 401: no model known yet.
    const unauthorized = await rawRequest(`${gw.url}${CHAT}`, { method: 'POST', headers: { authorization: 'Bearer fk-not-a-key' }, json: { model: 'sim-chat', messages: [] } });
    expect(unauthorized.status).toBe(401);

    // 429: one request per minute; the second is refused before its body is read.
    const limited = await gw.createAccount({ tier: 'rpm1', creditMicros: 1_000_000 });
    const first = await limited.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Once.' }], max_tokens: 10 });
    addUsage('sim-chat', first.usage);
    await expect(limited.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Twice.' }], max_tokens: 10 })).rejects.toMatchObject({ status: 429 });

    // 402: an account with nothing on it.
    const broke = await gw.createAccount();
    await expect(broke.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'On credit?' }] })).rejects.toMatchObject({ status: 402 });

    metrics = await scrapeAfter(8);
    contentType = (await scrape()).contentType;
  });

  it('serves the Prometheus text format', () => {
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('counts requests by endpoint, catalog model and status', () => {
    expect(value(metrics, 'floodgate_requests_total', { endpoint: CHAT, model: 'sim-chat', status: '200' })).toBe(3);
    expect(value(metrics, 'floodgate_requests_total', { endpoint: CHAT, model: 'sim-reasoner', status: '200' })).toBe(1);
    expect(value(metrics, 'floodgate_requests_total', { endpoint: EMBEDDINGS, model: 'sim-embed', status: '200' })).toBe(1);
    expect(value(metrics, 'floodgate_requests_total', { endpoint: CHAT, model: '', status: '401' })).toBe(1);
    expect(value(metrics, 'floodgate_requests_total', { endpoint: CHAT, model: '', status: '429' })).toBe(1);
    expect(value(metrics, 'floodgate_requests_total', { endpoint: CHAT, model: 'sim-chat', status: '402' })).toBe(1);
    expect(value(metrics, 'floodgate_requests_total')).toBe(8);
    // Aliases are counted under the model's id, and no account or key id is a label.
    expect(metrics.get('floodgate_requests_total')!.every((s) => s.labels.model !== 'simulator-chat' && Object.keys(s.labels).sort().join() === 'endpoint,model,status')).toBe(true);
  });

  it('times requests, the gateway overhead, the backends and the first token', () => {
    const okChat = { endpoint: CHAT, model: 'sim-chat', status: '200' };
    expect(value(metrics, 'floodgate_request_duration_seconds_count', okChat)).toBe(3);
    expect(value(metrics, 'floodgate_request_duration_seconds_bucket', { ...okChat, le: '+Inf' })).toBe(3);
    const durationSum = value(metrics, 'floodgate_request_duration_seconds_sum', okChat);
    expect(durationSum).toBeGreaterThan(0);
    expect(value(metrics, 'floodgate_request_duration_seconds_count')).toBe(8);

    // Only requests that reached a backend: 2 non-streamed chats (+ the reasoner), 1 stream, 1 embeddings call.
    expect(value(metrics, 'floodgate_gateway_overhead_seconds_count', { endpoint: CHAT, stream: 'false' })).toBe(3);
    expect(value(metrics, 'floodgate_gateway_overhead_seconds_count', { endpoint: CHAT, stream: 'true' })).toBe(1);
    expect(value(metrics, 'floodgate_gateway_overhead_seconds_count', { endpoint: EMBEDDINGS, stream: 'false' })).toBe(1);
    const overheadSum = value(metrics, 'floodgate_gateway_overhead_seconds_sum', { endpoint: CHAT });
    expect(overheadSum).toBeGreaterThan(0);
    expect(overheadSum).toBeLessThan(value(metrics, 'floodgate_request_duration_seconds_sum', { endpoint: CHAT }));

    expect(value(metrics, 'floodgate_upstream_latency_seconds_count', { deployment: 'sim/sim-chat' })).toBe(3);
    expect(value(metrics, 'floodgate_upstream_latency_seconds_count', { deployment: 'sim/sim-reasoner' })).toBe(1);
    expect(value(metrics, 'floodgate_upstream_latency_seconds_count', { deployment: 'sim/sim-embed' })).toBe(1);
    expect(value(metrics, 'floodgate_upstream_latency_seconds_sum', { deployment: 'sim/sim-chat' })).toBeGreaterThan(0);

    expect(value(metrics, 'floodgate_time_to_first_token_seconds_count', { model: 'sim-chat' })).toBe(1);
    expect(value(metrics, 'floodgate_time_to_first_token_seconds_count')).toBe(1);
  });

  it('counts the tokens the clients were told, and the cost', () => {
    for (const [model, usage] of Object.entries(seen)) {
      expect(usage.prompt).toBeGreaterThan(0);
      expect(value(metrics, 'floodgate_tokens_total', { model, type: 'prompt' })).toBe(usage.prompt);
      expect(value(metrics, 'floodgate_tokens_total', { model, type: 'completion' })).toBe(usage.completion);
      expect(value(metrics, 'floodgate_tokens_total', { model, type: 'cached' })).toBe(usage.cached);
      expect(value(metrics, 'floodgate_tokens_total', { model, type: 'reasoning' })).toBe(usage.reasoning);
      expect(value(metrics, 'floodgate_cost_micros_total', { model })).toBeGreaterThan(0);
    }
    expect(seen['sim-chat'].completion).toBeGreaterThan(0);
    expect(seen['sim-reasoner'].reasoning).toBeGreaterThan(0);
  });

  it('counts limit rejections by kind', () => {
    expect(value(metrics, 'floodgate_limit_rejections_total', { kind: 'requests' })).toBe(1);
    expect(value(metrics, 'floodgate_limit_rejections_total', { kind: 'balance' })).toBe(1);
    expect(value(metrics, 'floodgate_limit_rejections_total', { kind: 'tokens' })).toBe(0);
    expect(value(metrics, 'floodgate_limit_rejections_total', { kind: 'concurrency' })).toBe(0);
    expect(value(metrics, 'floodgate_limit_rejections_total', { kind: 'budget' })).toBe(0);
    expect(metrics.get('floodgate_limit_rejections_total')).toHaveLength(5);
  });

  it('reads the gauges when scraped: in flight, breakers, the usage queue', () => {
    expect(metrics.get('floodgate_requests_in_flight')).toEqual([{ labels: {}, value: 0 }]);
    expect(metrics.get('floodgate_streams_in_flight')).toEqual([{ labels: {}, value: 0 }]);
    expect(value(metrics, 'floodgate_circuit_breaker_state', { deployment: 'sim/sim-chat' })).toBe(0);
    expect(metrics.get('floodgate_circuit_breaker_state')!.length).toBeGreaterThanOrEqual(3);
    expect(metrics.get('floodgate_usage_queue_depth')).toHaveLength(1);
    expect(value(metrics, 'floodgate_usage_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(metrics.get('floodgate_usage_write_failures_total')).toEqual([{ labels: {}, value: 0 }]);
  });

  it('includes the process metrics, prefixed', () => {
    expect(value(metrics, 'floodgate_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metrics.has('floodgate_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(metrics.has('floodgate_nodejs_heap_size_used_bytes')).toBe(true);
  });

  it('shows a stream in flight while it runs', async () => {
    const stream = await gw.client.chat.completions.create({ model: 'slow-chat', messages: [{ role: 'user', content: 'Slowly.' }], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the 200 and a first chunk are here; the rest waits on this client
    const during = (await scrape()).metrics;
    expect(value(during, 'floodgate_requests_in_flight')).toBe(1);
    expect(value(during, 'floodgate_streams_in_flight')).toBe(1);
    while (!(await iterator.next()).done);
    const after = await scrapeAfter(9);
    expect(value(after, 'floodgate_streams_in_flight')).toBe(0);
    expect(value(after, 'floodgate_requests_in_flight')).toBe(0);
  });

  it('does not count the scrapes, nor paths outside the API', async () => {
    const before = value((await scrape()).metrics, 'floodgate_requests_total');
    await rawRequest(`${gw.url}/healthz`);
    await rawRequest(`${gw.url}/nowhere`);
    await scrape();
    const after = await scrape();
    expect(value(after.metrics, 'floodgate_requests_total')).toBe(before);
    expect(after.text).not.toMatch(/endpoint="\/metrics"/);
  });

  it('counts store and Redis failures reported to it, and needs no key', async () => {
    gw.gateway.metrics.storeError('ping');
    gw.gateway.metrics.redisFailure('take_request', 'open');
    const { status, metrics: now } = await scrape();
    expect(status).toBe(200);
    expect(value(now, 'floodgate_store_errors_total', { operation: 'ping' })).toBe(1);
    expect(value(now, 'floodgate_redis_failures_total', { operation: 'take_request', policy: 'open' })).toBe(1);
  });
});

describe('metrics.enabled: false', () => {
  it('has no /metrics route', async () => {
    const off = await startTestGateway(testConfig({ metrics: { enabled: false } }));
    try {
      const res = await rawRequest(`${off.url}/metrics`);
      expect(res.status).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    } finally {
      await off.close();
    }
  });
});
