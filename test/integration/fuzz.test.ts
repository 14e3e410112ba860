// The fuzz suite (SPEC §16): property-based requests (fast-check) to every endpoint of the API and of
// the admin API — malformed bodies, wrong types, deep nesting, invalid UTF-8, odd headers, methods and
// paths — sent on raw sockets to the built gateway running as its own process. Whatever is sent: no 5xx,
// every answer in OpenAI's envelope with an `x-request-id`, the process alive, its memory bounded, and
// no key in its log. Bounded: a few thousand requests. The seed is fixed so that CI is repeatable;
// FUZZ_SEED=<n> (or FUZZ_SEED=random) explores further, and a failure prints the seed and the input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, testConfig, type ChildServer } from '../helpers/gateway.js';

const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);

let server: ChildServer;
let port: number;
let apiKey: string;
let adminToken: string;
let dataDir: string;
let accountId: string;

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends raw bytes on a fresh connection and reads the whole answer (or reports that none came). */
function send(bytes: Buffer): Promise<Answer | { error: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ error: 'no answer within 10 s' });
    }, 10_000);
    // Written, not ended: a client that half-closes is one that left, for Node (its request is aborted).
    // `connection: close` has the server close once it has answered.
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (data: Buffer) => chunks.push(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(chunks)));
    });
  });
}

function parseAnswer(raw: Buffer): Answer | { error: string } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const statusLine = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (end === -1 || statusLine === null) return { error: `the connection closed without an answer (${raw.length} bytes: ${JSON.stringify(text.slice(0, 80))})` };
  const headers = new Map<string, string>();
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (headers.get('transfer-encoding') === 'chunked') body = dechunk(body);
  return { status: Number(statusLine[1]), headers, body: body.toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body: Buffer;
}

function encode(req: FuzzRequest): Buffer {
  const head = [`${req.method} ${req.path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close', ...req.headers.map(([k, v]) => `${k}: ${v}`)];
  if (req.method !== 'GET' || req.body.length > 0) head.push(`content-length: ${req.body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), req.body]);
}

const problems: string[] = [];
/** Answers by status, printed at the end: a fuzz run that only ever reached the 401 would say so. */
const statuses = new Map<number, number>();

/** The invariants every answer keeps, whatever was sent. */
function check(req: FuzzRequest, answer: Answer | { error: string }): void {
  const what = `${req.method} ${req.path.slice(0, 120)} ${JSON.stringify(req.body.subarray(0, 120).toString("latin1"))}`;
  if ('error' in answer) throw new Error(`${what}: ${answer.error}`);
  statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
  if (answer.status >= 500) throw new Error(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
  if (!answer.headers.has('x-request-id')) throw new Error(`${what}: ${answer.status} without x-request-id`);
  if (answer.status < 400 || req.method === 'HEAD') return;
  let envelope: { error?: Record<string, unknown> };
  try {
    envelope = JSON.parse(answer.body) as typeof envelope;
  } catch {
    throw new Error(`${what}: ${answer.status} not JSON: ${answer.body.slice(0, 200)}`);
  }
  const error = envelope.error;
  if (typeof error !== 'object' || error === null || typeof error.message !== 'string' || typeof error.type !== 'string' || !('param' in error) || !('code' in error)) {
    throw new Error(`${what}: ${answer.status} outside the envelope: ${answer.body.slice(0, 200)}`);
  }
  if (!answer.headers.get('content-type')?.startsWith('application/json')) problems.push(`${what}: error without a JSON content-type`);
}

// Generators

const json = fc.jsonValue({ maxDepth: 3 });
const oddString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '\u0000', '\ud800', 'a'.repeat(70_000), '💥'.repeat(100)));
const oddNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 1e-320, 0.5));
const oddValue = fc.oneof(json, oddString, oddNumber, fc.constant(null), fc.array(json, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 }));

