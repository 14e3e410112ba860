// Usage records survive the end of the process (SPEC §10): SIGTERM under load drains, flushes and exits 0
// with a record for every 200; SIGKILL loses at most the records of requests that ended within the last
// usage.flush_ms (plus one batch write) before the kill — the bound the README states. Graceful shutdown
// (SPEC §12): streams in flight at SIGTERM run to their end while new connections are refused; past
// server.shutdown_grace_ms they are cut (an SSE error event) and billed for what was delivered.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/accounting/tokenizer.js';
import { openStore } from '../../src/store/database.js';
import { spawnCli, spawnSimulator, startFakeUpstream, startTestGateway, testConfig, type ChildServer } from '../helpers/gateway.js';

const FLUSH_MS = 300;
/** Time allowed for settlement after the client has its response, and for one batch write. */
const WRITE_MARGIN_MS = 250;

const dirs: string[] = [];
const servers: ChildServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL');
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Started {
  server: ChildServer;
  apiKey: string;
  dataDir: string;
}

/** The gateway CLI on a fresh data dir: `server`, `provider` and `usage` lines vary, the rest is alike. */
async function startGateway(lines: { server: string; logging: string; usage?: string; provider: string; maxTokens: number; models?: string[] }): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-shutdown-'));
  dirs.push(dataDir);
  const configFile = join(dataDir, 'floodgate.yaml');
  writeFileSync(
    configFile,
    [
      lines.server,
      `data_dir: ${dataDir}`,
      lines.logging,
      'limits: { default_tier: big, tiers: { big: { requests_per_minute: 1000000, tokens_per_minute: 1000000000, concurrent_requests: 1000 } } }',
      'billing: { initial_credit: 1000 }',
      ...(lines.usage ? [lines.usage] : []),
      `providers: { sim: ${lines.provider} }`,
      'models:',
      `  - { id: sim-chat, category: text, defaults: { max_tokens: ${lines.maxTokens} }, pricing: { input: 0.5, output: 1.5 }, deployments: [{ provider: sim }] }`,
      ...(lines.models ?? []),
      '',
    ].join('\n'),
  );
  const server = await spawnCli(['serve', '--config', configFile], /Floodgate listening on/);
  servers.push(server);
  const apiKey = server.output.find((l) => l.startsWith('API key: '))!.slice('API key: '.length);
  return { server, apiKey, dataDir };
}

function startServer(): Promise<Started> {
  return startGateway({
    server: 'server: { host: 127.0.0.1, port: 0 }',
    logging: 'logging: { level: warn }',
    usage: `usage: { flush_ms: ${FLUSH_MS}, max_batch: 10000 }`,
    provider: '{ type: simulator, ttft_ms: 20, tokens_per_second: 0 }',
    maxTokens: 32,
  });
}

interface Completed {
  requestId: string;
  at: number;
}

