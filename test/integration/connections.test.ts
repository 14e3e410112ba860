// Slow and idle clients cannot hold the server (SPEC §16): headers that trickle in, a body that stalls or
// drags on, connections over the cap — each closed within its limit, answered in the envelope where an answer
// is possible, counted in floodgate_connections_dropped_total{reason} — while normal requests keep being
// served, and while responses (a slow backend, a long stream) are never cut by these limits. And a body too
// large for the server is answered with a 413 the client actually reads, not a reset under its upload.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 3000;
const BODY_IDLE_TIMEOUT_MS = 1000;
const BODY_LIMIT = 4 * 1024 * 1024;

/** The test config with a slow simulator model (`slow-chat`: 40 tokens at 10 a second, 4 s). */
function slowConfig(server: RawConfig['server']): RawConfig {
  const config = testConfig();
  config.server = { ...config.server, ...server };
  config.providers = { ...config.providers, slow: { type: 'simulator', ttft_ms: 0, tokens_per_second: 10, output_tokens: [40, 40] } };
  config.models = [...config.models, { id: 'slow-chat', category: 'text', deployments: [{ provider: 'slow' }] }];
  return config;
}

interface RawConnection {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves when the socket closes, with whether it closed on an error (a reset, a failed write). */
  closed: Promise<{ at: number; error: string | undefined }>;
}

function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    let error: string | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    const closed = new Promise<{ at: number; error: string | undefined }>((done) => socket.once('close', () => done({ at: performance.now(), error })));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

function write(socket: Socket, data: string | Buffer): Promise<string | undefined> {
  return new Promise((resolve) => socket.write(data, (err) => resolve(err ? ((err as NodeJS.ErrnoException).code ?? err.message) : undefined)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The status line, headers and body of the first response in `text`. */
function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + Number(headers['content-length'] ?? text.length)) };
}

