// Postpaid accounts and budgets (SPEC §10, issue 18): a budget's remainder is reserved and settled like a
// balance, so 200 concurrent requests admit only what fits, the spend recorded is the records' costs to
// the micro-unit, and the next period (the clock moved) starts fresh — on the embedded default, and on
// three instances sharing PostgreSQL and Redis. Also: a prepaid account with a budget (two holds at once),
// an account's budget and a key's together, the 402's wording and the remaining-budget header.
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import { adminJson, startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { usageRecordsOf } from '../helpers/usage.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { formatMicros } from '../../src/admin/money.js';

const ADMIN_TOKEN = 'budgets-admin-token-0123456789abcdef';
/** Per million tokens: with 50 output tokens a request may cost up to ~$0.021, so $1.00 holds 47. */
const PRICING = { input: 100, output: 400 };
const MESSAGES = [{ role: 'user' as const, content: 'Say something.' }];
const MAX_TOKENS = 50;
const MAX_COST = maxCostMicros(modelPrices(PRICING), countChatPromptTokens(MESSAGES), MAX_TOKENS);
const DAY_MS = 86_400_000;

/**
 * The `default` tier has a limit far out of reach, so that with Redis a request with one hold (a postpaid
 * key's budget) takes its limits and its reservation in one script; `shop` has none, so its holds go the
 * separate way (the reservation of several entries).
 */
function budgetConfig(overrides: Partial<RawConfig> = {}): RawConfig {
  const config = testConfig({ auth: { admin_token: ADMIN_TOKEN, pepper: 'budgets-pepper-0123456789abcdef0123' }, billing: { mode: 'postpaid', tiers: { shop: 'prepaid' } }, limits: { default_tier: 'default', tiers: { default: { requests_per_minute: 1_000_000 }, shop: {} } }, logging: { level: 'warn' }, ...overrides });
  // Slow enough that every request of a burst is admitted before the first one settles.
  config.providers.slow = { type: 'simulator', ttft_ms: 1500, tokens_per_second: 0, output_tokens: [20, 40] };
  config.models.push({ id: 'priced-chat', category: 'text', defaults: { max_tokens: MAX_TOKENS }, capabilities: ['chat'], pricing: PRICING, deployments: [{ provider: 'slow' }] });
  return config;
}

function admin(base: string, method: string, path: string, body?: unknown): Promise<any> {
  return adminJson(base, ADMIN_TOKEN, method, path, body);
}

interface Outcome {
  ok: number;
  refused: InstanceType<typeof OpenAI.APIError>[];
  remaining: string[];
}

/** `n` concurrent chat requests spread over the clients; what came back. */
async function burst(clients: OpenAI[], n: number): Promise<Outcome> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => clients[i % clients.length].chat.completions.create({ model: 'priced-chat', messages: MESSAGES }).withResponse()),
  );
  const out: Outcome = { ok: 0, refused: [], remaining: [] };
  for (const r of results) {
    if (r.status === 'fulfilled') {
      out.ok++;
      out.remaining.push(r.value.response.headers.get('x-floodgate-budget-remaining') ?? '');
    } else if (r.reason instanceof OpenAI.APIError) out.refused.push(r.reason);
    else throw r.reason;
  }
  return out;
}

function clientsFor(gateways: TestGateway[], apiKey: string): OpenAI[] {
  return gateways.map((g) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey, maxRetries: 0 }));
}

