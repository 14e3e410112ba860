// Every error row of SPEC §6 that exists without limits and billing, each in OpenAI's envelope.
import { METHODS } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../src/auth/bootstrap.js';
import { resolvePepper } from '../../src/auth/bootstrap.js';
import {
  rawRequest,
  spawnSimulator,
  startTestGateway,
  testConfig,
  type ChildServer,
  type TestGateway,
  PASS_THROUGH_ROUTING,
} from '../helpers/gateway.js';

let gw: TestGateway;
let deniedSim: ChildServer;
let hangingSim: ChildServer;
let breakingSim: ChildServer;

beforeAll(async () => {
  [deniedSim, hangingSim, breakingSim] = await Promise.all([
    spawnSimulator(['--error-rate', '1', '--error-status', '401']),
    spawnSimulator(['--hang']),
    spawnSimulator(['--break-after-tokens', '3', '--tokens-per-second', '200']),
  ]);
  const config = testConfig();
  config.server = { ...config.server, body_limit_bytes: 64 * 1024 };
  config.providers = {
    ...config.providers,
    denied: { type: 'openai', base_url: `${deniedSim.url}/v1`, api_key: 'wrong-key' },
    hanging: { type: 'openai', base_url: `${hangingSim.url}/v1`, timeouts: { first_byte_ms: 300 } },
    breaking: { type: 'openai', base_url: `${breakingSim.url}/v1` },
  };
  config.models = [
    ...config.models,
    { id: 'denied-model', category: 'text', deployments: [{ provider: 'denied', model: 'x' }] },
    { id: 'hanging-model', category: 'text', deployments: [{ provider: 'hanging', model: 'x' }] },
    { id: 'breaking-model', category: 'text', deployments: [{ provider: 'breaking', model: 'x' }] },
    { id: 'text-only', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'sim', model: 'x' }] },
  ];
  config.auth = { ...config.auth, doc_url: 'https://docs.example.com/keys' };
  config.routing = PASS_THROUGH_ROUTING;
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([deniedSim?.stop(), hangingSim?.stop(), breakingSim?.stop()]);
});

const user = { role: 'user', content: 'hi' };

async function post(path: string, json: unknown, key: string | null = gw.apiKey, headers: Record<string, string> = {}) {
  return rawRequest(`${gw.url}${path}`, { method: 'POST', headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers }, json });
}

function expectEnvelope(body: any, type: string, code: string | null, param: string | null = null) {
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ type, code, param });
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toMatch(/at .*\.(js|ts):\d+/);
}

