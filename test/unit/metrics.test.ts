// GatewayMetrics on hand-made request states: what the overhead histogram measures (total or time to
// first byte, minus every backend attempt), which model a request counts under, tokens by type, the
// in-flight gauges, and a failed usage write reaching the counters through the writer's hook.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newRequestState, type RequestState } from '../../src/api/request-state.js';
import { MemoryBalanceBook } from '../../src/accounting/balance-book.js';
import { UsageWriter } from '../../src/accounting/usage-writer.js';
import type { Admission } from '../../src/accounting/settlement.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import type { UsageRecord } from '../../src/store/usage.js';

const CHAT = '/v1/chat/completions';

/** The samples of one family, as prom-client reports them. */
async function samples(metrics: GatewayMetrics, name: string): Promise<{ labels: Record<string, string | number>; value: number; metricName?: string }[]> {
  const family = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (family?.values ?? []) as { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

async function sampleValue(metrics: GatewayMetrics, name: string, metricName: string, labels: Record<string, string>): Promise<number | undefined> {
  const found = (await samples(metrics, name)).find((s) => (s.metricName ?? name) === metricName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value;
}

/** A request that arrived `ageMs` ago. */
function requestState(ageMs: number, fields: Partial<RequestState> = {}): RequestState {
  const state = newRequestState('req_test');
  state.start = performance.now() - ageMs;
  return Object.assign(state, fields);
}

const admitted = {} as Admission;
const usage = { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, cache_read_input_tokens: 4, cache_creation_input_tokens: 0, completion_tokens_details: { reasoning_tokens: 7 } };

describe('GatewayMetrics', () => {
  it('measures the overhead as the total less every backend attempt, retries included', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const state = requestState(100, {
      modelId: 'm',
      deployment: 'sim/m',
      stream: false,
      upstreamMs: 60,
      attempts: [
        { deployment: 'sim/m', status: 500, ms: 30, error: 'upstream_error' },
        { deployment: 'sim/m', status: 200, ms: 60 },
      ],
    });
    metrics.requestStarted(state, CHAT);
    metrics.observeRequest(state, 200);
    const overhead = (await sampleValue(metrics, 'floodgate_gateway_overhead_seconds', 'floodgate_gateway_overhead_seconds_sum', { endpoint: CHAT, stream: 'false' }))!;
    expect(overhead).toBeGreaterThanOrEqual(0.01);
    expect(overhead).toBeLessThan(0.02);
    expect(await sampleValue(metrics, 'floodgate_upstream_latency_seconds', 'floodgate_upstream_latency_seconds_sum', { deployment: 'sim/m' })).toBeCloseTo(0.06, 6);
  });

  it('measures a stream to its first byte, and times that first byte', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    // A 5 s stream whose backend answered its first event after 40 ms and whose first byte left at 45 ms.
    const state = requestState(5000, { modelId: 'm', deployment: 'sim/m', stream: true, upstreamMs: 40, ttftMs: 45, attempts: [{ deployment: 'sim/m', status: 200, ms: 40 }] });
    metrics.requestStarted(state, CHAT);
    metrics.observeRequest(state, 200);
    expect(await sampleValue(metrics, 'floodgate_gateway_overhead_seconds', 'floodgate_gateway_overhead_seconds_sum', { endpoint: CHAT, stream: 'true' })).toBeCloseTo(0.005, 6);
    expect(await sampleValue(metrics, 'floodgate_time_to_first_token_seconds', 'floodgate_time_to_first_token_seconds_sum', { model: 'm' })).toBeCloseTo(0.045, 6);
    expect(await sampleValue(metrics, 'floodgate_request_duration_seconds', 'floodgate_request_duration_seconds_sum', { endpoint: CHAT, model: 'm', status: '200' })).toBeGreaterThanOrEqual(5);
  });

  it('counts a fallback under the model that served, with its tokens by type and its cost', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const state = requestState(10, { modelId: 'asked', servedModel: 'served', admission: admitted, usage, costMicros: 123 });
    metrics.requestStarted(state, CHAT);
    metrics.observeRequest(state, 200);
    expect(await sampleValue(metrics, 'floodgate_requests_total', 'floodgate_requests_total', { model: 'served', status: '200' })).toBe(1);
    expect(await sampleValue(metrics, 'floodgate_requests_total', 'floodgate_requests_total', { model: 'asked' })).toBeUndefined();
    const tokens = Object.fromEntries((await samples(metrics, 'floodgate_tokens_total')).map((s) => [s.labels.type, s.value]));
    expect(tokens).toEqual({ prompt: 12, completion: 30, cached: 4, reasoning: 7 });
    expect(await sampleValue(metrics, 'floodgate_cost_micros_total', 'floodgate_cost_micros_total', { model: 'served' })).toBe(123);
  });

  it('counts refusals by kind, and no tokens or overhead for a request that reached no backend', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const state = requestState(1, { modelId: 'm', rejected: 'tokens' });
    metrics.requestStarted(state, CHAT);
    metrics.observeRequest(state, 429);
    expect(await sampleValue(metrics, 'floodgate_limit_rejections_total', 'floodgate_limit_rejections_total', { kind: 'tokens' })).toBe(1);
    expect(await sampleValue(metrics, 'floodgate_limit_rejections_total', 'floodgate_limit_rejections_total', { kind: 'balance' })).toBe(0);
    expect(await samples(metrics, 'floodgate_gateway_overhead_seconds')).toEqual([]);
    expect(await samples(metrics, 'floodgate_tokens_total')).toEqual([]);
  });

  it('shows requests and streams in flight until they are observed; a request outside the API is not counted', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const plain = requestState(1);
    const stream = requestState(1, { stream: true });
    metrics.requestStarted(plain, CHAT);
    metrics.requestStarted(stream, CHAT);
    expect((await samples(metrics, 'floodgate_requests_in_flight'))[0].value).toBe(2);
    expect((await samples(metrics, 'floodgate_streams_in_flight'))[0].value).toBe(0);
    stream.ttftMs = 3; // its 200 has gone out
    expect((await samples(metrics, 'floodgate_streams_in_flight'))[0].value).toBe(1);
    metrics.observeRequest(stream, 200);
    metrics.observeRequest(plain, 200);
    metrics.observeRequest(requestState(1), 404); // never started: /healthz, /metrics, unknown paths
    expect((await samples(metrics, 'floodgate_requests_in_flight'))[0].value).toBe(0);
    expect((await samples(metrics, 'floodgate_streams_in_flight'))[0].value).toBe(0);
    expect((await samples(metrics, 'floodgate_requests_total')).reduce((n, s) => n + s.value, 0)).toBe(2);
  });

  it('counts a failed usage write as a usage write failure and a store error, and reads the queue depth', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
    const book = new MemoryBalanceBook(() => Promise.resolve(new Map()), 0);
    const sink = { insertBatch: () => Promise.reject(new Error('disk full')), committed: () => Promise.resolve(false), close: () => Promise.resolve() };
    const writer = new UsageWriter(sink, book, { flushMs: 60_000, maxBatch: 100 }, silent);
    writer.onWriteFailure = () => metrics.usageWriteFailed();
    metrics.watch({ health: { all: () => [][Symbol.iterator]() } as never, usageQueueDepth: () => writer.depth });
    const record: UsageRecord = {
      id: 'usg_1',
      createdAt: Date.now(),
      requestId: 'req_1',
      accountId: 'acct_1',
      keyId: 'key_1',
      endpoint: 'chat',
      model: 'm',
      deployment: null,
      stream: false,
      promptTokens: 1,
      cachedTokens: 0,
      completionTokens: 1,
      reasoningTokens: 0,
      costMicros: 0,
      status: 200,
      latencyMs: 1,
      ttftMs: null,
      settle: 'complete',
      errorCode: null,
    };
    writer.add(record);
    expect((await samples(metrics, 'floodgate_usage_queue_depth'))[0].value).toBe(1);
    await writer.flush(2);
    expect((await samples(metrics, 'floodgate_usage_write_failures_total'))[0].value).toBe(2);
    expect(await sampleValue(metrics, 'floodgate_store_errors_total', 'floodgate_store_errors_total', { operation: 'usage_write' })).toBe(2);
    await writer.close(); // stops the retry timer (the record is logged as lost)
    await book.close();
  });
});
