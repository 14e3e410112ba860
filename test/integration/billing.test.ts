// Prepaid balances and usage records against the real server (SPEC §10): reservations that cannot be
// overdrawn under concurrency, one record per admitted request with the right cost, records for
// streams the client abandons and for backends that report no usage.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTokens } from '../../src/accounting/tokenizer.js';
import { costMicros, maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import type { RawConfig } from '../../src/config/schema.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { promptTokenBound } from '../../src/accounting/settlement.js';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';
import { usageRecordsOf, waitForUsageRecords } from '../helpers/usage.js';

const PRICING = { input: 1, cached_input: 0.1, output: 2 };
const prices = modelPrices(PRICING);
/** Ten times PRICING: the fallback that must reserve more than its primary did. */
const PRICEY = { input: 10, cached_input: 1, output: 20 };

let fake: FakeUpstream;
let gw: TestGateway;

/** The usage the scripted backend reports for a request (given the output cap it received). */
type UsageScript = (body: Record<string, unknown>) => Record<string, unknown>;

/** What `scripted-*` models' backend reports: set by each test that uses it. */
let script: UsageScript = () => ({ prompt_tokens: 1, completion_tokens: 1 });

/** A backend that answers one word and reports whatever usage the test scripts, streamed or not. */
function scriptedBackend(req: { body: Record<string, unknown> }, res: ServerResponse): void {
  const usage = script(req.body);
  if (req.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage })}\n\ndata: [DONE]\n\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }], usage }));
}

