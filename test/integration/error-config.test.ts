// Errors worded by config (issue 15): `errors:` per catalog name, `doc_urls` per kind, and
// `unsupported_endpoints`; the status stays the catalog's and the envelope stays OpenAI's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { rawRequest, startTestGateway, testConfig, PASS_THROUGH_ROUTING, type TestGateway } from '../helpers/gateway.js';

let flow: TestGateway;
let flex: TestGateway;

const KEYS_DOC = 'https://tokens.flex.ai/dashboard/keys';
const BILLING_DOC = 'https://tokens.flex.ai/dashboard/billing';
const LIMITS_DOC = 'https://tokens.flex.ai/docs/limits';

beforeAll(async () => {
  // FlowAPI's documented auth error, word for word.
  const flowConfig = testConfig();
  flowConfig.errors = { invalid_api_key: { message: 'Missing or invalid Bearer API key.', type: 'invalid_api_key', code: '401' } };

  const flexConfig = testConfig({
    limits: { default_tier: 'default', tiers: { default: { requests_per_minute: 100_000 }, tiny: { requests_per_minute: 1 } } },
  });
  flexConfig.auth = { doc_url: 'https://tokens.flex.ai/docs' };
  flexConfig.doc_urls = { keys: KEYS_DOC, billing: BILLING_DOC, limits: LIMITS_DOC };
  flexConfig.errors = {
    invalid_api_key: { message: 'Invalid API key. Create one from the dashboard.' },
    insufficient_balance: { message: 'Your balance is too low. Add credit in the dashboard. ({message})' },
    rate_limit_exceeded: { message: 'Slow down: {message}' },
    upstream_error: { message: 'The model stopped answering. Retry shortly.' },
  };
  flexConfig.unsupported_endpoints = {
    '/v1/fine_tuning': 'Use FlexAI Fine-Tuning instead.',
    '/v1/images/edits': 'FLUX.1-Kontext-dev reserved for future image editing support.',
  };
  flexConfig.providers.breaking = { type: 'simulator', ttft_ms: 0, tokens_per_second: 0, output_tokens: [20, 20], faults: { break_after_tokens: 3 } };
  flexConfig.models.push(
    { id: 'priced-chat', category: 'text', defaults: { max_tokens: 50 }, capabilities: ['chat'], pricing: { input: 1, output: 2 }, deployments: [{ provider: 'sim' }] },
    { id: 'breaking-chat', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'breaking' }] },
  );
  flexConfig.routing = PASS_THROUGH_ROUTING;
  [flow, flex] = await Promise.all([startTestGateway(flowConfig), startTestGateway(flexConfig)]);
});

afterAll(async () => {
  await Promise.all([flow?.close(), flex?.close()]);
});

const user = { role: 'user', content: 'hi' };

function chat(gw: TestGateway, key: string | null, json: Record<string, unknown>) {
  return rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: key === null ? {} : { authorization: `Bearer ${key}` }, json });
}