const VALID_BODIES: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': {
    model: 'sim-chat',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    ],
    max_tokens: 4,
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
    stream: false,
  },
  '/v1/completions': { model: 'sim-chat', prompt: 'Once', max_tokens: 4, n: 1, stop: ['\n'] },
  '/v1/embeddings': { model: 'sim-embed', input: ['a', 'b'], encoding_format: 'float', dimensions: 8 },
  '/v1/images/generations': { model: 'sim-image', prompt: 'a cat', n: 1, size: '256x256' },
  '/v1/audio/speech': { model: 'sim-tts', input: 'Hello.', voice: 'alloy', response_format: 'wav' },
  '/v1/videos/generations': { model: 'sim-video', prompt: 'a cat', seconds: 1 },
};

/** A valid body with a few of its fields (at any depth) replaced by odd values or removed. */
function mutated(base: Record<string, unknown>) {
  return fc
    .array(fc.tuple(fc.nat(), fc.nat(), fc.boolean(), oddValue), { minLength: 1, maxLength: 3 })
    .map((edits) => {
      const body = structuredClone(base);
      for (const [pick, deeper, remove, value] of edits) {
        let target: Record<string, unknown> = body;
        let keys = Object.keys(target);
        if (keys.length === 0) break;
        let key = keys[pick % keys.length];
        // Sometimes one level down (a message, a tool, the format).
        const inner = target[key];
        if (deeper % 2 === 1 && typeof inner === 'object' && inner !== null) {
          target = (Array.isArray(inner) ? inner[0] : inner) as Record<string, unknown>;
          if (typeof target !== 'object' || target === null) continue;
          keys = Object.keys(target);
          if (keys.length === 0) continue;
          key = keys[deeper % keys.length];
        }
        if (remove) delete target[key];
        else target[key] = value;
      }
      return body;
    });
}

