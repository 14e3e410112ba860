// The anthropic provider end to end: the standalone simulator as its own process speaking the Messages
// API, the real gateway in front with `anthropic` providers pointing at it, the official openai SDK and
// raw HTTP as clients; and the simulator's /v1/messages over raw HTTP.
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig, RawConfig } from '../../src/config/schema.js';
import { PASS_THROUGH_ROUTING, rawRequest, spawnSimulator, sseData, startFakeUpstream, startTestGateway, testConfig, type ChildServer, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

type Any = Record<string, any>;

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const CAPABILITIES: ModelConfig['capabilities'] = ['chat', 'tools', 'vision', 'json_object'];

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Tell me about the sea.' },
];

let sim: ChildServer;
const faulty: Record<string, ChildServer> = {};
let gw: TestGateway;
/** Records what the provider sends; answers a fixed message, or a 429 when asked to. */
let recorder: FakeUpstream;

function model(id: string, provider: string, extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    id,
    category: 'multimodal',
    context_length: 200000,
    max_output_tokens: 8192,
    defaults: { max_tokens: 1024 },
    capabilities: CAPABILITIES,
    pricing: { input: 3, cached_input: 0.3, output: 15 },
    deployments: [{ provider, model: 'claude-sonnet-4-5' }],
    ...extra,
  };
}

/** The model as configured with no `capabilities`: the catalog decides them. */
function withoutCapabilities(config: ModelConfig): ModelConfig {
  const { capabilities: _omitted, ...rest } = config;
  return rest;
}

beforeAll(async () => {
  const faults: Record<string, string[]> = {
    overloaded: ['--error-rate', '1', '--error-status', '529'],
    badkey: ['--error-rate', '1', '--error-status', '401'],
    broken: ['--error-rate', '1', '--error-status', '500'],
    rejects: ['--error-rate', '1', '--error-status', '400'],
    hangs: ['--hang'],
    breaks: ['--break-after-tokens', '3', '--tokens-per-second', '1000'],
  };
  recorder = await startFakeUpstream((req, res) => {
    if (JSON.stringify(req.body).includes('please-429')) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }));
      return;
    }
    const message = {
      id: 'msg_recorded',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Recorded.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 11, cache_creation_input_tokens: 5, cache_read_input_tokens: 32, output_tokens: 2 },
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message));
  });
  const started = await Promise.all([spawnSimulator(), ...Object.values(faults).map((args) => spawnSimulator(args))]);
  sim = started[0];
  Object.keys(faults).forEach((name, i) => (faulty[name] = started[i + 1]));
  const anthropic = (url: string, extra: Record<string, unknown> = {}) => ({ type: 'anthropic' as const, base_url: url, api_key: 'sk-ant-test', ...extra });
  const config: RawConfig = testConfig({
    routing: PASS_THROUGH_ROUTING,
    providers: {
      claude: anthropic(sim.url),
      'claude-cached': anthropic(`${sim.url}/v1`, { prompt_caching: true }),
      'claude-recorded': anthropic(recorder.url, { anthropic_version: '2023-06-01', headers: { 'anthropic-beta': 'test-beta-1' } }),
      ...Object.fromEntries(Object.entries(faulty).map(([name, server]) => [`claude-${name}`, anthropic(server.url, name === 'hangs' ? { timeouts: { first_byte_ms: 300 } } : {})])),
    },
    models: [
      model('claude-test', 'claude'),
      model('claude-cached', 'claude-cached'),
      model('claude-recorded', 'claude-recorded'),
      withoutCapabilities(model('claude-defaults', 'claude')),
      ...Object.keys(faulty).map((name) => model(`claude-${name}`, `claude-${name}`)),
    ],
  });
  gw = await startTestGateway(config);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await recorder?.close();
  await Promise.all([sim, ...Object.values(faulty)].filter(Boolean).map((s) => s.stop()));
});

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.APIError);
  return err as InstanceType<typeof OpenAI.APIError>;
}

