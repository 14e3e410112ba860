// OpenTelemetry (config `tracing`): the gateway exports its spans over OTLP/HTTP to an in-process
// receiver — one SERVER span per API request with the GenAI attributes, admission / attempt / settlement
// children — joins the client's trace from `traceparent`, and hands each attempt's context to the backend.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

/** An OTLP/HTTP collector: keeps every span POSTed (JSON encoding) to /v1/traces, and the resources' attributes. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; services: string[]; posts: { path: string; headers: Record<string, unknown> }[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const services: string[] = [];
  const posts: { path: string; headers: Record<string, unknown> }[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', headers: req.headers });
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('application/json')) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(text) as { resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name');
        if (service) services.push(String(service.value.stringValue));
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    services,
    posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An attribute's value, whatever OTLP type it was sent as (ints may come as strings). */
function attr(span: OtlpSpan, key: string): unknown {
  const found = span.attributes.find((a) => a.key === key);
  if (found === undefined) return undefined;
  const v = found.value;
  if ('intValue' in v) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const traceparent = (traceId: string, sampled = true) => `00-${traceId}-${CLIENT_SPAN}-${sampled ? '01' : '00'}`;
/** A distinct trace id per request, so each request's spans can be told apart. */
const traceOf = (n: number) => `${TRACE_ID.slice(0, -2)}${String(n).padStart(2, '0')}`;

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let upstream: FakeUpstream;
let gw: TestGateway;
let failNext = 0;
/** The `traceparent` each attempt of the first request sent the backend. */
let firstParents: string[] = [];
let closed: Promise<OtlpSpan[]> | undefined;

/** Closes the gateway, which exports every buffered span before it returns, and gives what the receiver got. */
function exported(): Promise<OtlpSpan[]> {
  closed ??= gw.close().then(() => receiver.spans);
  return closed;
}

function spansOf(spans: OtlpSpan[], traceId: string): { server: OtlpSpan; children: OtlpSpan[] } {
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const servers = inTrace.filter((s) => s.kind === 2);
  expect(servers).toHaveLength(1);
  return { server: servers[0], children: inTrace.filter((s) => s.kind !== 2) };
}

beforeAll(async () => {
  receiver = await startReceiver();
  upstream = await startFakeUpstream((_req, res) => {
    if (failNext > 0) {
      failNext--;
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'up-1',
        object: 'chat.completion',
        created: 1,
        model: 'upstream-model',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      }),
    );
  });
  const config = testConfig({
    // Ratio 0: only traces the client already sampled are kept (parent-based sampling).
    tracing: { enabled: true, endpoint: `${receiver.url}/v1/traces`, headers: { 'x-collector-key': 'collector-secret' }, sampling_ratio: 0, service_name: 'floodgate-test' },
  });
  config.providers = { ...config.providers, vllm: { type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'upstream-secret' } };
  config.models = [
    ...config.models,
    { id: 'traced-model', category: 'text', retry: { attempts: 2, backoff_ms: 0 }, deployments: [{ provider: 'vllm', model: 'upstream-model' }] },
  ];
  config.routing = { circuit_breaker: { min_requests: 1000 } };
  gw = await startTestGateway(config);
}, 30_000);

afterAll(async () => {
  if (gw) await exported();
  await upstream?.close();
  await receiver?.close();
});