describe('400 with the exact param path', () => {
  const cases: [string, string, Record<string, unknown>, string | null, RegExp?][] = [
    ['chat', 'bad role', { model: 'sim-chat', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', /system, developer, user, assistant, tool, function/],
    ['chat', 'empty messages', { model: 'sim-chat', messages: [] }, 'messages'],
    ['chat', 'missing messages', { model: 'sim-chat' }, 'messages'],
    ['chat', 'missing model', { messages: [user] }, 'model'],
    ['chat', 'temperature too high', { model: 'sim-chat', messages: [user], temperature: 3 }, 'temperature'],
    ['chat', 'top_p too high', { model: 'sim-chat', messages: [user], top_p: 1.5 }, 'top_p'],
    ['chat', 'presence penalty', { model: 'sim-chat', messages: [user], presence_penalty: -3 }, 'presence_penalty'],
    ['chat', 'n zero', { model: 'sim-chat', messages: [user], n: 0 }, 'n'],
    ['chat', 'five stops', { model: 'sim-chat', messages: [user], stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    ['chat', 'top_logprobs without logprobs', { model: 'sim-chat', messages: [user], top_logprobs: 3 }, 'top_logprobs'],
    ['chat', 'tool without tool_call_id', { model: 'sim-chat', messages: [user, { role: 'tool', content: 'r' }] }, 'messages[1].tool_call_id'],
    ['chat', 'assistant without content', { model: 'sim-chat', messages: [user, { role: 'assistant' }] }, 'messages[1].content'],
    ['chat', 'bad tool name', { model: 'sim-chat', messages: [user], tools: [{ type: 'function', function: { name: 'get weather' } }, { type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
    ['chat', 'stream_options without stream', { model: 'sim-chat', messages: [user], stream_options: { include_usage: true } }, 'stream_options'],
    ['chat', 'bad tool_choice', { model: 'sim-chat', messages: [user], tool_choice: 'sometimes' }, 'tool_choice'],
    ['chat', 'json_schema without name', { model: 'sim-chat', messages: [user], response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name'],
    ['chat', 'bad content part', { model: 'sim-chat', messages: [{ role: 'user', content: [{ type: 'video', video: 'x' }] }] }, 'messages[0].content[0].type'],
    ['chat', 'max_tokens over the model cap', { model: 'sim-chat', messages: [user], max_tokens: 100000 }, 'max_tokens'],
    ['chat', 'n > 1 where unsupported', { model: 'text-only', messages: [user], n: 2 }, 'n'],
    ['chat', 'image to text-only model', { model: 'text-only', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'messages[0].content[0]'],
    ['chat', 'tools to a model without tools', { model: 'text-only', messages: [user], tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
    ['chat', 'embeddings model on chat', { model: 'sim-embed', messages: [user] }, 'model'],
    ['embeddings', 'encoding_format null', { model: 'sim-embed', input: 'x', encoding_format: null }, 'encoding_format'],
    ['embeddings', 'empty input', { model: 'sim-embed', input: '' }, 'input'],
    ['embeddings', 'dimensions zero', { model: 'sim-embed', input: 'x', dimensions: 0 }, 'dimensions'],
    ['completions', 'missing prompt', { model: 'sim-chat' }, 'prompt'],
    ['completions', 'logprobs too high', { model: 'sim-chat', prompt: 'x', logprobs: 9 }, 'logprobs'],
  ];
  const paths: Record<string, string> = { chat: '/v1/chat/completions', embeddings: '/v1/embeddings', completions: '/v1/completions' };
  it.each(cases)('%s: %s', async (endpoint, _name, body, param, message) => {
    const res = await post(paths[endpoint], body);
    expect(res.status).toBe(400);
    expectEnvelope(res.json(), 'invalid_request_error', null, param);
    if (message) expect(res.json().error.message).toMatch(message);
  });

  it('rejects invalid JSON naming the position, non-objects and wrong content types', async () => {
    const bad = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: '{"model": "sim-chat",' });
    expect(bad.status).toBe(400);
    expectEnvelope(bad.json(), 'invalid_request_error', null, null);
    expect(bad.json().error.message).toMatch(/position|JSON/);
    const array = await post('/v1/chat/completions', [1, 2]);
    expect(array.status).toBe(400);
    const text = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    expectEnvelope(text.json(), 'invalid_request_error', 'unsupported_media_type');
    const deep = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: `{"model":"sim-chat","x":${'['.repeat(5000)}${']'.repeat(5000)}}` });
    expect(deep.status).toBe(400);
    expect(deep.json().error.message).toBe('The request body nests deeper than 200 levels.');
    // The bound is 200 levels, the body's own object included: 200 pass (the unknown field is forwarded), 201 do not.
    const nested = (levels: number) => `{"model":"sim-chat","max_tokens":4,"messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;
    const at = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: nested(199) });
    expect(at.status, at.text).toBe(200);
    const over = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: nested(200) });
    expect(over.status).toBe(400);
    expect(over.json().error.message).toContain('nests deeper than 200 levels');
    // Objects count as arrays do, and 30,000 levels (the most this 64 KiB body limit lets in) are refused like five thousand.
    const objects = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: `{"model":"sim-chat","x":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}` });
    expect(objects.status).toBe(400);
    const thirtyThousand = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, body: `${'['.repeat(30_000)}${']'.repeat(30_000)}` });
    expect(thirtyThousand.status).toBe(400);
    expect(thirtyThousand.json().error.message).toContain('nests deeper');
  });

  it('forwards nothing to a backend for invalid requests (no log line with a deployment)', async () => {
    const before = gw.logs.length;
    await post('/v1/chat/completions', { model: 'sim-chat', messages: [{ role: 'robot', content: 'x' }] });
    await new Promise((r) => setTimeout(r, 30));
    const line = gw.logs.slice(before).find((l) => l.msg === 'request');
    expect(line).toMatchObject({ status: 400 });
    expect(line).not.toHaveProperty('deployment');
  });
});

describe('401 and 403', () => {
  it('answers the same 401 for a missing, malformed, unknown or expired key, with doc_url', async () => {
    const expired = await issueApiKey(gw.gateway.store.keys, 'fk-', resolvePepper({ auth: { keyPrefix: 'fk-' }, dataDir: gw.dataDir } as any), {
      accountId: (await gw.gateway.store.accounts.list())[0].id,
      expiresAt: Date.now() - 1000,
    });
    const attempts = [
      await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, null),
      await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, 'not-a-key'),
      await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, `fk-${'a'.repeat(40)}`),
      await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, expired.apiKey),
      await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Basic ${gw.apiKey}` }, json: {} }),
    ];
    const bodies = new Set(attempts.map((a) => a.text));
    expect(bodies.size).toBe(1);
    for (const a of attempts) expect(a.status).toBe(401);
    expectEnvelope({ error: { ...attempts[0].json().error, doc_url: undefined } }, 'authentication_error', 'invalid_api_key');
    expect(attempts[0].json().error.doc_url).toBe('https://docs.example.com/keys');
  });

  it('decides auth before validating the body', async () => {
    const res = await post('/v1/chat/completions', { nonsense: true }, 'bad');
    expect(res.status).toBe(401);
  });

  it('answers 403 for a disabled key, a disabled account and a model outside the allow-list', async () => {
    const pepper = resolvePepper({ auth: { keyPrefix: 'fk-' }, dataDir: gw.dataDir } as any);
    const accountId = (await gw.gateway.store.accounts.list())[0].id;
    const disabled = await issueApiKey(gw.gateway.store.keys, 'fk-', pepper, { accountId });
    await gw.gateway.store.keys.disable(disabled.record.id);
    const res = await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, disabled.apiKey);
    expect(res.status).toBe(403);
    expectEnvelope({ error: { ...res.json().error, doc_url: undefined } }, 'permission_error', 'key_disabled');

    const account = await gw.gateway.store.accounts.create({ name: 'suspended' });
    const suspendedKey = await issueApiKey(gw.gateway.store.keys, 'fk-', pepper, { accountId: account.id });
    await gw.gateway.store.accounts.setStatus(account.id, 'disabled');
    const suspended = await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, suspendedKey.apiKey);
    expect(suspended.status).toBe(403);
    expect(suspended.json().error).toMatchObject({ type: 'permission_error', code: 'account_disabled' });

    const limited = await issueApiKey(gw.gateway.store.keys, 'fk-', pepper, { accountId, allowedModels: ['sim-embed'] });
    const denied = await post('/v1/chat/completions', { model: 'sim-chat', messages: [user] }, limited.apiKey);
    expect(denied.status).toBe(403);
    expect(denied.json().error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
    const visible = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${limited.apiKey}` } });
    expect(visible.json().data.map((m: any) => m.id)).toEqual(['sim-embed']);
  });
});

describe('404, 405, 413', () => {
  it('answers 404 model_not_found for an unknown model', async () => {
    const res = await post('/v1/chat/completions', { model: 'nope', messages: [user] });
    expect(res.status).toBe(404);
    expectEnvelope(res.json(), 'invalid_request_error', 'model_not_found', 'model');
  });

  it('answers unsupported endpoints with a 404 naming the alternative', async () => {
    const translations = await post('/v1/audio/translations', {});
    expect(translations.status).toBe(404);
    expectEnvelope(translations.json(), 'invalid_request_error', 'unsupported_endpoint');
    expect(translations.json().error.message).toContain('/v1/audio/transcriptions');
    const batches = await rawRequest(`${gw.url}/v1/batches`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(batches.json().error.message).toMatch(/fan out/);
    for (const path of ['/v1/files/abc', '/v1/assistants', '/v1/threads/t/runs', '/v1/fine_tuning/jobs', '/v1/fine-tuning/jobs', '/v1/images/edits']) {
      const res = await rawRequest(`${gw.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.json().error.code, path).toBe('unsupported_endpoint');
    }
  });

  it('answers other paths with 404 and wrong methods with 405, never HTML', async () => {
    const unknown = await rawRequest(`${gw.url}/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    expectEnvelope(unknown.json(), 'invalid_request_error', 'not_found');
    const root = await rawRequest(`${gw.url}/`);
    expect(root.status).toBe(404);
    expect(root.headers.get('content-type')).toMatch(/application\/json/);
    const method = await rawRequest(`${gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(method.status).toBe(405);
    expectEnvelope(method.json(), 'invalid_request_error', 'method_not_allowed');
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await post('/v1/chat/completions', { model: 'sim-chat', messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] });
    expect(res.status).toBe(413);
    expectEnvelope(res.json(), 'invalid_request_error', 'request_too_large');
  });

  it('answers absurd headers with a 4xx envelope', async () => {
    const res = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, 'x-junk': 'y'.repeat(40_000) } });
    expect(res.status).toBe(431);
    expect(res.json().error.type).toBe('invalid_request_error');
  });
});

describe('upstream failures', () => {
  it('turns a backend 401 into our 502 without leaking it', async () => {
    const res = await post('/v1/chat/completions', { model: 'denied-model', messages: [user] });
    expect(res.status).toBe(502);
    expectEnvelope(res.json(), 'api_error', 'upstream_error');
    expect(res.json().error.message).not.toContain('wrong-key');
  });

  it('answers 504 when the backend hangs before its first byte', async () => {
    const started = performance.now();
    const res = await post('/v1/chat/completions', { model: 'hanging-model', messages: [user] });
    expect(res.status).toBe(504);
    expectEnvelope(res.json(), 'api_error', 'upstream_timeout');
    expect(performance.now() - started).toBeLessThan(5000);
    const stream = await post('/v1/chat/completions', { model: 'hanging-model', messages: [user], stream: true });
    expect(stream.status).toBe(504);
  });

  it('ends a stream that breaks mid-way with one error event and no [DONE]', async () => {
    const res = await post('/v1/chat/completions', { model: 'breaking-model', messages: [user], stream: true });
    expect(res.status).toBe(200);
    const events = res.text.split('\n\n').filter(Boolean);
    const last = events.at(-1)!;
    expect(last.startsWith('data: {"error"')).toBe(true);
    expect(JSON.parse(last.slice(6)).error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(res.text).not.toContain('[DONE]');
    const sdkStream = await gw.client.chat.completions.create({ model: 'breaking-model', messages: [{ role: 'user', content: 'hi' }], stream: true });
    await expect(async () => {
      for await (const _chunk of sdkStream) {
        // drain
      }
    }).rejects.toThrow();
  });
});

/** Sends `text` on a fresh connection and returns the first response (status, lower-cased headers, body) once the server has answered or closed. */
function exchange(text: string): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let raw = '';
    const done = () => {
      socket.destroy();
      const end = raw.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = raw.slice(0, Math.max(0, end)).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      const length = Number(headers['content-length'] ?? 0);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(end + 4, end + 4 + length), raw });
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      raw += d;
      const end = raw.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(raw)?.[1];
      const bodiless = text.startsWith('HEAD ');
      if (end >= 0 && (bodiless || length === undefined || raw.length >= end + 4 + Number(length))) done();
    });
    socket.on('error', () => undefined);
    socket.once('close', done);
    socket.write(text);
  });
}