const validKey = () => `Bearer ${apiKey}`;
const authHeader = fc.oneof(
  { weight: 6, arbitrary: fc.constant('valid') },
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'bearer fk-short', `Bearer fk-${'A'.repeat(40)}`, `Bearer ${'x'.repeat(8000)}`, 'Bearer fk-ÄÖÜ', 'Bearer \t fk-x'),
  fc.string({ maxLength: 60 }).map((s) => `Bearer ${s.replace(/[\r\n]/g, '')}`),
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  fc.constantFrom('application/json; charset=utf-8', 'application/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '', '*/*', 'application/json, text/plain'),
);

function bodyBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
}

const oddBody = fc.oneof(
  json.map(bodyBytes),
  fc.nat({ max: 20_000 }).map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
  fc.nat({ max: 5_000 }).map((depth) => Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom('', '{', '{"model":', 'null', '[]', '"x"', '{"model":"sim-chat","messages":[{"role":"user","content":"\\ud800"}]}', '{"a":1,"a":2}', '\ufeff{}', '{"amount":9007199254740993,"requests_per_minute":1e400,"max_tokens":-0}').map((s) => Buffer.from(s)),
  // Invalid UTF-8 inside an otherwise good body.
  fc.constant(Buffer.concat([Buffer.from('{"model":"sim-chat","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}]}')])),
);

const API_PATHS = Object.keys(VALID_BODIES);
const apiRequest = fc
  .tuple(fc.constantFrom(...API_PATHS), fc.boolean(), authHeader, contentType, fc.nat({ max: 9 }))
  .chain(([path, stream, auth, type, kind]) =>
    (kind < 7 ? mutated({ ...VALID_BODIES[path], ...(path.includes('completions') ? { stream } : {}) }).map(bodyBytes) : oddBody).map(
      (body): FuzzRequest => ({ method: 'POST', path, headers: [['authorization', auth === 'valid' ? validKey() : auth], ['content-type', type]], body }),
    ),
  );

/** Whisper-style uploads: the form's fields odd or missing, the file garbage, the framing broken. */
const BOUNDARY = 'fuzzboundary';
const formPart = (name: string, value: Buffer, filename?: string) =>
  Buffer.concat([Buffer.from(`--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n${filename ? 'content-type: audio/wav\r\n' : ''}\r\n`), value, Buffer.from('\r\n')]);
const formValue = fc.oneof(fc.constantFrom('sim-whisper', 'json', 'text', 'verbose_json', 'srt', 'vtt', 'en', '0.2', '', 'sim-chat', '9'.repeat(400)), fc.string({ maxLength: 30 }));
const transcriptionRequest = fc
  .tuple(
    fc.subarray(['model', 'file', 'language', 'prompt', 'response_format', 'temperature', 'timestamp_granularities[]', 'extra'], { minLength: 0 }),
    fc.array(formValue, { minLength: 8, maxLength: 8 }),
    fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), fc.constant(Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt '), Buffer.alloc(64)]))),
    fc.nat({ max: 5 }),
    authHeader,
  )
  .map(([fields, values, file, framing, auth]): FuzzRequest => {
    const parts = fields.map((name, i) => (name === 'file' ? formPart('file', file, 'a.wav') : formPart(name, Buffer.from(name === 'model' && i % 2 === 0 ? 'sim-whisper' : values[i]))));
    let body = Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
    if (framing === 0) body = body.subarray(0, Math.floor(body.length / 2)); // cut short
    if (framing === 1) body = Buffer.from(body.toString('latin1').replaceAll(BOUNDARY, 'other'), 'latin1'); // wrong boundary
    const type = framing === 2 ? 'multipart/form-data' : `multipart/form-data; boundary=${BOUNDARY}`;
    return { method: 'POST', path: '/v1/audio/transcriptions', headers: [['authorization', auth === 'valid' ? validKey() : auth], ['content-type', type]], body };
  });

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'SEARCH', 'PURGE', 'LINK', 'M-SEARCH', 'QUERY'];
const KNOWN_PATHS = ['/v1/models', '/v1/models/sim-chat', '/v1/chat/completions', '/v1/audio/transcriptions', '/v1/videos/generations/video_x', '/v1/videos/generations/video_x/content', '/v1/files', '/v1/batches', '/v1/fine_tuning/jobs', '/v1/audio/translations', '/healthz', '/healthz?ready=1', '/metrics', '/admin/v1/accounts', '/admin/v1/keys', '/', '/v2/models', '/v1'];
const pathArb = fc.oneof(
  fc.constantFrom(...KNOWN_PATHS),
  fc.constantFrom(...KNOWN_PATHS).chain((p) =>
    fc.constantFrom('/%ZZ', '/%', '/%00', '/%2e%2e/%2e%2e/etc/passwd', '/..', '//', `/${'a'.repeat(300)}`, `/${'b'.repeat(9000)}`, '?api_key=fk-x&&&=', '?%ZZ', '/%F0%9F%92%A5', '/%C3%28', '#frag', ';p=1').map((tail) => `${p}${tail}`),
  ),
  fc.string({ maxLength: 30, unit: fc.constantFrom(...'abz09/-._~%!$&\'()*+,;=:@?'.split('')) }).map((s) => `/v1/${s}`),
  fc.constantFrom('*', 'http://127.0.0.1/v1/models', '127.0.0.1:80'),
);
const anyRequest = fc
  .tuple(fc.constantFrom(...METHODS), pathArb, authHeader, contentType, fc.oneof(fc.constant(Buffer.alloc(0)), oddBody), fc.array(fc.tuple(fc.constantFrom('x-request-id', 'origin', 'accept', 'x-api-key', 'accept-encoding', 'expect', 'transfer-encoding', 'x-forwarded-for'), fc.string({ maxLength: 200, unit: fc.constantFrom(...'aZ09 -_.:;,/*=?"\'()'.split('')) })), { maxLength: 3 }))
  .map(([method, path, auth, type, body, extra]): FuzzRequest => ({
    method,
    path,
    headers: [['authorization', auth === 'valid' ? validKey() : auth], ['content-type', type], ...extra.filter(([k]) => k !== 'transfer-encoding' && k !== 'expect')],
    body: method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : body,
  }));