describe('anthropic provider: chat', () => {
  it('answers a plain chat in the exact OpenAI shape', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'claude-test', messages: [{ role: 'user', content: 'Hello!' }] },
    });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body).toMatchObject({ object: 'chat.completion', model: 'claude-test' });
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0]).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop' });
    expect(body.choices[0].message).toMatchObject({ role: 'assistant', refusal: null });
    expect(body.choices[0].message.content).toMatch(/^This is a simulated response\./);
    expect(body.usage).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('sends the system prompt (it counts, and it changes the answer) and refuses a prompt with no turns', async () => {
    const plain = await gw.client.chat.completions.create({ model: 'claude-test', messages: [messages[1]] });
    const withSystem = await gw.client.chat.completions.create({ model: 'claude-test', messages });
    const longer = await gw.client.chat.completions.create({
      model: 'claude-test',
      messages: [{ role: 'system', content: 'You are terse. Answer in one sentence, in English, without lists or headings.' }, messages[1]],
    });
    expect(withSystem.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens);
    expect(longer.usage!.prompt_tokens).toBeGreaterThan(withSystem.usage!.prompt_tokens);
    expect(withSystem.choices[0].message.content).not.toBe(plain.choices[0].message.content);
    const err = await failure(gw.client.chat.completions.create({ model: 'claude-test', messages: [{ role: 'system', content: 'Only a system prompt.' }] }));
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages');
  });

  it('drops OpenAI-only fields (the Messages API refuses unknown ones)', async () => {
    const res = await gw.client.chat.completions.create({
      model: 'claude-test',
      messages,
      n: 1,
      seed: 4,
      frequency_penalty: 0.5,
      presence_penalty: 0.5,
      logit_bias: { 50256: -100 },
      temperature: 0.3,
      top_p: 0.9,
      user: 'user-1',
      stop: 'never-appears',
      max_completion_tokens: 500,
    });
    expect(res.choices[0].finish_reason).toBe('stop');
  });

  it('streams chunks that reassemble to the non-streamed answer, with the finish reason last', async () => {
    const full = await gw.client.chat.completions.create({ model: 'claude-test', messages });
    const stream = await gw.client.chat.completions.create({ model: 'claude-test', messages, stream: true });
    let text = '';
    let finish: string | null = null;
    let first = true;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.model).toBe('claude-test');
      expect(chunk).not.toHaveProperty('usage');
      if (first) expect(chunk.choices[0].delta.role).toBe('assistant');
      first = false;
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    expect(ids.size).toBe(1);
    expect(text).toBe(full.choices[0].message.content);
    expect(finish).toBe('stop');
  });

  it('sends usage: null on every chunk and the usage chunk last with include_usage', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'claude-test', messages, stream: true, stream_options: { include_usage: true } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.text).not.toMatch(/^event:/m);
    const events = sseData(res.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Any);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(chunks.filter((c) => c.choices[0]?.delta?.content).length);
    expect(last.usage).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
    expect(last.usage.total_tokens).toBe(last.usage.prompt_tokens + last.usage.completion_tokens);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
  });

  it('calls a tool with valid arguments, streams it for the SDK helper, then answers the tool result', async () => {
    const ask = [{ role: 'user' as const, content: 'What is the weather in Oslo?' }];
    const res = await gw.client.chat.completions.create({ model: 'claude-test', messages: ask, tools: [WEATHER], tool_choice: 'required' });
    const choice = res.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0] as { id: string; type: string; function: { name: string; arguments: string } };
    expect(call.id).toMatch(/^toolu_/);
    expect(call.type).toBe('function');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments);
    expect(new Ajv().validate(WEATHER.function.parameters, args)).toBe(true);

    const runner = gw.client.chat.completions.stream({ model: 'claude-test', messages: ask, tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const streamed = final.choices[0].message.tool_calls![0] as typeof call;
    expect(streamed.id).toMatch(/^toolu_/);
    expect(streamed.function.name).toBe('get_weather');
    expect(new Ajv().validate(WEATHER.function.parameters, JSON.parse(streamed.function.arguments))).toBe(true);

    // The simulator refuses a tool_result whose id does not match the previous tool_use: this proves the round trip.
    const answer = await gw.client.chat.completions.create({
      model: 'claude-test',
      tools: [WEATHER],
      messages: [...ask, { role: 'assistant', content: null, tool_calls: [call as never] }, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 12}' }],
    });
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.choices[0].message.content).toMatch(/tool result/);
    const mismatched = await failure(
      gw.client.chat.completions.create({
        model: 'claude-test',
        tools: [WEATHER],
        messages: [...ask, { role: 'assistant', content: null, tool_calls: [call as never] }, { role: 'tool', tool_call_id: 'toolu_other', content: 'x' }],
      }),
    );
    expect(mismatched.status).toBe(400);
    expect(mismatched.message).toMatch(/tool_use/);
  });

  it('takes an image as a data URL, and refuses an image type Anthropic does not read', async () => {
    const res = await gw.client.chat.completions.create({
      model: 'claude-test',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1X1}` } },
          ],
        },
      ],
    });
    expect(res.choices[0].message.content).toMatch(/simulated/);
    const text = await gw.client.chat.completions.create({ model: 'claude-test', messages: [{ role: 'user', content: 'What is in this picture?' }] });
    expect(res.usage!.prompt_tokens).toBeGreaterThan(text.usage!.prompt_tokens);
    const err = await failure(
      gw.client.chat.completions.create({ model: 'claude-test', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] }),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[0].content[0].image_url.url');
  });

  it('honours stop sequences and max_tokens (length)', async () => {
    const full = await gw.client.chat.completions.create({ model: 'claude-test', messages });
    const words = (full.choices[0].message.content ?? '').split(' ');
    const stopWord = words[Math.floor(words.length / 2)];
    const stopped = await gw.client.chat.completions.create({ model: 'claude-test', messages, stop: [stopWord] });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].message.content).not.toContain(stopWord);
    expect(full.choices[0].message.content!.startsWith(stopped.choices[0].message.content!)).toBe(true);
    const short = await gw.client.chat.completions.create({ model: 'claude-test', messages, max_tokens: 5 });
    expect(short.choices[0].finish_reason).toBe('length');
    expect(short.usage!.completion_tokens).toBe(5);
  });

  it('reports cache creation, then cache reads, with prompt_caching (prompt_tokens counts both)', async () => {
    const system = `You answer questions about ${Date.now()}. `.repeat(12);
    const ask = [{ role: 'system' as const, content: system }, { role: 'user' as const, content: 'What is a gateway?' }];
    const first = (await gw.client.chat.completions.create({ model: 'claude-cached', messages: ask })).usage as Any;
    const second = (await gw.client.chat.completions.create({ model: 'claude-cached', messages: ask })).usage as Any;
    expect(first.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(first.cache_read_input_tokens).toBe(0);
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.cache_creation_input_tokens).toBe(0);
    expect(second.prompt_tokens_details.cached_tokens).toBe(second.cache_read_input_tokens);
    expect(second.prompt_tokens).toBe(first.prompt_tokens);

    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'claude-cached', messages: ask, stream: true, stream_options: { include_usage: true } },
    });
    const usage = JSON.parse(sseData(res.text).at(-2)!).usage;
    expect(usage.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(usage.prompt_tokens).toBe(first.prompt_tokens);
  });

  it('answers JSON for json_object, and leaves what the catalog does not declare to the catalog', async () => {
    const json = await gw.client.chat.completions.create({ model: 'claude-test', messages, response_format: { type: 'json_object' } });
    expect(json.choices[0].finish_reason).toBe('stop');
    const n = await failure(gw.client.chat.completions.create({ model: 'claude-test', messages, n: 2 }));
    expect([n.status, n.param]).toEqual([400, 'n']);
    const legacy = await failure(gw.client.completions.create({ model: 'claude-test', prompt: 'x' }));
    expect([legacy.status, legacy.param]).toEqual([400, 'model']);
  });

  it('gives a model served only by Anthropic chat alone by default: legacy completions are refused by the catalog', async () => {
    const listed = await gw.client.models.retrieve('claude-defaults');
    expect((listed as unknown as { capabilities: string[] }).capabilities).toEqual(['chat']);
    const err = await failure(gw.client.completions.create({ model: 'claude-defaults', prompt: 'Once upon a time' }));
    expect(err.status).toBe(400);
    expect(err.param).toBe('model');
    expect(err.message).toMatch(/does not serve this endpoint/);
    const chat = await gw.client.chat.completions.create({ model: 'claude-defaults', messages: [{ role: 'user', content: 'Hi' }] });
    expect(chat.choices[0].message.content).toBeTruthy();
  });
});

describe('anthropic provider: the wire', () => {
  it('sends the key, the version, extra headers and the request id to /v1/messages, and reads usage back', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'req-anthropic-wire-1' },
      json: { model: 'claude-recorded', messages, stop: ['\n\n'] },
    });
    expect(res.status).toBe(200);
    const sent = recorder.requests.at(-1)!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers).toMatchObject({
      'x-api-key': 'sk-ant-test',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'test-beta-1',
      'content-type': 'application/json',
      'x-request-id': 'req-anthropic-wire-1',
    });
    expect(sent.headers).not.toHaveProperty('authorization');
    expect(sent.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me about the sea.' }] }],
      stop_sequences: ['\n\n'],
    });
    const body = res.json();
    expect(body.model).toBe('claude-recorded');
    expect(body.choices[0]).toMatchObject({ message: { content: 'Recorded.' }, finish_reason: 'stop' });
    expect(body.usage).toMatchObject({
      prompt_tokens: 48,
      completion_tokens: 2,
      total_tokens: 50,
      prompt_tokens_details: { cached_tokens: 32 },
      cache_read_input_tokens: 32,
      cache_creation_input_tokens: 5,
    });
  });

  it("passes a 429's Retry-After on with the 503", async () => {
    const err = await failure(gw.client.chat.completions.create({ model: 'claude-recorded', messages: [{ role: 'user', content: 'please-429' }] }));
    expect([err.status, err.code]).toEqual([503, 'model_unavailable']);
    expect(err.headers?.get('retry-after')).toBe('7');
  }, 30_000);
});

describe('anthropic provider: errors', () => {
  it('maps an overloaded backend (529) to 503 model_unavailable with Retry-After, streamed or not', async () => {
    const err = await failure(gw.client.chat.completions.create({ model: 'claude-overloaded', messages }));
    expect(err.status).toBe(503);
    expect(err.code).toBe('model_unavailable');
    expect(err.headers?.get('retry-after')).toBe('1');
    const streamed = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'claude-overloaded', messages, stream: true },
    });
    expect(streamed.status).toBe(503);
    expect(streamed.json().error.code).toBe('model_unavailable');
  }, 30_000);

  it('maps a refused key (401) to 502 without passing the backend message on', async () => {
    const err = await failure(gw.client.chat.completions.create({ model: 'claude-badkey', messages }));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_error');
    expect(err.message).toMatch(/configuration/);
    expect(err.message).not.toMatch(/Simulated/);
  });

  it('maps a backend failure (500) to 502, and a backend 400 to a 400 with its message', async () => {
    const broken = await failure(gw.client.chat.completions.create({ model: 'claude-broken', messages }));
    expect([broken.status, broken.code]).toEqual([502, 'upstream_error']);
    const rejected = await failure(gw.client.chat.completions.create({ model: 'claude-rejects', messages }));
    expect(rejected.status).toBe(400);
    expect(rejected.type).toBe('invalid_request_error');
    expect(rejected.message).toMatch(/Simulated failure \(HTTP 400\)/);
  }, 30_000);

  it('maps a backend that never answers to 504 after first_byte_ms', async () => {
    const started = performance.now();
    const err = await failure(gw.client.chat.completions.create({ model: 'claude-hangs', messages }));
    expect([err.status, err.code]).toEqual([504, 'upstream_timeout']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('ends a stream that breaks mid-way with an error event and no [DONE]', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'claude-breaks', messages, stream: true },
    });
    expect(res.status).toBe(200);
    const events = sseData(res.text);
    expect(events).not.toContain('[DONE]');
    const parsed = events.map((e) => JSON.parse(e) as Any);
    expect(parsed.filter((c) => c.choices?.[0]?.delta?.content).map((c) => c.choices[0].delta.content)).toHaveLength(3);
    expect(parsed.at(-1)!.error.code).toBe('upstream_error');
  });
});

describe('simulator: POST /v1/messages over HTTP', () => {
  const headers = { 'x-api-key': 'sk-ant-anything', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
  const post = (body: unknown, extra: Record<string, string> = headers, server: ChildServer = sim) =>
    fetch(`${server.url}/v1/messages`, { method: 'POST', headers: extra, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const ask = { model: 'claude-sim', max_tokens: 300, messages: [{ role: 'user', content: 'Hello' }] };

  it('answers a message with JSON headers', async () => {
    const res = await post(ask);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Any;
    expect(Object.keys(body).sort()).toEqual(['content', 'id', 'model', 'role', 'stop_reason', 'stop_sequence', 'type', 'usage']);
    expect(body).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sim', stop_reason: 'end_turn' });
  });

  it('streams named events whose names match their data, in Anthropic\u2019s order, without [DONE]', async () => {
    const res = await post({ ...ask, stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    expect(text).not.toContain('[DONE]');
    const blocks = text.split('\n\n').filter((b) => b.length > 0);
    const events = blocks.map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      expect(eventLine).toMatch(/^event: /);
      expect(dataLine).toMatch(/^data: /);
      const data = JSON.parse(dataLine.slice('data: '.length)) as Any;
      expect(data.type).toBe(eventLine.slice('event: '.length));
      return data;
    });
    const order = events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]);
    expect(order).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events.find((e) => e.type === 'message_delta')!.usage.output_tokens).toBe(events.filter((e) => e.type === 'content_block_delta').length);
  });

  it('answers bad requests, a missing header and injected faults in Anthropic\u2019s error shape', async () => {
    const noVersion = await post(ask, { 'x-api-key': 'k', 'content-type': 'application/json' });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/anthropic-version/) } });
    const noKey = await post(ask, { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as Any).error.type).toBe('authentication_error');
    const badJson = await post('{"model": ');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as Any).type).toBe('error');
    const noMax = await post({ model: 'm', messages: ask.messages });
    expect(((await noMax.json()) as Any).error.message).toMatch(/^max_tokens: Field required/);

    const overloaded = await post(ask, headers, faulty.overloaded);
    expect(overloaded.status).toBe(529);
    expect(overloaded.headers.get('retry-after')).toBe('1');
    expect(((await overloaded.json()) as Any).error.type).toBe('overloaded_error');
    const unauthorized = await post(ask, headers, faulty.badkey);
    expect(((await unauthorized.json()) as Any).error.type).toBe('authentication_error');
  });

  it('leaves the OpenAI routes as they were', async () => {
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Hello' }] });
    expect(res.object).toBe('chat.completion');
    expect((await fetch(`${sim.url}/v1/messages`)).status).toBe(405);
  });
});
