// The admin API (/admin/v1) on a real gateway, over raw HTTP: auth by the admin token only, every route,
// every kind of bad input (400 naming the exact field), unknown ids (404), duplicates (409), and changes
// that reach the running gateway at once (a disabled key is refused on the very next /v1 request).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { UsageRecord } from '../../src/store/usage.js';

let gw: TestGateway;
let token: string;

beforeAll(async () => {
  gw = await startTestGateway();
  token = gw.adminToken!;
  expect(token).toBeTruthy();
});

afterAll(async () => {
  await gw?.close();
});

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

async function call(method: string, path: string, json?: unknown, auth: string | null = `Bearer ${token}`): Promise<Res> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.authorization = auth;
  const res = await rawRequest(`${gw.url}/admin/v1${path}`, { method, headers, json });
  return { status: res.status, body: res.text === '' ? undefined : res.json(), headers: res.headers };
}

/** Asserts a 400 naming `param`, in OpenAI's envelope. */
function expect400(res: Res, param: string | null): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param, code: null });
  expect(typeof res.body.error.message).toBe('string');
}

function expect404(res: Res, param: string | null = null): void {
  expect(res.status, JSON.stringify(res.body)).toBe(404);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', param });
}

async function v1Models(apiKey: string): Promise<Res> {
  const res = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${apiKey}` } });
  return { status: res.status, body: res.json(), headers: res.headers };
}

let seq = 0;
async function newAccount(extra: Record<string, unknown> = {}): Promise<any> {
  const res = await call('POST', '/accounts', { name: `acct-${++seq}-${Date.now()}`, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('admin auth', () => {
  it('refuses a missing, malformed or wrong token with 401 invalid_admin_token', async () => {
    for (const auth of [null, '', 'Bearer', `Basic ${token}`, 'Bearer fga_wrongwrongwrongwrongwrongwrongwrongwrong', `Bearer ${token}x`, `Bearer ${'x'.repeat(600)}`]) {
      const res = await call('GET', '/accounts', undefined, auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_admin_token', param: null });
    }
  });

  it('never accepts an API key, even a valid one', async () => {
    expect((await v1Models(gw.apiKey)).status).toBe(200);
    for (const [method, path, json] of [
      ['GET', '/accounts'],
      ['POST', '/accounts', { name: 'sneaky' }],
      ['GET', '/usage'],
    ] as const) {
      const res = await call(method, path, json, `Bearer ${gw.apiKey}`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_admin_token');
      expect(res.body.error.message).toMatch(/API keys do not work on the admin API/);
    }
    expect((await call('GET', '/accounts/sneaky')).status).toBe(404);
  });

  it('the admin token is no API key on /v1', async () => {
    const res = await v1Models(token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_api_key');
  });

  it('checks the token before telling whether a path exists', async () => {
    expect((await call('GET', '/no-such-thing', undefined, null)).status).toBe(401);
    expect404(await call('GET', '/no-such-thing'));
    expect404(await call('PUT', '/accounts'));
  });
});

describe('accounts', () => {
  it('creates an account with the default tier, zero balance, no overrides', async () => {
    const name = `plain-${Date.now()}`;
    const res = await call('POST', '/accounts', { name });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      object: 'account',
      name,
      tier: 'default',
      status: 'active',
      balance_micros: 0,
      balance: '0.000000',
      limits: null,
      effective_limits: { requests_per_minute: 600, tokens_per_minute: 2_000_000, concurrent_requests: 50 },
    });
    expect(res.body.id).toMatch(/^acct_[A-Za-z0-9]{20}$/);
    expect(Math.abs(res.body.created_at - Date.now() / 1000)).toBeLessThan(60);
  });

  it('creates with a tier, limit overrides and an exact initial credit recorded in the ledger', async () => {
    const name = `rich-${Date.now()}`;
    const res = await call('POST', '/accounts', { name, tier: 'standard', limits: { requests_per_minute: 5 }, initial_credit: '12.34' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      tier: 'standard',
      balance_micros: 12_340_000,
      balance: '12.340000',
      limits: { requests_per_minute: 5 },
      effective_limits: { requests_per_minute: 5, tokens_per_minute: 100_000, concurrent_requests: 5 },
    });
    const ledger = await call('GET', `/accounts/${res.body.id}/ledger`);
    expect(ledger.body.data).toEqual([expect.objectContaining({ kind: 'credit', amount_micros: 12_340_000, reason: 'initial credit', actor: 'admin-api' })]);

    const micros = await call('POST', '/accounts', { name: `${name}-m`, initial_credit_micros: 7 });
    expect(micros.body.balance_micros).toBe(7);
  });

  it('a taken name is 409 conflict', async () => {
    const account = await newAccount();
    const res = await call('POST', '/accounts', { name: account.name });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'conflict', param: 'name' });
    expect(res.body.error.message).toMatch(/already exists/);
  });

  it('bad create bodies are 400 naming the field', async () => {
    const cases: [unknown, string | null][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: ' padded' }, 'name'],
      [{ name: 'a\u0001b' }, 'name'],
      [{ name: 'acct_lookalike' }, 'name'],
      [{ name: 'x'.repeat(129) }, 'name'],
      [{ name: 'ok', tier: 'gold' }, 'tier'],
      [{ name: 'ok', tier: '' }, 'tier'],
      [{ name: 'ok', limits: { requests_per_minute: 0 } }, 'limits.requests_per_minute'],
      [{ name: 'ok', limits: { tokens_per_minute: 1.5 } }, 'limits.tokens_per_minute'],
      [{ name: 'ok', limits: { concurrent_requests: '5' } }, 'limits.concurrent_requests'],
      [{ name: 'ok', limits: { rpm: 5 } }, 'limits.rpm'],
      [{ name: 'ok', limits: [] }, 'limits'],
      [{ name: 'ok', initial_credit: '1.0000001' }, 'initial_credit'],
      [{ name: 'ok', initial_credit: '1e3' }, 'initial_credit'],
      [{ name: 'ok', initial_credit: 0.1 + 0.2 }, 'initial_credit'],
      [{ name: 'ok', initial_credit: '-5' }, 'initial_credit'],
      [{ name: 'ok', initial_credit: true }, 'initial_credit'],
      [{ name: 'ok', initial_credit_micros: 1.5 }, 'initial_credit_micros'],
      [{ name: 'ok', initial_credit: '1', initial_credit_micros: 1 }, 'initial_credit_micros'],
      [{ name: 'ok', colour: 'blue' }, 'colour'],
      [[], null],
      ['acme', null],
    ];
    for (const [body, param] of cases) {
      const res = await call('POST', '/accounts', body);
      expect400(res, param);
      if (param !== null) expect(res.body.error.message.startsWith(`${param}: `), res.body.error.message).toBe(true);
    }
    // None of them was created.
    const list = await call('GET', '/accounts');
    expect(list.body.data.some((a: any) => a.name === 'ok')).toBe(false);
  });

  it('a body that is not JSON is 400; no body, or an empty one, is no options', async () => {
    const res = await rawRequest(`${gw.url}/admin/v1/accounts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":' });
    expect(res.status).toBe(400);
    expect(res.json().error.type).toBe('invalid_request_error');
    // No options: what is required is named.
    expect400(await call('POST', '/accounts'), 'name');
    const account = await newAccount();
    const empty = (method: string, path: string) => rawRequest(`${gw.url}/admin/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '' });
    const emptyAccount = await empty('POST', '/accounts');
    expect400({ status: emptyAccount.status, body: emptyAccount.json(), headers: emptyAccount.headers }, 'name');
    const createKey = await empty('POST', `/accounts/${account.id}/keys`);
    expect(createKey.status, createKey.text).toBe(201);
    expect(createKey.json()).toMatchObject({ object: 'api_key', account_id: account.id, name: null, expires_at: null });
    expect((await call('POST', `/accounts/${account.id}/keys`)).status).toBe(201);
    const disable = await empty('POST', `/keys/${createKey.json().id}/disable`);
    expect(disable.status, disable.text).toBe(200);
    const credit = await empty('POST', `/accounts/${account.id}/credits`);
    expect(credit.status).toBe(400);
    expect(credit.json().error.param).toBe('reason');
    const patch = await empty('PATCH', `/accounts/${account.id}`);
    expect(patch.status).toBe(400);
    expect(patch.json().error.message).toMatch(/Nothing to change/);
  });

  it('refuses a limit or an amount that is not a safe integer, and a balance past the maximum, naming the field', async () => {
    // Raw text: JSON.stringify cannot write 2^53 + 1, and JSON.parse reads it as 2^53.
    const raw = (method: string, path: string, body: string) => rawRequest(`${gw.url}/admin/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    const expectRaw400 = async (res: Promise<{ status: number; json: () => any; headers: Headers }>, param: string) => {
      const r = await res;
      expect400({ status: r.status, body: r.json(), headers: r.headers }, param);
    };
    const huge = '9007199254740993';
    await expectRaw400(raw('POST', '/accounts', `{"name":"huge-${Date.now()}","limits":{"requests_per_minute":${huge}}}`), 'limits.requests_per_minute');
    const account = await newAccount();
    await expectRaw400(raw('PATCH', `/accounts/${account.id}`, `{"limits":{"tokens_per_minute":${huge}}}`), 'limits.tokens_per_minute');
    await expectRaw400(raw('POST', `/accounts/${account.id}/keys`, `{"limits":{"concurrent_requests":${huge}}}`), 'limits.concurrent_requests');
    await expectRaw400(raw('POST', `/accounts/${account.id}/credits`, `{"amount_micros":${huge},"reason":"r"}`), 'amount_micros');
    await expectRaw400(raw('POST', '/accounts', `{"name":"huge2-${Date.now()}","initial_credit_micros":${huge}}`), 'initial_credit_micros');
    // 9,007,199,254 USD is a safe number of micro-units, but more than any balance may hold.
    await expectRaw400(raw('POST', `/accounts/${account.id}/credits`, '{"amount":"9007199254","reason":"r"}'), 'amount');
    // A JSON number with more digits than a double keeps exactly: sent as a string it is fine.
    await expectRaw400(raw('POST', `/accounts/${account.id}/credits`, '{"amount":100000000.0000001,"reason":"r"}'), 'amount');
    await expectRaw400(raw('POST', `/accounts/${account.id}/credits`, '{"amount":999999999.9999991,"reason":"r"}'), 'amount');
    expect((await call('POST', `/accounts/${account.id}/credits`, { amount: 999_999_999.99999, reason: 'r' })).status).toBe(201);
    expect((await call('POST', `/accounts/${account.id}/credits`, { amount: '0.000010', reason: 'r' })).status).toBe(201);
    // At the maximum (10^15 micro-units): one micro-unit more is refused, and nothing changes.
    const over = await call('POST', `/accounts/${account.id}/credits`, { amount_micros: 1, reason: 'r' });
    expect400(over, 'amount_micros');
    expect(over.body.error.message).toMatch(/1000000000\.000000/);
    const after = await call('GET', `/accounts/${account.id}`);
    expect(after.body.balance_micros).toBe(1_000_000_000_000_000);
    const ledger = await call('GET', `/accounts/${account.id}/ledger`);
    expect(ledger.body.data).toHaveLength(2);
    expect(ledger.body.data[0].balance_after_micros).toBe(after.body.balance_micros);
    expect(ledger.body.data.reduce((sum: number, e: any) => sum + e.amount_micros, 0)).toBe(after.body.balance_micros);
    // Taking money off is still possible.
    expect((await call('POST', `/accounts/${account.id}/credits`, { amount: '-1', kind: 'adjustment', reason: 'r' })).status).toBe(201);
  });

  it('lists accounts and gets one by id or by name', async () => {
    const account = await newAccount();
    const list = await call('GET', '/accounts');
    expect(list.status).toBe(200);
    expect(list.body.object).toBe('list');
    expect(list.body.data.map((a: any) => a.name)).toEqual(expect.arrayContaining(['default', account.name]));
    const byId = await call('GET', `/accounts/${account.id}`);
    const byName = await call('GET', `/accounts/${encodeURIComponent(account.name)}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(account);
    expect(byName.body).toEqual(account);
    expect404(await call('GET', '/accounts/acct_nope'));
  });

  it('PATCH sets tier, replaces or clears limits, and disables', async () => {
    const account = await newAccount();
    const tier = await call('PATCH', `/accounts/${account.id}`, { tier: 'enterprise' });
    expect(tier.status).toBe(200);
    expect(tier.body).toMatchObject({ tier: 'enterprise', effective_limits: { requests_per_minute: 10_000 } });

    const limits = await call('PATCH', `/accounts/${account.name}`, { limits: { tokens_per_minute: 999 } });
    expect(limits.body).toMatchObject({ limits: { tokens_per_minute: 999 }, effective_limits: { requests_per_minute: 10_000, tokens_per_minute: 999 } });
    const replaced = await call('PATCH', `/accounts/${account.id}`, { limits: { requests_per_minute: 7 } });
    expect(replaced.body.limits).toEqual({ requests_per_minute: 7 });
    const cleared = await call('PATCH', `/accounts/${account.id}`, { limits: null });
    expect(cleared.body.limits).toBeNull();
    expect((await call('PATCH', `/accounts/${account.id}`, { limits: {} })).body.limits).toBeNull();

    const disabled = await call('PATCH', `/accounts/${account.id}`, { status: 'disabled' });
    expect(disabled.body.status).toBe('disabled');
    expect((await call('GET', `/accounts/${account.id}`)).body.status).toBe('disabled');
    expect((await call('PATCH', `/accounts/${account.id}`, { status: 'active', tier: 'standard' })).body).toMatchObject({ status: 'active', tier: 'standard' });
  });

  it('bad PATCH bodies are 400 naming the field; unknown accounts 404', async () => {
    const account = await newAccount();
    const cases: [unknown, string | null][] = [
      [{}, null],
      [{ status: 'gone' }, 'status'],
      [{ tier: 'gold' }, 'tier'],
      [{ limits: { concurrent_requests: -1 } }, 'limits.concurrent_requests'],
      [{ limits: 5 }, 'limits'],
      [{ name: 'renamed' }, 'name'],
    ];
    for (const [body, param] of cases) expect400(await call('PATCH', `/accounts/${account.id}`, body), param);
    expect404(await call('PATCH', '/accounts/nobody-here', { status: 'disabled' }));
  });
});

describe('credits and the ledger', () => {
  it('credits, refunds and adjusts exactly, returning the entry and the new balance', async () => {
    const account = await newAccount();
    const credit = await call('POST', `/accounts/${account.id}/credits`, { amount: '10.50', reason: 'invoice 1042' });
    expect(credit.status).toBe(201);
    expect(credit.body).toMatchObject({
      balance_micros: 10_500_000,
      balance: '10.500000',
      entry: { object: 'ledger_entry', account_id: account.id, kind: 'credit', amount_micros: 10_500_000, amount: '10.500000', balance_after_micros: 10_500_000, reason: 'invoice 1042', actor: 'admin-api' },
    });
    expect(credit.body.entry.id).toMatch(/^led_/);
    expect(Math.floor(credit.body.entry.created_at_ms / 1000)).toBe(credit.body.entry.created_at);

    const refund = await call('POST', `/accounts/${account.name}/credits`, { amount_micros: 1, kind: 'refund', reason: 'failed request', actor: 'alice' });
    expect(refund.body).toMatchObject({ balance_micros: 10_500_001, entry: { kind: 'refund', actor: 'alice' } });

    const number = await call('POST', `/accounts/${account.id}/credits`, { amount: 0.1, reason: 'a JSON number' });
    expect(number.body.balance_micros).toBe(10_600_001);

    const adjust = await call('POST', `/accounts/${account.id}/credits`, { amount: '-0.600001', kind: 'adjustment', reason: 'correction' });
    expect(adjust.status).toBe(201);
    expect(adjust.body).toMatchObject({ balance_micros: 10_000_000, entry: { amount_micros: -600_001, amount: '-0.600001' } });
    expect((await call('GET', `/accounts/${account.id}`)).body.balance_micros).toBe(10_000_000);
  });

  it('bad credit bodies are 400 naming the field; nothing is recorded', async () => {
    const account = await newAccount({ initial_credit: '1' });
    const cases: [unknown, string | null][] = [
      [{ reason: 'no amount' }, 'amount'],
      [{ amount: '5' }, 'reason'],
      [{ amount: '5', reason: '' }, 'reason'],
      [{ amount: '5', reason: '   ' }, 'reason'],
      [{ amount: '5', reason: 'x'.repeat(501) }, 'reason'],
      [{ amount: '5', reason: 'r', kind: 'gift' }, 'kind'],
      [{ amount: '5', reason: 'r', actor: '' }, 'actor'],
      [{ amount: '5', reason: 'r', actor: '  ' }, 'actor'],
      [{ amount: '5', amount_micros: 5, reason: 'r' }, 'amount_micros'],
      [{ amount: '-5', reason: 'r' }, 'amount'],
      [{ amount: '-5', kind: 'refund', reason: 'r' }, 'amount'],
      [{ amount: '0', kind: 'adjustment', reason: 'r' }, 'amount'],
      [{ amount_micros: 0, reason: 'r' }, 'amount_micros'],
      [{ amount: '1.1234567', reason: 'r' }, 'amount'],
      [{ amount: '1,000', reason: 'r' }, 'amount'],
      [{ amount: '', reason: 'r' }, 'amount'],
      [{ amount: '10.', reason: 'r' }, 'amount'],
      [{ amount: 1e21, reason: 'r' }, 'amount'],
      [{ amount: 0.1 + 0.2, reason: 'r' }, 'amount'],
      [{ amount: '99999999999999999', reason: 'r' }, 'amount'],
      [{ amount_micros: '5', reason: 'r' }, 'amount_micros'],
      [{ amount: '5', reason: 'r', note: 'x' }, 'note'],
      // A debit may not take the balance below zero.
      [{ amount: '-1.000001', kind: 'adjustment', reason: 'r' }, 'amount'],
      [{ amount_micros: -1_000_001, kind: 'adjustment', reason: 'r' }, 'amount_micros'],
    ];
    for (const [body, param] of cases) expect400(await call('POST', `/accounts/${account.id}/credits`, body), param);
    const ledger = await call('GET', `/accounts/${account.id}/ledger`);
    expect(ledger.body.data).toHaveLength(1);
    expect((await call('GET', `/accounts/${account.id}`)).body.balance_micros).toBe(1_000_000);
    expect404(await call('POST', '/accounts/acct_nope/credits', { amount: '1', reason: 'r' }));
  });

  it('lists the ledger newest first and pages through it with next_before', async () => {
    const account = await newAccount();
    for (let i = 1; i <= 5; i++) {
      expect((await call('POST', `/accounts/${account.id}/credits`, { amount_micros: i, reason: `r${i}` })).status).toBe(201);
    }
    const all = await call('GET', `/accounts/${account.id}/ledger`);
    expect(all.body).toMatchObject({ object: 'list', has_more: false, next_before: null });
    expect(all.body.data.map((e: any) => e.reason)).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
    expect(all.body.data.map((e: any) => e.balance_after_micros)).toEqual([15, 10, 6, 3, 1]);

    const seen: string[] = [];
    let before: number | null | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = await call('GET', `/accounts/${account.id}/ledger?limit=2${before ? `&before=${before}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeGreaterThan(0);
      seen.push(...page.body.data.map((e: any) => e.reason));
      if (!page.body.has_more) break;
      before = page.body.next_before;
      expect(typeof before).toBe('number');
    }
    expect(seen).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);

    // The first start's credit is in the default account's ledger.
    const first = await call('GET', '/accounts/default/ledger');
    expect(first.body.data.at(-1)).toMatchObject({ kind: 'credit', amount_micros: 100_000_000, actor: 'system:first-start' });
  });

  it('bad ledger queries are 400 naming the parameter; unknown accounts 404', async () => {
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['before=yesterday', 'before'],
      ['before=2025-01-01T00:00:00', 'before'],
      ['before=2025-02-30', 'before'],
      ['limit=1&limit=2', 'limit'],
      ['colour=blue', 'colour'],
    ] as const) {
      expect400(await call('GET', `/accounts/default/ledger?${query}`), param);
    }
    expect((await call('GET', '/accounts/default/ledger?before=2000-01-01T00:00:00Z')).body.data).toEqual([]);
    expect404(await call('GET', '/accounts/acct_nope/ledger'));
  });
});

describe('keys', () => {
  it('creates a key shown once, with name, expiry, allow-list and limits; it works on /v1', async () => {
    const account = await newAccount({ tier: 'standard' });
    const before = Date.now();
    const res = await call('POST', `/accounts/${account.id}/keys`, { name: 'ci', expires_in: '30d', allowed_models: ['sim-chat', 'sim-chat'], limits: { requests_per_minute: 30 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      object: 'api_key',
      account_id: account.id,
      name: 'ci',
      status: 'active',
      allowed_models: ['sim-chat'],
      limits: { requests_per_minute: 30 },
      disabled_at: null,
      last_used_at: null,
      warnings: [],
    });
    const key: string = res.body.key;
    expect(key).toMatch(/^fk-[A-Za-z0-9]{40}$/);
    expect(res.body.hint).toBe(`fk-${key.slice(3, 7)}…${key.slice(-4)}`);
    expect(res.body.expires_at).toBeGreaterThanOrEqual(Math.floor((before + 30 * 86_400_000) / 1000));
    expect(res.body.expires_at).toBeLessThanOrEqual(Math.ceil((Date.now() + 30 * 86_400_000) / 1000));
    expect((await v1Models(key)).status).toBe(200);

    // The key is never shown again.
    const got = await call('GET', `/keys/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('key');
    expect(JSON.stringify(got.body)).not.toContain(key);
    const { key: _key, warnings: _w, ...record } = res.body;
    expect(got.body).toEqual(record);
    expect(JSON.stringify((await call('GET', '/keys')).body)).not.toContain(key);

    const at = await call('POST', `/accounts/${account.name}/keys`, { expires_at: '2099-01-31T12:00:00+01:00' });
    expect(at.body.expires_at).toBe(Date.parse('2099-01-31T11:00:00Z') / 1000);
    expect(at.body.name).toBeNull();
    expect(at.body.allowed_models).toBeNull();
    const unix = await call('POST', `/accounts/${account.name}/keys`, { expires_at: 4_102_444_800 });
    expect(unix.body.expires_at).toBe(4_102_444_800);
  });

  it('warns about models outside the catalog and about a disabled account', async () => {
    const account = await newAccount();
    await call('PATCH', `/accounts/${account.id}`, { status: 'disabled' });
    const res = await call('POST', `/accounts/${account.id}/keys`, { allowed_models: ['sim-chat', 'gpt-nothing'] });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([expect.stringMatching(/disabled/), expect.stringMatching(/not in the model catalog.*gpt-nothing/)]);
  });

  it('bad key bodies are 400 naming the field', async () => {
    const account = await newAccount({ tier: 'standard', limits: { tokens_per_minute: 1000 } });
    const cases: [unknown, string | null][] = [
      [{ expires_in: 'soon' }, 'expires_in'],
      [{ expires_in: '0d' }, 'expires_in'],
      [{ expires_in: 30 }, 'expires_in'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ expires_at: '2099-01-01T00:00:00' }, 'expires_at'],
      [{ expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      [{ expires_at: 1000 }, 'expires_at'],
      [{ expires_at: 1.5 }, 'expires_at'],
      [{ expires_in: '1d', expires_at: '2099-01-01T00:00:00Z' }, 'expires_at'],
      [{ allowed_models: [] }, 'allowed_models'],
      [{ allowed_models: ['sim-chat', ''] }, 'allowed_models[1]'],
      [{ allowed_models: [' sim-chat'] }, 'allowed_models[0]'],
      [{ allowed_models: 'sim-chat' }, 'allowed_models'],
      [{ name: '' }, 'name'],
      [{ limits: { requests_per_minute: 0 } }, 'limits.requests_per_minute'],
      // Never looser than the account: the tier allows 60 requests/min, the account's own override 1000 tokens/min.
      [{ limits: { requests_per_minute: 61 } }, 'limits.requests_per_minute'],
      [{ limits: { tokens_per_minute: 1001 } }, 'limits.tokens_per_minute'],
      [{ limits: { concurrent_requests: 6 } }, 'limits.concurrent_requests'],
      [{ key: 'fk-mine' }, 'key'],
    ];
    for (const [body, param] of cases) expect400(await call('POST', `/accounts/${account.id}/keys`, body), param);
    expect((await call('POST', `/accounts/${account.id}/keys`, { limits: { requests_per_minute: 60, tokens_per_minute: 1000 } })).status).toBe(201);
    expect((await call('GET', `/keys?account_id=${account.id}`)).body.data).toHaveLength(1);
    expect404(await call('POST', '/accounts/acct_nope/keys', {}));
  });

  it('lists keys, all or per account (by id or name), with hints and status', async () => {
    const a = await newAccount();
    const b = await newAccount();
    const ka = (await call('POST', `/accounts/${a.id}/keys`, { name: 'a1' })).body;
    const kb = (await call('POST', `/accounts/${b.id}/keys`, { name: 'b1' })).body;
    const all = await call('GET', '/keys');
    expect(all.body.object).toBe('list');
    const ids = all.body.data.map((k: any) => k.id);
    expect(ids).toEqual(expect.arrayContaining([ka.id, kb.id]));
    for (const k of all.body.data) {
      expect(k.hint).toMatch(/^fk-.{4}….{4}$/);
      expect(['active', 'disabled', 'expired']).toContain(k.status);
      expect(k).not.toHaveProperty('key');
      expect(k).not.toHaveProperty('key_hash');
    }
    expect((await call('GET', `/keys?account_id=${a.id}`)).body.data.map((k: any) => k.id)).toEqual([ka.id]);
    expect((await call('GET', `/keys?account_id=${encodeURIComponent(b.name)}`)).body.data.map((k: any) => k.id)).toEqual([kb.id]);
    expect((await call('GET', `/accounts/${a.id}/keys`)).body.data.map((k: any) => k.id)).toEqual([ka.id]);
    expect404(await call('GET', '/keys?account_id=nobody'), 'account_id');
    expect400(await call('GET', '/keys?account=x'), 'account');
    expect404(await call('GET', '/keys/key_nope'));
  });

  it('a key disabled through the admin API is refused on the very next /v1 request', async () => {
    const account = await newAccount();
    const created = (await call('POST', `/accounts/${account.id}/keys`, {})).body;
    // Warm the gateway's key cache: without the admin event it would keep accepting the key for up to a second.
    expect((await v1Models(created.key)).status).toBe(200);
    const disabled = await call('POST', `/keys/${created.id}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: created.id, status: 'disabled' });
    expect(disabled.body.disabled_at).toBeGreaterThan(0);
    const refused = await v1Models(created.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('key_disabled');

    // Disabling again keeps the first time.
    const again = await call('POST', `/keys/${created.id}/disable`);
    expect(again.body.disabled_at).toBe(disabled.body.disabled_at);
    expect404(await call('POST', '/keys/key_nope/disable'));
  });

  it('an account disabled through the admin API is refused at once, and enabled again at once', async () => {
    const account = await newAccount();
    const created = (await call('POST', `/accounts/${account.id}/keys`, {})).body;
    expect((await v1Models(created.key)).status).toBe(200);
    await call('PATCH', `/accounts/${account.id}`, { status: 'disabled' });
    const refused = await v1Models(created.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('account_disabled');
    await call('PATCH', `/accounts/${account.id}`, { status: 'active' });
    expect((await v1Models(created.key)).status).toBe(200);
  });

  it('deletes a key for good: 401 on /v1 at once, 404 on the admin API after', async () => {
    const account = await newAccount();
    const created = (await call('POST', `/accounts/${account.id}/keys`, {})).body;
    expect((await v1Models(created.key)).status).toBe(200);
    const deleted = await call('DELETE', `/keys/${created.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ object: 'api_key', id: created.id, deleted: true });
    expect((await v1Models(created.key)).status).toBe(401);
    expect404(await call('GET', `/keys/${created.id}`));
    expect404(await call('DELETE', `/keys/${created.id}`));
  });
});

describe('usage', () => {
  const T0 = Date.UTC(2025, 0, 1, 10, 0, 0);
  let account: any;
  let other: any;

  function record(over: Partial<UsageRecord>): UsageRecord {
    return {
      id: `usg_${Math.random().toString(36).slice(2)}`,
      createdAt: T0,
      requestId: 'req_test',
      accountId: account.id,
      keyId: 'key_one',
      endpoint: 'chat.completions',
      model: 'sim-chat',
      deployment: 'sim',
      stream: false,
      promptTokens: 10,
      cachedTokens: 0,
      completionTokens: 5,
      reasoningTokens: 0,
      costMicros: 100,
      status: 200,
      latencyMs: 12,
      ttftMs: null,
      settle: 'complete',
      errorCode: null,
      ...over,
    };
  }

  beforeAll(async () => {
    account = await newAccount({ initial_credit: '1' });
    other = await newAccount({ initial_credit: '1' });
    await gw.gateway.store.usage.insertBatch([
      record({ createdAt: T0, promptTokens: 10, completionTokens: 5, costMicros: 100 }),
      record({ createdAt: T0 + 30_000, promptTokens: 20, cachedTokens: 4, completionTokens: 7, costMicros: 200 }),
      record({ createdAt: T0 + 65 * 60_000, keyId: 'key_two', promptTokens: 1, completionTokens: 1, reasoningTokens: 1, costMicros: 1 }),
      record({ createdAt: T0 + 86_400_000, model: 'sim-embed', endpoint: 'embeddings', promptTokens: 100, completionTokens: 0, costMicros: 2 }),
      record({ createdAt: T0, accountId: other.id, costMicros: 5000 }),
      // Three in one millisecond: paging must not lose any of them.
      record({ createdAt: T0 + 2 * 86_400_000, promptTokens: 1, completionTokens: 0, costMicros: 0 }),
      record({ createdAt: T0 + 2 * 86_400_000, promptTokens: 1, completionTokens: 0, costMicros: 0 }),
      record({ createdAt: T0 + 2 * 86_400_000, promptTokens: 1, completionTokens: 0, costMicros: 0 }),
    ]);
  });

  it('totals and hourly buckets for an account over a range', async () => {
    const res = await call('GET', `/usage?account_id=${account.id}&start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z&bucket=hour`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      object: 'usage',
      account_id: account.id,
      key_id: null,
      model: null,
      start: Date.UTC(2025, 0, 1) / 1000,
      end: Date.UTC(2025, 0, 2) / 1000,
      bucket: 'hour',
      totals: { requests: 3, prompt_tokens: 31, cached_tokens: 4, completion_tokens: 13, reasoning_tokens: 1, total_tokens: 44, cost_micros: 301, cost: '0.000301' },
      buckets: [
        { start: T0 / 1000, requests: 2, prompt_tokens: 30, cached_tokens: 4, completion_tokens: 12, reasoning_tokens: 0, total_tokens: 42, cost_micros: 300, cost: '0.000300' },
        { start: T0 / 1000 + 3600, requests: 1, prompt_tokens: 1, cached_tokens: 0, completion_tokens: 1, reasoning_tokens: 1, total_tokens: 2, cost_micros: 1, cost: '0.000001' },
      ],
    });
  });

  it('by minute, by day (the default), per key, per model (an alias finds the catalog id), by name, in unix seconds', async () => {
    const minute = await call('GET', `/usage?account_id=${account.id}&start=2025-01-01&end=2025-01-02&bucket=minute`);
    expect(minute.body.buckets.map((b: any) => [b.start - T0 / 1000, b.requests])).toEqual([
      [0, 2],
      [3900, 1],
    ]);
    const day = await call('GET', `/usage?account_id=${encodeURIComponent(account.name)}`);
    expect(day.body.bucket).toBe('day');
    expect(day.body.start).toBeNull();
    expect(day.body.buckets.map((b: any) => [b.start, b.requests])).toEqual([
      [Date.UTC(2025, 0, 1) / 1000, 3],
      [Date.UTC(2025, 0, 2) / 1000, 1],
      [Date.UTC(2025, 0, 3) / 1000, 3],
    ]);
    expect(day.body.totals.requests).toBe(7);
    const key = await call('GET', `/usage?account_id=${account.id}&key_id=key_two`);
    expect(key.body.totals).toMatchObject({ requests: 1, cost_micros: 1 });
    const alias = await call('GET', `/usage?account_id=${account.id}&model=simulator-chat`);
    expect(alias.body.model).toBe('sim-chat');
    expect(alias.body.totals.requests).toBe(6);
    const embed = await call('GET', `/usage?account_id=${account.id}&model=sim-embed`);
    expect(embed.body.totals).toMatchObject({ requests: 1, prompt_tokens: 100, cost_micros: 2 });
    const unix = await call('GET', `/usage?account_id=${account.id}&start=${T0 / 1000}&end=${T0 / 1000 + 30.001}`);
    expect(unix.body.totals.requests).toBe(2);
    expect(unix.body.end).toBe(T0 / 1000 + 30.001);
    const exclusiveEnd = await call('GET', `/usage?account_id=${account.id}&start=${T0 / 1000}&end=${T0 / 1000 + 30}`);
    expect(exclusiveEnd.body.totals.requests).toBe(1);
    const everyone = await call('GET', `/usage?start=2025-01-01T10:00:00Z&end=2025-01-01T10:00:00.001Z`);
    expect(everyone.body.totals).toMatchObject({ requests: 2, cost_micros: 5100 });
  });

  it('bad usage queries are 400 naming the parameter; an unknown account 404', async () => {
    for (const [query, param] of [
      ['bucket=week', 'bucket'],
      ['start=garbage', 'start'],
      ['start=2025-01-01T10:00', 'start'],
      ['end=2025-13-01', 'end'],
      ['start=2025-01-02&end=2025-01-01', 'end'],
      ['start=2025-01-01&end=2025-01-01', 'end'],
      ['model=', 'model'],
      ['key_id=a&key_id=b', 'key_id'],
      ['limit=5', 'limit'],
    ] as const) {
      expect400(await call('GET', `/usage?${query}`), param);
    }
    expect404(await call('GET', '/usage?account_id=nobody'), 'account_id');
  });

  it('lists usage records newest first and pages without losing records that share a millisecond', async () => {
    const all = await call('GET', `/usage/records?account_id=${account.id}`);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ object: 'list', has_more: false, next_before: null });
    expect(all.body.data).toHaveLength(7);
    expect(all.body.data[6]).toMatchObject({
      object: 'usage_record',
      account_id: account.id,
      key_id: 'key_one',
      model: 'sim-chat',
      created_at: T0 / 1000,
      created_at_ms: T0,
      prompt_tokens: 10,
      completion_tokens: 5,
      cost_micros: 100,
      cost: '0.000100',
      stream: false,
      status: 200,
      settle: 'complete',
    });
    const times = all.body.data.map((r: any) => r.created_at_ms);
    expect([...times].sort((x: number, y: number) => y - x)).toEqual(times);

    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let before: number | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const page = await call('GET', `/usage/records?account_id=${account.id}&limit=${limit}${before === null ? '' : `&before=${before}`}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((r: any) => r.id));
        if (!page.body.has_more) break;
        before = page.body.next_before;
      }
      expect(seen, `limit ${limit}`).toEqual(all.body.data.map((r: any) => r.id));
    }

    const filtered = await call('GET', `/usage/records?account_id=${account.id}&model=sim-embed`);
    expect(filtered.body.data.map((r: any) => r.model)).toEqual(['sim-embed']);
    const ranged = await call('GET', `/usage/records?account_id=${account.id}&start=2025-01-01T10:00:00Z&end=2025-01-01T11:00:00Z`);
    expect(ranged.body.data).toHaveLength(2);
  });

  it('bad record queries are 400 naming the parameter', async () => {
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['before=soon', 'before'],
      ['bucket=hour', 'bucket'],
      ['end=x', 'end'],
    ] as const) {
      expect400(await call('GET', `/usage/records?${query}`), param);
    }
    expect404(await call('GET', '/usage/records?account_id=nobody'), 'account_id');
  });
});