/** A backend that streams (or answers) three words and never reports usage; `scripted-*` models get `scriptedBackend`. */
function noUsageBackend(req: { body: Record<string, unknown> }, res: ServerResponse): void {
  if (typeof req.body.model === 'string' && req.body.model.startsWith('scripted-')) return scriptedBackend(req, res);
  const words = ['Hello', ' there', ' friend'];
  if (req.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const w of words) res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`);
    res.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }] }));
}

function billingConfig(fakeUrl: string): RawConfig {
  const config = testConfig({
    limits: {
      default_tier: 'default',
      tiers: { default: { requests_per_minute: 100_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 } },
    },
  });
  config.providers.slow = { type: 'simulator', ttft_ms: 300, tokens_per_second: 0, output_tokens: [60, 80] };
  config.providers.trickle = { type: 'simulator', ttft_ms: 0, tokens_per_second: 25 };
  config.providers.nousage = { type: 'openai', base_url: `${fakeUrl}/v1` };
  const model = (id: string, provider: string) => ({ id, category: 'text' as const, defaults: { max_tokens: 50 }, capabilities: ['chat' as const], pricing: PRICING, deployments: [{ provider }] });
  config.models.push(model('slow-chat', 'slow'), { ...model('trickle-chat', 'trickle'), defaults: { max_tokens: 400 } }, model('nousage-chat', 'nousage'));
  // Backends that report what the test scripts; `scripted-down` is refused at the TCP level (port 1).
  config.providers.down = { type: 'openai', base_url: 'http://127.0.0.1:1/v1' };
  config.models.push(
    { ...model('scripted-chat', 'nousage'), capabilities: ['chat' as const, 'n' as const] },
    { ...model('scripted-pricey', 'nousage'), pricing: PRICEY },
    { ...model('scripted-down', 'down'), fallbacks: ['scripted-pricey'] },
    // A free model whose deployment is down, falling back to a priced one: nothing is held at admission.
    { id: 'free-down', category: 'text' as const, defaults: { max_tokens: 50 }, capabilities: ['chat' as const], deployments: [{ provider: 'down' }], fallbacks: ['scripted-pricey'] },
  );
  return config;
}

const recordsOf = (accountId: string): Promise<UsageRecord[]> => usageRecordsOf(gw, accountId);
const waitForRecords = (accountId: string, n: number): Promise<UsageRecord[]> => waitForUsageRecords(gw, accountId, n);

function expectedCost(r: UsageRecord): number {
  return costMicros(prices, { promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens });
}

beforeAll(async () => {
  fake = await startFakeUpstream(noUsageBackend);
  gw = await startTestGateway(billingConfig(fake.url));
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('prepaid balance', () => {
  it('admits at most what the balance covers among 200 concurrent requests, and the ledger balances to the micro-unit', async () => {
    const messages = [{ role: 'user', content: 'Tell me about token buckets.' }];
    const maxCost = maxCostMicros(prices, countChatPromptTokens(messages), 50);
    const start = 10 * maxCost;
    const acct = await gw.createAccount({ creditMicros: start });
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${acct.apiKey}` }, json: { model: 'slow-chat', messages, max_tokens: 50 } }),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(ok.length + refused.length).toBe(200);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(10);
    const error = refused[0].json().error;
    expect(error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_balance', param: null });
    expect(error.message).toMatch(/balance/);
    expect(refused[0].headers.get('x-should-retry')).toBe('false');

    const records = await waitForRecords(acct.accountId, ok.length);
    expect(records).toHaveLength(ok.length);
    expect(new Set(records.map((r) => r.requestId))).toEqual(new Set(ok.map((r) => r.headers.get('x-request-id'))));
    let spent = 0;
    for (const r of records) {
      expect(r.costMicros).toBe(expectedCost(r));
      expect(r.costMicros).toBeLessThanOrEqual(maxCost);
      spent += r.costMicros;
    }
    const account = await gw.gateway.store.accounts.getById(acct.accountId);
    expect(account!.balanceMicros).toBe(start - spent);
    expect(account!.balanceMicros).toBeGreaterThanOrEqual(0);
  });

  it('refuses an empty account with 402 before any backend is called, and records nothing', async () => {
    const acct = await gw.createAccount();
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${acct.apiKey}` }, json: { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] } });
    expect(res.status).toBe(402);
    expect(res.json().error.code).toBe('insufficient_balance');
    // The tokens taken for admission were given back, and the headers say so.
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe(res.headers.get('x-ratelimit-limit-tokens'));
    expect(await recordsOf(acct.accountId)).toHaveLength(0);
  });

  it('sees a top-up at once', async () => {
    const acct = await gw.createAccount();
    const body = { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] };
    const init = { method: 'POST', headers: { authorization: `Bearer ${acct.apiKey}` }, json: body };
    expect((await rawRequest(`${gw.url}/v1/chat/completions`, init)).status).toBe(402);
    await gw.gateway.store.ledger.record({ accountId: acct.accountId, kind: 'credit', amountMicros: 1_000_000, reason: 'top-up', actor: 'test' });
    expect((await rawRequest(`${gw.url}/v1/chat/completions`, init)).status).toBe(200);
  });
});

describe('usage records', () => {
  it('records a non-streamed request with its tokens, cost, deployment and model id (not the alias)', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const { data, response } = await acct.client.chat.completions.create({ model: 'simulator-chat', messages: [{ role: 'user', content: 'Hello!' }] }).withResponse();
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({
      requestId: response.headers.get('x-request-id'),
      keyId: acct.keyId,
      endpoint: 'chat',
      model: 'sim-chat',
      deployment: 'sim/sim-chat',
      stream: false,
      promptTokens: data.usage!.prompt_tokens,
      completionTokens: data.usage!.completion_tokens,
      status: 200,
      settle: 'complete',
      errorCode: null,
    });
    // sim-chat: $0.5 in, $0.05 cached, $1.5 out per million tokens.
    const simPrices = modelPrices({ input: 0.5, cached_input: 0.05, output: 1.5 });
    expect(r.costMicros).toBe(costMicros(simPrices, { promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens }));
    expect(r.costMicros).toBeGreaterThan(0);
  });

  it('records a stream with its time to first token, and bills embeddings and legacy completions the same way', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const stream = await acct.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Stream!' }], stream: true });
    for await (const chunk of stream) void chunk;
    await acct.client.embeddings.create({ model: 'sim-embed', input: ['one', 'two three'] });
    await acct.client.completions.create({ model: 'sim-chat', prompt: 'Once upon a time', max_tokens: 20 });
    const records = await waitForRecords(acct.accountId, 3);
    const by = Object.fromEntries(records.map((r) => [r.endpoint, r]));
    expect(by.chat).toMatchObject({ stream: true, settle: 'complete', status: 200 });
    expect(by.chat.ttftMs).not.toBeNull();
    expect(by.chat.completionTokens).toBeGreaterThan(0);
    expect(by.embeddings).toMatchObject({ model: 'sim-embed', completionTokens: 0, settle: 'complete' });
    expect(by.embeddings.promptTokens).toBe(countTokens('one') + countTokens('two three'));
    expect(by.embeddings.costMicros).toBe(costMicros(modelPrices({ input: 0.02 }), { promptTokens: by.embeddings.promptTokens, cachedTokens: 0, completionTokens: 0 }));
    expect(by.completions.completionTokens).toBeLessThanOrEqual(20);
    const balance = (await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros;
    expect(balance).toBe(1_000_000 - records.reduce((sum, r) => sum + r.costMicros, 0));
  });

  it('bills a stream the client abandons after k chunks for the prompt and what was produced', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const messages = [{ role: 'user' as const, content: 'Write a long story.' }];
    const stream = await acct.client.chat.completions.create({ model: 'trickle-chat', messages, stream: true });
    let received = '';
    let chunks = 0;
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta?.content ?? '';
      if (++chunks === 4) break; // leaving the loop aborts the request
    }
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r.settle).toBe('client_disconnected');
    expect(r.stream).toBe(true);
    expect(r.promptTokens).toBe(countChatPromptTokens(messages));
    expect(r.completionTokens).toBeGreaterThanOrEqual(countTokens(received));
    // Far less than the 400-token cap: only what was produced before the client left.
    expect(r.completionTokens).toBeLessThan(100);
    expect(r.costMicros).toBe(expectedCost(r));
  });

  it('counts the tokens itself, with the tokenizer, when the backend reports no usage (streamed or not)', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const messages = [{ role: 'user' as const, content: 'Say hello.' }];
    const stream = await acct.client.chat.completions.create({ model: 'nousage-chat', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const plain = await acct.client.chat.completions.create({ model: 'nousage-chat', messages });
    expect(text).toBe('Hello there friend');
    expect(plain.usage?.completion_tokens).toBe(countTokens(text));
    // A client that asked for usage in a stream gets its last chunk, with Floodgate's count (SPEC §5).
    const asked = await acct.client.chat.completions.create({ model: 'nousage-chat', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of asked) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: countChatPromptTokens(messages), completion_tokens: countTokens(text), total_tokens: countChatPromptTokens(messages) + countTokens(text) });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const records = await waitForRecords(acct.accountId, 3);
    for (const r of records) {
      expect(r.settle).toBe('estimated');
      expect(r.promptTokens).toBe(countChatPromptTokens(messages));
      expect(r.completionTokens).toBe(countTokens(text));
      expect(r.costMicros).toBe(expectedCost(r));
    }
  });

  it('leaves no record and no charge for a request that fails validation', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${acct.apiKey}` }, json: { model: 'sim-chat', messages: [], temperature: 9 } });
    expect(res.status).toBe(400);
    expect(await recordsOf(acct.accountId)).toHaveLength(0);
    expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(1_000_000);
  });
});