/** `workers` loops of requests until `stop()`; returns the 200s with the time each response arrived. */
function load(url: string, apiKey: string, workers: number) {
  const completed: Completed[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const requestId = `shutdown-${process.pid}-${n++}`;
      try {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'x-request-id': requestId },
          body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }], stream: n % 2 === 0 }),
        });
        const text = await res.text();
        if (res.status === 200 && (!text.startsWith('data:') || text.includes('[DONE]'))) completed.push({ requestId, at: Date.now() });
      } catch {
        // The server is going away: connection refused or reset.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    completed,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

function exited(server: ChildServer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (server.process.exitCode !== null || server.process.signalCode !== null) resolve({ code: server.process.exitCode, signal: server.process.signalCode });
    else server.process.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function recordedIds(dataDir: string): Promise<Set<string>> {
  const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
  try {
    const rows = await store.db.selectFrom('usage_records').select('request_id').execute();
    return new Set(rows.map((r) => r.request_id));
  } finally {
    await store.close();
  }
}

describe('shutdown', () => {
  it('SIGTERM under load: in-flight requests finish, every 200 has its usage record, exit 0', async () => {
    const { server, apiKey, dataDir } = await startServer();
    const traffic = load(server.url, apiKey, 16);
    await new Promise((r) => setTimeout(r, 1500));
    server.process.kill('SIGTERM');
    const exit = await exited(server);
    await traffic.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(traffic.completed.length).toBeGreaterThan(50);
    const ids = await recordedIds(dataDir);
    const missing = traffic.completed.filter((c) => !ids.has(c.requestId));
    expect(missing).toEqual([]);
  });

  it('SIGKILL under load loses no record of a request that ended more than flush_ms before the kill', async () => {
    const { server, apiKey, dataDir } = await startServer();
    const traffic = load(server.url, apiKey, 16);
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    server.process.kill('SIGKILL');
    await exited(server);
    await traffic.stop();
    const ids = await recordedIds(dataDir);
    const old = traffic.completed.filter((c) => c.at < killedAt - FLUSH_MS - WRITE_MARGIN_MS);
    expect(old.length).toBeGreaterThan(50);
    expect(old.filter((c) => !ids.has(c.requestId))).toEqual([]);
    // What the bound allows to be lost is only what ended just before the kill.
    const lost = traffic.completed.filter((c) => !ids.has(c.requestId));
    for (const c of lost) expect(c.at).toBeGreaterThanOrEqual(killedAt - FLUSH_MS - WRITE_MARGIN_MS);
  });
});

/** A simulator upstream pacing every answer at `tokens` tokens, `tokensPerSecond` of them a second. */
async function slowSimulator(dir: string, tokens: number, tokensPerSecond: number): Promise<ChildServer> {
  const file = join(dir, 'simulator.yaml');
  writeFileSync(file, `output_tokens: [${tokens}, ${tokens}]\n`);
  const sim = await spawnSimulator(['--config', file, '--ttft-ms', '20', '--tokens-per-second', String(tokensPerSecond)]);
  servers.push(sim);
  return sim;
}

/** The gateway CLI in front of `upstream`, with `grace_ms` of shutdown grace and info logs (the drain's lines). */
function startBehind(upstream: string, graceMs: number, models?: string[]): Promise<Started> {
  return startGateway({
    server: `server: { host: 127.0.0.1, port: 0, shutdown_grace_ms: ${graceMs} }`,
    logging: 'logging: { level: info }',
    provider: `{ type: openai, base_url: "${upstream}/v1" }`,
    maxTokens: 200,
    models,
  });
}

interface StreamResult {
  requestId: string;
  text: string;
  chunks: number;
  finishReason: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number };
  error?: unknown;
}

/** One streamed chat completion through the SDK; `started` resolves with its first chunk. */
function streamChat(client: OpenAI, requestId: string): { started: Promise<void>; result: Promise<StreamResult> } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const result = (async () => {
    const out: StreamResult = { requestId, text: '', chunks: 0, finishReason: null };
    try {
      const stream = await client.chat.completions.create(
        { model: 'sim-chat', messages: [{ role: 'user', content: `tell me a story ${requestId}` }], stream: true, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': requestId } },
      );
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (choice) {
          out.chunks++;
          out.text += choice.delta?.content ?? '';
          if (choice.finish_reason) out.finishReason = choice.finish_reason;
          markStarted();
        }
        if (chunk.usage) out.usage = chunk.usage;
      }
    } catch (err) {
      out.error = err;
    } finally {
      markStarted();
    }
    return out;
  })();
  return { started, result };
}

