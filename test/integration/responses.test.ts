// The Responses API door (SPEC §17, issue 16) against the real gateway: validation with exact field paths
// and nothing sent to a backend, capability errors in Responses terms, the translation a backend receives
// (recorded by a fake upstream), the `response` object and the typed stream events as the `openai` SDK reads
// them, stored responses on SQLite and PostgreSQL (retrieve, input items, delete, previous_response_id,
// other accounts, store: false, retention and its sweep), and billing exactly as chat (usage records say
// `responses`, a disconnect is billed for what was produced, concurrent requests cannot overdraw).
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import { maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { EMBEDDED_DEFAULT } from '../../src/config/embedded-default.js';
import type { RawConfig } from '../../src/config/schema.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestAccount, type TestGateway } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const PRICING = { input: 1, cached_input: 0.1, output: 2 };
const FAKE_USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } };

/** What the fake backend answers: set by a test, reset after each use. */
interface Scripted {
  reasoning?: string;
  content?: string | null;
  toolCalls?: { id: string; name: string; arguments: string }[];
  finish?: string;
}
let script: Scripted = {};

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

/** A chat backend that answers what the test scripted, streamed or not, and breaks `broken-*` streams. */
function fakeBackend(req: { body: Record<string, unknown> }, res: ServerResponse): void {
  const s = script;
  const content = s.content === undefined ? 'Fake answer.' : s.content;
  const finish = s.finish ?? (s.toolCalls ? 'tool_calls' : 'stop');
  if (req.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
    if (String(req.body.model).startsWith('broken')) {
      res.write(chunk({ content: 'Half an ans' }));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    if (s.reasoning) for (const piece of s.reasoning.split(/(?= )/)) res.write(chunk({ reasoning_content: piece }));
    if (content) for (const piece of content.split(/(?= )/)) res.write(chunk({ content: piece }));
    (s.toolCalls ?? []).forEach((call, index) => {
      res.write(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
      const half = Math.floor(call.arguments.length / 2);
      for (const piece of [call.arguments.slice(0, half), call.arguments.slice(half)]) res.write(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    });
    res.write(chunk({}, finish));
    res.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: FAKE_USAGE })}\n\ndata: [DONE]\n\n`);
    return;
  }
  const message: Record<string, unknown> = { role: 'assistant', content };
  if (s.reasoning) message.reasoning_content = s.reasoning;
  if (s.toolCalls) message.tool_calls = s.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message, finish_reason: finish }], usage: FAKE_USAGE }));
}

function doorConfig(fakeUrl: string, extra: Partial<RawConfig> = {}): RawConfig {
  const config = testConfig({
    limits: { default_tier: 'default', tiers: { default: { requests_per_minute: 100_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 } } },
    responses: { retention_days: 30, sweep_interval_ms: 1000 },
    ...extra,
  });
  config.providers.fake = { type: 'openai', base_url: `${fakeUrl}/v1` };
  config.providers.slow = { type: 'simulator', ttft_ms: 300, tokens_per_second: 0, output_tokens: [60, 80] };
  config.providers.trickle = { type: 'simulator', ttft_ms: 0, tokens_per_second: 25 };
  const model = (id: string, provider: string, capabilities: string[]) => ({
    id,
    category: 'text' as const,
    context_length: 8000,
    max_output_tokens: 1000,
    defaults: { max_tokens: 50 },
    capabilities: capabilities as never,
    pricing: PRICING,
    deployments: [{ provider }],
  });
  config.models.push(
    model('rec-chat', 'fake', ['chat', 'tools', 'vision', 'json_object', 'json_schema']),
    model('rec-plain', 'fake', ['chat']),
    model('rec-jsonobj', 'fake', ['chat', 'json_object']),
    model('broken-chat', 'fake', ['chat']),
    model('slow-chat', 'slow', ['chat']),
    { ...model('trickle-chat', 'trickle', ['chat']), defaults: { max_tokens: 400 } },
  );
  return config;
}

let fake: FakeUpstream;
let gw: TestGateway;
let acct: TestAccount;

function post(apiKey: string, body: unknown): ReturnType<typeof rawRequest> {
  return rawRequest(`${gw.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, json: body });
}

/** The last chat request the fake backend received. */
function lastUpstream(): Record<string, unknown> {
  return fake.requests[fake.requests.length - 1].body;
}

/** A typed SSE body: each event's `event:` name and its parsed data. */
function typedEvents(text: string): { event: string; data: Record<string, any> }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, any>;
      return { event, data };
    });
}