describe('every response in the envelope, with x-request-id', () => {
  const get = (path: string, extra = '') => exchange(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);

  it('answers a malformed percent-encoding in the path with a 400, under /v1, /admin/v1 and elsewhere', async () => {
    for (const path of ['/v1/models/%ZZ', '/v1/chat/completions%E0%A4%A', '/admin/v1/accounts/%ZZ', '/%ZZ', '/elsewhere/%']) {
      const res = await get(path, `Authorization: Bearer ${gw.apiKey}\r\n`);
      expect(res.status, path).toBe(400);
      expect(res.headers['x-request-id'], path).toMatch(/^req_/);
      expectEnvelope(JSON.parse(res.body), 'invalid_request_error', null);
      expect(res.body).not.toContain('FST_');
    }
  });

  it('answers an over-long path parameter with a 414', async () => {
    const res = await get(`/v1/videos/generations/${'v'.repeat(500)}`, `Authorization: Bearer ${gw.apiKey}\r\n`);
    expect(res.status).toBe(414);
    expect(res.headers['x-request-id']).toMatch(/^req_/);
    expectEnvelope(JSON.parse(res.body), 'invalid_request_error', 'uri_too_long');
  });

  it('answers CONNECT with a 405 and closes the connection', async () => {
    const res = await exchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-ID: connect-1\r\n\r\n');
    expect(res.status).toBe(405);
    expect(res.headers['x-request-id']).toBe('connect-1');
    expect(res.headers.connection).toBe('close');
    expectEnvelope(JSON.parse(res.body), 'invalid_request_error', 'method_not_allowed');
  });

  it('answers every method Node parses, on an API route, an unknown path and the root, in the envelope', async () => {
    for (const method of METHODS.filter((m) => m !== 'CONNECT')) {
      for (const path of ['/v1/chat/completions', '/v1/nothing', '/', '*']) {
        const res = await exchange(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
        const what = `${method} ${path}`;
        expect(res.status, what).toBeGreaterThanOrEqual(200);
        expect(res.status, what).toBeLessThan(500);
        expect(res.headers['x-request-id'], what).toMatch(/^req_/);
        // HEAD has no body; OPTIONS is a CORS preflight's 204.
        if (method !== 'HEAD' && res.status !== 204) expect(Object.keys(JSON.parse(res.body)), what).toEqual(['error']);
      }
    }
  });

  it('answers what Node cannot parse, a request without Host and an unknown Expect in the envelope', async () => {
    const odd = await exchange('BREW /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(odd.status).toBe(400);
    expect(odd.headers['x-request-id']).toMatch(/^req_/);
    expectEnvelope(JSON.parse(odd.body), 'invalid_request_error', null);
    const hostless = await exchange('GET /v1/models HTTP/1.1\r\n\r\n');
    expect(hostless.status).toBe(400);
    expect(hostless.headers['x-request-id']).toMatch(/^req_/);
    expect(JSON.parse(hostless.body).error.message).toMatch(/Host/);
    const expect100 = await get('/v1/models', `Authorization: Bearer ${gw.apiKey}\r\nExpect: the-unexpected\r\n`);
    expect(expect100.status).toBe(200);
    expect(expect100.headers['x-request-id']).toMatch(/^req_/);
    const huge = await get(`/v1/models?${'q'.repeat(20_000)}`);
    expect(huge.status).toBe(431);
    expect(huge.headers['x-request-id']).toMatch(/^req_/);
    expectEnvelope(JSON.parse(huge.body), 'invalid_request_error', 'headers_too_large');
  });
});