const ADMIN_BODIES: [string, string, Record<string, unknown>][] = [
  ['POST', '/admin/v1/accounts', { name: 'fuzz', tier: 'default' }],
  ['PATCH', '/admin/v1/accounts/{acct}', { tier: 'standard', limits: { requests_per_minute: 10 } }],
  ['POST', '/admin/v1/accounts/{acct}/credits', { amount: 1.5, reason: 'fuzz' }],
  ['POST', '/admin/v1/accounts/{acct}/keys', { name: 'k', expires_in: '30d', allowed_models: ['sim-chat'], limits: { concurrent_requests: 2 } }],
  ['GET', '/admin/v1/usage?group_by=model', {}],
  ['GET', '/admin/v1/accounts/{acct}/ledger?limit=5', {}],
];
const adminRequest = fc.tuple(fc.constantFrom(...ADMIN_BODIES), fc.boolean(), fc.nat({ max: 9 })).chain(([[method, path, base], goodToken, kind]) =>
  (kind < 7 ? mutated(base).map(bodyBytes) : oddBody).map(
    (body): FuzzRequest => ({
      method,
      path: path.replace('{acct}', kind === 9 ? 'acct_nope%ZZ' : accountId),
      headers: [['authorization', goodToken ? `Bearer ${adminToken}` : 'Bearer fga_wrong'], ['content-type', 'application/json']],
      body: method === 'GET' ? Buffer.alloc(0) : body,
    }),
  ),
);

/** A person's session and the console's (cookie and CSRF token), made in beforeAll. */
const sessions: { person?: { cookie: string; csrf: string }; admin?: { cookie: string; csrf: string } } = {};

async function openSession(path: string, body: unknown): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${server.url}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  return { cookie, csrf: ((await res.json()) as { csrf_token: string }).csrf_token };
}

const PORTAL_BODIES: [string, string, Record<string, unknown>, 'none' | 'person' | 'admin'][] = [
  ['POST', '/api/session/signup', { email: 'fuzz@example.com', password: 'long enough', invite_code: 'INV-x' }, 'none'],
  ['POST', '/api/session/signin', { email: 'fuzz@example.com', password: 'long enough' }, 'none'],
  ['POST', '/api/session/password', { current_password: 'long enough', new_password: 'longer still' }, 'person'],
  ['POST', '/api/keys', { name: 'k', expires_in: '30d', allowed_models: ['sim-chat'] }, 'person'],
  ['POST', '/api/keys/key_nope/disable', {}, 'person'],
  ['DELETE', '/api/keys/key_nope', {}, 'person'],
  ['POST', '/api/redeem', { code: 'RC-0000000000000000' }, 'person'],
  ['POST', '/api/members', { email: 'someone@example.com' }, 'person'],
  ['GET', '/api/usage/series?range=custom&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&bucket=hour&group_by=key', {}, 'person'],
  ['GET', '/api/usage/records?limit=5&status=error&format=csv&before=2026-01-01T00:00:00Z', {}, 'person'],
  ['GET', '/api/ledger?limit=3&before=x', {}, 'person'],
  ['POST', '/api/admin/redemption-codes', { amount: '1.50', count: 2, expires_in: '7d' }, 'admin'],
  ['POST', '/api/admin/invite-codes', { count: 2, expires_in: '1d' }, 'admin'],
  ['PATCH', '/api/admin/accounts/{acct}', { tier: 'standard', status: 'active', limits: { requests_per_minute: 5 } }, 'admin'],
  ['POST', '/api/admin/accounts/{acct}/credits', { amount: '2', reason: 'fuzz' }, 'admin'],
  ['GET', '/api/admin/usage?range=7d&group_by=account', {}, 'admin'],
  ['GET', '/api/models/sim-chat%ZZ', {}, 'none'],
];
/** Portal routes with mutated bodies, sent with the right session, the wrong one, no CSRF token, or none. */
const portalRequest = fc.tuple(fc.constantFrom(...PORTAL_BODIES), fc.nat({ max: 3 }), fc.nat({ max: 9 })).chain(([[method, path, base, needs], credentials, kind]) =>
  (kind < 7 ? mutated(base).map(bodyBytes) : oddBody).map((body): FuzzRequest => {
    const session = credentials === 0 ? undefined : needs === 'admin' && credentials !== 3 ? sessions.admin : sessions.person;
    const headers: [string, string][] = [['content-type', 'application/json'], ['x-forwarded-for', '10.0.0.1']];
    if (session) headers.push(['cookie', session.cookie]);
    if (session && credentials !== 2) headers.push(['x-csrf-token', session.csrf]);
    return { method, path: path.replace('{acct}', accountId), headers, body: method === 'GET' ? Buffer.alloc(0) : body };
  }),
);