async function recordsOf(g: TestGateway, accountId: string): Promise<UsageRecord[]> {
  await g.flushUsage();
  return g.gateway.store.usage.list({ accountId }, { limit: 1000 });
}

async function waitForRecords(g: TestGateway, accountId: string, n: number): Promise<UsageRecord[]> {
  for (let i = 0; i < 100; i++) {
    const records = await recordsOf(g, accountId);
    if (records.length >= n) return records;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${n} usage records for ${accountId}`);
}

beforeAll(async () => {
  fake = await startFakeUpstream(fakeBackend);
  gw = await startTestGateway(doorConfig(fake.url));
  acct = await gw.createAccount({ creditMicros: 50_000_000 });
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('validation', () => {
  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['model missing', { input: 'hi' }, 'model'],
    ['input of the wrong type', { model: 'rec-chat', input: 42 }, 'input'],
    ['input missing', { model: 'rec-chat' }, 'input'],
    ['an image part without a usable URL', { model: 'rec-chat', input: [{ role: 'user', content: [{ type: 'input_text', text: 'see' }, { type: 'input_image', image_url: 'ftp://x' }] }] }, 'input[0].content[1].image_url'],
    ['an image part with no URL', { model: 'rec-chat', input: [{ role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_image' }] }] }, 'input[0].content[1].image_url'],
    ['an unknown role', { model: 'rec-chat', input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
    ['an unknown item type', { model: 'rec-chat', input: [{ role: 'user', content: 'x' }, { type: 'computer_call' }] }, 'input[1].type'],
    ['an unknown part type', { model: 'rec-chat', input: [{ role: 'user', content: [{ type: 'input_video' }] }] }, 'input[0].content[0].type'],
    ['a function_call_output without call_id', { model: 'rec-chat', input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0].call_id'],
    ['web_search', { model: 'rec-chat', input: 'hi', tools: [{ type: 'web_search' }] }, 'tools[0].type', /web_search/],
    ['file_search', { model: 'rec-chat', input: 'hi', tools: [{ type: 'function', name: 'f' }, { type: 'file_search', vector_store_ids: [] }] }, 'tools[1].type', /file_search/],
    ['code_interpreter', { model: 'rec-chat', input: 'hi', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }, 'tools[0].type', /code_interpreter/],
    ['a function tool without a name', { model: 'rec-chat', input: 'hi', tools: [{ type: 'function' }] }, 'tools[0].name'],
    ['tool_choice naming an absent function', { model: 'rec-chat', input: 'hi', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }, 'tool_choice.name'],
    ['an unknown text.format', { model: 'rec-chat', input: 'hi', text: { format: { type: 'xml' } } }, 'text.format.type'],
    ['json_schema without a schema', { model: 'rec-chat', input: 'hi', text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema'],
    ['reasoning.effort out of range', { model: 'rec-chat', input: 'hi', reasoning: { effort: 'extreme' } }, 'reasoning.effort'],
    ['an unknown reasoning.summary', { model: 'rec-chat', input: 'hi', reasoning: { summary: 'long' } }, 'reasoning.summary'],
    ['temperature out of range', { model: 'rec-chat', input: 'hi', temperature: 3 }, 'temperature'],
    ['top_p out of range', { model: 'rec-chat', input: 'hi', top_p: 1.5 }, 'top_p'],
    ['max_output_tokens of 0', { model: 'rec-chat', input: 'hi', max_output_tokens: 0 }, 'max_output_tokens'],
    ['metadata with a number', { model: 'rec-chat', input: 'hi', metadata: { a: 1 } }, 'metadata.a'],
    ['stream not a boolean', { model: 'rec-chat', input: 'hi', stream: 'yes' }, 'stream'],
  ];
  it.each(cases)('refuses %s with a 400 naming the field, before any backend is called', async (_name, body, param, message) => {
    const before = fake.requests.length;
    const res = await post(acct.apiKey, body);
    expect(res.status).toBe(400);
    const error = res.json().error;
    expect(error).toMatchObject({ type: 'invalid_request_error', param });
    expect(error.message.startsWith(param) || error.message.includes(param)).toBe(true);
    if (message) expect(error.message).toMatch(message);
    expect(fake.requests.length).toBe(before);
  });

  it('refuses what the model cannot do, naming the Responses field (not chat messages[…])', async () => {
    const before = fake.requests.length;
    const image = await post(acct.apiKey, {
      model: 'rec-plain',
      instructions: 'Look.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: 'https://example.com/a.png' }] }],
    });
    expect(image.status).toBe(400);
    expect(image.json().error.param).toBe('input[0].content[1]');
    expect(image.json().error.message).toMatch(/^input\[0\]\.content\[1\]: .*does not accept images/);
    const tools = await post(acct.apiKey, { model: 'rec-plain', input: 'hi', tools: [{ type: 'function', name: 'f' }] });
    expect(tools.json().error).toMatchObject({ param: 'tools' });
    const json = await post(acct.apiKey, { model: 'rec-plain', input: 'hi', text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } } });
    expect(json.json().error.param).toBe('text.format');
    expect(json.json().error.message).toMatch(/^text\.format: /);
    const cap = await post(acct.apiKey, { model: 'rec-chat', input: 'hi', max_output_tokens: 5000 });
    expect(cap.status).toBe(400);
    expect(cap.json().error.param).toBe('max_output_tokens');
    expect(cap.json().error.message).toMatch(/^max_output_tokens: 5000 is too large/);
    const context = await post(acct.apiKey, { model: 'rec-chat', input: 'word '.repeat(9000) });
    expect(context.status).toBe(400);
    expect(context.json().error).toMatchObject({ code: 'context_length_exceeded', param: 'input' });
    expect(fake.requests.length).toBe(before);
  });

  it('answers 404 for an unknown model and 405 for GET /v1/responses, in OpenAI’s envelope', async () => {
    const unknown = await post(acct.apiKey, { model: 'no-such-model', input: 'hi' });
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('model_not_found');
    const wrong = await rawRequest(`${gw.url}/v1/responses`, { headers: { authorization: `Bearer ${acct.apiKey}` } });
    expect(wrong.status).toBe(405);
    const anonymous = await rawRequest(`${gw.url}/v1/responses`, { method: 'POST', json: { model: 'rec-chat', input: 'hi' } });
    expect(anonymous.status).toBe(401);
  });
});

describe('translation to chat completions', () => {
  it('sends instructions, every kind of item, tools and settings as one chat request', async () => {
    script = {};
    await acct.client.responses.create({
      model: 'rec-chat',
      instructions: 'You are terse.',
      input: [
        { role: 'developer', content: 'Use metric units.' },
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }, { type: 'input_image', image_url: 'https://example.com/p.png', detail: 'low' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
      ] as never,
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { t: { type: 'number' } } }, strict: true } },
      reasoning: { effort: 'low' },
      max_output_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      user: 'u-1',
      metadata: { trace: 'abc' },
      store: false,
    });
    const sent = lastUpstream();
    expect(sent.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'system', content: 'Use metric units.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'image_url', image_url: { url: 'https://example.com/p.png', detail: 'low' } }] },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ]);
    expect(sent).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { t: { type: 'number' } } }, strict: true } },
      reasoning_effort: 'low',
      max_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      user: 'u-1',
    });
    expect(sent.metadata).toBeUndefined();
    expect(sent.input).toBeUndefined();
  });

  it('applies chat’s json_schema fallback on a json_object-only model, told in x-floodgate-fallback', async () => {
    script = { content: '{"t": 1}' };
    const res = await post(acct.apiKey, { model: 'rec-jsonobj', input: 'Give t.', text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' } } }, store: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-floodgate-fallback')).toBe('response_format=json_object');
    const sent = lastUpstream();
    expect(sent.response_format).toEqual({ type: 'json_object' });
    expect((sent.messages as { role: string; content: string }[])[0]).toMatchObject({ role: 'system' });
    expect((sent.messages as { content: string }[])[0].content).toMatch(/"answer"/);
    // The client sees what it asked for.
    expect(res.json().text.format).toEqual({ type: 'json_schema', name: 'answer', schema: { type: 'object' } });
  });
});

describe('the response object', () => {
  it('is the SDK’s Response: reasoning, message and function_call items, usage, the request echoed', async () => {
    script = { reasoning: 'Think first.', content: 'It is sunny.', toolCalls: [{ id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' }] };
    const { data: r, response } = await acct.client.responses
      .create({ model: 'rec-chat', input: 'Weather?', instructions: 'Be brief.', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: false }], metadata: { k: 'v' }, temperature: 0.5 })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.id).toMatch(/^resp_[0-9A-Za-z]{24}$/);
    expect(r).toMatchObject({
      object: 'response',
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      model: 'rec-chat',
      parallel_tool_calls: true,
      temperature: 0.5,
      top_p: 1,
      tool_choice: 'auto',
      metadata: { k: 'v' },
      previous_response_id: null,
      store: true,
      text: { format: { type: 'text' } },
      usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18, input_tokens_details: { cached_tokens: 4 }, output_tokens_details: { reasoning_tokens: 2 } },
    });
    expect(Math.abs(r.created_at - Date.now() / 1000)).toBeLessThan(60);
    expect(r.tools).toEqual([{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: false, description: null }]);
    expect(r.output.map((item) => item.type)).toEqual(['reasoning', 'message', 'function_call']);
    const [reasoning, message, call] = r.output as any[];
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Think first.' }] });
    expect(message).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'It is sunny.', annotations: [] }] });
    expect(call).toMatchObject({ type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}', status: 'completed' });
    expect(new Set([reasoning.id, message.id, call.id]).size).toBe(3);
    expect(r.output_text).toBe('It is sunny.');
  });

  it('is incomplete with incomplete_details when max_output_tokens cut it', async () => {
    script = { content: 'Cut sho', finish: 'length' };
    const r = await acct.client.responses.create({ model: 'rec-chat', input: 'Long story', max_output_tokens: 3, store: false });
    expect(r).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, max_output_tokens: 3 });
    expect(r.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    expect(r.output_text).toBe('Cut sho');
  });

  it('gives the reasoning as the summary too when reasoning.summary asks for one, streamed or not', async () => {
    script = { reasoning: 'Weigh it.', content: 'Done.' };
    const plain = await acct.client.responses.create({ model: 'rec-chat', input: 'Think.', reasoning: { effort: 'high', summary: 'auto' }, store: false });
    expect(plain.reasoning).toEqual({ effort: 'high', summary: 'auto' });
    expect(plain.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Weigh it.' }], content: [{ type: 'reasoning_text', text: 'Weigh it.' }] });
    const res = await post(acct.apiKey, { model: 'rec-chat', input: 'Think.', reasoning: { summary: 'detailed' }, stream: true, store: false });
    const events = typedEvents(res.text);
    const summary = events.filter((e) => e.event === 'response.reasoning_summary_text.delta').map((e) => e.data.delta).join('');
    expect(summary).toBe('Weigh it.');
    expect(events.map((e) => e.event)).toContain('response.reasoning_summary_part.done');
    expect(events.at(-1)!.data.response.output[0].summary).toEqual([{ type: 'summary_text', text: 'Weigh it.' }]);
    // Without the ask, no summary.
    const none = await acct.client.responses.create({ model: 'rec-chat', input: 'Think.', store: false });
    expect(none.output[0]).toMatchObject({ type: 'reasoning', summary: [] });
  });

  it('serves every chat model of the catalog, under the name asked (aliases too)', async () => {
    for (const model of ['sim-chat', 'simulator-chat', 'sim-reasoner']) {
      const r = await acct.client.responses.create({ model, input: 'Say something.', store: false });
      expect(r.model).toBe(model);
      expect(r.status).toBe('completed');
      expect(r.output_text.length).toBeGreaterThan(0);
      if (model === 'sim-reasoner') expect(r.output[0].type).toBe('reasoning');
    }
  });
});

describe('streaming', () => {
  it('sends typed events in order, each with its event line and sequence_number', async () => {
    script = { reasoning: 'Hmm, let me see.', content: 'The answer is four.' };
    const res = await post(acct.apiKey, { model: 'rec-chat', input: '2+2?', stream: true, store: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = typedEvents(res.text);
    for (const [i, e] of events.entries()) {
      expect(e.event).toBe(e.data.type);
      expect(e.data.sequence_number).toBe(i);
    }
    const types = events.map((e) => e.data.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.at(-1)).toBe('response.completed');
    const messageAt = types.indexOf('response.output_text.delta');
    expect(types.slice(messageAt - 2, messageAt)).toEqual(['response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    const text = events.filter((e) => e.data.type === 'response.output_text.delta').map((e) => e.data.delta).join('');
    expect(text).toBe('The answer is four.');
    const reasoning = events.filter((e) => e.data.type === 'response.reasoning_text.delta').map((e) => e.data.delta).join('');
    expect(reasoning).toBe('Hmm, let me see.');
    const created = events[0].data.response;
    expect(created).toMatchObject({ object: 'response', status: 'in_progress', output: [], model: 'rec-chat' });
    const completed = events.at(-1)!.data.response;
    expect(completed.id).toBe(created.id);
    expect(completed).toMatchObject({ status: 'completed', usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18, input_tokens_details: { cached_tokens: 4 }, output_tokens_details: { reasoning_tokens: 2 } } });
    expect(completed.output.map((i: { type: string }) => i.type)).toEqual(['reasoning', 'message']);
    expect(completed.output[1].content[0].text).toBe('The answer is four.');
  });

  it('works with the SDK’s responses.stream helpers and finalResponse(), text and function calls', async () => {
    script = { content: 'Streaming works.' };
    const deltas: string[] = [];
    const stream = acct.client.responses.stream({ model: 'rec-chat', input: 'Stream!', store: false });
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(deltas.join('')).toBe('Streaming works.');
    expect(final.output_text).toBe('Streaming works.');
    expect(final.status).toBe('completed');

    script = { content: null, toolCalls: [{ id: 'call_a', name: 'lookup', arguments: '{"q":"one"}' }, { id: 'call_b', name: 'lookup', arguments: '{"q":"two"}' }] };
    const tools = acct.client.responses.stream({ model: 'rec-chat', input: 'Look both up.', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object' }, strict: false }], store: false });
    const argDone: string[] = [];
    tools.on('response.function_call_arguments.done', (e) => argDone.push(e.arguments));
    const calls = await tools.finalResponse();
    expect(argDone).toEqual(['{"q":"one"}', '{"q":"two"}']);
    expect(calls.output).toMatchObject([
      { type: 'function_call', call_id: 'call_a', name: 'lookup', arguments: '{"q":"one"}' },
      { type: 'function_call', call_id: 'call_b', name: 'lookup', arguments: '{"q":"two"}' },
    ]);
  });

  it('streams a simulator tool call and a reasoning model, ending in response.completed', async () => {
    const stream = acct.client.responses.stream({ model: 'sim-chat', input: 'Weather in Rome?', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true }], store: false });
    const final = await stream.finalResponse();
    const call = final.output.find((i) => i.type === 'function_call') as { arguments: string; name: string };
    expect(call.name).toBe('get_weather');
    expect(typeof JSON.parse(call.arguments).city).toBe('string');
    const reasoner = await acct.client.responses.stream({ model: 'sim-reasoner', input: 'Think.', store: false }).finalResponse();
    expect(reasoner.output[0].type).toBe('reasoning');
    expect(reasoner.output_text.length).toBeGreaterThan(0);
  });

  it('ends with response.incomplete when max_output_tokens cuts it', async () => {
    const res = await post(acct.apiKey, { model: 'sim-chat', input: 'Tell me a long story.', stream: true, max_output_tokens: 4, store: false });
    const events = typedEvents(res.text);
    const last = events.at(-1)!.data;
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(last.response.usage.output_tokens).toBeLessThanOrEqual(4);
  });

  it('ends with response.failed when the backend breaks after the first byte', async () => {
    const res = await post(acct.apiKey, { model: 'broken-chat', input: 'hi', stream: true });
    expect(res.status).toBe(200);
    const events = typedEvents(res.text);
    const types = events.map((e) => e.data.type);
    expect(types).toContain('response.output_text.delta');
    const last = events.at(-1)!.data;
    expect(last.type).toBe('response.failed');
    expect(last.response.status).toBe('failed');
    expect(last.response.error.code).toBe('server_error');
    expect(last.response.error.message.length).toBeGreaterThan(0);
    // The item open when it broke was closed before the end.
    expect(types.slice(-2)[0]).toBe('response.output_item.done');
  });
});

/** Stored responses: the same promises on SQLite and on PostgreSQL. */
function storedResponses(name: string, setup: () => Promise<{ g: TestGateway; close: () => Promise<void> }>): void {
  describe(`stored responses (${name})`, () => {
    let g: TestGateway;
    let close: () => Promise<void>;
    let owner: TestAccount;
    let other: TestAccount;
    beforeAll(async () => {
      ({ g, close } = await setup());
      owner = await g.createAccount({ creditMicros: 10_000_000 });
      other = await g.createAccount({ creditMicros: 10_000_000 });
    });
    afterAll(async () => close?.());

    it('continues a conversation over three turns with previous_response_id', async () => {
      script = { content: 'First answer.' };
      const one = await owner.client.responses.create({ model: 'rec-chat', instructions: 'Only for turn one.', input: 'My name is Ada.' });
      script = { content: 'Second answer.' };
      const two = await owner.client.responses.create({ model: 'rec-chat', input: 'What is 2+2?', previous_response_id: one.id });
      expect(two.previous_response_id).toBe(one.id);
      script = { content: 'Third answer.' };
      const three = await owner.client.responses.create({ model: 'rec-chat', input: [{ role: 'user', content: 'And my name?' }], previous_response_id: two.id });
      expect(three.output_text).toBe('Third answer.');
      // Earlier turns' input and output come first; instructions are not carried over (as OpenAI does).
      // (Stored input is kept as content parts, as input_items lists it.)
      const text = (t: string) => [{ type: 'text', text: t }];
      expect(lastUpstream().messages).toEqual([
        { role: 'user', content: text('My name is Ada.') },
        { role: 'assistant', content: 'First answer.' },
        { role: 'user', content: text('What is 2+2?') },
        { role: 'assistant', content: 'Second answer.' },
        { role: 'user', content: 'And my name?' },
      ]);
      // The simulator too: a continued conversation answers.
      const sim = await owner.client.responses.create({ model: 'sim-chat', input: 'Go on.', previous_response_id: three.id });
      expect(sim.status).toBe('completed');
    });

    it('retrieves, lists input items (order, limit, after) and deletes; another account sees nothing', async () => {
      script = {};
      const input = [
        { role: 'user' as const, content: 'one' },
        { role: 'assistant' as const, content: 'two' },
        { role: 'user' as const, content: [{ type: 'input_text' as const, text: 'three' }] },
      ];
      const created = await owner.client.responses.create({ model: 'rec-chat', input });
      const got = await owner.client.responses.retrieve(created.id);
      expect(got).toMatchObject({ id: created.id, object: 'response', status: 'completed', model: 'rec-chat' });
      expect(got.output).toEqual(created.output);
      expect(got.usage).toEqual(created.usage);
      expect(got.output_text).toBe('Fake answer.');

      const page = await owner.client.responses.inputItems.list(created.id);
      const texts = (items: any[]) => items.map((i) => i.content[0].text);
      expect(texts(page.data)).toEqual(['three', 'two', 'one']);
      expect(page.data[0]).toMatchObject({ type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'three' }] });
      expect((page.data[1] as any).content[0].type).toBe('output_text');
      const raw = await rawRequest(`${g.url}/v1/responses/${created.id}/input_items?order=asc&limit=2`, { headers: { authorization: `Bearer ${owner.apiKey}` } });
      const asc = raw.json();
      expect(asc).toMatchObject({ object: 'list', has_more: true });
      expect(texts(asc.data)).toEqual(['one', 'two']);
      expect(asc.first_id).toBe(asc.data[0].id);
      expect(asc.last_id).toBe(asc.data[1].id);
      const rest = (await rawRequest(`${g.url}/v1/responses/${created.id}/input_items?order=asc&after=${asc.last_id}`, { headers: { authorization: `Bearer ${owner.apiKey}` } })).json();
      expect(rest).toMatchObject({ has_more: false });
      expect(texts(rest.data)).toEqual(['three']);
      const badLimit = await rawRequest(`${g.url}/v1/responses/${created.id}/input_items?limit=0`, { headers: { authorization: `Bearer ${owner.apiKey}` } });
      expect(badLimit.status).toBe(400);
      expect(badLimit.json().error.param).toBe('limit');

      // Another account: 404 on every route, and it cannot continue the conversation.
      for (const call of [
        () => other.client.responses.retrieve(created.id),
        () => other.client.responses.inputItems.list(created.id),
        () => other.client.responses.delete(created.id),
        () => other.client.responses.create({ model: 'rec-chat', input: 'hi', previous_response_id: created.id }),
      ]) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(OpenAI.NotFoundError);
        expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('not_found');
      }
      const prev = await rawRequest(`${g.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${other.apiKey}` }, json: { model: 'rec-chat', input: 'hi', previous_response_id: created.id } });
      expect(prev.json().error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', param: 'previous_response_id' });

      const deleted = await rawRequest(`${g.url}/v1/responses/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner.apiKey}` } });
      expect(deleted.status).toBe(200);
      expect(deleted.json()).toEqual({ id: created.id, object: 'response.deleted', deleted: true });
      await expect(owner.client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      await expect(owner.client.responses.delete(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('stores a streamed response too, and nothing with store: false', async () => {
      script = { content: 'Streamed and kept.' };
      const streamed = await owner.client.responses.stream({ model: 'rec-chat', input: 'Keep this.' }).finalResponse();
      const got = await owner.client.responses.retrieve(streamed.id);
      expect(got.output_text).toBe('Streamed and kept.');
      expect(got.status).toBe('completed');

      const plain = await owner.client.responses.create({ model: 'rec-chat', input: 'Forget this.', store: false });
      expect((plain as unknown as { store: boolean }).store).toBe(false);
      const piped = await owner.client.responses.stream({ model: 'rec-chat', input: 'Forget this too.', store: false }).finalResponse();
      for (const id of [plain.id, piped.id]) {
        await expect(owner.client.responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
        const rows = await g.gateway.store.db.selectFrom('responses').select('id').where('id', '=', id).execute();
        expect(rows).toHaveLength(0);
      }
    });

    it('resolves an item_reference to a stored item of the same account', async () => {
      script = { content: 'Referenced text.' };
      const first = await owner.client.responses.create({ model: 'rec-chat', input: 'Say it.' });
      const itemId = first.output[0].id!;
      await owner.client.responses.create({ model: 'rec-chat', input: [{ role: 'user', content: 'Say it.' }, { type: 'item_reference', id: itemId }, { role: 'user', content: 'Again.' }] as never, store: false });
      expect((lastUpstream().messages as unknown[])[1]).toEqual({ role: 'assistant', content: 'Referenced text.' });
      const foreign = await rawRequest(`${g.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${other.apiKey}` }, json: { model: 'rec-chat', input: [{ type: 'item_reference', id: itemId }] } });
      expect(foreign.status).toBe(404);
      expect(foreign.json().error.param).toBe('input[0].id');
    });

    it('forgets an expired response at once (404) and the sweep deletes it from the store', async () => {
      const now = Date.now();
      const id = 'resp_EXPIREDexpiredEXPIRED0';
      await g.gateway.store.responses.save({ id, accountId: owner.accountId, response: { id, object: 'response', output: [] }, inputItems: [], history: [], createdAt: now - 10_000, expiresAt: now - 1 });
      await expect(owner.client.responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      const cont = await rawRequest(`${g.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${owner.apiKey}` }, json: { model: 'rec-chat', input: 'hi', previous_response_id: id } });
      expect(cont.status).toBe(404);
      // The sweep runs every second here (responses.sweep_interval_ms).
      let rows = 1;
      for (let i = 0; i < 60 && rows > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        rows = (await g.gateway.store.db.selectFrom('responses').select('id').where('id', '=', id).execute()).length;
      }
      expect(rows).toBe(0);
      // A live response keeps its retention: 30 days from its creation.
      script = {};
      const live = await owner.client.responses.create({ model: 'rec-chat', input: 'keep' });
      const row = await g.gateway.store.db.selectFrom('responses').select(['created_at', 'expires_at']).where('id', '=', live.id).executeTakeFirstOrThrow();
      expect(Number(row.expires_at) - Number(row.created_at)).toBe(30 * 86_400_000);
    });
  });
}

storedResponses('SQLite', async () => ({ g: gw, close: async () => undefined }));

let database: TestDatabase | undefined;
storedResponses('PostgreSQL', async () => {
  database = await createTestDatabase('responses');
  const g = await startTestGateway(doorConfig(fake.url, { store: { url: database.url, pool_size: 4 } }));
  return {
    g,
    close: async () => {
      await g.close();
      await database?.drop();
    },
  };
});

describe('stored responses need a key', () => {
  it('answers 401 to a GET without a key, even where /v1/models is public', async () => {
    const open = await startTestGateway(doorConfig(fake.url, { server: { host: '127.0.0.1', port: 0, public_models: true } }));
    try {
      const created = await open.client.responses.create({ model: 'sim-chat', input: 'hi' });
      expect((await rawRequest(`${open.url}/v1/models`)).status).toBe(200);
      for (const path of [`/v1/responses/${created.id}`, `/v1/responses/${created.id}/input_items`]) {
        const res = await rawRequest(`${open.url}${path}`);
        expect(res.status).toBe(401);
        expect(res.json().error.code).toBe('invalid_api_key');
      }
    } finally {
      await open.close();
    }
  });
});

describe('billing, exactly as chat', () => {
  it('records usage with endpoint "responses", streamed or not, and debits it', async () => {
    const a = await gw.createAccount({ creditMicros: 1_000_000 });
    script = {};
    const { response } = await a.client.responses.create({ model: 'rec-chat', input: 'Bill me.', store: false }).withResponse();
    await a.client.responses.stream({ model: 'rec-chat', input: 'Bill me streamed.', store: false }).finalResponse();
    const records = await waitForRecords(gw, a.accountId, 2);
    expect(records.every((r) => r.endpoint === 'responses' && r.status === 200 && r.settle === 'complete' && r.model === 'rec-chat')).toBe(true);
    expect(records.map((r) => r.stream).sort()).toEqual([false, true]);
    expect(records.find((r) => !r.stream)!.requestId).toBe(response.headers.get('x-request-id'));
    for (const r of records) expect(r).toMatchObject({ promptTokens: 11, completionTokens: 7, cachedTokens: 4 });
    const balance = (await gw.gateway.store.accounts.getById(a.accountId))!.balanceMicros;
    expect(balance).toBe(1_000_000 - records.reduce((sum, r) => sum + r.costMicros, 0));
    expect(balance).toBeLessThan(1_000_000);
  });

  it('counts against the same rate limits, with the x-ratelimit headers on answers and streams, and 429 past them', async () => {
    const a = await gw.createAccount({ creditMicros: 1_000_000, keyLimits: { requests_per_minute: 2 } });
    script = {};
    const plain = await post(a.apiKey, { model: 'rec-chat', input: 'one', store: false });
    expect(plain.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(plain.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    const streamed = await post(a.apiKey, { model: 'rec-chat', input: 'two', stream: true, store: false });
    expect(streamed.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(streamed.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const before = fake.requests.length;
    const refused = await post(a.apiKey, { model: 'rec-chat', input: 'three', store: false });
    expect(refused.status).toBe(429);
    expect(refused.json().error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(fake.requests.length).toBe(before);
  });

  it('refuses an empty account with 402 before any backend is called', async () => {
    const a = await gw.createAccount();
    const before = fake.requests.length;
    const res = await post(a.apiKey, { model: 'rec-chat', input: 'hi' });
    expect(res.status).toBe(402);
    expect(res.json().error.code).toBe('insufficient_balance');
    expect(fake.requests.length).toBe(before);
  });

  it('bills a stream the client abandons for the prompt and what was produced', async () => {
    const a = await gw.createAccount({ creditMicros: 1_000_000 });
    const stream = await a.client.responses.create({ model: 'trickle-chat', input: 'Write a long story.', stream: true, store: false });
    let deltas = 0;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta' && ++deltas === 4) break;
    }
    const [r] = await waitForRecords(gw, a.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'responses', settle: 'client_disconnected', stream: true });
    expect(r.promptTokens).toBe(countChatPromptTokens([{ role: 'user', content: 'Write a long story.' }]));
    expect(r.completionTokens).toBeGreaterThanOrEqual(4);
    expect(r.completionTokens).toBeLessThan(100);
    expect(r.costMicros).toBeGreaterThan(0);
  });

  it('admits at most what the balance covers among 200 concurrent requests', async () => {
    const messages = [{ role: 'user', content: 'Tell me about token buckets.' }];
    const maxCost = maxCostMicros(modelPrices(PRICING), countChatPromptTokens(messages), 50);
    const start = 10 * maxCost;
    const a = await gw.createAccount({ creditMicros: start });
    const results = await Promise.all(Array.from({ length: 200 }, () => post(a.apiKey, { model: 'slow-chat', input: messages, max_output_tokens: 50, store: false })));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    expect(ok.length + refused.length).toBe(200);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(10);
    const records = await waitForRecords(gw, a.accountId, ok.length);
    expect(records).toHaveLength(ok.length);
    expect(records.every((r) => r.endpoint === 'responses')).toBe(true);
    const balance = (await gw.gateway.store.accounts.getById(a.accountId))!.balanceMicros;
    expect(balance).toBe(start - records.reduce((sum, r) => sum + r.costMicros, 0));
    expect(balance).toBeGreaterThanOrEqual(0);
  });
});

describe('config: responses', () => {
  function withResponses(responses: unknown): unknown {
    return { ...structuredClone(EMBEDDED_DEFAULT), responses };
  }
  function errorOf(doc: unknown): string {
    try {
      resolveConfig(doc, 'test', {}, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('config was accepted');
  }

  it('keeps responses 30 days by default and sweeps hourly', () => {
    expect(resolveConfig(structuredClone(EMBEDDED_DEFAULT), 'test', {}, {}).responses).toEqual({ retentionMs: 30 * 86_400_000, sweepIntervalMs: 3_600_000 });
    expect(resolveConfig(withResponses({ retention_days: 7, sweep_interval_ms: 60_000 }), 'test', {}, {}).responses).toEqual({ retentionMs: 7 * 86_400_000, sweepIntervalMs: 60_000 });
  });

  it('names a bad value with its path', () => {
    expect(errorOf(withResponses({ retention_days: 0 }))).toMatch(/^responses\.retention_days: /);
    expect(errorOf(withResponses({ retention_days: 1.5 }))).toMatch(/^responses\.retention_days: must be an integer/);
    expect(errorOf(withResponses({ sweep_interval_ms: 10 }))).toMatch(/^responses\.sweep_interval_ms: /);
    expect(errorOf(withResponses({ keep: true }))).toMatch(/responses\.keep: is not a known field here/);
  });
});