async function dropped(gw: TestGateway, reason: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`floodgate_connections_dropped_total{reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('slow clients', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(
      slowConfig({ headers_timeout_ms: HEADERS_TIMEOUT_MS, request_timeout_ms: REQUEST_TIMEOUT_MS, body_idle_timeout_ms: BODY_IDLE_TIMEOUT_MS, body_limit_bytes: BODY_LIMIT }),
    );
  });
  afterAll(() => gw?.close());

  const chat = (model: string, stream = false) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream });
  const head = (length: number) =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  it('closes 500 connections sending their headers a line at a time within the header timeout, while normal requests are served', async () => {
    const before = await dropped(gw, 'headers_timeout');
    const started = performance.now();
    const slow = await Promise.all(Array.from({ length: 500 }, () => openRaw(gw.url)));
    let trickling = true;
    const trickle = slow.map(async (c) => {
      await write(c.socket, 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      for (let i = 0; trickling && !c.socket.destroyed; i++) {
        await sleep(300);
        if (!c.socket.destroyed) await write(c.socket, `X-Slow-${i}: x\r\n`);
      }
    });
    // Normal traffic all the while.
    const statuses: number[] = [];
    const normal = (async () => {
      while (performance.now() - started < HEADERS_TIMEOUT_MS + 1500) {
        const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
        statuses.push(res.status);
        await res.text();
        await sleep(50);
      }
    })();
    const closes = await Promise.race([Promise.all(slow.map((c) => c.closed)), sleep(HEADERS_TIMEOUT_MS + 5000).then(() => undefined)]);
    trickling = false;
    await normal;
    await Promise.all(trickle);
    for (const c of slow) c.socket.destroy();
    expect(closes, 'slow-header connections still open').toBeDefined();
    // The limit, plus at most a quarter of it for the check, plus slack for a loaded machine.
    for (const close of closes!) expect(close.at - started).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    // Each was answered in the envelope before the close.
    for (const c of slow) {
      const res = parseResponse(c.received());
      expect(res.status).toBe(408);
      expect(res.headers['x-request-id']).toMatch(/^req_/);
      expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'request_timeout' });
    }
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await dropped(gw, 'headers_timeout')) - before).toBe(500);
    // Logged, but not a line per connection.
    const lines = gw.logs.filter((l) => l.msg === 'connections dropped' && l.reason === 'headers_timeout');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThan(5);
  });

  it('answers a body that stops arriving with a 408 and closes the connection after body_idle_timeout_ms', async () => {
    const before = await dropped(gw, 'body_idle_timeout');
    const body = chat('sim-chat');
    const c = await openRaw(gw.url);
    const started = performance.now();
    await write(c.socket, head(body.length) + body.slice(0, 10));
    const { at } = await c.closed;
    expect(at - started).toBeGreaterThan(BODY_IDLE_TIMEOUT_MS - 100);
    expect(at - started).toBeLessThan(BODY_IDLE_TIMEOUT_MS + 1500);
    const res = parseResponse(c.received());
    expect(res.status).toBe(408);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'request_timeout' });
    expect((await dropped(gw, 'body_idle_timeout')) - before).toBe(1);
  });

  it('accepts a body that arrives slowly but steadily, longer than the idle timeout', async () => {
    const body = chat('sim-chat');
    const c = await openRaw(gw.url);
    await write(c.socket, head(body.length));
    // Five pieces 400 ms apart: 2 s in all, never idle for a second.
    const pieces = 5;
    const size = Math.ceil(body.length / pieces);
    for (let i = 0; i < pieces; i++) {
      await sleep(400);
      await write(c.socket, body.slice(i * size, (i + 1) * size));
    }
    while (!c.received().includes('"chat.completion"')) await sleep(20);
    expect(parseResponse(c.received()).status).toBe(200);
    c.socket.destroy();
  });

  it('answers a request still arriving after request_timeout_ms with a 408', async () => {
    const before = await dropped(gw, 'request_timeout');
    const body = chat('sim-chat');
    const c = await openRaw(gw.url);
    const started = performance.now();
    await write(c.socket, head(body.length + 1000));
    // A byte every 500 ms: never idle long enough for the idle timeout, but never done.
    while (!c.socket.destroyed && performance.now() - started < REQUEST_TIMEOUT_MS + 3000) {
      await sleep(500);
      if (!c.socket.destroyed) await write(c.socket, ' ');
    }
    const { at } = await c.closed;
    expect(at - started).toBeGreaterThan(REQUEST_TIMEOUT_MS - 100);
    expect(at - started).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
    const res = parseResponse(c.received());
    expect(res.status).toBe(408);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expect((await dropped(gw, 'request_timeout')) - before).toBe(1);
  });

  it('never cuts a response: a 4 s answer from a slow backend and a 4 s stream outlast every limit', async () => {
    const [whole, stream] = await Promise.all(
      [false, true].map(async (streamed) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
          body: chat('slow-chat', streamed),
        });
        return { status: res.status, text: await res.text() };
      }),
    );
    expect(whole.status).toBe(200);
    expect(JSON.parse(whole.text).usage.completion_tokens).toBe(40);
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('data: [DONE]');
  }, 20_000);

  /** One POST of `size` bytes of JSON written whole before anything is read, as many clients do. */
  async function uploadThenRead(size: number): Promise<{ writeError: string | undefined; closeError: string | undefined; text: string }> {
    const c = await openRaw(gw.url);
    const body = Buffer.alloc(size, 0x20);
    body.write('{"model":"sim-chat","x":"', 0);
    const writeError = (await write(c.socket, head(size))) ?? (await write(c.socket, body));
    // The answer is read once the upload is done.
    const deadline = performance.now() + 5000;
    while (!c.received().includes('"error"') && !c.socket.destroyed && performance.now() < deadline) await sleep(10);
    const text = c.received();
    c.socket.destroy();
    return { writeError, closeError: (await c.closed).error, text };
  }

  it('lets a client uploading 3x the body limit read its 413, every time (a raw client, then fetch)', async () => {
    for (let i = 0; i < 30; i++) {
      const { writeError, closeError, text } = await uploadThenRead(3 * BODY_LIMIT);
      expect(writeError, `try ${i}`).toBeUndefined();
      expect(closeError, `try ${i}`).toBeUndefined();
      const res = parseResponse(text);
      expect(res.status, `try ${i}`).toBe(413);
      expect(res.headers['x-request-id']).toMatch(/^req_/);
      expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    }
    const big = JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'x'.repeat(3 * BODY_LIMIT) }] });
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: big });
      expect(res.status, `try ${i}`).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    }
  }, 60_000);

  it('lets a client uploading a transcription over the upload limit read its 413', async () => {
    const size = 30 * 1024 * 1024;
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(gw.url);
      const boundary = 'floodgateboundary';
      const part = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nsim-whisper\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
      const head = `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${gw.apiKey}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${size}\r\n\r\n`;
      const rest = Buffer.alloc(size - part.length, 7);
      const writeError = (await write(c.socket, head)) ?? (await write(c.socket, part)) ?? (await write(c.socket, rest));
      while (!c.received().includes('"error"') && !c.socket.destroyed) await sleep(10);
      expect(writeError).toBeUndefined();
      const res = parseResponse(c.received());
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).error).toMatchObject({ code: 'request_too_large', param: 'file' });
      c.socket.destroy();
    }
  }, 60_000);
});

describe('the connection cap', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(slowConfig({ max_connections: 5 }));
  });
  afterAll(() => gw?.close());

  it('closes connections over server.max_connections as they arrive, counts and logs them, and serves again once below', async () => {
    // Five kept-alive connections, idle after one request each.
    const held = await Promise.all(Array.from({ length: 5 }, () => openRaw(gw.url)));
    for (const c of held) await write(c.socket, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    while (!held.every((c) => c.received().includes('{"status":"ok"}'))) await sleep(10);
    const extra = await openRaw(gw.url);
    await write(extra.socket, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await extra.closed;
    expect(extra.received()).toBe('');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await sleep(50);
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(res.status).toBe(200);
    expect(await dropped(gw, 'max_connections')).toBe(1);
    expect(gw.logs.filter((l) => l.msg === 'connections dropped' && l.reason === 'max_connections')).toHaveLength(1);
  });
});