describe('configured error wording', () => {
  it("gives FlowAPI's documented 401 body, status kept, for a missing and for an unknown key", async () => {
    for (const key of [null, 'fk-not-a-real-key-at-all-000000000000']) {
      const res = await chat(flow, key, { model: 'sim-chat', messages: [user] });
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({ error: { message: 'Missing or invalid Bearer API key.', type: 'invalid_api_key', param: null, code: '401' } });
    }
  });

  it("gives FlexAI's documented 401 body, with the keys doc_url", async () => {
    const res = await chat(flex, 'fk-not-a-real-key-at-all-000000000000', { model: 'sim-chat', messages: [user] });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: { message: 'Invalid API key. Create one from the dashboard.', type: 'authentication_error', param: null, code: 'invalid_api_key', doc_url: KEYS_DOC } });
  });

  it('words the 402 as configured, keeps the amounts, and points at the billing page', async () => {
    const acct = await flex.createAccount();
    const res = await chat(flex, acct.apiKey, { model: 'priced-chat', messages: [user] });
    expect(res.status).toBe(402);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const error = res.json().error;
    expect(error.message).toMatch(/^Your balance is too low\. Add credit in the dashboard\. \(Your balance cannot cover this request: .* is available\. Add credit to the account \(in the dashboard, or ask your administrator\), or lower max_tokens\.\)$/);
    expect(error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_balance', doc_url: BILLING_DOC });
  });

  it('puts the limits doc_url on a 429, whose message still names the limit', async () => {
    const acct = await flex.createAccount({ tier: 'tiny', creditMicros: 1_000_000 });
    expect((await chat(flex, acct.apiKey, { model: 'sim-chat', messages: [user] })).status).toBe(200);
    const res = await chat(flex, acct.apiKey, { model: 'sim-chat', messages: [user] });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).not.toBeNull();
    const error = res.json().error;
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded', doc_url: LIMITS_DOC });
    expect(error.message).toMatch(/^Slow down: Rate limit reached for requests.*1 requests/);
  });

  it('leaves errors nobody configured as the catalog words them, doc_url only on the kinds that carry one', async () => {
    const res = await chat(flex, flex.apiKey, { model: 'no-such-model', messages: [user] });
    expect(res.status).toBe(404);
    expect(res.json().error.code).toBe('model_not_found');
    expect(res.json().error.doc_url).toBeUndefined();
    const bad = await chat(flex, flex.apiKey, { model: 'sim-chat', messages: [{ role: 'nobody', content: 'hi' }] });
    expect(bad.status).toBe(400);
    expect(bad.json().error.param).toBe('messages[0].role');
  });

  it("answers unsupported endpoints with the operator's message", async () => {
    const tuning = await rawRequest(`${flex.url}/v1/fine_tuning/jobs`, { method: 'POST', headers: { authorization: `Bearer ${flex.apiKey}` }, json: {} });
    expect(tuning.status).toBe(404);
    expect(tuning.json().error).toMatchObject({ message: 'Use FlexAI Fine-Tuning instead.', code: 'unsupported_endpoint' });
    const edits = await rawRequest(`${flex.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${flex.apiKey}` }, json: {} });
    expect(edits.json().error.message).toBe('FLUX.1-Kontext-dev reserved for future image editing support.');
    // Not configured: the built-in message.
    const variations = await rawRequest(`${flex.url}/v1/images/variations`, { method: 'POST', headers: { authorization: `Bearer ${flex.apiKey}` }, json: {} });
    expect(variations.json().error.message).toMatch(/^\/v1\/images\/variations is not supported/);
  });

  it('words an in-band stream error as configured', async () => {
    const res = await chat(flex, flex.apiKey, { model: 'breaking-chat', messages: [user], stream: true });
    expect(res.status).toBe(200);
    const last = res.text.split('\n\n').filter(Boolean).at(-1)!;
    expect(last.startsWith('data: {"error"')).toBe(true);
    expect(JSON.parse(last.slice(6)).error).toMatchObject({ message: 'The model stopped answering. Retry shortly.', type: 'api_error', code: 'upstream_error' });
  });

  it('words the admin API\'s errors too, with auth.doc_url standing for an unset kind in the other gateway', async () => {
    const res = await rawRequest(`${flex.url}/admin/v1/accounts`, { headers: { authorization: 'Bearer wrong-admin-token-000000' } });
    expect(res.status).toBe(401);
    expect(res.json().error).toMatchObject({ code: 'invalid_admin_token', doc_url: KEYS_DOC });
  });
});

describe('bad error config', () => {
  function refusal(mutate: (c: ReturnType<typeof testConfig>) => void): string {
    const config = testConfig();
    mutate(config);
    try {
      resolveConfig(config, 'test', {}, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('the config was accepted');
  }

  it('refuses unknown names, bad shapes and unknown endpoints with the field path', () => {
    expect(refusal((c) => (c.errors = { no_such_error: { message: 'x' } }))).toContain('errors.no_such_error: unknown error name');
    expect(refusal((c) => (c.errors = { invalid_api_key: { code: 401 as unknown as string } }))).toContain('errors.invalid_api_key.code: must be a string');
    expect(refusal((c) => (c.errors = { invalid_api_key: { wording: 'x' } as never }))).toContain('errors.invalid_api_key');
    expect(refusal((c) => (c.errors = { invalid_api_key: { message: '   ' } }))).toContain('errors.invalid_api_key.message: must not be empty');
    expect(refusal((c) => (c.doc_urls = { keys: 'x', refunds: 'y' } as never))).toContain('doc_urls');
    expect(refusal((c) => (c.unsupported_endpoints = { '/v1/chat/completions': 'x' }))).toContain('unsupported_endpoints./v1/chat/completions: not an unsupported endpoint');
  });
});
