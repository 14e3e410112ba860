// The anthropic provider's translations (OpenAI request → Messages API, message and stream events →
// OpenAI shapes, errors → our catalog) and the simulator's Messages API answers, without a network.
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/openai/errors.js';
import { mapAnthropicStatus, mapAnthropicStreamError } from '../../src/providers/anthropic/errors.js';
import { buildAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { chatCompletionFromMessage, mapStopReason } from '../../src/providers/anthropic/response.js';
import { AnthropicStreamTranslator } from '../../src/providers/anthropic/stream.js';
import type { JsonAnswer, StreamAnswer } from '../../src/providers/simulator/answer.js';
import { createSimulatorCore } from '../../src/providers/simulator/core.js';
import { MessagesRequestError } from '../../src/providers/simulator/messages.js';
import type { JsonObject } from '../../src/providers/types.js';

type Any = Record<string, any>;

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'] },
  },
};

function build(body: JsonObject, promptCaching = false): Any {
  return buildAnthropicRequest({ model: 'claude-x', max_tokens: 100, ...body }, { promptCaching });
}

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('anthropic request translation', () => {
  it('moves system and developer messages to system, and keeps the turns', () => {
    const req = build({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(req.system).toEqual([
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Answer in English.' },
    ]);
    expect(req.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }]);
    expect(req.model).toBe('claude-x');
    expect(req.max_tokens).toBe(100);
  });

  it('turns tool calls into tool_use blocks and tool messages into tool_result blocks in one user turn', () => {
    const req = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome","days":1}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'rain' }] },
        { role: 'user', content: 'Thanks. Which is warmer?' },
      ],
    });
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', days: 1 } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome', days: 1 } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'rain' },
          { type: 'text', text: 'Thanks. Which is warmer?' },
        ],
      },
    ]);
  });

  it('merges consecutive turns of one role, drops empty text and trims a final assistant prefill', () => {
    const req = build({
      messages: [
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }, { type: 'text', text: '   ' }] },
        { role: 'assistant', content: '' },
        { role: 'assistant', content: 'The answer is ' },
      ],
    });
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'The answer is' }] },
    ]);
  });

  it('maps image_url parts: data URLs to base64 sources, http(s) to URL sources', () => {
    const req = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1X1}`, detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(req.messages[0].content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    const bmp = thrown(() => build({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AAAA' } }] }] }));
    expect(bmp.status).toBe(400);
    expect(bmp.param).toBe('messages[0].content[0].image_url.url');
    const audio = thrown(() => build({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }));
    expect(audio.param).toBe('messages[0].content[0].type');
  });

  it('maps tools, every tool_choice, parallel_tool_calls, stop, the output cap and sampling fields', () => {
    const messages = [{ role: 'user', content: 'x' }];
    const req = build({ messages, tools: [WEATHER_TOOL], stop: 'END', max_tokens: 50, max_completion_tokens: 70, temperature: 0.5, top_p: 0.9, user: 'u-1' });
    expect(req.tools).toEqual([{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_TOOL.function.parameters }]);
    expect(req.tool_choice).toEqual({ type: 'auto' });
    expect(req.stop_sequences).toEqual(['END']);
    expect(req.max_tokens).toBe(70);
    expect(req).toMatchObject({ temperature: 0.5, top_p: 0.9, metadata: { user_id: 'u-1' } });
    expect(build({ messages, tools: [WEATHER_TOOL], tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(build({ messages, tools: [WEATHER_TOOL], tool_choice: 'required' }).tool_choice).toEqual({ type: 'any' });
    expect(build({ messages, tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'get_weather' } } }).tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(build({ messages, tools: [WEATHER_TOOL], parallel_tool_calls: false }).tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(build({ messages, stop: ['a', 'b'] }).stop_sequences).toEqual(['a', 'b']);
    // No tools: no tool_choice either.
    expect(build({ messages, tool_choice: 'none' })).not.toHaveProperty('tool_choice');
  });

  it('drops fields Anthropic does not know and refuses the ones that would change the answer', () => {
    const req = build({
      messages: [{ role: 'user', content: 'x' }],
      n: 1,
      seed: 3,
      frequency_penalty: 0.1,
      presence_penalty: 0.1,
      logit_bias: { 1: 2 },
      stream: true,
      stream_options: { include_usage: true },
      service_tier: 'auto',
      store: false,
      reasoning_effort: 'low',
    });
    expect(Object.keys(req).sort()).toEqual(['max_tokens', 'messages', 'model', 'stream']);
    expect(thrown(() => build({ messages: [{ role: 'user', content: 'x' }], n: 2 })).param).toBe('n');
    expect(thrown(() => build({ messages: [{ role: 'user', content: 'x' }], logprobs: true })).param).toBe('logprobs');
    expect(thrown(() => build({ messages: [{ role: 'system', content: 'only a system prompt' }] })).param).toBe('messages');
    expect(thrown(() => build({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{bad' } }] }] })).param).toBe(
      'messages[0].tool_calls[0].function.arguments',
    );
  });

  it('asks for JSON in the system prompt for json_object and json_schema', () => {
    const obj = build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
    expect(obj.system.at(-1).text).toMatch(/single valid JSON object/);
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    const withSchema = build({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } });
    expect(withSchema.system[0].text).toBe('S');
    expect(withSchema.system[1].text).toContain(JSON.stringify(schema));
  });

  it('marks cache breakpoints with prompt_caching, unless the request carries its own', () => {
    const body = { messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'hello' }], tools: [WEATHER_TOOL] };
    const cached = build(body, true);
    expect(cached.tools[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(cached.system[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(cached.messages[0].content[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(JSON.stringify(build(body, false))).not.toContain('cache_control');
    const own = build({ messages: [{ role: 'user', content: [{ type: 'text', text: 'long document', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'question' }] }] }, true);
    expect(own.messages[0].content).toEqual([
      { type: 'text', text: 'long document', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'question' },
    ]);
  });
});

describe('anthropic response translation', () => {
  it('maps a message with text, thinking and tool_use to a chat.completion', () => {
    const out = chatCompletionFromMessage({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [
        { type: 'thinking', thinking: 'Hmm.', signature: 's' },
        { type: 'text', text: 'Let me check. ' },
        { type: 'text', text: 'One moment.' },
        { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Oslo', days: 2 } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 10, cache_read_input_tokens: 32, cache_creation_input_tokens: 16, output_tokens: 7 },
    }) as Any;
    expect(out.object).toBe('chat.completion');
    const choice = out.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.logprobs).toBeNull();
    expect(choice.message).toEqual({
      role: 'assistant',
      content: 'Let me check. One moment.',
      refusal: null,
      reasoning_content: 'Hmm.',
      tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","days":2}' } }],
    });
    expect(out.usage).toEqual({
      prompt_tokens: 58,
      completion_tokens: 7,
      total_tokens: 65,
      prompt_tokens_details: { cached_tokens: 32 },
      cache_read_input_tokens: 32,
      cache_creation_input_tokens: 16,
    });
  });

  it('gives a tool-only answer null content, and maps every stop reason', () => {
    const out = chatCompletionFromMessage({ id: 'm', model: 'c', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }], stop_reason: 'tool_use', usage: {} }) as Any;
    expect(out.choices[0].message.content).toBeNull();
    expect(out.choices[0].message.tool_calls[0].function.arguments).toBe('{}');
    expect(['end_turn', 'stop_sequence', 'max_tokens', 'tool_use', 'refusal', 'something_new'].map(mapStopReason)).toEqual([
      'stop',
      'stop',
      'length',
      'tool_calls',
      'content_filter',
      'something_new',
    ]);
    expect(() => chatCompletionFromMessage({ type: 'message' })).toThrow(GatewayError);
  });
});

/** Runs events through a fresh translator, collecting every chunk. */
function translateAll(events: JsonObject[]): Any[] {
  const translator = new AnthropicStreamTranslator();
  const out: JsonObject[] = [];
  for (const e of events) translator.translate(e, out);
  expect(translator.finished).toBe(events.some((e) => e.type === 'message_stop'));
  return out as Any[];
}

const START = {
  type: 'message_start',
  message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 20, cache_read_input_tokens: 16, cache_creation_input_tokens: 0, output_tokens: 1 } },
};

describe('anthropic stream translation', () => {
  it('turns a text stream into role, content deltas, the finish reason and a usage chunk', () => {
    const chunks = translateAll([
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' there.' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' }, usage: { output_tokens: 2 } },
      { type: 'message_stop' },
    ]);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hello' }, { content: ' there.' }, {}, null]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, 'stop', null]);
    for (const c of chunks) expect(c).toMatchObject({ id: 'msg_s', object: 'chat.completion.chunk', model: 'claude-x' });
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: 36,
      completion_tokens: 2,
      total_tokens: 38,
      prompt_tokens_details: { cached_tokens: 16 },
      cache_read_input_tokens: 16,
      cache_creation_input_tokens: 0,
    });
  });

  it('turns tool_use blocks into tool-call deltas: index, id, type and name first, then argument fragments', () => {
    const chunks = translateAll([
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Oslo"}' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_b', name: 'now', input: {} } },
      { type: 'content_block_stop', index: 2 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 30 } },
      { type: 'message_stop' },
    ]);
    const deltas = chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Checking.' },
      { tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'now', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
    ]);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('sends the role with the first tool call when there is no text, and thinking as reasoning_content', () => {
    const tool = translateAll([START, { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }]);
    expect(tool[0].choices[0].delta).toEqual({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '' } }] });
    const thinking = translateAll([
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me see.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'xyz' } },
      { type: 'content_block_stop', index: 0 },
    ]);
    expect(thinking.map((c) => c.choices[0].delta)).toEqual([{ role: 'assistant', content: '', reasoning_content: '' }, { reasoning_content: 'Let me see.' }]);
  });

  it('takes the cumulative usage of message_delta when it carries input counts too', () => {
    const chunks = translateAll([
      START,
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 25, cache_read_input_tokens: 16, cache_creation_input_tokens: 0, output_tokens: 9 } },
      { type: 'message_stop' },
    ]);
    expect(chunks[0].choices[0]).toMatchObject({ delta: { role: 'assistant', content: '' }, finish_reason: 'stop' });
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 41, completion_tokens: 9 });
  });

  it('throws the mapped error for an error event', () => {
    const translator = new AnthropicStreamTranslator();
    let err: unknown;
    try {
      translator.translate({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(503);
    expect((err as GatewayError).retryAfterMs).toBeGreaterThan(0);
    expect(mapAnthropicStreamError({ type: 'error', error: { type: 'api_error', message: 'boom' } }).status).toBe(502);
  });
});

describe('anthropic error mapping', () => {
  const body = (type: string, message: string) => ({ type: 'error', error: { type, message } });

  it('maps statuses as SPEC §6 says', () => {
    const bad = mapAnthropicStatus(400, body('invalid_request_error', 'max_tokens: Field required'));
    expect([bad.status, bad.code, bad.message]).toEqual([400, null, 'max_tokens: Field required']);
    expect(mapAnthropicStatus(400, body('invalid_request_error', 'prompt is too long: 250000 tokens > 200000 maximum')).code).toBe('context_length_exceeded');
    for (const status of [401, 403, 402]) {
      const err = mapAnthropicStatus(status, body('authentication_error', 'invalid x-api-key'));
      expect([err.status, err.code]).toEqual([502, 'upstream_error']);
      expect(err.message).not.toContain('x-api-key');
    }
    for (const status of [429, 503, 529]) {
      const err = mapAnthropicStatus(status, body('overloaded_error', 'Overloaded'), 7000);
      expect([err.status, err.code, err.retryAfterMs]).toEqual([503, 'model_unavailable', 7000]);
    }
    expect(mapAnthropicStatus(500, body('api_error', 'Internal')).status).toBe(502);
    expect(mapAnthropicStatus(504, body('timeout_error', 'Timeout')).status).toBe(504);
  });
});

// ── the simulator's Messages API ──

function simulator(settings = {}) {
  return createSimulatorCore({ output_tokens: [20, 30], ...settings });
}

function messageOf(core: ReturnType<typeof simulator>, body: JsonObject): Any {
  const answer = core.answerMessages({ model: 'claude-sim', max_tokens: 200, ...body });
  expect(answer.kind).toBe('json');
  return (answer as JsonAnswer).body as Any;
}

function eventsOf(core: ReturnType<typeof simulator>, body: JsonObject): Any[] {
  const answer = core.answerMessages({ model: 'claude-sim', max_tokens: 200, stream: true, ...body });
  expect(answer.kind).toBe('stream');
  return (answer as StreamAnswer).steps.flat().map((e) => e.chunk as Any);
}

const USER = [{ role: 'user', content: 'Tell me about gateways.' }];
const ANTHROPIC_TOOL = { name: 'get_weather', description: 'Weather', input_schema: WEATHER_TOOL.function.parameters };

describe('simulator Messages API', () => {
  it('answers a message in Anthropic\u2019s shape, deterministically', () => {
    const core = simulator();
    const a = messageOf(core, { system: 'Be brief.', messages: USER });
    expect(a).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sim', stop_reason: 'end_turn', stop_sequence: null });
    expect(a.id).toMatch(/^msg_/);
    expect(a.content).toHaveLength(1);
    expect(a.content[0].type).toBe('text');
    expect(a.content[0].text).toMatch(/^This is a simulated response\./);
    expect(a.usage).toEqual({ input_tokens: expect.any(Number), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: expect.any(Number) });
    expect(a.usage.output_tokens).toBeGreaterThanOrEqual(20);
    expect(messageOf(simulator(), { system: 'Be brief.', messages: USER }).content).toEqual(a.content);
  });

  it('streams the event sequence: message_start, blocks with deltas, message_delta, message_stop', () => {
    const core = simulator();
    const full = messageOf(core, { messages: USER });
    const events = eventsOf(core, { messages: USER });
    const types = events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(types.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(new Set(types.slice(3, -3))).toEqual(new Set(['content_block_delta']));
    expect(events[0].message).toMatchObject({ role: 'assistant', content: [], stop_reason: null, usage: { input_tokens: full.usage.input_tokens, output_tokens: 1 } });
    expect(events[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    expect(text).toBe(full.content[0].text);
    expect(events.at(-2)).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: full.usage.output_tokens } });
  });

  it('calls tools with input valid against input_schema, and answers a tool_result turn with text', () => {
    const core = simulator();
    const a = messageOf(core, { messages: USER, tools: [ANTHROPIC_TOOL], tool_choice: { type: 'any' } });
    expect(a.stop_reason).toBe('tool_use');
    const use = a.content[0];
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    expect(use.id).toMatch(/^toolu_/);
    expect(new Ajv().validate(ANTHROPIC_TOOL.input_schema, use.input)).toBe(true);

    const events = eventsOf(core, { messages: USER, tools: [ANTHROPIC_TOOL], tool_choice: { type: 'any' } });
    expect(events[1].content_block).toEqual({ type: 'tool_use', id: use.id, name: 'get_weather', input: {} });
    const json = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.partial_json).join('');
    expect(JSON.parse(json)).toEqual(use.input);

    const after = messageOf(core, {
      tools: [ANTHROPIC_TOOL],
      messages: [...USER, { role: 'assistant', content: [use] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] }],
    });
    expect(after.stop_reason).toBe('end_turn');
    expect(after.content[0].text).toMatch(/tool result/);
  });

  it('reports the stop sequence that ended the text, and max_tokens', () => {
    const core = simulator();
    const full = messageOf(core, { messages: USER }).content[0].text as string;
    const word = full.split(' ')[8];
    const stopped = messageOf(core, { messages: USER, stop_sequences: ['zzz-never', ` ${word}`] });
    expect(stopped.stop_reason).toBe('stop_sequence');
    expect(stopped.stop_sequence).toBe(` ${word}`);
    expect(full.startsWith(stopped.content[0].text + ` ${word}`)).toBe(true);
    const capped = messageOf(core, { messages: USER, max_tokens: 3 });
    expect(capped.stop_reason).toBe('max_tokens');
    expect(capped.usage.output_tokens).toBe(3);
  });

  it('reports cache writes, then reads, where the request marks cache_control', () => {
    const core = simulator();
    const system = [{ type: 'text', text: 'You are a helpful assistant for a very long prompt. '.repeat(8), cache_control: { type: 'ephemeral' } }];
    const first = messageOf(core, { system, messages: USER }).usage;
    const second = messageOf(core, { system, messages: USER }).usage;
    expect(first.cache_read_input_tokens).toBe(0);
    expect(first.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.cache_creation_input_tokens).toBe(0);
    const total = (u: Any) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    expect(total(second)).toBe(total(first));
  });

  it('thinks first when thinking is enabled', () => {
    const core = simulator();
    const a = messageOf(core, { messages: USER, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(a.content.map((b: Any) => b.type)).toEqual(['thinking', 'text']);
    expect(a.content[0].signature).toBeTruthy();
    const types = new Set(eventsOf(core, { messages: USER, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 1024 } }).map((e) => e.delta?.type));
    expect(types).toContain('thinking_delta');
    expect(types).toContain('signature_delta');
  });

  it('accepts images and refuses what Anthropic refuses', () => {
    const core = simulator();
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } };
    expect(messageOf(core, { messages: [{ role: 'user', content: [image, { type: 'text', text: 'What is it?' }] }] }).type).toBe('message');
    const refusal = (body: JsonObject): MessagesRequestError => {
      try {
        core.answerMessages({ model: 'm', max_tokens: 10, messages: USER, ...body });
      } catch (err) {
        if (err instanceof MessagesRequestError) return err;
        throw err;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal({ max_tokens: undefined }).message).toMatch(/^max_tokens: Field required/);
    expect(refusal({ n: 2 }).message).toMatch(/^n: Extra inputs are not permitted/);
    expect(refusal({ messages: [{ role: 'system', content: 'x' }] }).message).toMatch(/^messages\.0\.role/);
    expect(refusal({ messages: [{ role: 'user', content: [{ ...image, source: { ...image.source, media_type: 'image/bmp' } }] }] }).message).toMatch(/media_type/);
    expect(refusal({ messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }).message).toMatch(/non-whitespace/);
    expect(refusal({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] }] }).message).toMatch(/unexpected `tool_use_id`/);
    expect(
      refusal({ messages: [...USER, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_y', name: 'f', input: {} }] }, { role: 'user', content: 'no result' }] }).message,
    ).toMatch(/without `tool_result`/);
    expect(refusal({ temperature: 1.5 }).message).toMatch(/^temperature/);
    expect(refusal({ tool_choice: { type: 'any' } }).status).toBe(400);
  });
});
