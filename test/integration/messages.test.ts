// The Messages door (SPEC §17, issue 16) against the real gateway over raw HTTP: Anthropic's request
// shape checked with Anthropic's paths and envelope (nothing reaches a backend on bad input), the
// `message` and the `event:` stream translated from the in-process simulator's chat answers (text,
// tools, images, thinking), chat's capability checks naming the Messages field, the catalog's errors as
// Anthropic's types, native pass-through to an `anthropic` backend (a recording fake: the body arrives as
// sent, the answer and events come back as they are), count_tokens, and usage records and balances
// exactly as chat's (endpoint `messages`, 200 concurrent requests against a balance for 10, a stream
// abandoned mid-way billed for what was produced).
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTokens } from '../../src/accounting/tokenizer.js';
import { costMicros, maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import type { RawConfig } from '../../src/config/schema.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';
import { usageRecordsOf, waitForUsageRecords } from '../helpers/usage.js';

type Any = Record<string, any>;

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const PRICING = { input: 1, cached_input: 0.1, output: 2 };
const prices = modelPrices(PRICING);
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

let gw: TestGateway;
/** An OpenAI-compatible backend that records the translated chat request and answers one fixed word. */
let chatRecorder: FakeUpstream;
/** An Anthropic backend that records the native request and answers a fixed message or stream. */
let anthropicRecorder: FakeUpstream;

const NATIVE_MESSAGE = {
  id: 'msg_upstream_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-upstream-name',
  content: [
    { type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' },
    { type: 'text', text: 'Native hello.', citations: null },
  ],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 11, cache_creation_input_tokens: 5, cache_read_input_tokens: 32, output_tokens: 7, service_tier: 'standard' },
};

const NATIVE_EVENTS: Any[] = [
  { type: 'message_start', message: { ...NATIVE_MESSAGE, content: [], stop_reason: null, usage: { ...NATIVE_MESSAGE.usage, output_tokens: 1 } } },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Native ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'stream.' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } },
  { type: 'message_stop' },
];

function anthropicBackend(req: { body: Record<string, unknown> }, res: ServerResponse): void {
  if (req.body.stream === true && JSON.stringify(req.body).includes('please-fail')) {
    // Anthropic's own mid-stream failure: an `error` event after some content.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of NATIVE_EVENTS.slice(0, 4)) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
    return;
  }
  if (req.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of NATIVE_EVENTS) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(NATIVE_MESSAGE));
}

function chatBackend(req: { body: Record<string, unknown> }, res: ServerResponse): void {
  if (JSON.stringify(req.body).includes('please-500')) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }));
    return;
  }
  if (req.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Partial' }, finish_reason: null }] })}\n\n`);
    // The backend dies mid-stream.
    setTimeout(() => res.destroy(), 20);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        JSON.stringify(req.body).includes('please-cut')
          ? { index: 0, message: { role: 'assistant', content: 'Recorded.' }, finish_reason: 'model_length' }
          : { index: 0, message: { role: 'assistant', content: 'Recorded.' }, finish_reason: 'stop', stop_reason: 'END' },
      ],
      usage: { prompt_tokens: 40, completion_tokens: 3, total_tokens: 43, prompt_tokens_details: { cached_tokens: 30 } },
    }),
  );
}

function messagesConfig(): RawConfig {
  const config = testConfig({
    limits: { default_tier: 'default', tiers: { default: { requests_per_minute: 100_000, tokens_per_minute: 1_000_000_000, concurrent_requests: 1000 } } },
  });
  config.providers.slow = { type: 'simulator', ttft_ms: 300, tokens_per_second: 0, output_tokens: [60, 80] };
  config.providers.trickle = { type: 'simulator', ttft_ms: 0, tokens_per_second: 25 };
  config.providers.rec = { type: 'openai', base_url: `${chatRecorder.url}/v1` };
  config.providers.claude = { type: 'anthropic', base_url: anthropicRecorder.url, api_key: 'sk-ant-test' };
  config.providers.down = { type: 'openai', base_url: 'http://127.0.0.1:1/v1' };
  const model = (id: string, provider: string, extra: Any = {}) => ({ id, category: 'text' as const, defaults: { max_tokens: 50 }, capabilities: ['chat' as const], pricing: PRICING, deployments: [{ provider }], ...extra });
  config.models.push(
    model('slow-chat', 'slow'),
    model('trickle-chat', 'trickle', { defaults: { max_tokens: 400 } }),
    model('plain-chat', 'sim', { max_output_tokens: 100 }),
    model('rec-chat', 'rec', { capabilities: ['chat', 'tools', 'vision'] }),
    model('rec-reasoner', 'rec', { category: 'reasoning', defaults: { max_tokens: 40_000 } }),
    model('claude-native', 'claude', { category: 'multimodal', capabilities: ['chat', 'tools', 'vision'], deployments: [{ provider: 'claude', model: 'claude-upstream-name' }] }),
    model('down-chat', 'down'),
  );
  return config;
}

