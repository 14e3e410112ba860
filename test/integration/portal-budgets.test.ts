// Billing modes and budgets through the portal's JSON API (issue 18 item 1) against a real gateway: a
// member reads the account's mode and budgets with the period's spend; the portal admin sets and clears an
// account's and a key's budget and the billing mode — through the admin operations, so the gateway
// enforces them at once — with the portal's error shape naming the field, and nobody else may.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';

/** JSON answers, read field by field. */
type J = any;

/** A browser's worth of state: the session cookie and its CSRF token. */
class Person {
  cookie: string | undefined;
  csrf: string | undefined;
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, opts: { csrf?: string | null } = {}): Promise<{ status: number; body: J }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (csrf) headers['x-csrf-token'] = csrf;
    const res = await fetch(`${this.base}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await res.text();
    const parsed: J = text ? JSON.parse(text) : null;
    if (parsed && typeof parsed.csrf_token === 'string') this.csrf = parsed.csrf_token;
    return { status: res.status, body: parsed };
  }
}

let gw: TestGateway;
let admin: Person;
let seq = 0;

async function signUp(): Promise<{ person: Person; accountId: string; session: J }> {
  const person = new Person(gw.url);
  const res = await person.call('POST', '/session/signup', { email: `budget-${process.pid}-${++seq}@example.com`, password: 'correct horse battery' });
  expect(res.status).toBe(201);
  return { person, accountId: res.body.account.id, session: res.body };
}

async function newKey(person: Person, name: string): Promise<{ id: string; key: string }> {
  const res = await person.call('POST', '/keys', { name });
  expect(res.status).toBe(201);
  return res.body;
}

beforeAll(async () => {
  gw = await startTestGateway(testConfig());
  admin = new Person(gw.url);
  expect((await admin.call('POST', '/session/admin', { token: gw.adminToken })).status).toBe(200);
}, 30_000);

afterAll(async () => {
  await gw?.close();
});

describe('portal: billing modes and budgets', () => {
  it('the admin sets an account budget, a key budget and postpaid; the member sees them and the spend moves; cleared again', async () => {
    const { person, accountId, session } = await signUp();
    const key = await newKey(person, 'metered');
    // A new account follows its tier's mode: the embedded default's prepaid.
    expect(session.account.billing_mode).toBe('prepaid');
    expect(session.account.billing).toBeNull();
    const empty = await person.call('GET', '/budgets');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ account_id: accountId, billing_mode: 'prepaid', billing: null, data: [] });

    // Postpaid, set on the account.
    const patched = await admin.call('PATCH', `/admin/accounts/${accountId}`, { billing: 'postpaid' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ billing: 'postpaid', billing_mode: 'postpaid' });
    expect((await person.call('GET', '/session')).body.account.billing_mode).toBe('postpaid');

    const set = await admin.call('PUT', `/admin/accounts/${accountId}/budget`, { limit: '5.00', soft_limit: '4', period: 'day', reset_time: '06:30', time_zone: 'Europe/Berlin' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ scope: 'account', account_id: accountId, key_id: null, limit_micros: 5_000_000, soft_limit_micros: 4_000_000, period: 'day', reset_time: '06:30', time_zone: 'Europe/Berlin' });
    const resetsAt = set.body.current_period.resets_at as number;
    expect(resetsAt * 1000).toBeGreaterThan(Date.now());
    expect(resetsAt * 1000).toBeLessThanOrEqual(Date.now() + 25 * 3_600_000);
    // 06:30 in Berlin is 04:30 or 05:30 UTC.
    expect(new Date(resetsAt * 1000).toISOString()).toMatch(/T0[45]:30:00/);
    const keySet = await admin.call('PUT', `/admin/keys/${key.id}/budget`, { limit: '2.50', period: 'month' });
    expect(keySet.status).toBe(200);
    expect(keySet.body).toMatchObject({ scope: 'key', key_id: key.id, key_name: 'metered', limit_micros: 2_500_000, soft_limit: null, reset_time: '00:00', time_zone: 'UTC' });

    const seen = await person.call('GET', '/budgets');
    expect(seen.body.billing_mode).toBe('postpaid');
    expect(seen.body.data.map((b: J) => b.scope)).toEqual(['account', 'key']);
    const spentOf = (body: J, scope: string) => body.data.find((b: J) => b.scope === scope).current_period.spent_micros as number;
    expect(spentOf(seen.body, 'account')).toBe(0);
    expect(spentOf(seen.body, 'key')).toBe(0);
    // The admin's view of the account lists the same.
    const adminSeen = await admin.call('GET', `/admin/accounts/${accountId}/budgets`);
    expect(adminSeen.status).toBe(200);
    expect(adminSeen.body.data).toHaveLength(2);

    // Priced requests: their cost lands in both budgets' current period; a postpaid balance is not debited.
    const balanceBefore = session.account.balance_micros as number;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.key, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: `count ${i}` }], max_tokens: 16 }).withResponse();
      expect(response.headers.get('x-floodgate-budget-remaining')).toBeTruthy();
    }
    await gw.flushUsage();
    const after = await person.call('GET', '/budgets');
    const spent = spentOf(after.body, 'account');
    expect(spent).toBeGreaterThan(0);
    expect(spentOf(after.body, 'key')).toBe(spent);
    const accountBudget = after.body.data.find((b: J) => b.scope === 'account');
    expect(accountBudget.current_period.remaining_micros).toBe(5_000_000 - spent);
    expect((await person.call('GET', '/session')).body.account.balance_micros).toBe(balanceBefore);

    // A key budget the admin lowers to nothing refuses the next request at once.
    expect((await admin.call('PUT', `/admin/keys/${key.id}/budget`, { limit: 0, period: 'month' })).status).toBe(200);
    const refused = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'more' }], max_tokens: 16 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('budget_exceeded');

    // Cleared: both gone, the mode back to the tier's; clearing again is a 404.
    const cleared = await admin.call('DELETE', `/admin/keys/${key.id}/budget`);
    expect(cleared.body).toMatchObject({ scope: 'key', key_id: key.id, deleted: true });
    expect((await admin.call('DELETE', `/admin/accounts/${accountId}/budget`)).status).toBe(200);
    expect((await admin.call('DELETE', `/admin/accounts/${accountId}/budget`)).status).toBe(404);
    expect((await admin.call('PATCH', `/admin/accounts/${accountId}`, { billing: null })).body).toMatchObject({ billing: null, billing_mode: 'prepaid' });
    expect((await person.call('GET', '/budgets')).body).toMatchObject({ billing_mode: 'prepaid', data: [] });
    await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'free again' }], max_tokens: 4 });
  }, 30_000);

  it('bad input is a 400 in the portal error shape, naming the field', async () => {
    const { accountId } = await signUp();
    const cases: [unknown, string][] = [
      [{ limit: 'lots', period: 'day' }, 'limit'],
      [{ limit: '-1', period: 'day' }, 'limit'],
      [{ period: 'day' }, 'limit'],
      [{ limit: '1', soft_limit: '2', period: 'day' }, 'soft_limit'],
      [{ limit: '1', period: 'fortnight' }, 'period'],
      [{ limit: '1', period: 'day', reset_time: '25:00' }, 'reset_time'],
      [{ limit: '1', period: 'day', time_zone: 'Mars/Olympus' }, 'time_zone'],
      [{ limit: '1', period: 'day', colour: 'red' }, 'colour'],
    ];
    for (const [body, param] of cases) {
      const res = await admin.call('PUT', `/admin/accounts/${accountId}/budget`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
      expect(res.body.error.param, JSON.stringify(res.body)).toBe(param);
      expect(res.body.error.message).toBeTruthy();
    }
    const mode = await admin.call('PATCH', `/admin/accounts/${accountId}`, { billing: 'free' });
    expect(mode.status).toBe(400);
    expect(mode.body.error.param).toBe('billing');
    // Unknown owners are 404s; nothing was set by any of the above.
    expect((await admin.call('PUT', '/admin/keys/key_nope/budget', { limit: '1', period: 'day' })).status).toBe(404);
    expect((await admin.call('PUT', '/admin/accounts/acct_nope/budget', { limit: '1', period: 'day' })).status).toBe(404);
    expect((await admin.call('GET', `/admin/accounts/${accountId}/budgets`)).body.data).toEqual([]);
  });

  it('only the portal admin sets budgets and modes: members are refused, and a change needs the CSRF token', async () => {
    const { person, accountId } = await signUp();
    const key = await newKey(person, 'mine');
    const budget = { limit: '100', period: 'month' };
    for (const [method, path, body] of [
      ['PUT', `/admin/accounts/${accountId}/budget`, budget],
      ['DELETE', `/admin/accounts/${accountId}/budget`, undefined],
      ['PUT', `/admin/keys/${key.id}/budget`, budget],
      ['DELETE', `/admin/keys/${key.id}/budget`, undefined],
      ['PATCH', `/admin/accounts/${accountId}`, { billing: 'postpaid' }],
      ['GET', `/admin/accounts/${accountId}/budgets`, undefined],
    ] as const) {
      const res = await person.call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    // The member's own API has no way to write a budget.
    expect((await person.call('PUT', '/budget', budget)).status).toBe(404);
    // Without a session: 401; the admin without the CSRF token: 403 and nothing set.
    expect((await new Person(gw.url).call('GET', '/budgets')).status).toBe(401);
    expect((await new Person(gw.url).call('PUT', `/admin/accounts/${accountId}/budget`, budget)).status).toBe(401);
    const noCsrf = await admin.call('PUT', `/admin/accounts/${accountId}/budget`, budget, { csrf: null });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('csrf_failed');
    expect((await admin.call('PATCH', `/admin/accounts/${accountId}`, { billing: 'postpaid' }, { csrf: null })).status).toBe(403);
    const seen = await person.call('GET', '/budgets');
    expect(seen.body).toMatchObject({ billing_mode: 'prepaid', data: [] });
  });

  it("a member sees only the chosen account's budgets", async () => {
    const a = await signUp();
    const b = await signUp();
    expect((await admin.call('PUT', `/admin/accounts/${b.accountId}/budget`, { limit: '7', period: 'week' })).status).toBe(200);
    expect((await a.person.call('GET', '/budgets')).body.data).toEqual([]);
    const other = await fetch(`${gw.url}/api/budgets`, { headers: { cookie: a.person.cookie!, 'x-floodgate-account': b.accountId } });
    expect(other.status).toBe(403);
    expect((await b.person.call('GET', '/budgets')).body.data[0]).toMatchObject({ scope: 'account', limit_micros: 7_000_000, period: 'week' });
  });
});