/** The same scenarios on one embedded gateway and on three sharing PostgreSQL and Redis. */
describe.each([
  { mode: 'embedded', instances: 1 },
  { mode: 'postgres+redis', instances: 3 },
])('budgets ($mode)', ({ mode, instances }) => {
  let gateways: TestGateway[] = [];
  let db: TestDatabase | undefined;
  let prefix: string | undefined;
  let base: string;

  beforeAll(async () => {
    let config = budgetConfig();
    if (mode !== 'embedded') {
      db = await createTestDatabase('budgets');
      prefix = uniquePrefix('budgets');
      config = budgetConfig({ store: { url: db.url }, redis: { url: SHARED_REDIS_URL, key_prefix: prefix } });
    }
    gateways = [await startTestGateway(config)];
    for (let i = 1; i < instances; i++) gateways.push(await startTestGateway(config));
    base = gateways[0].url;
  }, 60_000);

  afterAll(async () => {
    vi.useRealTimers();
    for (const g of gateways) await g.close();
    if (prefix !== undefined) await deletePrefix(prefix);
    await db?.drop();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const flushAll = () => Promise.all(gateways.map((g) => g.flushUsage()));

  it('a postpaid key with a $1.00 daily budget: 200 concurrent requests admit only what fits, spend is exact, the next day is fresh', async () => {
    // Date alone is faked (timers run as usual): it moves with real time until the test moves it a day.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const account = await gateways[0].createAccount();
    const key = await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit: '1.00', soft_limit: '0.50', period: 'day' });
    expect(key).toMatchObject({ object: 'budget', scope: 'key', key_id: account.keyId, limit: '1.000000', period: 'day', reset_time: '00:00', time_zone: 'UTC', current_period: { spent_micros: 0 } });
    const acct = await admin(base, 'GET', `/accounts/${account.accountId}`);
    expect(acct).toMatchObject({ billing: null, billing_mode: 'postpaid', balance_micros: 0 });

    const fits = Math.floor(1_000_000 / MAX_COST);
    const first = await burst(clientsFor(gateways, account.apiKey), 200);
    expect(first.ok).toBe(fits);
    expect(first.refused).toHaveLength(200 - fits);
    const resetsAt = new Date(Math.floor(Date.now() / DAY_MS + 1) * DAY_MS).toISOString();
    for (const err of first.refused) {
      expect(err.status).toBe(402);
      expect(err.code).toBe('budget_exceeded');
      expect(err.type).toBe('insufficient_quota');
      expect(err.message).toContain("this API key's daily budget of $1.000000");
      expect(err.message).toContain(`resets at ${resetsAt}`);
    }
    // Each admitted response says what the budget had left once its maximum was held.
    for (const r of first.remaining) expect(r).toMatch(/^\d+\.\d{6}$/);
    expect(Math.min(...first.remaining.map(Number))).toBeLessThan(MAX_COST / 1e6);

    await flushAll();
    const records = await usageRecordsOf(gateways[0], account.accountId);
    expect(records).toHaveLength(fits);
    const spent = records.reduce((sum, r) => sum + r.costMicros, 0);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(1_000_000);
    const shown = await admin(base, 'GET', `/keys/${account.keyId}/budget`);
    expect(shown.current_period.spent_micros).toBe(spent);
    expect(shown.current_period.remaining_micros).toBe(1_000_000 - spent);
    // Postpaid: the costs were recorded, nothing was taken from the balance.
    const after = await admin(base, 'GET', `/accounts/${account.accountId}`);
    expect(after.balance_micros).toBe(0);

    // A day later the budget is fresh: its period is another entry, with nothing spent.
    vi.setSystemTime(Date.now() + DAY_MS);
    const next = await burst(clientsFor(gateways, account.apiKey), 5);
    expect(next.ok).toBe(5);
    await flushAll();
    const nextDay = await admin(base, 'GET', `/keys/${account.keyId}/budget`);
    expect(nextDay.current_period.start * 1000).toBeGreaterThan(shown.current_period.start * 1000);
    const all = await usageRecordsOf(gateways[0], account.accountId);
    const today = all.filter((r) => r.createdAt >= nextDay.current_period.start * 1000);
    expect(today).toHaveLength(5);
    expect(nextDay.current_period.spent_micros).toBe(today.reduce((sum, r) => sum + r.costMicros, 0));
  }, 60_000);

  it('requests in flight when the period turns count for the day they were admitted in; the new day holds its own', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const account = await gateways[0].createAccount();
    await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 5 * MAX_COST, period: 'day' });
    const clients = clientsFor(gateways, account.apiKey);
    // Five admitted (the slow backend holds them ~1.5 s), then the clock moves to the next day. Whether
    // they have ended by then does not matter: each counts for the day it was admitted in.
    const yesterday = burst(clients, 5);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await admin(base, 'GET', `/keys/${account.keyId}/budget`);
    vi.setSystemTime(Date.now() + DAY_MS);
    // The new day's five fit, however yesterday's end: their reservations hold yesterday's entry.
    const today = await burst(clients, 7);
    expect((await yesterday).ok).toBe(5);
    expect(today.ok).toBe(5);
    await flushAll();
    const after = await admin(base, 'GET', `/keys/${account.keyId}/budget`);
    const records = await usageRecordsOf(gateways[0], account.accountId);
    const start = after.current_period.start * 1000;
    expect(start).toBe(before.current_period.start * 1000 + DAY_MS);
    expect(after.current_period.spent_micros).toBe(records.filter((r) => r.createdAt >= start).reduce((sum, r) => sum + r.costMicros, 0));
    expect(records.filter((r) => r.createdAt < start)).toHaveLength(5);
  }, 60_000);

  it('a raised limit applies at once, on every instance', async () => {
    const account = await gateways[0].createAccount();
    await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 2 * MAX_COST, period: 'month' });
    const clients = clientsFor(gateways, account.apiKey);
    expect((await burst(clients, 4)).ok).toBe(2);
    // Raised through the last instance's admin API: the others see it on their next request, not a second later.
    await admin(gateways.at(-1)!.url, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 6 * MAX_COST, period: 'month' });
    const more = await burst(clients, 6);
    expect(more.ok).toBe(4);
    expect(more.refused.every((e) => e.code === 'budget_exceeded')).toBe(true);
  }, 60_000);

  it.runIf(mode !== 'embedded')('Redis keeps a budget period\'s record a week past its last use, an account\'s for good', async () => {
    const account = await gateways[0].createAccount({ tier: 'shop', creditMicros: 1_000_000 });
    await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit: '1.00', period: 'day' });
    expect((await burst(clientsFor(gateways, account.apiKey), 2)).ok).toBe(2);
    const redis = new Redis(SHARED_REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}*${account.keyId}*`);
      expect(keys.some((k) => k.startsWith(`${prefix}bal:b:${account.keyId}:day:`))).toBe(true);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        expect(ttl, key).toBeGreaterThan(6 * DAY_MS);
        expect(ttl, key).toBeLessThanOrEqual(7 * DAY_MS);
      }
      expect(await redis.pttl(`${prefix}bal:${account.accountId}`)).toBe(-1);
    } finally {
      redis.disconnect();
    }
  });

  it('a prepaid account with a budget holds both: the tighter refuses, the balance pays exactly what the budget counts', async () => {
    const account = await gateways[0].createAccount({ tier: 'shop', creditMicros: 5_000_000 });
    await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 10 * MAX_COST, period: 'none' });
    const out = await burst(clientsFor(gateways, account.apiKey), 30);
    expect(out.ok).toBe(10);
    expect(out.refused.every((e) => e.status === 402 && e.code === 'budget_exceeded')).toBe(true);
    expect(out.refused[0].message).toContain("this API key's total budget");
    expect(out.refused[0].message).toContain('does not reset');
    await flushAll();
    const spent = (await usageRecordsOf(gateways[0], account.accountId)).reduce((sum, r) => sum + r.costMicros, 0);
    const acct = await admin(base, 'GET', `/accounts/${account.accountId}`);
    expect(acct.billing_mode).toBe('prepaid');
    expect(acct.balance_micros).toBe(5_000_000 - spent);
    expect((await admin(base, 'GET', `/keys/${account.keyId}/budget`)).current_period.spent_micros).toBe(spent);

    // The balance binds when it is the tighter: 402 insufficient_balance, and the budget is not charged for it.
    const poor = await gateways[0].createAccount({ tier: 'shop', creditMicros: 3 * MAX_COST });
    await admin(base, 'PUT', `/accounts/${poor.accountId}/budget`, { limit: '100', period: 'month', time_zone: 'Europe/Berlin', reset_time: '06:00' });
    const refused = await burst(clientsFor(gateways, poor.apiKey), 8);
    expect(refused.ok).toBe(3);
    expect(refused.refused.every((e) => e.status === 402 && e.code === 'insufficient_balance')).toBe(true);
  }, 60_000);

  it("an account's budget and a key's together: the account's caps all its keys", async () => {
    const account = await gateways[0].createAccount();
    const second = await admin(base, 'POST', `/accounts/${account.accountId}/keys`, {});
    await admin(base, 'PUT', `/accounts/${account.accountId}/budget`, { limit_micros: 6 * MAX_COST, period: 'week' });
    await admin(base, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 4 * MAX_COST, period: 'day' });
    const [a, b] = await Promise.all([burst(clientsFor(gateways, account.apiKey), 10), burst(clientsFor(gateways, second.key), 10)]);
    expect(a.ok).toBeLessThanOrEqual(4);
    expect(a.ok + b.ok).toBe(6);
    const messages = [...a.refused, ...b.refused].map((e) => e.message);
    expect(messages.some((m) => m.includes("this account's weekly budget"))).toBe(true);
    const list = await admin(base, 'GET', `/accounts/${account.accountId}/budgets`);
    expect(list.data.map((x: { scope: string }) => x.scope)).toEqual(['account', 'key']);
    // Removing the key's budget: the account's still applies.
    await admin(base, 'DELETE', `/keys/${account.keyId}/budget`);
    const res = await fetch(`${base}/admin/v1/keys/${account.keyId}/budget`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(404);
  }, 60_000);
});

describe('budget input', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(budgetConfig());
  });
  afterAll(async () => {
    await gw.close();
  });

  it('refuses bad budgets with the field named', async () => {
    const account = await gw.createAccount();
    const put = (body: unknown) =>
      fetch(`${gw.url}/admin/v1/accounts/${account.accountId}/budget`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const cases: [unknown, string | null][] = [
      [{ period: 'day' }, 'limit'],
      [{ limit: '1', period: 'year' }, 'period'],
      [{ limit: '-1', period: 'day' }, 'limit'],
      [{ limit: '1.0000001', period: 'day' }, 'limit'],
      [{ limit: '1', soft_limit: '2', period: 'day' }, 'soft_limit'],
      [{ limit: '1', period: 'day', reset_time: '25:00' }, 'reset_time'],
      [{ limit: '1', period: 'day', time_zone: 'Mars/Olympus' }, 'time_zone'],
      [{ limit: '1', limit_micros: 1, period: 'day' }, 'limit_micros'],
      [{ limit: '1', period: 'day', extra: true }, null],
    ];
    for (const [body, param] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      if (param !== null) expect(res.body.error.param, JSON.stringify(body)).toBe(param);
    }
    const missing = await fetch(`${gw.url}/admin/v1/keys/key_nope/budget`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(missing.status).toBe(404);
  });
});

describe('budget and balance alerts', () => {
  const secret = `whsec_${Buffer.from('budget-alerts-secret-0123456789ab').toString('base64')}`;
  let gw: TestGateway;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver(secret);
    gw = await startTestGateway(budgetConfig({ alerts: { balance_low: '0.05', backoff_ms: 50, webhooks: [{ url: receiver.url, secret, events: ['budget.threshold_reached', 'budget.exhausted', 'balance.low'] }] } }));
  });
  afterAll(async () => {
    await gw.close();
    await receiver.close();
  });

  const ofType = (type: string) => receiver.verified.filter((d) => d.payload.type === type);

  it('a budget crossing its soft threshold, a budget exhausted, a balance running low: each delivered once, signed', async () => {
    const account = await gw.createAccount();
    await admin(gw.url, 'PUT', `/keys/${account.keyId}/budget`, { limit_micros: 6 * MAX_COST, soft_limit_micros: 2 * MAX_COST, period: 'day', time_zone: 'Europe/Berlin' });
    // Sequential bursts: the threshold is crossed by settled spend, the refusals say it is exhausted.
    for (let round = 0; round < 3; round++) await burst([gw.client.withOptions({ apiKey: account.apiKey })], 4);
    await gw.flushUsage();
    await until(() => ofType('budget.threshold_reached').length > 0 && ofType('budget.exhausted').length > 0);
    // Later batches and refusals see the same crossings: no second delivery.
    await burst([gw.client.withOptions({ apiKey: account.apiKey })], 3);
    await gw.flushUsage();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ofType('budget.threshold_reached')).toHaveLength(1);
    expect(ofType('budget.exhausted')).toHaveLength(1);
    const threshold = ofType('budget.threshold_reached')[0];
    expect(threshold.headers['webhook-id']).toBe(threshold.payload.id);
    expect(threshold.payload.data).toMatchObject({
      budget: { scope: 'key', account_id: account.accountId, key_id: account.keyId, limit: formatMicros(6 * MAX_COST), soft_limit: formatMicros(2 * MAX_COST), period: 'day', reset_time: '00:00', time_zone: 'Europe/Berlin' },
    });
    expect(Number(threshold.payload.data.spent)).toBeGreaterThanOrEqual((2 * MAX_COST) / 1e6 / 2);
    expect(threshold.payload.data.resets_at).toMatch(/T2[23]:00:00\.000Z$/);

    // A prepaid account falling below alerts.balance_low (0.05).
    const shop = await gw.createAccount({ tier: 'shop', creditMicros: 60_000 });
    await burst([gw.client.withOptions({ apiKey: shop.apiKey })], 2);
    await gw.flushUsage();
    await until(() => ofType('balance.low').length > 0);
    await burst([gw.client.withOptions({ apiKey: shop.apiKey })], 1);
    await gw.flushUsage();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const low = ofType('balance.low');
    expect(low).toHaveLength(1);
    expect(low[0].payload.data).toMatchObject({ account_id: shop.accountId, threshold: '0.050000' });
    expect(Number(low[0].payload.data.balance)).toBeLessThan(0.05);
  }, 60_000);
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