beforeAll(async () => {
  chatRecorder = await startFakeUpstream(chatBackend);
  anthropicRecorder = await startFakeUpstream(anthropicBackend);
  gw = await startTestGateway(messagesConfig());
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await chatRecorder?.close();
  await anthropicRecorder?.close();
});

function post(body: unknown, opts: { key?: string; path?: string; headers?: Record<string, string> } = {}) {
  return rawRequest(`${gw.url}/v1${opts.path ?? '/messages'}`, {
    method: 'POST',
    headers: { 'x-api-key': opts.key ?? gw.apiKey, 'anthropic-version': '2023-06-01', ...opts.headers },
    json: body,
  });
}

/** An `event:` stream as its events: each event's name and its data, which must agree. */
function events(text: string): { event: string; data: Any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim().length > 0 && !block.startsWith(':'))
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Any;
      expect(data.type).toBe(event);
      return { event, data };
    });
}

const recordsOf = (accountId: string): Promise<UsageRecord[]> => usageRecordsOf(gw, accountId);
const waitForRecords = (accountId: string, n: number): Promise<UsageRecord[]> => waitForUsageRecords(gw, accountId, n);

function expectedCost(r: UsageRecord): number {
  return costMicros(prices, { promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens });
}

const hello = { model: 'sim-chat', max_tokens: 64, messages: [{ role: 'user', content: 'Hello there!' }] };

