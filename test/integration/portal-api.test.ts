// The portal's JSON API (SPEC §14) over raw HTTP against a real gateway: a person's whole journey with the
// official SDK in the middle, then its security — CSRF, cookie flags, sign-in limits, isolation between
// accounts, hashes that never leave, sign-up modes, concurrent redemption, the admin console's door.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { spawnCli, startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { startGateway } from '../../src/gateway.js';
import { resolveConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { Writable } from 'node:stream';
import { createTestDatabase } from '../helpers/postgres.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** A browser's worth of state: the session cookie and the CSRF token it was given. */
class Person {
  cookie: string | undefined;
  csrf: string | undefined;
  setCookie: string | undefined;

  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, opts: { csrf?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (csrf !== null && csrf !== undefined) headers['x-csrf-token'] = csrf;
    const res = await fetch(`${this.base}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      this.setCookie = setCookie;
      const pair = setCookie.split(';')[0];
      this.cookie = pair.endsWith('=') ? undefined : pair;
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // CSV or empty
    }
    const b = parsed as { csrf_token?: string };
    if (b && typeof b === 'object' && typeof b.csrf_token === 'string') this.csrf = b.csrf_token;
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  get = (path: string, opts?: { headers?: Record<string, string> }) => this.call('GET', path, undefined, opts);
  post = (path: string, body?: unknown, opts?: { csrf?: string | null; headers?: Record<string, string> }) => this.call('POST', path, body, opts);
}

/** JSON answers, read field by field. */
type J = any;

let seq = 0;
const email = () => `person${Date.now()}-${++seq}@example.com`;

async function signUp(base: string, opts: { inviteCode?: string } = {}): Promise<{ person: Person; email: string; session: J }> {
  const person = new Person(base);
  const address = email();
  const res = await person.post('/session/signup', { email: address, password: 'correct horse battery', ...(opts.inviteCode ? { invite_code: opts.inviteCode } : {}) });
  expect(res.status, res.text).toBe(201);
  return { person, email: address, session: res.body };
}

async function adminPerson(gw: TestGateway): Promise<Person> {
  const admin = new Person(gw.url);
  const res = await admin.post('/session/admin', { token: gw.adminToken });
  expect(res.status, res.text).toBe(200);
  expect((res.body as J).admin).toBe(true);
  return admin;
}

describe('portal API', () => {
  let gw: TestGateway;
  let admin: Person;

  beforeAll(async () => {
    gw = await startTestGateway(testConfig({ billing: { initial_credit: 5 } }));
    // One admin session for the whole suite: sign-ins from this address are limited to 10 a minute.
    admin = await adminPerson(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves the public config, models (with prices and live status) and docs', async () => {
    const anyone = new Person(gw.url);
    const config = (await anyone.get('/config')).body as J;
    expect(config).toMatchObject({ title: 'Floodgate', key_prefix: 'fk-', signup: 'open', currency: 'USD' });
    expect(config.base_url).toBe(`${gw.url}/v1`);
    expect(config.tiers.find((t: J) => t.name === 'standard')).toEqual({ name: 'standard', requests_per_minute: 60, tokens_per_minute: 100_000, concurrent_requests: 5 });

    const models = (await anyone.get('/models')).body as J;
    const chat = models.data.find((m: J) => m.id === 'sim-chat');
    expect(chat).toMatchObject({ aliases: ['simulator-chat'], family: 'floodgate-simulator', category: 'text', context_length: 32768, live: true, pricing: { input: 0.5, cached_input: 0.05, output: 1.5 } });
    expect(chat.capabilities).toContain('chat');
    const one = await anyone.get('/models/simulator-chat');
    expect((one.body as J).id).toBe('sim-chat');
    const missing = await anyone.get('/models/nope');
    expect(missing.status).toBe(404);
    expect((missing.body as J).error.code).toBe('model_not_found');

    const docs = (await anyone.get('/docs')).body as J;
    expect(docs.endpoints.map((e: J) => e.path)).toContain('/v1/chat/completions');
    // Both other doors (SPEC §17) are listed.
    expect(docs.endpoints.map((e: J) => `${e.method} ${e.path}`)).toEqual(expect.arrayContaining(['POST /v1/responses', 'GET /v1/responses/{id}', 'POST /v1/messages', 'POST /v1/messages/count_tokens']));
    expect(docs.unsupported.map((u: J) => u.path)).toContain('/v1/assistants');
    expect(docs.errors.find((e: J) => e.code === 'insufficient_balance').status).toBe(402);
  });

  it('a person signs up, makes a key, calls the API with it, sees usage, redeems a code, disables the key, signs out', async () => {
    const { person, email: address, session } = await signUp(gw.url);
    expect(session.user).toMatchObject({ email: address, role: 'user' });
    expect(session.account.balance_micros).toBe(5_000_000);
    expect(session.accounts).toEqual([{ id: session.account.id, name: address, role: 'owner' }]);
    expect((await person.get('/session')).body).toMatchObject({ user: { email: address } });

    const created = await person.post('/keys', { name: 'laptop' });
    expect(created.status, created.text).toBe(201);
    const key = created.body as J;
    expect(key.key).toMatch(/^fk-[A-Za-z0-9]{40}$/);
    expect(key).toMatchObject({ name: 'laptop', status: 'active', disabled_at: null });
    const listed = (await person.get('/keys')).body as J;
    expect(listed.data.map((k: J) => k.id)).toEqual([key.id]);
    // Shown once: the list has the hint, never the key.
    expect(JSON.stringify(listed)).not.toContain(key.key);

    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.key, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 });
    expect(answer.choices[0].message.content).toBeTruthy();
    await gw.flushUsage();

    const records = (await person.get('/usage/records')).body as J;
    expect(records.data).toHaveLength(1);
    expect(records.data[0]).toMatchObject({ request_id: expect.any(String), model: 'sim-chat', key_id: key.id, key_hint: key.hint, status: 200 });
    expect(((await person.get('/usage/records?status=ok')).body as J).data).toHaveLength(1);
    expect(((await person.get('/usage/records?status=error')).body as J).data).toHaveLength(0);
    const series = (await person.get('/usage/series?range=24h&group_by=key')).body as J;
    expect(series.series).toHaveLength(1);
    expect(series.series[0].name).toBe(key.id);
    expect(series.series[0].points.reduce((n: number, p: J) => n + p.requests, 0)).toBe(1);
    const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
    const custom = (await person.get(`/usage/series?range=custom&from=${dayAgo}&to=${new Date(Date.now() + 60_000).toISOString()}&bucket=hour`)).body as J;
    expect(custom.series[0].points.reduce((n: number, p: J) => n + p.requests, 0)).toBe(1);
    const badFrom = await person.get('/usage/series?range=custom&from=yesterday');
    expect(badFrom.status).toBe(400);
    expect((badFrom.body as J).error.param).toBe('from');
    const csv = await person.get('/usage/records?format=csv');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toBe('created_at,request_id,model,key_id,key_hint,status,prompt_tokens,cached_tokens,completion_tokens,cost_micros,latency_ms,ttft_ms,settle');
    expect(csv.text).toContain(records.data[0].request_id);

    const before = ((await person.get('/session')).body as J).account.balance_micros as number;
    const made = await admin.post('/admin/redemption-codes', { amount: '2.50', count: 1 });
    expect(made.status, made.text).toBe(201);
    const [code] = (made.body as J).codes as string[];
    expect(code).toMatch(/^RC-/);
    const redeemed = await person.post('/redeem', { code });
    expect(redeemed.status, redeemed.text).toBe(200);
    expect(redeemed.body).toMatchObject({ amount_micros: 2_500_000, balance_micros: before + 2_500_000 });
    expect(((await person.get('/session')).body as J).account.balance_micros).toBe(before + 2_500_000);
    const again = await person.post('/redeem', { code });
    expect(again.status).toBe(404);
    const ledger = (await person.get('/ledger')).body as J;
    expect(ledger.data[0]).toMatchObject({ kind: 'credit', amount_micros: 2_500_000, actor: `user:${session.user.id}` });
    expect(ledger.data[0].reason).toContain('redemption RC-');
    expect(ledger.usage_by_day.reduce((n: number, d: J) => n + d.requests, 0)).toBe(1);

    const disabled = await person.post(`/keys/${key.id}/disable`);
    expect(disabled.status, disabled.text).toBe(200);
    expect((disabled.body as J).status).toBe('disabled');
    const refused = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(403);
    const enabled = await person.post(`/keys/${key.id}/enable`);
    expect((enabled.body as J).status).toBe('active');
    await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const deleted = await person.call('DELETE', `/keys/${key.id}`);
    expect(deleted.body).toEqual({ id: key.id, deleted: true });

    const out = await person.post('/session/signout');
    expect(out.status).toBe(204);
    expect(person.setCookie).toMatch(/floodgate_session=;.*Max-Age=0/);
    expect((await person.get('/session')).status).toBe(401);
  });

  it('refuses a change without the session’s CSRF token, and sets the cookie’s flags', async () => {
    const { person } = await signUp(gw.url);
    expect(person.setCookie).toMatch(/^floodgate_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    for (const csrf of [null, 'wrong-token']) {
      const res = await person.post('/keys', { name: 'x' }, { csrf });
      expect(res.status).toBe(403);
      expect((res.body as J).error.code).toBe('csrf_failed');
      expect((await person.post('/session/signout', undefined, { csrf })).status).toBe(403);
    }
    expect(((await person.get('/keys')).body as J).data).toEqual([]);

    const https = new Person(gw.url);
    await https.post('/session/signup', { email: email(), password: 'long enough pw' }, { headers: { 'x-forwarded-proto': 'https' } });
    expect(https.setCookie).toMatch(/; Secure$/);
    const none = await new Person(gw.url).post('/keys', { name: 'x' });
    expect(none.status).toBe(401);
    expect((none.body as J).error.code).toBe('not_signed_in');
  });

  it('limits sign-in attempts per email, and answers a wrong email and a wrong password alike', async () => {
    const { email: address } = await signUp(gw.url);
    const wrongPassword = await new Person(gw.url).post('/session/signin', { email: address, password: 'not the password' });
    const wrongEmail = await new Person(gw.url).post('/session/signin', { email: `x${address}`, password: 'correct horse battery' });
    expect(wrongPassword.status).toBe(401);
    expect(wrongEmail.body).toEqual(wrongPassword.body);
    const right = await new Person(gw.url).post('/session/signin', { email: address.toUpperCase(), password: 'correct horse battery' });
    expect(right.status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await new Person(gw.url).post('/session/signin', { email: address, password: 'wrong wrong' })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await new Person(gw.url).post('/session/signin', { email: address, password: 'correct horse battery' });
    expect(limited.status).toBe(429);
    expect((limited.body as J).error.code).toBe('too_many_attempts');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('never sends a password hash', async () => {
    const { person, email: address } = await signUp(gw.url);
    const answers = [
      await person.get('/session'),
      await person.get('/members'),
      await admin.get(`/admin/accounts?q=${encodeURIComponent(address)}`),
      await admin.get(`/admin/users?q=${encodeURIComponent(address)}`),
    ];
    for (const a of answers) {
      expect(a.status, a.text).toBe(200);
      expect(a.text).not.toMatch(/scrypt\$|password/i);
    }
    expect(((answers[2].body as J).data[0].members as string[])).toEqual([address]);
  });

  it('keeps each person to their own account on every route', async () => {
    const alice = await signUp(gw.url);
    const bob = await signUp(gw.url);
    const aliceKey = (await alice.person.post('/keys', { name: 'alice' })).body as J;
    const bobAccount = bob.session.account.id as string;
    const p = bob.person;

    const attempts: Answer[] = [
      await p.post(`/keys/${aliceKey.id}/disable`),
      await p.post(`/keys/${aliceKey.id}/enable`),
      await p.call('DELETE', `/keys/${aliceKey.id}`),
      await p.call('DELETE', `/members/${alice.session.user.id}`),
    ];
    for (const a of attempts) expect([403, 404], a.text).toContain(a.status);
    // Naming Alice's account is refused on every account route.
    const asAlice = { headers: { 'x-floodgate-account': alice.session.account.id } };
    for (const path of ['/keys', '/ledger', '/usage/series', '/usage/records', '/members', '/session']) {
      const a = await p.get(path, asAlice);
      expect(a.status, path).toBe(403);
      expect((a.body as J).error.code).toBe('forbidden');
    }
    expect((await p.post('/keys', { name: 'x' }, asAlice)).status).toBe(403);
    expect((await p.post('/members', { email: bob.email }, asAlice)).status).toBe(403);
    expect((await p.post('/redeem', { code: 'RC-nothing' }, asAlice)).status).toBe(403);
    // Bob's own views hold nothing of Alice's.
    for (const path of ['/keys', '/ledger', '/usage/records', '/members']) {
      const a = await p.get(path);
      expect(a.status).toBe(200);
      expect(a.text).not.toContain(aliceKey.id);
      expect(a.text).not.toContain(alice.session.account.id);
      expect(a.text).not.toContain(alice.email);
    }
    expect(((await alice.person.get('/keys')).body as J).data[0].status).toBe('active');
    // Usage filtered by Alice's key from Bob's account: nothing.
    expect(((await p.get(`/usage/records?key_id=${aliceKey.id}`)).body as J).data).toEqual([]);
    // A member reads and cannot write; Bob is not an admin.
    expect((await alice.person.post('/members', { email: bob.email })).status).toBe(201);
    const shared = { headers: { 'x-floodgate-account': alice.session.account.id } };
    expect(((await p.get('/keys', shared)).body as J).data.map((k: J) => k.id)).toEqual([aliceKey.id]);
    expect((await p.post(`/keys/${aliceKey.id}/disable`, undefined, shared)).status).toBe(403);
    expect((await p.post('/keys', { name: 'x' }, shared)).status).toBe(403);
    expect(bobAccount).not.toBe(alice.session.account.id);
  });

  it('refuses the admin console to a person without the admin role', async () => {
    const { person } = await signUp(gw.url);
    for (const path of ['/admin/accounts', '/admin/keys', '/admin/redemption-codes', '/admin/invite-codes', '/admin/usage', '/admin/deployments']) {
      const a = await person.get(path);
      expect(a.status, path).toBe(403);
      expect((a.body as J).error.code).toBe('forbidden');
    }
    expect((await person.post('/admin/redemption-codes', { amount: 1, count: 1 })).status).toBe(403);
    expect((await new Person(gw.url).get('/admin/accounts')).status).toBe(401);
    expect((await new Person(gw.url).post('/session/admin', { token: 'fga_wrong' })).status).toBe(401);
  });

  it('the admin console changes a tier through the admin operation, and shows deployments', async () => {
    const { session } = await signUp(gw.url);
    const patched = await admin.call('PATCH', `/admin/accounts/${session.account.id}`, { tier: 'standard' });
    expect(patched.status, patched.text).toBe(200);
    expect((patched.body as J).limits.requests_per_minute).toBe(60);
    expect((await admin.call('PATCH', `/admin/accounts/${session.account.id}`, { tier: 'standard' }, { csrf: null })).status).toBe(403);
    const credit = await admin.post(`/admin/accounts/${session.account.id}/credits`, { amount: '1', reason: 'goodwill' });
    expect(credit.status, credit.text).toBe(201);
    const deployments = (await admin.get('/admin/deployments')).body as J;
    expect(deployments.data[0]).toMatchObject({ state: 'closed' });
  });

  it('credits a redemption code exactly once when it is redeemed 50 times at once', async () => {
    const [code] = ((await admin.post('/admin/redemption-codes', { amount: '1', count: 1 })).body as J).codes as string[];
    const { person } = await signUp(gw.url);
    const start = ((await person.get('/session')).body as J).account.balance_micros as number;
    const answers = await Promise.all(Array.from({ length: 50 }, () => person.post('/redeem', { code })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 404)).toHaveLength(49);
    expect(((await person.get('/session')).body as J).account.balance_micros).toBe(start + 1_000_000);
  });

  it('validates bodies like every other route', async () => {
    const anyone = new Person(gw.url);
    const short = await anyone.post('/session/signup', { email: email(), password: 'short' });
    expect(short.status).toBe(400);
    expect((short.body as J).error.param).toBe('password');
    const bad = await anyone.post('/session/signup', { email: 'not-an-email', password: 'long enough' });
    expect((bad.body as J).error.param).toBe('email');
    expect((await anyone.get('/nothing-here')).status).toBe(404);
  });
});

describe('portal API on PostgreSQL', () => {
  it('signs up, calls the API with a new key, charts it, and credits a code raced 50 times once', async () => {
    const db = await createTestDatabase('portal_api');
    const prefix = uniquePrefix('portal');
    const shared = testConfig({ store: { url: db.url }, auth: { key_prefix: 'fk-', pepper: 'a-test-pepper-of-some-length' }, redis: { url: SHARED_REDIS_URL, key_prefix: prefix } });
    const gw = await startTestGateway(shared);
    const other = await startTestGateway(shared);
    try {
      const admin = await adminPerson(gw);
      const { person } = await signUp(gw.url);
      const key = (await person.post('/keys', { name: 'pg' })).body as J;
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.key, maxRetries: 0 });
      await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 });
      await gw.flushUsage();
      const series = (await person.get('/usage/series?range=7d&group_by=model')).body as J;
      expect(series.series.map((s: J) => s.name)).toEqual(['sim-chat']);
      const [code] = ((await admin.post('/admin/redemption-codes', { amount: '3', count: 1 })).body as J).codes as string[];
      const start = ((await person.get('/session')).body as J).account.balance_micros as number;
      const answers = await Promise.all(Array.from({ length: 50 }, () => person.post('/redeem', { code })));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(((await person.get('/session')).body as J).account.balance_micros).toBe(start + 3_000_000);

      // The session works on the other instance; sign-in attempts are counted across both (through Redis).
      expect(((await new Person(other.url).get('/session', { headers: { cookie: person.cookie! } })).body as J).user.email).toBeDefined();
      // A key disabled through one instance is refused by the other at once (the admin API's change event).
      const viaOther = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: key.key, maxRetries: 0 });
      await viaOther.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
      expect((await person.post(`/keys/${key.id}/disable`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      const refused = await viaOther.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(403);

      const { email: address } = await signUp(gw.url);
      for (let i = 0; i < 5; i++) expect((await new Person(gw.url).post('/session/signin', { email: address, password: 'wrong wrong' })).status).toBe(401);
      expect((await new Person(other.url).post('/session/signin', { email: address, password: 'correct horse battery' })).status).toBe(429);
    } finally {
      await other.close();
      await gw.close();
      await db.drop();
      await deletePrefix(prefix);
    }
  });
});

describe('portal sign-up modes', () => {
  it('sign-ups per client address are limited (portal.signups_per_minute): accounts with a credit are not farmed', async () => {
    const gw = await startTestGateway(testConfig({ portal: { signups_per_minute: 2 } }));
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await new Person(gw.url).post('/session/signup', { email: email(), password: 'long enough' })).status);
      expect(statuses).toEqual([201, 201, 429]);
      const limited = await new Person(gw.url).post('/session/signup', { email: email(), password: 'long enough' });
      expect((limited.body as J).error.code).toBe('too_many_attempts');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await gw.close();
    }
  });

  it('closed: 403; invite: a valid unused code, once', async () => {
    const closed = await startTestGateway(testConfig({ portal: { signup: 'closed' } }));
    try {
      const res = await new Person(closed.url).post('/session/signup', { email: email(), password: 'long enough' });
      expect(res.status).toBe(403);
      expect((res.body as J).error.code).toBe('signup_closed');
      // Per client address: 10 attempts a minute, whatever they try.
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await new Person(closed.url).post('/session/admin', { token: `fga_wrong${i}` })).status);
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      expect(statuses[10]).toBe(429);
    } finally {
      await closed.close();
    }
    const invite = await startTestGateway(testConfig({ portal: { signup: 'invite', signups_per_minute: 1000 } }));
    try {
      const anyone = new Person(invite.url);
      expect((await anyone.post('/session/signup', { email: email(), password: 'long enough' })).status).toBe(400);
      expect((await anyone.post('/session/signup', { email: email(), password: 'long enough', invite_code: 'INV-made-up' })).status).toBe(400);
      const admin = await adminPerson(invite);
      const [code] = ((await admin.post('/admin/invite-codes', { count: 1 })).body as J).codes as string[];
      await signUp(invite.url, { inviteCode: code });
      const reused = await new Person(invite.url).post('/session/signup', { email: email(), password: 'long enough', invite_code: code });
      expect(reused.status).toBe(400);
      expect((reused.body as J).error.param).toBe('invite_code');
    } finally {
      await invite.close();
    }
  });
});

describe('portal pages', () => {
  const logs = new Writable({ write: (_c, _e, cb) => cb() });

  async function start(raw: Parameters<typeof resolveConfig>[0], webRoot: string) {
    const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-portal-'));
    const gateway = await startGateway(resolveConfig({ ...(raw as object), data_dir: dataDir }, 'test'), { logger: createLogger('info', logs), portalWebRoot: webRoot });
    return { gateway, close: async () => (await gateway.close(), rmSync(dataDir, { recursive: true, force: true })) };
  }

  it('serves the built front end: immutable assets, index.html for pages, JSON 404s elsewhere', async () => {
    const web = mkdtempSync(join(tmpdir(), 'floodgate-web-'));
    mkdirSync(join(web, 'assets'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><script src="/assets/index-abc.js"></script>');
    writeFileSync(join(web, 'assets', 'index-abc.js'), 'console.log(1)');
    const { gateway, close } = await start(testConfig(), web);
    try {
      const html = { headers: { accept: 'text/html' } };
      const asset = await fetch(`${gateway.url}/assets/index-abc.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      for (const page of ['/', '/keys', '/models/sim-chat', '/console/signin']) {
        const res = await fetch(`${gateway.url}${page}`, html);
        expect(res.status, page).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-cache');
        expect(await res.text()).toContain('/assets/index-abc.js');
      }
      for (const path of ['/v1/nothing', '/admin/v1/nothing', '/api/nothing', '/assets/missing.js']) {
        const res = await fetch(`${gateway.url}${path}`, html);
        expect(res.status, path).toBeGreaterThanOrEqual(401);
        expect(((await res.json()) as J).error).toBeDefined();
      }
      const json = await fetch(`${gateway.url}/keys`);
      expect(json.status).toBe(404);
    } finally {
      await close();
      rmSync(web, { recursive: true, force: true });
    }
  });

  it('says the portal is not built when dist/web is missing, rewrites assets under another path, and serves nothing when disabled', async () => {
    const web = mkdtempSync(join(tmpdir(), 'floodgate-web-'));
    const missing = await start(testConfig({ portal: { path: '/portal' } }), join(web, 'absent'));
    try {
      const res = await fetch(`${missing.gateway.url}/portal/keys`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('not built');
      expect((await fetch(`${missing.gateway.url}/portal/api/config`)).status).toBe(200);
      expect((await fetch(`${missing.gateway.url}/keys`, { headers: { accept: 'text/html' } })).status).toBe(404);
    } finally {
      await missing.close();
    }
    writeFileSync(join(web, 'index.html'), '<script src="/assets/index-abc.js"></script>');
    const under = await start(testConfig({ portal: { path: '/portal/' } }), web);
    try {
      expect(await (await fetch(`${under.gateway.url}/portal/`, { headers: { accept: 'text/html' } })).text()).toContain('"/portal/assets/index-abc.js"');
    } finally {
      await under.close();
    }
    const off = await start(testConfig({ portal: { enabled: false } }), web);
    try {
      expect((await fetch(`${off.gateway.url}/`, { headers: { accept: 'text/html' } })).status).toBe(404);
      expect((await fetch(`${off.gateway.url}/api/config`)).status).toBe(404);
    } finally {
      await off.close();
      rmSync(web, { recursive: true, force: true });
    }
  });
});

describe('floodgate serve (built CLI)', () => {
  it('prints the portal\'s URL beside the first start\'s key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-portal-cli-'));
    const server = await spawnCli(['serve', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
    try {
      const apiKeyAt = server.output.findIndex((l) => l.startsWith('API key: '));
      const portal = server.output.find((l) => l.startsWith('Portal: '));
      expect(apiKeyAt).toBeGreaterThanOrEqual(0);
      expect(portal).toMatch(/^Portal: http:\/\/127\.0\.0\.1:\d+\/$/);
      const config = await fetch(`${portal!.slice('Portal: '.length)}api/config`);
      expect(((await config.json()) as J).signup).toBe('open');
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
