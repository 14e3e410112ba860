// The fault suite (SPEC §16): a backend that resets, stalls, sends garbage or 5xx bodies with secrets
// in them, and clients that leave at every stage. Whatever happens: a clean error in the envelope, one
// usage record per request that reached the backend, no concurrency slot or reservation left behind,
// and no secret in any answer or any log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { rawRequest, sseData, startFakeUpstream, startTestGateway, testConfig, PASS_THROUGH_ROUTING, type FakeUpstream, type TestAccount, type TestGateway } from '../helpers/gateway.js';

const LEAKED_KEY = 'sk-upstream-leak-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const LEAKED_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1cHN0cmVhbSJ9.c2lnbmF0dXJlLWxlYWs';
const LEAKED_BEARER = 'upstreamBearerSecret0123456789';

let upstream: FakeUpstream;
let gw: TestGateway;
let account: TestAccount;
/** Every body the gateway sent a client in this suite. */
const answers: string[] = [];

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'u', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'u', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`;

beforeAll(async () => {
  upstream = await startFakeUpstream((req, res) => {
    const what = (req.body.messages as { content: string }[])[0].content;
    switch (what) {
      case 'html-500':
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end(`<html><body><h1>Internal Server Error</h1><pre>Traceback: auth with ${LEAKED_KEY} failed\nAuthorization: Bearer ${LEAKED_BEARER}</pre></body></html>`);
        return;
      case 'json-502':
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `proxy error; token ${LEAKED_TOKEN}`, type: 'server_error' } }));
        return;
      case 'secret-400':
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `top_k must be positive (request signed with ${LEAKED_KEY})`, type: 'invalid_request_error', param: 'top_k' } }));
        return;
      case 'secret-midstream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('partial'));
        res.end(`data: ${JSON.stringify({ error: { message: `engine crashed, key=${LEAKED_KEY}` } })}\n\n`);
        return;
      case 'reset-before-headers':
        res.socket?.destroy();
        return;
      case 'reset-mid-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('one two'));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      case 'stall-before-headers':
        return; // never answers: the first-byte timeout ends it
      case 'stall-mid-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('and then nothing'));
        return; // the idle timeout ends it
      case 'garbage-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "x", "choices": [');
        return;
      case 'garbage-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('fine so far'));
        res.end('data: {this is not json\n\n');
        return;
      case 'lie-about-usage':
        // 100,000 tokens reported for a request capped at 10.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'u', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 100_000, total_tokens: 100_005 } }));
        return;
      case 'slow-answer':
        // For clients that leave while the backend thinks.
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'u', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'late' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
        }, 300);
        return;
      case 'slow-stream': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const timer = setInterval(() => {
          if (res.destroyed || n++ > 50) {
            clearInterval(timer);
            if (!res.destroyed) res.end(`${usageChunk}data: [DONE]\n\n`);
            return;
          }
          res.write(chunk(`word${n} `));
        }, 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      default:
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'u', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
    }
  });
  const config = testConfig();
  config.routing = PASS_THROUGH_ROUTING;
  config.providers = { up: { type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-gateway-own-upstream-key-0123456789', timeouts: { first_byte_ms: 400, idle_ms: 400 } } };
  config.models = [{ id: 'up', category: 'text', max_output_tokens: 100, pricing: { input: 1, output: 1 }, deployments: [{ provider: 'up' }] }];
  gw = await startTestGateway(config);
  // A concurrency limit of one: a slot left behind by any fault would refuse every later request.
  account = await gw.createAccount({ creditMicros: 10_000_000, keyLimits: { concurrent_requests: 1 } });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

function chat(content: string, extra: Record<string, unknown> = {}, init: RequestInit = {}) {
  return rawRequest(`${gw.url}/v1/chat/completions?api_key=${account.apiKey}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${account.apiKey}` },
    json: { model: 'up', messages: [{ role: 'user', content }], max_tokens: 10, ...extra },
    ...init,
  }).then((res) => {
    answers.push(res.text);
    return res;
  });
}

/** Sends a chat request on a raw socket and closes it after `afterBytes` of the answer (0: before any). */
function leaveAfter(content: string, stream: boolean, afterBytes: number, waitMs = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'up', messages: [{ role: 'user', content }], max_tokens: 10, stream });
    const socket = connect(gw.gateway.port, '127.0.0.1', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${account.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      if (afterBytes === 0) setTimeout(() => socket.destroy(), waitMs);
    });
    let got = 0;
    socket.on('data', (data: Buffer) => {
      got += data.length;
      if (afterBytes > 0 && got >= afterBytes) socket.destroy();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('a backend that fails', () => {
  it('5xx bodies never reach the client: the status does, and the log has a redacted excerpt', async () => {
    const html = await chat('html-500');
    expect(html.status).toBe(502);
    expect(html.json().error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(html.json().error.message).toBe('The backend failed (HTTP 500).');
    expect(html.headers.get('x-request-id')).toBeTruthy();
    const json502 = await chat('json-502');
    expect(json502.status).toBe(502);
    expect(json502.json().error.message).toBe('The backend failed (HTTP 502).');
    const line = gw.logs.find((l) => l.request_id === html.headers.get('x-request-id'));
    expect(line?.error).toContain('backend said:');
    expect(line?.error).toContain('Internal Server Error');
    expect(line?.error).toContain('***');
  });

  it("a backend 400's message is kept, with the secrets in it masked", async () => {
    const res = await chat('secret-400');
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param: 'top_k' });
    expect(res.json().error.message).toBe('top_k must be positive (request signed with ***)');
  });

  it('an error event mid-stream ends the stream with a clean error and nothing of its text', async () => {
    const res = await chat('secret-midstream', { stream: true });
    expect(res.status).toBe(200);
    const events = sseData(res.text);
    const error = JSON.parse(events[events.length - 1]) as { error: { message: string; code: string } };
    expect(error.error.code).toBe('upstream_error');
    expect(error.error.message).toBe('The backend reported an error mid-stream.');
  });

  it('lies about usage: billed at most what the request allowed, the reported figure kept', async () => {
    const res = await chat('lie-about-usage');
    expect(res.status).toBe(200);
    await gw.flushUsage();
    const records = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 1000 });
    const record = records.find((r) => r.requestId === res.headers.get('x-request-id'));
    expect(record).toMatchObject({ completionTokens: 10, reportedCompletionTokens: 100_000 });
    // Input and output at 1 per million tokens, one micro-unit a token: 5 + 10, not 100,005.
    expect(record!.costMicros).toBe(15);
  });

  it.each([
    ['reset-before-headers', false, 502],
    ['stall-before-headers', false, 504],
    ['garbage-json', false, 502],
  ])('%s (stream: %s) is a clean %i', async (what, stream, status) => {
    const res = await chat(what, { stream });
    expect(res.status).toBe(status);
    expect(res.json().error.type).toBeTypeOf('string');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it.each(['reset-mid-stream', 'stall-mid-stream', 'garbage-stream', 'reset-before-headers', 'stall-before-headers'])('%s, streamed: a clean error, never a hang', async (what) => {
    const res = await chat(what, { stream: true });
    if (res.status === 200) {
      const events = sseData(res.text);
      expect((JSON.parse(events[events.length - 1]) as { error?: unknown }).error).toBeDefined();
    } else {
      expect(res.status).toBeGreaterThanOrEqual(502);
      expect(res.json().error.type).toBeTypeOf('string');
    }
  });
});

describe('a client that leaves', () => {
  it.each([
    ['while the backend thinks', 'slow-answer', false, 0, 100],
    ['before the first chunk', 'slow-stream', true, 0, 5],
    ['after the headers', 'slow-stream', true, 1, 0],
    ['mid-stream', 'slow-stream', true, 2000, 0],
  ])('%s', async (_stage, what, stream, afterBytes, waitMs) => {
    await leaveAfter(what, stream, afterBytes, waitMs);
  });
});

describe('a client that asks for Connection: close', () => {
  it('gets its whole stream, then the connection closes (no keep-alive forced on it)', async () => {
    const body = JSON.stringify({ model: 'up', messages: [{ role: 'user', content: 'slow-stream' }], max_tokens: 10, stream: true });
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      const socket = connect(gw.gateway.port, '127.0.0.1', () =>
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${account.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
      );
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the server kept the connection open after the stream: ${out.slice(-100)}`));
      }, 5000);
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.toLowerCase()).not.toContain('connection: keep-alive');
    expect(text).toContain('data: [DONE]');
  });
});