describe('messages: non-streamed', () => {
  it('answers the exact `message` shape, by x-api-key or Bearer, and records endpoint messages', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await post(hello, { key: acct.apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toBe(res.headers.get('x-request-id'));
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['content', 'id', 'model', 'role', 'stop_reason', 'stop_sequence', 'type', 'usage']);
    expect(body.id).toMatch(/^msg_[A-Za-z0-9]+$/);
    expect(body).toMatchObject({ type: 'message', role: 'assistant', model: 'sim-chat', stop_sequence: null });
    expect(['end_turn', 'max_tokens']).toContain(body.stop_reason);
    expect(body.content).toHaveLength(1);
    expect(body.content[0]).toEqual({ type: 'text', text: expect.stringMatching(/\S/) });
    expect(body.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(body.usage.input_tokens).toBe(countChatPromptTokens(hello.messages));
    expect(body.usage.output_tokens).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-limit-requests')).not.toBeNull();

    const bearer = await rawRequest(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${acct.apiKey}` }, json: hello });
    expect(bearer.status).toBe(200);
    const records = await waitForRecords(acct.accountId, 2);
    for (const r of records) {
      expect(r).toMatchObject({ endpoint: 'messages', model: 'sim-chat', stream: false, settle: 'complete', status: 200 });
    }
    const mine = records.find((r) => r.requestId === res.headers.get('x-request-id'))!;
    expect(mine.promptTokens).toBe(body.usage.input_tokens);
    expect(mine.completionTokens).toBe(body.usage.output_tokens);
  });

  it('translates system, sampling, stop sequences, metadata, tools, images and tool results into the chat request', async () => {
    const before = chatRecorder.requests.length;
    const res = await post({
      model: 'rec-chat',
      max_tokens: 20,
      system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Be kind.' }],
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END', 'STOP'],
      metadata: { user_id: 'user-42' },
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } }, { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' }, { type: 'text', text: 'And so?' }] },
      ],
    });
    expect(res.status).toBe(200);
    expect(chatRecorder.requests.length).toBe(before + 1);
    const sent = chatRecorder.requests[before].body as Any;
    expect(sent).toMatchObject({ temperature: 0.3, top_p: 0.9, top_k: 40, stop: ['END', 'STOP'], user: 'user-42', max_tokens: 20, parallel_tool_calls: false, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_TOOL.input_schema } }]);
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.\nBe kind.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1X1}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
        ],
      },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
      { role: 'user', content: [{ type: 'text', text: 'And so?' }] },
    ]);
    // The backend said which stop sequence matched (vLLM's stop_reason) and what was read from its cache.
    const body = res.json();
    expect(body).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END', content: [{ type: 'text', text: 'Recorded.' }] });
    expect(body.usage).toMatchObject({ input_tokens: 10, cache_read_input_tokens: 30, cache_creation_input_tokens: 0, output_tokens: 3 });
    // A backend's own finish reason (vLLM's model_length) is read as chat reads it: the output cap.
    const cut = await post({ model: 'rec-chat', max_tokens: 20, messages: [{ role: 'user', content: 'please-cut' }] });
    expect(cut.json()).toMatchObject({ stop_reason: 'max_tokens', stop_sequence: null });
  });

  it('answers a tool call as a tool_use block, and the tool result round trip as text', async () => {
    const first = await post({ ...hello, tools: [WEATHER_TOOL], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(first.status).toBe(200);
    const message = first.json();
    expect(message.stop_reason).toBe('tool_use');
    const use = message.content.find((b: Any) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    expect(typeof use.id).toBe('string');
    expect(use.input).toEqual(expect.objectContaining({ city: expect.any(String) }));
    const second = await post({
      ...hello,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 °C and sunny' }] },
      ],
    });
    expect(second.status).toBe(200);
    expect(second.json().content[0].type).toBe('text');
  });

  it('shows the reasoning of a reasoning model as a thinking block when thinking is enabled', async () => {
    const res = await post({ model: 'sim-reasoner', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'Why is the sky blue?' }] });
    expect(res.status).toBe(200);
    const content = res.json().content;
    expect(content[0]).toEqual({ type: 'thinking', thinking: expect.stringMatching(/\S/), signature: '' });
    expect(content[1].type).toBe('text');
    const plain = await post({ model: 'sim-reasoner', max_tokens: 2000, messages: [{ role: 'user', content: 'Why is the sky blue?' }] });
    expect(plain.json().content.map((b: Any) => b.type)).toEqual(['text']);
  });
});

describe('messages: streamed', () => {
  it('sends Anthropic’s events in order, with usage in message_delta matching the record', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await post({ ...hello, stream: true }, { key: acct.apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('request-id')).toBe(res.headers.get('x-request-id'));
    const list = events(res.text);
    const names = list.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(names.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(new Set(names.slice(3, -3))).toEqual(new Set(['content_block_delta']));
    const start = list[0].data.message;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: 'sim-chat', content: [], stop_reason: null, stop_sequence: null });
    expect(start.id).toMatch(/^msg_/);
    expect(start.usage.input_tokens).toBe(countChatPromptTokens(hello.messages));
    expect(list[1].data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const text = list.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text).join('');
    expect(text.length).toBeGreaterThan(0);
    const delta = list[list.length - 2].data;
    expect(['end_turn', 'max_tokens']).toContain(delta.delta.stop_reason);
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'messages', stream: true, settle: 'complete', status: 200 });
    expect(delta.usage.output_tokens).toBe(r.completionTokens);
    expect(delta.usage.input_tokens).toBe(r.promptTokens);
  });

  it('streams a tool call as a tool_use block with input_json_delta fragments', async () => {
    const res = await post({ ...hello, stream: true, tools: [WEATHER_TOOL], tool_choice: { type: 'tool', name: 'get_weather' }, messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
    const list = events(res.text);
    const start = list.find((e) => e.event === 'content_block_start' && e.data.content_block.type === 'tool_use')!;
    expect(start.data.content_block).toMatchObject({ type: 'tool_use', name: 'get_weather', input: {} });
    const json = list.filter((e) => e.event === 'content_block_delta' && e.data.index === start.data.index).map((e) => e.data.delta.partial_json).join('');
    expect(JSON.parse(json)).toEqual(expect.objectContaining({ city: expect.any(String) }));
    expect(list.find((e) => e.event === 'message_delta')!.data.delta.stop_reason).toBe('tool_use');
  });

  it('streams thinking_delta events before the text on a reasoning model', async () => {
    const res = await post({ model: 'sim-reasoner', max_tokens: 2000, stream: true, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'Think first.' }] });
    const list = events(res.text);
    const starts = list.filter((e) => e.event === 'content_block_start').map((e) => e.data.content_block.type);
    expect(starts).toEqual(['thinking', 'text']);
    expect(list.some((e) => e.event === 'content_block_delta' && e.data.delta.type === 'thinking_delta' && e.data.delta.thinking.length > 0)).toBe(true);
    // Each block is stopped before the next starts.
    const order = list.filter((e) => e.event.startsWith('content_block_s')).map((e) => `${e.event}:${e.data.index}`);
    expect(order).toEqual(['content_block_start:0', 'content_block_stop:0', 'content_block_start:1', 'content_block_stop:1']);
  });

  it('ends a stream that breaks mid-way with an `error` event in Anthropic’s body', async () => {
    const res = await post({ model: 'rec-chat', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'Break.' }] });
    expect(res.status).toBe(200);
    const list = events(res.text);
    expect(list[0].event).toBe('message_start');
    const last = list[list.length - 1];
    expect(last.event).toBe('error');
    expect(last.data).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
    expect(list.some((e) => e.event === 'message_stop')).toBe(false);
  });
});

describe('messages: bad input and errors', () => {
  async function refused(body: unknown, message: string | RegExp, status = 400, type = 'invalid_request_error') {
    const before = chatRecorder.requests.length + anthropicRecorder.requests.length;
    const res = await post(body);
    expect(res.status).toBe(status);
    const json = res.json();
    expect(Object.keys(json).sort()).toEqual(['error', 'request_id', 'type']);
    expect(json.type).toBe('error');
    expect(json.error.type).toBe(type);
    if (typeof message === 'string') expect(json.error.message).toBe(message);
    else expect(json.error.message).toMatch(message);
    expect(chatRecorder.requests.length + anthropicRecorder.requests.length).toBe(before);
    expect(json.request_id).toBe(res.headers.get('x-request-id'));
    return res;
  }

  it('refuses a malformed request with the field’s Anthropic path, before any backend', async () => {
    const base = { model: 'rec-chat', max_tokens: 10 };
    await refused({ model: 'rec-chat', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens: Field required');
    await refused({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: PNG_1X1 } }] }] }, /^messages\.0\.content\.1\.source\.media_type: /);
    await refused({ ...base, messages: [{ role: 'robot', content: 'x' }] }, /^messages\.0\.role: /);
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], temperature: 3 }, /^temperature: /);
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'f' }] }, 'tools.0.input_schema: Field required');
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'sometimes' } }, /^tool_choice\.type: /);
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], stop_sequences: 'END' }, /^stop_sequences: /);
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], metadata: { user_id: 7 } }, /^metadata\.user_id: /);
    await refused({ ...base, messages: [{ role: 'user', content: 'x' }], frequency_penalty: 1 }, 'frequency_penalty: Extra inputs are not permitted');
    await refused([1, 2], /JSON object/);
    await refused({ ...base, model: 'claude-native', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }, /^max_tokens: /);
  });

  it('names the Messages field in chat’s capability checks', async () => {
    const msgs = [{ role: 'user', content: 'x' }];
    await refused({ model: 'plain-chat', max_tokens: 10, messages: msgs, tools: [WEATHER_TOOL] }, 'tools: the model "plain-chat" does not support tool calling.');
    await refused(
      { model: 'plain-chat', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] }] },
      'messages.0.content.1: the model "plain-chat" does not accept images; use a vision model or send text.',
    );
    await refused({ model: 'plain-chat', max_tokens: 500, messages: msgs }, 'max_tokens: 500 is too large; the model "plain-chat" produces at most 100 output tokens.');
    await refused({ model: 'plain-chat', max_tokens: 10, messages: msgs, stop_sequences: ['a', 'b', 'c', 'd', 'e'] }, /^stop_sequences: /);
    await refused({ model: 'sim-chat', max_tokens: 2000, messages: msgs, thinking: { type: 'enabled', budget_tokens: 1024 } }, /^thinking: the model "sim-chat" does not reason/);
    await refused({ model: 'sim-chat', max_tokens: 10, messages: msgs, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /^tools\.0\.type: "web_search_20250305" is a tool Anthropic runs/);
    await refused({ model: 'sim-embed', max_tokens: 10, messages: msgs }, /^model: /);
    await refused({ model: 'sim-chat', max_tokens: 10, messages: msgs, container: 'container_1' }, 'container: is served only by Anthropic\'s own API, and the model "sim-chat" is not served by it; omit the field.');
  });

  it('maps the catalog’s errors to Anthropic’s types with the catalog’s statuses', async () => {
    const msgs = [{ role: 'user', content: 'x' }];
    await refused({ model: 'no-such-model', max_tokens: 10, messages: msgs }, /no-such-model/, 404, 'not_found_error');
    const bad = await rawRequest(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'sk-wrong' }, json: hello });
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const broke = await gw.createAccount();
    const poor = await post(hello, { key: broke.apiKey });
    expect(poor.status).toBe(402);
    expect(poor.json()).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    const limited = await gw.createAccount({ creditMicros: 1_000_000, keyLimits: { requests_per_minute: 1 } });
    expect((await post(hello, { key: limited.apiKey })).status).toBe(200);
    const slow = await post(hello, { key: limited.apiKey });
    expect(slow.status).toBe(429);
    expect(slow.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(slow.headers.get('retry-after'))).toBeGreaterThan(0);
    const disabled = await gw.createAccount({ creditMicros: 1_000_000 });
    await gw.gateway.store.keys.disable(disabled.keyId);
    const gone = await post(hello, { key: disabled.apiKey });
    expect(gone.status).toBe(403);
    expect(gone.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    const down = await post({ model: 'down-chat', max_tokens: 10, messages: msgs });
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const broken = await post({ model: 'rec-chat', max_tokens: 10, messages: [{ role: 'user', content: 'please-500' }] });
    expect(broken.status).toBeGreaterThanOrEqual(500);
    expect(broken.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    const wrongMethod = await rawRequest(`${gw.url}/v1/messages`, { headers: { 'x-api-key': gw.apiKey } });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

describe('messages: native pass-through to an anthropic backend', () => {
  const nativeBody = {
    model: 'claude-native',
    max_tokens: 2000,
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello, native!' }] }],
    thinking: { type: 'enabled', budget_tokens: 1024 },
    tools: [WEATHER_TOOL, { type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
    top_k: 5,
    metadata: { user_id: 'u-1' },
    container: 'container_1',
  };

  it('sends the body as the client wrote it (model renamed) and returns the message as it came', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const before = anthropicRecorder.requests.length;
    const res = await post(nativeBody, { key: acct.apiKey, headers: { 'anthropic-beta': 'context-management-2025-06-27' } });
    expect(res.status).toBe(200);
    expect(anthropicRecorder.requests.length).toBe(before + 1);
    const seen = anthropicRecorder.requests[before];
    expect(seen.url).toBe('/v1/messages');
    // The client's beta flags go with it (a beta may be what makes a field acceptable); our key, not the client's.
    expect(seen.headers['anthropic-beta']).toBe('context-management-2025-06-27');
    expect(seen.headers['x-api-key']).toBe('sk-ant-test');
    expect(seen.body).toEqual({ ...nativeBody, model: 'claude-upstream-name' });
    expect(res.json()).toEqual({ ...NATIVE_MESSAGE, model: 'claude-native' });
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'messages', model: 'claude-native', promptTokens: 11 + 5 + 32, cachedTokens: 32, completionTokens: 7, settle: 'complete' });
    expect(r.costMicros).toBe(expectedCost(r));
  });

  it('relays the events as they came (model renamed) and bills from message_start and message_delta', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const before = anthropicRecorder.requests.length;
    const res = await post({ ...nativeBody, stream: true }, { key: acct.apiKey });
    expect(res.status).toBe(200);
    expect(anthropicRecorder.requests[before].body).toEqual({ ...nativeBody, stream: true, model: 'claude-upstream-name' });
    expect(anthropicRecorder.requests[before].headers['anthropic-beta']).toBeUndefined();
    const list = events(res.text);
    const expected = structuredClone(NATIVE_EVENTS);
    expected[0].message.model = 'claude-native';
    expect(list.map((e) => e.data)).toEqual(expected);
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'messages', stream: true, promptTokens: 48, cachedTokens: 32, completionTokens: 9, settle: 'complete' });
  });

  it('ends with an `error` event when the backend’s stream fails, and bills what was produced', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const body = { ...nativeBody, stream: true, messages: [{ role: 'user', content: 'please-fail' }] };
    const res = await post(body, { key: acct.apiKey });
    expect(res.status).toBe(200);
    const list = events(res.text);
    expect(list.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'error']);
    expect(list[4].data).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'messages', stream: true, settle: 'upstream_error' });
    expect(r.completionTokens).toBe(countTokens('Native '));
  });
});

describe('messages: count_tokens', () => {
  it('counts the translated prompt (billing nothing), and refuses what /v1/messages refuses', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const res = await post({ model: 'sim-chat', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this?' }] }, { path: '/messages/count_tokens', key: acct.apiKey });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ input_tokens: countChatPromptTokens([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'How many tokens is this?' }]) });
    const bad = await post({ model: 'sim-chat', messages: [] }, { path: '/messages/count_tokens' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages: /) } });
    const unknown = await post({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, { path: '/messages/count_tokens' });
    expect(unknown.status).toBe(404);
    expect(await recordsOf(acct.accountId)).toHaveLength(0);
    expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(1_000_000);
  });
});

describe('messages: balances and usage as chat', () => {
  it('admits at most what the balance covers among 200 concurrent requests, and the ledger balances', async () => {
    const messages = [{ role: 'user', content: 'Tell me about token buckets.' }];
    const maxCost = maxCostMicros(prices, countChatPromptTokens(messages), 50);
    const start = 10 * maxCost;
    const acct = await gw.createAccount({ creditMicros: start });
    const responses = await Promise.all(Array.from({ length: 200 }, () => post({ model: 'slow-chat', max_tokens: 50, messages }, { key: acct.apiKey })));
    const ok = responses.filter((r) => r.status === 200);
    const refusedRes = responses.filter((r) => r.status === 402);
    expect(ok.length + refusedRes.length).toBe(200);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(10);
    expect(refusedRes[0].json()).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    const records = await waitForRecords(acct.accountId, ok.length);
    expect(records).toHaveLength(ok.length);
    let spent = 0;
    for (const r of records) {
      expect(r.endpoint).toBe('messages');
      expect(r.costMicros).toBe(expectedCost(r));
      spent += r.costMicros;
    }
    expect((await gw.gateway.store.accounts.getById(acct.accountId))!.balanceMicros).toBe(start - spent);
  });

  it('bills a stream the client abandons for the prompt and what was produced', async () => {
    const acct = await gw.createAccount({ creditMicros: 1_000_000 });
    const messages = [{ role: 'user', content: 'Write a long story.' }];
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': acct.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'trickle-chat', max_tokens: 400, stream: true, messages }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/event: content_block_delta/g) ?? []).length < 4) {
      const { value } = await reader.read();
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    const received = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Any)
      .filter((d) => d.type === 'content_block_delta')
      .map((d) => d.delta.text)
      .join('');
    const [r] = await waitForRecords(acct.accountId, 1);
    expect(r).toMatchObject({ endpoint: 'messages', settle: 'client_disconnected', stream: true });
    expect(r.promptTokens).toBe(countChatPromptTokens(messages));
    expect(r.completionTokens).toBeGreaterThanOrEqual(countTokens(received));
    expect(r.completionTokens).toBeLessThan(100);
    expect(r.costMicros).toBe(expectedCost(r));
  });
});

describe('thinking budgets', () => {
  it('a budget becomes the reasoning_effort an OpenAI-style backend reads: low, medium, high', async () => {
    for (const [budget, effort] of [[1024, 'low'], [10_000, 'medium'], [32_000, 'high']] as const) {
      const before = chatRecorder.requests.length;
      const res = await rawRequest(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': gw.apiKey, 'anthropic-version': '2023-06-01' },
        json: { model: 'rec-reasoner', max_tokens: 40_000, thinking: { type: 'enabled', budget_tokens: budget }, messages: [{ role: 'user', content: 'Think.' }] },
      });
      expect(res.status, res.text).toBe(200);
      expect((chatRecorder.requests[before].body as Any).reasoning_effort).toBe(effort);
    }
    // Without thinking, no effort is asked for.
    const before = chatRecorder.requests.length;
    const plain = await rawRequest(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': gw.apiKey }, json: { model: 'rec-reasoner', max_tokens: 100, messages: [{ role: 'user', content: 'Hi.' }] } });
    expect(plain.status, plain.text).toBe(200);
    expect((chatRecorder.requests[before].body as Any).reasoning_effort).toBeUndefined();
  });
});