/** Whether a fresh TCP connection to `url` is refused. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function usageRecords(dataDir: string) {
  const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
  try {
    return await store.db.selectFrom('usage_records').selectAll().execute();
  } finally {
    await store.close();
  }
}

function logLines(server: ChildServer): Record<string, unknown>[] {
  return server.output.flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
}

describe('graceful shutdown', () => {
  it('SIGTERM mid-stream: 20 streams run to their end, new connections are refused, exit 0, one full record each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-sim-'));
    dirs.push(dir);
    // 40 tokens at 20 a second: every stream runs about 2 s.
    const sim = await slowSimulator(dir, 40, 20);
    const { server, apiKey, dataDir } = await startBehind(sim.url, 30_000);
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
    const streams = Array.from({ length: 20 }, (_, i) => streamChat(client, `drain-${process.pid}-${i}`));
    await Promise.all(streams.map((s) => s.started));
    const signalledAt = performance.now();
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    expect(await refused(server.url)).toBe(true);

    const results = await Promise.all(streams.map((s) => s.result));
    const exit = await exited(server);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledAt).toBeLessThan(10_000);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.finishReason).toMatch(/^(stop|length)$/);
      expect(r.usage?.completion_tokens).toBe(40);
      // Every token was delivered: one chunk each.
      expect(r.chunks).toBeGreaterThanOrEqual(40);
    }

    const records = await usageRecords(dataDir);
    expect(records.map((r) => r.request_id).sort()).toEqual(results.map((r) => r.requestId).sort());
    for (const r of results) {
      const record = records.find((x) => x.request_id === r.requestId)!;
      expect(record).toMatchObject({ status: 200, settle: 'complete', error_code: null });
      expect(Number(record.completion_tokens)).toBe(r.usage!.completion_tokens);
      expect(Number(record.prompt_tokens)).toBe(r.usage!.prompt_tokens);
      expect(Number(record.cost_micros)).toBeGreaterThan(0);
    }
    const lines = logLines(server);
    expect(lines.find((l) => l.msg === 'shutdown: draining')).toMatchObject({ in_flight: 20 });
    expect(lines.find((l) => l.msg === 'shutdown: drained')).toMatchObject({ finished: 20, cut: 0 });
  });

  it('past shutdown_grace_ms a stream is cut with an error event, billed for what it delivered, and the exit is prompt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-sim-'));
    dirs.push(dir);
    // 100 tokens at 20 a second: 5 s, far beyond the 600 ms of grace.
    const sim = await slowSimulator(dir, 100, 20);
    const { server, apiKey, dataDir } = await startBehind(sim.url, 600);
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
    const streams = Array.from({ length: 3 }, (_, i) => streamChat(client, `cut-${process.pid}-${i}`));
    // And one that is not streamed: it has no byte yet when the grace is over.
    const whole = client.chat.completions
      .create({ model: 'sim-chat', messages: [{ role: 'user', content: 'all at once' }] }, { headers: { 'x-request-id': `cut-${process.pid}-whole` } })
      .catch((err: unknown) => err);
    await Promise.all(streams.map((s) => s.started));
    const signalledAt = performance.now();
    server.process.kill('SIGTERM');
    const results = await Promise.all(streams.map((s) => s.result));
    const wholeError = (await whole) as InstanceType<typeof OpenAI.APIError>;
    expect(wholeError).toBeInstanceOf(OpenAI.APIError);
    expect(wholeError.status).toBe(503);
    expect(wholeError.code).toBe('model_unavailable');
    expect(wholeError.headers?.get('retry-after')).toBe('1');
    const exit = await exited(server);
    const tookMs = performance.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeGreaterThan(500);
    expect(tookMs).toBeLessThan(3000);

    const records = await usageRecords(dataDir);
    expect(records.map((r) => r.request_id).sort()).toEqual([...results.map((r) => r.requestId), `cut-${process.pid}-whole`].sort());
    expect(records.find((x) => x.request_id === `cut-${process.pid}-whole`)).toMatchObject({ status: 503, error_code: 'model_unavailable' });
    for (const r of results) {
      // The SDK raises the stream's error event: 503-class, model_unavailable, the server is shutting down.
      expect(r.error).toBeInstanceOf(OpenAI.APIError);
      expect((r.error as InstanceType<typeof OpenAI.APIError>).message).toMatch(/shutting down/);
      expect(r.finishReason).toBeNull();
      const delivered = countTokens(r.text);
      expect(delivered).toBeGreaterThan(0);
      expect(delivered).toBeLessThan(100);
      const record = records.find((x) => x.request_id === r.requestId)!;
      expect(record).toMatchObject({ status: 200, settle: 'upstream_error', error_code: 'model_unavailable' });
      expect(Number(record.completion_tokens)).toBe(delivered);
      expect(Number(record.cost_micros)).toBeGreaterThan(0);
    }
    const lines = logLines(server);
    expect(lines.find((l) => l.msg === 'shutdown: drained')).toMatchObject({ finished: 4, cut: 4 });
  });

  it('past shutdown_grace_ms a media request still waiting for its backend is cut with a 503 too', async () => {
    // A backend that takes the image request and never answers.
    const held: ServerResponse[] = [];
    const upstream = await startFakeUpstream((_req, res) => void held.push(res));
    try {
      const { server, apiKey, dataDir } = await startBehind(upstream.url, 400, [
        '  - { id: img, category: image, capabilities: [images], sizes: [256x256], pricing: { per_image: 0.02 }, deployments: [{ provider: sim }] }',
      ]);
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
      const image = client.images.generate({ model: 'img', prompt: 'a lighthouse', size: '256x256' }, { headers: { 'x-request-id': `img-${process.pid}` } }).catch((err: unknown) => err);
      while (held.length === 0) await new Promise((r) => setTimeout(r, 20));
      server.process.kill('SIGTERM');
      const err = (await image) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(503);
      expect(err.message).toMatch(/shutting down/);
      expect(await exited(server)).toEqual({ code: 0, signal: null });
      const records = await usageRecords(dataDir);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ request_id: `img-${process.pid}`, status: 503, cost_micros: 0 });
    } finally {
      for (const res of held) res.destroy();
      await upstream.close();
    }
  });

  it('readiness answers 503 while draining, on a connection still open, and the stream on it finishes', async () => {
    const config = testConfig();
    config.providers = { ...config.providers, slow: { type: 'simulator', tokens_per_second: 20, output_tokens: [20, 20] } };
    config.models = [...config.models, { id: 'slow-chat', category: 'text', deployments: [{ provider: 'slow' }] }];
    const gw = await startTestGateway(config);
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = JSON.stringify({ model: 'slow-chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    while (!received.includes('data: ')) await new Promise((r) => setTimeout(r, 10));
    // Mid-stream: the drain begins, and the load balancer's health check comes on the open connection.
    const closing = gw.close();
    await new Promise((r) => setTimeout(r, 50));
    socket.write(`GET /healthz?ready=1 HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
    await ended;
    await closing;
    const [stream, health] = received.split(/\r\n(?=HTTP\/1\.1 )/);
    expect(stream).toMatch(/^HTTP\/1\.1 200/);
    expect(stream).toContain('"finish_reason":"stop"');
    expect(stream).toContain('data: [DONE]');
    expect(health).toMatch(/^HTTP\/1\.1 503/);
    expect(health).toMatch(/connection: close/i);
    expect(health).toContain('{"status":"draining"}');
  });

  it('a request arriving on a kept-alive connection while draining gets a full answer or a clean 503 with connection: close, and only what the client saw succeed is billed', async () => {
    const config = testConfig();
    config.providers = { ...config.providers, slow: { type: 'simulator', tokens_per_second: 20, output_tokens: [20, 20] } };
    config.models = [...config.models, { id: 'slow-chat', category: 'text', deployments: [{ provider: 'slow' }] }];
    const gw = await startTestGateway(config, { keepData: true });
    dirs.push(gw.dataDir);
    const { hostname, port } = new URL(gw.url);

    interface Conn {
      socket: Socket;
      received: () => string;
      closed: Promise<string | undefined>;
    }
    /** `allowHalfOpen`: the client may still write after the server's FIN. */
    const open = (allowHalfOpen = false): Conn => {
      const socket = connect({ port: Number(port), host: hostname, allowHalfOpen });
      let data = '';
      let error: string | undefined;
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (data += d));
      socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
      return { socket, received: () => data, closed: new Promise((resolve) => socket.once('close', () => resolve(error))) };
    };
    const post = (requestId: string, model: string, stream: boolean) => {
      const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream });
      return `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${gw.apiKey}\r\nX-Request-ID: ${requestId}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    const until = async (test: () => boolean) => {
      while (!test()) await new Promise((r) => setTimeout(r, 5));
    };
    /** The responses on a connection, in order: status, headers and body (chunked bodies left as sent). */
    const responses = (text: string) =>
      text
        .split(/\r\n(?=HTTP\/1\.1 )/)
        .filter((r) => r.startsWith('HTTP/1.1 '))
        .map((r) => {
          const [head, ...rest] = r.split('\r\n\r\n');
          return { status: Number(head.split(' ')[1]), head: head.toLowerCase(), body: rest.join('\r\n\r\n') };
        });

    // B: served one request, then idle on its kept-alive connection.
    const b = open();
    b.socket.write(post('keepalive-b', 'sim-chat', false));
    await until(() => b.received().includes('"chat.completion"'));
    // A: a stream under way, with a request pipelined behind it once the drain has begun.
    const a = open();
    a.socket.write(post('stream-a', 'slow-chat', true));
    // C: a stream under way, and the next request sent the instant its last chunk is read.
    const c = open();
    c.socket.write(post('stream-c', 'slow-chat', true));
    // D: a stream under way, and a request sent after the server has ended the connection (it is never answered).
    const d = open(true);
    d.socket.write(post('stream-d', 'slow-chat', true));
    await until(() => a.received().includes('data: ') && c.received().includes('data: ') && d.received().includes('data: '));

    const closing = gw.close();
    a.socket.write(post('pipelined-a', 'sim-chat', false));
    let nextSent = false;
    c.socket.on('data', () => {
      if (nextSent || !c.received().endsWith('0\r\n\r\n')) return;
      nextSent = true;
      c.socket.write(post('next-c', 'sim-chat', false));
    });
    d.socket.once('end', () => d.socket.end(post('late-d', 'sim-chat', false)));
    const [aError, bError, cError] = await Promise.all([a.closed, b.closed, c.closed, d.closed]);
    await closing;

    // No connection saw a reset; the idle one was closed without a word.
    expect({ aError, bError, cError }).toEqual({ aError: undefined, bError: undefined, cError: undefined });
    expect(responses(b.received())).toHaveLength(1);
    const seen = new Set<string>(['keepalive-b']);
    for (const [conn, stream, next] of [
      [a, 'stream-a', 'pipelined-a'],
      [c, 'stream-c', 'next-c'],
    ] as const) {
      const [first, second] = responses(conn.received());
      expect(first.status).toBe(200);
      expect(first.body).toContain('data: [DONE]');
      seen.add(stream);
      // The request after it: answered in full, or refused cleanly; never lost.
      expect(second, `${next} got no answer`).toBeDefined();
      expect(second.head).toContain(`x-request-id: ${next}`);
      if (second.status === 200) seen.add(next);
      else {
        expect(second.status).toBe(503);
        expect(second.head).toContain('connection: close');
        expect(JSON.parse(second.body).error).toMatchObject({ type: 'service_unavailable', code: 'model_unavailable' });
      }
    }
    // D's late request found the connection ended: no answer, and, above all, no charge.
    expect(responses(d.received()).map((r) => r.status)).toEqual([200]);
    seen.add('stream-d');
    const records = await usageRecords(gw.dataDir);
    expect(records.map((r) => r.request_id).sort()).toEqual([...seen].sort());
  });
});