describe('after all of it', () => {
  it('one usage record per request that reached the backend, none charged for an unserved error', async () => {
    // The last settlements may still be running (a client that left): give them a moment.
    await new Promise((resolve) => setTimeout(resolve, 800));
    await gw.flushUsage();
    const records = await gw.gateway.store.usage.list({ accountId: account.accountId }, { limit: 1000 });
    expect(records.length).toBe(upstream.requests.length);
    expect(new Set(records.map((r) => r.requestId)).size).toBe(records.length);
    for (const r of records) if (r.status >= 400 && r.completionTokens === 0 && r.promptTokens === 0) expect(r.costMicros).toBe(0);
  });

  it('no concurrency slot and no reservation is left behind', async () => {
    // The key allows one request at a time: a leaked slot would make this a 429.
    const res = await chat('fine');
    expect(res.status).toBe(200);
    await gw.flushUsage();
    const balance = await gw.gateway.store.accounts.balances([account.accountId]);
    const probe = await gw.gateway.accounting.book.reserve(account.accountId, Number.MAX_SAFE_INTEGER);
    expect(probe.ok).toBe(false);
    if (!probe.ok) expect(probe.availableMicros).toBe(balance.get(account.accountId));
  });

  it('keys sent where they do not belong are not logged', async () => {
    const key = account.apiKey;
    const attempts = [
      rawRequest(`${gw.url}/v1/models/${key}`, { headers: { authorization: `Bearer ${key}` } }),
      rawRequest(`${gw.url}/v1/${key}?api_key=${key}`, { headers: { authorization: `Bearer ${key}` } }),
      rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}x` } }),
      rawRequest(`${gw.url}/v1/models`, { headers: { authorization: key } }),
      rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, json: { model: key, messages: [{ role: 'user', content: key }] } }),
      rawRequest(`${gw.url}/admin/v1/accounts?token=${key}`, { headers: { authorization: `Bearer ${key}` } }),
    ];
    // (An answer may echo what its own client sent, a model name say: that is no leak.)
    for (const res of await Promise.all(attempts)) expect(res.status).toBeGreaterThanOrEqual(400);
  });

  it('no secret in any answer or any log line', () => {
    const secrets = [LEAKED_KEY, LEAKED_TOKEN, LEAKED_BEARER, account.apiKey, gw.apiKey, 'sk-gateway-own-upstream-key-0123456789'];
    const logText = gw.logs.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of secrets) expect(logText).not.toContain(secret);
    // What the backend said and the gateway's own credentials reach no client.
    for (const secret of [LEAKED_KEY, LEAKED_TOKEN, LEAKED_BEARER, 'sk-gateway-own-upstream-key-0123456789', gw.apiKey]) for (const answer of answers) expect(answer).not.toContain(secret);
    // The key sent in the query string: the logged path has no query.
    const paths = gw.logs.filter((l) => l.msg === 'request').map((l) => l.path as string);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) expect(path).not.toContain('?');
  });
});