describe('tracing', () => {
  it('sends each attempt a traceparent in the client trace, and a retried request reaches the backend twice', async () => {
    failNext = 1;
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, traceparent: traceparent(traceOf(1)), tracestate: 'vendor=abc' },
      json: { model: 'traced-model', max_tokens: 50, messages: [{ role: 'user', content: 'secret prompt text' }] },
    });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(2);
    const parents = upstream.requests.map((r) => String(r.headers.traceparent));
    firstParents = parents;
    for (const p of parents) expect(p).toMatch(new RegExp(`^00-${traceOf(1)}-[0-9a-f]{16}-01$`));
    // Each attempt is its own span: two different parents.
    expect(parents[0].split('-')[2]).not.toBe(parents[1].split('-')[2]);
    expect(upstream.requests[0].headers.tracestate).toBe('vendor=abc');
  });

  it('streams through the simulator with the SDK, and an unsampled request is not exported', async () => {
    const stream = await gw.client.chat.completions.create(
      { model: 'sim-chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: traceparent(traceOf(2)) } },
    );
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    // Without a traceparent the ratio (0) decides: not sampled.
    const plain = await gw.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(plain.choices[0].message.content).toBeTruthy();
    // A client parent that is not sampled is honoured too; the backend still gets the (unsampled) context.
    upstream.requests.length = 0;
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, traceparent: traceparent(traceOf(3), false) },
      json: { model: 'traced-model', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(res.status).toBe(200);
    expect(String(upstream.requests[0].headers.traceparent)).toMatch(new RegExp(`^00-${traceOf(3)}-[0-9a-f]{16}-00$`));
    // An embeddings request and a refused one (unknown model) are traced as well.
    const emb = await rawRequest(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, traceparent: traceparent(traceOf(4)) },
      json: { model: 'sim-embed', input: 'hello' },
    });
    expect(emb.status).toBe(200);
    const bad = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, traceparent: traceparent(traceOf(5)) },
      json: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(bad.status).toBe(404);
  });

  it('exports a server span in the client trace with admission, one span per attempt and settlement under it', async () => {
    const spans = await exported();
    expect(receiver.services).toContain('floodgate-test');
    expect(receiver.posts.every((p) => p.path === '/v1/traces' && p.headers['x-collector-key'] === 'collector-secret')).toBe(true);

    const { server, children } = spansOf(spans, traceOf(1));
    expect(server.name).toBe('chat traced-model');
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(attr(server, 'gen_ai.operation.name')).toBe('chat');
    expect(attr(server, 'gen_ai.request.model')).toBe('traced-model');
    expect(attr(server, 'gen_ai.response.model')).toBe('traced-model');
    expect(attr(server, 'gen_ai.request.max_tokens')).toBe(50);
    expect(attr(server, 'gen_ai.usage.input_tokens')).toBe(5);
    expect(attr(server, 'gen_ai.usage.output_tokens')).toBe(2);
    expect(attr(server, 'http.response.status_code')).toBe(200);
    expect(attr(server, 'floodgate.request_id')).toMatch(/^req_/);
    expect(String(attr(server, 'floodgate.account_id'))).not.toBe('');
    for (const child of children) expect(child.parentSpanId).toBe(server.spanId);
    expect(children.map((c) => c.name).sort()).toEqual(['admission', 'attempt vllm/upstream-model', 'attempt vllm/upstream-model', 'settlement']);
    const attempts = children.filter((c) => c.name.startsWith('attempt')).sort((a, b) => Number(attr(a, 'floodgate.retry')) - Number(attr(b, 'floodgate.retry')));
    expect(attempts.map((a) => attr(a, 'floodgate.retry'))).toEqual([0, 1]);
    expect(attempts.map((a) => attr(a, 'http.response.status_code'))).toEqual([500, 200]);
    expect(attr(attempts[0], 'error.type')).toBe('upstream_error');
    expect(attempts[0].status?.code).toBe(2);
    expect(attr(attempts[1], 'gen_ai.provider.name')).toBe('vllm');
    // The backend's traceparent named the attempt span it belongs to.
    expect(attempts.map((a) => `00-${traceOf(1)}-${a.spanId}-01`)).toEqual(firstParents);
    // Nothing of the prompt, the key or a body is on any span.
    const everything = JSON.stringify(spans);
    expect(everything).not.toContain('secret prompt text');
    expect(everything).not.toContain(gw.apiKey);
    expect(everything).not.toContain('upstream-secret');
    expect(everything).not.toContain('Hello');

    const streamed = spansOf(spans, traceOf(2));
    expect(streamed.server.name).toBe('chat sim-chat');
    expect(attr(streamed.server, 'gen_ai.request.stream')).toBe(true);
    expect(Number(attr(streamed.server, 'gen_ai.usage.output_tokens'))).toBeGreaterThan(0);
    expect(streamed.children.map((c) => c.name).sort()).toEqual(['admission', 'attempt sim/sim-chat', 'settlement']);

    // Not sampled: neither the plain request (ratio 0) nor the client's unsampled trace were exported.
    expect(spans.filter((s) => s.traceId === traceOf(3))).toHaveLength(0);
    const traced = new Set(spans.map((s) => s.traceId));
    expect([...traced].sort()).toEqual([traceOf(1), traceOf(2), traceOf(4), traceOf(5)]);

    const emb = spansOf(spans, traceOf(4));
    expect(emb.server.name).toBe('embeddings sim-embed');
    expect(attr(emb.server, 'gen_ai.operation.name')).toBe('embeddings');

    const refused = spansOf(spans, traceOf(5));
    expect(attr(refused.server, 'http.response.status_code')).toBe(404);
    expect(attr(refused.server, 'error.type')).toBe('model_not_found');
    expect(refused.children.map((c) => c.name)).toEqual(['settlement']);
  });
});

describe('tracing config', () => {
  const base = () => testConfig({ data_dir: '/tmp/unused' } as never);
  it('is off by default and takes its defaults when enabled', () => {
    expect(resolveConfig(base(), 'test').tracing).toBeNull();
    expect(resolveConfig({ ...base(), tracing: { enabled: true } }, 'test').tracing).toEqual({ endpoint: 'http://localhost:4318/v1/traces', headers: {}, samplingRatio: 1, serviceName: 'floodgate' });
    expect(resolveConfig({ ...base(), tracing: { enabled: false, endpoint: 'http://collector:4318/v1/traces' } }, 'test').tracing).toBeNull();
  });

  it('names the field that is wrong', () => {
    const errorOf = (tracing: unknown) => {
      try {
        resolveConfig({ ...base(), tracing } as never, 'test');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(errorOf({ enabled: true, sampling_ratio: 1.5 })).toMatch(/^tracing\.sampling_ratio: /);
    expect(errorOf({ enabled: true, endpoint: 'collector:4318' })).toMatch(/^tracing\.endpoint: /);
    expect(errorOf({ enabled: true, headers: { 'x-key': 3 } })).toMatch(/^tracing\.headers\.x-key: /);
    expect(errorOf({ enabled: true, sample: 1 })).toMatch(/^tracing\.sample: is not a known field here/);
  });
});