async function runProperty(arb: fc.Arbitrary<FuzzRequest>, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (req) => check(req, await send(encode(req)))),
    { seed: SEED, numRuns: numRuns * RUNS, endOnFailure: true },
  );
}

async function metric(name: string): Promise<number> {
  const answer = await send(Buffer.from('GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
  if ('error' in answer) throw new Error(answer.error);
  const line = answer.body.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'floodgate-fuzz-'));
  const config = testConfig();
  config.limits = { default_tier: 'default', tiers: { default: { requests_per_minute: 1_000_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 }, standard: { requests_per_minute: 60 } } };
  config.billing = { initial_credit: 1_000_000 };
  config.logging = { level: 'info' };
  const file = join(dataDir, 'fuzz.yaml');
  writeFileSync(file, stringify(config));
  server = await spawnCli(['serve', '--config', file, '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
  port = Number(new URL(server.url).port);
  apiKey = server.output.find((l) => l.startsWith('API key: '))!.slice('API key: '.length);
  adminToken = server.output.find((l) => l.startsWith('Admin token: '))!.slice('Admin token: '.length);
  const accounts = await fetch(`${server.url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${adminToken}` } });
  accountId = ((await accounts.json()) as { data: { id: string }[] }).data[0].id;
  sessions.person = await openSession('/session/signup', { email: 'person@example.com', password: 'long enough' });
  sessions.admin = await openSession('/session/admin', { token: adminToken });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe(`fuzz (seed ${SEED})`, () => {
  it('the API: mutated and malformed bodies on every endpoint', async () => {
    await runProperty(apiRequest, 1200);
  }, 120_000);

  it('transcription uploads: odd forms and broken framing', async () => {
    await runProperty(transcriptionRequest, 300);
  }, 60_000);

  it('any method, any path, odd headers', async () => {
    await runProperty(anyRequest, 800);
  }, 120_000);

  it("the portal's API, with and without a session and its CSRF token", async () => {
    await runProperty(portalRequest, 500);
  }, 60_000);

  it('the admin API', async () => {
    await runProperty(adminRequest, 400);
  }, 60_000);

  it('afterwards: alive, memory bounded, no key in the log', async () => {
    const health = await send(Buffer.from('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    expect('status' in health && health.status).toBe(200);
    expect(server.process.exitCode).toBeNull();
    const rss = await metric('floodgate_process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(0);
    expect(rss).toBeLessThan(600 * 1024 * 1024);
    const log = server.output.filter((l) => !l.startsWith('API key: ') && !l.startsWith('Admin token: ')).join('\n');
    expect(log).not.toContain(apiKey.slice(-32));
    expect(log).not.toContain(adminToken.slice(-32));
    expect(log).not.toMatch(/"level":50/);
    expect(problems).toEqual([]);
    console.log(`fuzz answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
    // The properties reach past the front door: answered requests, and refusals of many kinds.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  });
});