describe('settlement bounds (SPEC §10, §16)', () => {
  const chat = (apiKey: string, body: Record<string, unknown>) =>
    rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, json: body });

  it('bills a backend that reports more than the request allowed at the bound, and keeps what it reported', async () => {
    const messages = [{ role: 'user', content: 'Count to three.' }];
    const counted = countChatPromptTokens(messages);
    script = () => ({ prompt_tokens: 1_000_000, completion_tokens: 100_000, completion_tokens_details: { reasoning_tokens: 90_000 } });
    const maxCost = maxCostMicros(prices, counted, 10);
    const acct = await gw.createAccount({ creditMicros: maxCost });
    const plain = await chat(acct.apiKey, { model: 'scripted-chat', messages, max_tokens: 10 });
    expect(plain.status).toBe(200);
    // The first request took the balance below zero by its overshoot; n = 2: two choices may each produce the cap.
    await gw.gateway.store.ledger.record({ accountId: acct.accountId, kind: 'credit', amountMicros: 100_000, reason: 'test', actor: 'test' });
    const streamed = await chat(acct.apiKey, { model: 'scripted-chat', messages, max_tokens: 10, n: 2, stream: true });
    expect(streamed.status).toBe(200);
    const records = await waitForRecords(acct.accountId, 2);
    const byId = new Map(records.map((r) => [r.requestId, r]));
    const promptBound = promptTokenBound(counted);
    for (const [res, completion] of [
      [plain, 10],
      [streamed, 20],
    ] as const) {
      const r = byId.get(res.headers.get('x-request-id')!)!;
      expect(r).toMatchObject({ promptTokens: promptBound, completionTokens: completion, reasoningTokens: completion, reportedPromptTokens: 1_000_000, reportedCompletionTokens: 100_000 });
      expect(r.costMicros).toBe(costMicros(prices, { promptTokens: promptBound, cachedTokens: 0, completionTokens: completion }));
    }
    const balance = (await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros;
    expect(balance).toBe(maxCost + 100_000 - records.reduce((sum, r) => sum + r.costMicros, 0));
    // The first request's overshoot past its reservation is the prompt margin, no more.
    const first = byId.get(plain.headers.get('x-request-id')!)!;
    expect(first.costMicros - maxCost).toBe(costMicros(prices, { promptTokens: promptBound - counted, cachedTokens: 0, completionTokens: 0 }));

    const line = gw.logs.find((l) => l.request_id === plain.headers.get('x-request-id') && l.msg === 'request')!;
    expect(line).toMatchObject({ usage_clamped: true, prompt_tokens: promptBound, completion_tokens: 10, reported_prompt_tokens: 1_000_000, reported_completion_tokens: 100_000, cost_micros: first.costMicros });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/floodgate_usage_clamped_total\{model="scripted-chat",kind="completion"\} 2\b/);
    expect(metrics).toMatch(/floodgate_usage_clamped_total\{model="scripted-chat",kind="prompt"\} 2\b/);
    const admin = await rawRequest(`${gw.url}/admin/v1/usage/records?account_id=${acct.accountId}`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
    const view = (admin.json().data as Record<string, unknown>[]).find((v) => v.request_id === plain.headers.get('x-request-id'))!;
    expect(view).toMatchObject({ prompt_tokens: promptBound, completion_tokens: 10, reported_prompt_tokens: 1_000_000, reported_completion_tokens: 100_000 });
  });

  it('bills what a backend reports within the bounds as it is, and records no reported figures', async () => {
    const messages = [{ role: 'user', content: 'Count to three.' }];
    const counted = countChatPromptTokens(messages);
    // Another tokenizer's count, well within the margin; every output token the cap allows.
    script = () => ({ prompt_tokens: counted * 2, completion_tokens: 10 });
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    expect((await chat(acct.apiKey, { model: 'scripted-chat', messages, max_tokens: 10 })).status).toBe(200);
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ promptTokens: counted * 2, completionTokens: 10, reportedPromptTokens: null, reportedCompletionTokens: null });
  });

  it('bills cached prompt tokens at the cached price, exactly', async () => {
    script = () => ({ prompt_tokens: 1000, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 800 } });
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await chat(acct.apiKey, { model: 'scripted-chat', messages: [{ role: 'user', content: 'Again, please.' }], max_tokens: 10 });
    expect(res.status).toBe(200);
    const [r] = await waitForRecords(acct.accountId, 1);
    // 200 uncached × 1 + 800 cached × 0.1 + 5 out × 2 micro-units per token.
    expect(r).toMatchObject({ promptTokens: 1000, cachedTokens: 800, completionTokens: 5, costMicros: 290 });
    expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(1_000_000 - 290);
  });

  it.each([
    { primary: 'scripted-down', what: 'a priced model falling back to a pricier one reserves the difference on top and gives it back' },
    { primary: 'free-down', what: 'a free model falling back to a priced one holds the fallback\'s maximum and settles its cost' },
  ])('$what: the balance is spent exactly, never overdrawn', async ({ primary }) => {
    const messages = [{ role: 'user', content: `Fall back from ${primary}, please.` }];
    const counted = countChatPromptTokens(messages);
    // Every token the request may use, so the fallback's cost is its whole reservation.
    script = (body) => ({ prompt_tokens: counted, completion_tokens: body.max_tokens });
    const priceyMax = maxCostMicros(modelPrices(PRICEY), counted, 10);
    expect(priceyMax).toBeGreaterThan(maxCostMicros(prices, counted, 10));
    const acct = await gw.createAccount({ creditMicros: 2 * priceyMax });
    const first = await chat(acct.apiKey, { model: primary, messages, max_tokens: 10 });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-floodgate-fallback')).toContain('model=scripted-pricey');
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ model: 'scripted-pricey', costMicros: priceyMax });
    // What is left is exactly one more such request's maximum cost, and then nothing.
    expect((await chat(acct.apiKey, { model: 'scripted-pricey', messages, max_tokens: 10 })).status).toBe(200);
    expect((await chat(acct.apiKey, { model: 'scripted-pricey', messages, max_tokens: 10 })).status).toBe(402);
    await waitForRecords(acct.accountId, 2);
    expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(0);
    // Not enough for the fallback's maximum: it is skipped (never called), and the first model's failure says so.
    const poor = await gw.createAccount({ creditMicros: priceyMax - 1 });
    const skipped = await chat(poor.apiKey, { model: primary, messages, max_tokens: 10 });
    expect(skipped.status).toBe(503);
    expect((await skipped.json()).error.message).toContain('"scripted-pricey" was skipped: your balance or budget cannot cover its price');
    await waitForRecords(poor.accountId, 1);
    expect((await gw.gateway.store.accounts.getById(poor.accountId))!.balanceMicros).toBe(priceyMax - 1);
  });

  it('admits exactly as many racing requests as the balance covers: N−1, N and N+1 of them', async () => {
    const messages = [{ role: 'user', content: 'Race!' }];
    const counted = countChatPromptTokens(messages);
    // Each request costs its whole reservation, so a settled one frees nothing for the others.
    script = (body) => ({ prompt_tokens: counted, completion_tokens: body.max_tokens });
    const unit = maxCostMicros(prices, counted, 1);
    const n = 6;
    const cases = [
      { balance: n * unit - 1, admitted: n - 1 },
      { balance: n * unit, admitted: n },
      { balance: (n + 1) * unit, admitted: n + 1 },
    ];
    await Promise.all(
      cases.map(async (c) => {
        const acct = await gw.createAccount({ creditMicros: c.balance });
        const responses = await Promise.all(Array.from({ length: 2 * n + 4 }, () => chat(acct.apiKey, { model: 'scripted-chat', messages, max_tokens: 1 })));
        expect(responses.filter((res) => res.status === 200)).toHaveLength(c.admitted);
        expect(responses.filter((res) => res.status === 402)).toHaveLength(2 * n + 4 - c.admitted);
        await waitForRecords(acct.accountId, c.admitted);
        expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(c.balance - c.admitted * unit);
      }),
    );
  });
});
