// The simulator's core: determinism, the OpenAI shapes it produces, limits, tools and JSON, the prefix
// cache, embeddings, and the in-process provider's pacing and faults.
import { CallSignal } from '../../src/providers/call-signal.js';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTokens, encodeChatPrompt, encodeTokens } from '../../src/accounting/tokenizer.js';
import type { SimulatorSettings } from '../../src/config/schema.js';
import { GatewayError } from '../../src/openai/errors.js';
import type { Answer, JsonAnswer, StreamAnswer } from '../../src/providers/simulator/answer.js';
import { createSimulatorCore, globToRegExp } from '../../src/providers/simulator/core.js';
import { sampleJsonSchema } from '../../src/providers/simulator/json-schema-sample.js';
import { PrefixCache, blockHashes } from '../../src/providers/simulator/prefix-cache.js';
import { createSimulatorProvider } from '../../src/providers/simulator/provider.js';
import { Rng } from '../../src/providers/simulator/random.js';
import { limitPieces } from '../../src/providers/simulator/text.js';
import type { Endpoint, JsonObject, UpstreamCall, UpstreamResult } from '../../src/providers/types.js';

type Any = Record<string, any>;

function makeAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('email', /^[^@\s]+@[^@\s]+\.[^@\s]+$/);
  ajv.addFormat('uri', /^[a-z][a-z0-9+.-]*:\/\/\S+$/i);
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  return ajv;
}

function answer(endpoint: Endpoint, body: JsonObject, settings: SimulatorSettings = {}): Answer {
  return createSimulatorCore(settings).answer(endpoint, body);
}

function json(a: Answer): Any {
  if (a.kind !== 'json') throw new Error('expected a JSON answer');
  return (a as JsonAnswer).body as Any;
}

function chunks(a: Answer): Any[] {
  if (a.kind !== 'stream') throw new Error('expected a stream');
  return (a as StreamAnswer).steps.flat().map((e) => e.chunk as Any);
}

function chat(extra: JsonObject = {}, settings: SimulatorSettings = {}): Any {
  return json(answer('chat', { model: 'sim-chat', messages: [{ role: 'user', content: 'Tell me about gateways.' }], ...extra }, settings));
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 2, maxLength: 40 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 7 },
        when: { type: 'string', format: 'date-time' },
      },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};

const SEARCH_TOOL = {
  type: 'function',
  function: {
    name: 'search',
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, limit: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, tags: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 3 } },
      required: ['query', 'limit', 'tags'],
      additionalProperties: false,
    },
  },
};

describe('tokenizer', () => {
  it('counts with o200k_base and never throws on special-token text', () => {
    expect(countTokens('hello world')).toBe(2);
    expect(encodeTokens('hello world')).toEqual([24912, 2375]);
    expect(countTokens('')).toBe(0);
    expect(countTokens('a <|endoftext|> b')).toBeGreaterThan(3);
  });

  it('counts chat prompts with per-message framing, text parts, names and tool calls', () => {
    const one = countChatPromptTokens([{ role: 'user', content: 'hello world' }]);
    expect(one).toBe(3 + countTokens('user') + 2 + 3);
    const parts = countChatPromptTokens([{ role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'text', text: ' world' }] }]);
    expect(parts).toBe(3 + countTokens('user') + countTokens('hello') + countTokens(' world') + 3);
    const withCall = countChatPromptTokens([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    ]);
    expect(withCall).toBe(3 + countTokens('assistant') + countTokens('get_weather') + countTokens('{"city":"Paris"}') + 3);
    const named = countChatPromptTokens([{ role: 'user', name: 'bob', content: 'hi' }]);
    expect(named).toBe(3 + countTokens('user') + countTokens('hi') + 1 + countTokens('bob') + 3);
  });

  it('encodes a chat prompt to exactly as many tokens as it counts', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
    ];
    expect(encodeChatPrompt(messages)).toHaveLength(countChatPromptTokens(messages));
  });
});

describe('simulator text generation', () => {
  it('gives the same answer to the same request, another with another seed, and says it is simulated', () => {
    const a = chat();
    const b = chat();
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.choices[0].message.content.startsWith('This is a simulated response.')).toBe(true);
    const seeded = new Set([1, 2, 3, 4].map((seed) => chat({ seed }).choices[0].message.content));
    expect(seeded.size).toBeGreaterThan(1);
    expect(chat({ seed: 7 }).choices[0].message.content).toBe(chat({ seed: 7 }).choices[0].message.content);
  });

  it('ignores the seed at temperature 0 (greedy decoding samples nothing)', () => {
    expect(chat({ seed: 1, temperature: 0 }).choices[0].message.content).toBe(chat({ seed: 2, temperature: 0 }).choices[0].message.content);
  });

  it('returns the OpenAI chat.completion shape with consistent usage', () => {
    const res = chat();
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('sim-chat');
    expect(Number.isInteger(res.created)).toBe(true);
    const choice = res.choices[0];
    expect(choice).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop' });
    expect(choice.message).toMatchObject({ role: 'assistant', refusal: null });
    expect('tool_calls' in choice.message).toBe(false);
    expect(res.usage.prompt_tokens).toBe(countChatPromptTokens([{ role: 'user', content: 'Tell me about gateways.' }]));
    expect(res.usage.completion_tokens).toBeGreaterThanOrEqual(16);
    expect(res.usage.completion_tokens).toBeLessThanOrEqual(64);
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens + res.usage.completion_tokens);
    expect(res.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    expect(res.usage.completion_tokens_details).toEqual({ reasoning_tokens: 0 });
    // One piece per word: the count of words equals completion tokens.
    expect(choice.message.content.split(' ')).toHaveLength(res.usage.completion_tokens);
  });

  it('honours output_tokens', () => {
    for (let seed = 0; seed < 5; seed++) expect(chat({ seed }, { output_tokens: [3, 3] }).usage.completion_tokens).toBe(3);
  });

  it('caps output at max_tokens / max_completion_tokens with finish_reason length', () => {
    const capped = chat({ max_tokens: 5 });
    expect(capped.choices[0].finish_reason).toBe('length');
    expect(capped.usage.completion_tokens).toBe(5);
    expect(capped.choices[0].message.content).toBe('This is a simulated response.');
    const both = chat({ max_tokens: 50, max_completion_tokens: 2 });
    expect(both.usage.completion_tokens).toBe(2);
    expect(both.choices[0].message.content).toBe('This is');
  });

  it('cuts the output before the first stop sequence', () => {
    let checked = 0;
    for (let seed = 0; seed < 20; seed++) {
      const full = chat({ seed }).choices[0].message.content as string;
      const at = full.indexOf(' the');
      if (at === -1) continue;
      const stopped = chat({ seed, stop: [' zebra', ' the'] });
      expect(stopped.choices[0].finish_reason).toBe('stop');
      expect(stopped.choices[0].message.content).toBe(full.slice(0, at));
      expect(stopped.usage.completion_tokens).toBe(stopped.choices[0].message.content.split(' ').length);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    expect(chat({ stop: 'simulated' }).choices[0].message.content).toBe('This is a ');
  });

  it('cuts pieces mid-word and counts the partial piece', () => {
    expect(limitPieces(['ab', 'cd', 'ef'], 10, ['d'])).toEqual({ pieces: ['ab', 'c'], finishReason: 'stop' });
    expect(limitPieces(['ab', 'cd', 'ef'], 2, ['e'])).toEqual({ pieces: ['ab', 'cd'], finishReason: 'length' });
    expect(limitPieces(['ab', 'cd'], 10, ['ab'])).toEqual({ pieces: [], finishReason: 'stop' });
  });

  it('gives n different choices, each deterministic', () => {
    const res = chat({ n: 3 });
    expect(res.choices.map((c: Any) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(res.choices.map((c: Any) => c.message.content)).size).toBe(3);
    const total = res.choices.reduce((sum: number, c: Any) => sum + c.message.content.split(' ').length, 0);
    expect(res.usage.completion_tokens).toBe(total);
    expect(chat({ n: 3 }).choices[2].message.content).toBe(res.choices[2].message.content);
  });

  it('rejects what it cannot serve with a 400-style error naming the field', () => {
    const core = createSimulatorCore({});
    expect(() => core.answer('chat', { model: 'm', messages: [] })).toThrow(/messages/);
    expect(() => core.answer('chat', { model: 'm', messages: [{ role: 'robot', content: 'x' }] })).toThrow(/messages\[0\]\.role/);
    expect(() => core.answer('chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 0 })).toThrow(/^n:/);
    expect(() => core.answer('embeddings', { model: 'm', input: '' })).toThrow(/input/);
  });
});

describe('simulator streaming', () => {
  it('streams pieces that join to the non-streamed answer, with the chunk rules of the SDK', () => {
    const body = { model: 'sim-chat', messages: [{ role: 'user', content: 'Stream please' }], seed: 3 };
    const full = json(answer('chat', body));
    const list = chunks(answer('chat', { ...body, stream: true }));
    expect(list[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(new Set(list.map((c) => c.id)).size).toBe(1);
    expect(new Set(list.map((c) => c.created)).size).toBe(1);
    expect(list.every((c) => c.object === 'chat.completion.chunk' && c.model === 'sim-chat' && !('usage' in c))).toBe(true);
    const content = list.map((c) => c.choices[0].delta.content ?? '').join('');
    expect(content).toBe(full.choices[0].message.content);
    const pieces = list.filter((c) => (c.choices[0].delta.content ?? '') !== '');
    expect(pieces).toHaveLength(full.usage.completion_tokens);
    const last = list.at(-1)!;
    expect(last.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    expect(list.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
  });

  it('sends usage: null on every chunk and a final choices: [] usage chunk with include_usage', () => {
    const list = chunks(answer('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }));
    const last = list.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(list.filter((c) => c.choices[0]?.delta.content).length);
    expect(list.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('interleaves n choices, each with its own finish chunk', () => {
    const list = chunks(answer('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 2, stream: true }));
    const indexes = list.map((c) => c.choices[0].index);
    expect(indexes.slice(0, 4)).toEqual([0, 0, 1, 1]); // role + first piece of each choice in step 0
    expect(indexes.slice(4, 6)).toEqual([0, 1]);
    expect(list.filter((c) => c.choices[0].finish_reason !== null)).toHaveLength(2);
    const full = json(answer('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 2 }));
    for (const i of [0, 1]) {
      const text = list.filter((c) => c.choices[0].index === i).map((c) => c.choices[0].delta.content ?? '').join('');
      expect(text).toBe(full.choices[i].message.content);
    }
  });
});

describe('simulator tools and JSON', () => {
  const ajv = makeAjv();

  it('calls a tool with arguments valid against its schema', () => {
    const validate = ajv.compile(WEATHER_TOOL.function.parameters);
    for (let seed = 0; seed < 25; seed++) {
      const res = chat({ seed, tools: [WEATHER_TOOL] });
      const choice = res.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      const call = choice.message.tool_calls[0];
      expect(call.id).toMatch(/^call_/);
      expect(call.type).toBe('function');
      expect(call.function.name).toBe('get_weather');
      const args: unknown = JSON.parse(call.function.arguments);
      expect(validate(args), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('calls the named tool, picks among tools on auto, and answers with text after a tool result or with none', () => {
    const named = chat({ tools: [WEATHER_TOOL, SEARCH_TOOL], tool_choice: { type: 'function', function: { name: 'search' } } });
    const args: unknown = JSON.parse(named.choices[0].message.tool_calls[0].function.arguments);
    expect(named.choices[0].message.tool_calls[0].function.name).toBe('search');
    expect(ajv.validate(SEARCH_TOOL.function.parameters, args)).toBe(true);

    const picked = new Set(Array.from({ length: 12 }, (_, seed) => chat({ seed, tools: [WEATHER_TOOL, SEARCH_TOOL] }).choices[0].message.tool_calls[0].function.name));
    expect(picked).toEqual(new Set(['get_weather', 'search']));

    const afterTool = json(
      answer('chat', {
        model: 'm',
        tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        ],
      }),
    );
    expect(afterTool.choices[0].finish_reason).toBe('stop');
    expect(afterTool.choices[0].message.content).toMatch(/^This is a simulated response to the tool result\./);
    expect(chat({ tools: [WEATHER_TOOL], tool_choice: 'none' }).choices[0].message.tool_calls).toBeUndefined();
    expect(chat({ tools: [WEATHER_TOOL], tool_choice: 'required' }).choices[0].finish_reason).toBe('tool_calls');
  });

  it('streams a tool call as the SDK expects: id, type and name first, then argument pieces', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools: [WEATHER_TOOL], seed: 4 };
    const full = json(answer('chat', body));
    const list = chunks(answer('chat', { ...body, stream: true }));
    const first = list[0].choices[0].delta;
    expect(first.role).toBe('assistant');
    expect(first.content).toBeNull();
    expect(first.tool_calls[0]).toEqual({ index: 0, id: full.choices[0].message.tool_calls[0].id, type: 'function', function: { name: 'get_weather', arguments: '' } });
    const rest = list.slice(1, -1).map((c) => c.choices[0].delta.tool_calls[0]);
    expect(rest.every((t) => t.index === 0 && t.id === undefined && typeof t.function.arguments === 'string')).toBe(true);
    expect(rest.map((t) => t.function.arguments).join('')).toBe(full.choices[0].message.tool_calls[0].function.arguments);
    expect(rest).toHaveLength(full.usage.completion_tokens);
    expect(list.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('answers json_object with a JSON object and json_schema with JSON valid against the schema', () => {
    const obj: unknown = JSON.parse(chat({ response_format: { type: 'json_object' } }).choices[0].message.content);
    expect(obj).toBeTypeOf('object');
    expect(Array.isArray(obj)).toBe(false);

    const schema = {
      type: 'object',
      properties: {
        title: { type: 'string' },
        rating: { type: 'number', minimum: 0, maximum: 5 },
        tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 2 },
        author: { $ref: '#/$defs/person' },
        reviewed: { anyOf: [{ type: 'string', format: 'date' }, { type: 'null' }] },
      },
      required: ['title', 'rating', 'tags', 'author', 'reviewed'],
      additionalProperties: false,
      $defs: {
        person: { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } }, required: ['name', 'email'], additionalProperties: false },
      },
    };
    const validate = ajv.compile(schema);
    for (let seed = 0; seed < 20; seed++) {
      const res = chat({ seed, response_format: { type: 'json_schema', json_schema: { name: 'review', strict: true, schema } } });
      const value: unknown = JSON.parse(res.choices[0].message.content);
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
      expect(res.usage.completion_tokens).toBe(Math.ceil(res.choices[0].message.content.length / 4));
    }
  });
});

describe('json-schema-sample', () => {
  const ajv = makeAjv();
  const schemas: Record<string, unknown> = {
    scalars: { type: 'object', properties: { s: { type: 'string', minLength: 30, maxLength: 31 }, i: { type: 'integer', exclusiveMinimum: 3, exclusiveMaximum: 5 }, m: { type: 'number', multipleOf: 0.25, minimum: 1, maximum: 2 }, b: { type: 'boolean' }, n: { type: 'null' }, c: { const: 42 } }, required: ['s', 'i', 'm', 'b', 'n', 'c'] },
    formats: { type: 'object', properties: { t: { type: 'string', format: 'date-time' }, u: { type: 'string', format: 'uri' }, id: { type: 'string', format: 'uuid' } }, required: ['t', 'u', 'id'] },
    tuple: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }], additionalItems: false },
    unique: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 1000 }, minItems: 3, uniqueItems: true },
    nullableTypes: { type: ['string', 'null'], maxLength: 3 },
    allOf: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'integer' } }, required: ['b'] }] },
    oneOf: { oneOf: [{ type: 'object', properties: { kind: { const: 'x' } }, required: ['kind'] }, { type: 'string' }] },
    minProps: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, minProperties: 2 },
    recursive: {
      $ref: '#/definitions/node',
      definitions: { node: { type: 'object', properties: { value: { type: 'integer' }, children: { type: 'array', items: { $ref: '#/definitions/node' } } }, required: ['value', 'children'] } },
    },
    empty: {},
  };

  it('generates valid values: 2020-12 prefixItems tuples', () => {
    const schema = { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false };
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (let seed = 0; seed < 10; seed++) expect(validate(sampleJsonSchema(schema, new Rng(seed)))).toBe(true);
  });

  for (const [name, schema] of Object.entries(schemas)) {
    it(`generates valid values: ${name}`, () => {
      const validate = ajv.compile(schema as object);
      for (let seed = 0; seed < 30; seed++) {
        const value = sampleJsonSchema(schema, new Rng(seed));
        expect(validate(value), `${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    });
  }
});

describe('prefix cache', () => {
  it('reports cached tokens for a repeated prompt, in whole blocks of 16', () => {
    const messages = [{ role: 'system', content: 'You are a helpful assistant. '.repeat(20) }, { role: 'user', content: 'first question' }];
    const core = createSimulatorCore({});
    const first = json(core.answer('chat', { model: 'm', messages })) ;
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const second = json(core.answer('chat', { model: 'm', messages }));
    expect(second.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    expect(second.usage.prompt_tokens_details.cached_tokens % 16).toBe(0);
    expect(second.usage.prompt_tokens_details.cached_tokens).toBe(Math.floor(second.usage.prompt_tokens / 16) * 16);
    // A different last message shares the system prompt's blocks, not the whole prompt.
    const third = json(core.answer('chat', { model: 'm', messages: [messages[0], { role: 'user', content: 'another question entirely' }] }));
    expect(third.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    expect(third.usage.prompt_tokens_details.cached_tokens).toBeLessThan(third.usage.prompt_tokens);
  });

  it('evicts the least recently used blocks past its bound', () => {
    const cache = new PrefixCache(4);
    const a = blockHashes(Array.from({ length: 64 }, (_, i) => i));
    const b = blockHashes(Array.from({ length: 64 }, (_, i) => 1000 + i));
    expect(a).toHaveLength(4);
    expect(cache.observe(a)).toBe(0);
    expect(cache.observe(a)).toBe(64);
    cache.record(b);
    expect(cache.size).toBe(4);
    expect(cache.lookup(a)).toBe(0);
    expect(cache.lookup(b)).toBe(64);
    expect(blockHashes([1, 2, 3])).toEqual([]);
  });
});

describe('simulator legacy completions', () => {
  it('answers one choice per prompt × n with text_completion shapes, echo and stop', () => {
    const res = json(answer('completions', { model: 'sim-chat', prompt: ['Once upon a time', 'In a galaxy'], n: 2 }));
    expect(res.object).toBe('text_completion');
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices.map((c: Any) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.choices[0]).toMatchObject({ logprobs: null, finish_reason: 'stop' });
    expect(res.usage.prompt_tokens).toBe(countTokens('Once upon a time') + countTokens('In a galaxy'));
    const echoed = json(answer('completions', { model: 'm', prompt: 'Say:', echo: true, max_tokens: 3 }));
    expect(echoed.choices[0].text).toBe('Say:This is a');
    expect(echoed.choices[0].finish_reason).toBe('length');
    expect(echoed.usage.completion_tokens).toBe(3);
    const tokens = json(answer('completions', { model: 'm', prompt: encodeTokens('hello world'), echo: true, max_tokens: 1 }));
    expect(tokens.choices[0].text).toBe('hello worldThis');
    expect(tokens.usage.prompt_tokens).toBe(2);
  });

  it('streams text_completion chunks that join to the non-streamed text', () => {
    const body = { model: 'm', prompt: 'Hello', seed: 9, stream_options: { include_usage: true } };
    const full = json(answer('completions', body));
    const list = chunks(answer('completions', { ...body, stream: true }));
    expect(list.every((c) => c.object === 'text_completion')).toBe(true);
    expect(list.slice(0, -1).map((c) => c.choices[0].text).join('')).toBe(full.choices[0].text);
    expect(list.at(-2)!.choices[0].finish_reason).toBe('stop');
    expect(list.at(-1)!.usage.completion_tokens).toBe(full.usage.completion_tokens);
  });
});

describe('simulator embeddings', () => {
  it('returns deterministic unit vectors, honours dimensions, and base64 decodes to the float vector', () => {
    const res = json(answer('embeddings', { model: 'sim-embed', input: ['alpha', 'beta'] }));
    expect(res.object).toBe('list');
    expect(res.model).toBe('sim-embed');
    expect(res.data.map((d: Any) => [d.object, d.index])).toEqual([['embedding', 0], ['embedding', 1]]);
    const [a, b] = res.data.map((d: Any) => d.embedding as number[]);
    expect(a).toHaveLength(1024);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(a).not.toEqual(b);
    expect(json(answer('embeddings', { model: 'x', input: 'alpha' })).data[0].embedding).toEqual(a);
    expect(res.usage).toEqual({ prompt_tokens: countTokens('alpha') + countTokens('beta'), total_tokens: countTokens('alpha') + countTokens('beta') });

    const short = json(answer('embeddings', { model: 'x', input: 'alpha', dimensions: 8 })).data[0].embedding as number[];
    expect(short).toHaveLength(8);
    expect(Math.hypot(...short)).toBeCloseTo(1, 5);

    const b64 = json(answer('embeddings', { model: 'x', input: 'alpha', encoding_format: 'base64' })).data[0].embedding as string;
    const bytes = Buffer.from(b64, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(a);

    const fromTokens = json(answer('embeddings', { model: 'x', input: encodeTokens('alpha') })).data[0].embedding;
    expect(fromTokens).toEqual(a);
    expect(json(answer('embeddings', { model: 'x', input: 'alpha' }, { embedding_dimensions: 64 })).data[0].embedding).toHaveLength(64);
    expect(() => answer('embeddings', { model: 'x', input: 'alpha', dimensions: 2048 })).toThrow(/dimensions/);
  });
});

describe('reasoning models', () => {
  it('adds reasoning_content to models matching reasoning_models, counted as reasoning tokens', () => {
    expect(globToRegExp('*reason*').test('sim-reasoner')).toBe(true);
    expect(globToRegExp('sim-reasoner').test('sim-reasoner-2')).toBe(false);
    const settings = { reasoning_models: ['*reason*'] };
    const res = json(answer('chat', { model: 'sim-reasoner', messages: [{ role: 'user', content: 'why?' }] }, settings));
    const message = res.choices[0].message;
    expect(message.reasoning_content).toMatch(/^Let me think about this simulated request\./);
    const reasoningTokens = message.reasoning_content.split(' ').length;
    expect(res.usage.completion_tokens_details.reasoning_tokens).toBe(reasoningTokens);
    expect(res.usage.completion_tokens).toBe(reasoningTokens + message.content.split(' ').length);
    const list = chunks(answer('chat', { model: 'sim-reasoner', messages: [{ role: 'user', content: 'why?' }], stream: true }, settings));
    const firstContent = list.findIndex((c) => c.choices[0].delta.content);
    const lastReasoning = list.findLastIndex((c) => c.choices[0].delta.reasoning_content);
    expect(lastReasoning).toBeLessThan(firstContent);
    expect(list.map((c) => c.choices[0].delta.reasoning_content ?? '').join('')).toBe(message.reasoning_content);
    expect(json(answer('chat', { model: 'sim-chat', messages: [{ role: 'user', content: 'why?' }] }, settings)).choices[0].message.reasoning_content).toBeUndefined();
  });
});

describe('in-process provider', () => {
  function call(endpoint: Endpoint, body: JsonObject, signal = new CallSignal()): UpstreamCall {
    return { endpoint, body, stream: body.stream === true, requestId: 'req_test', signal };
  }
  const chatBody = { model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }] };

  async function collect(result: UpstreamResult): Promise<Any[]> {
    if (result.kind !== 'stream') throw new Error('expected a stream');
    const out: Any[] = [];
    for await (const batch of result.events) for (const chunk of batch) out.push(chunk as Any);
    return out;
  }

  it('answers JSON and streams, the stream joining to the same text', async () => {
    const provider = createSimulatorProvider({});
    const res = await provider.call(call('chat', chatBody));
    expect(res.kind).toBe('json');
    const text = (res as { body: Any }).body.choices[0].message.content;
    const list = await collect(await provider.call(call('chat', { ...chatBody, stream: true })));
    expect(list.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(text);
    await provider.close();
  });

  it('waits ttft_ms before the first chunk and paces at tokens_per_second', async () => {
    const provider = createSimulatorProvider({ ttft_ms: 60, tokens_per_second: 500, output_tokens: [20, 20] });
    const start = performance.now();
    const result = await provider.call(call('chat', { ...chatBody, stream: true }));
    if (result.kind !== 'stream') throw new Error('expected a stream');
    const times: number[] = [];
    for await (const batch of result.events) for (const _chunk of batch) times.push(performance.now() - start);
    expect(times[0]).toBeGreaterThanOrEqual(55);
    // 20 pieces at 500/s: the last is due ~38 ms after the first.
    expect(times.at(-1)! - times[0]).toBeGreaterThanOrEqual(30);
  });

  it('stops a paced stream at once when the signal aborts, rejecting with its reason', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const provider = createSimulatorProvider({ ttft_ms: 0, tokens_per_second: 2, output_tokens: [50, 50] });
    const signal = new CallSignal();
    const result = await provider.call(call('chat', { ...chatBody, stream: true }, signal));
    if (result.kind !== 'stream') throw new Error('expected a stream');
    const iterator = result.events[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    const before = timers();
    const pending = iterator.next();
    await new Promise((r) => setImmediate(r));
    expect(timers()).toBe(before + 1); // waiting for the next token
    const reason = new Error('client went away');
    const started = performance.now();
    signal.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(100); // the next token was 500 ms away
    expect(timers()).toBe(before);
  });

  it('hangs until the signal aborts', async () => {
    const provider = createSimulatorProvider({ faults: { hang: true } });
    const signal = new CallSignal();
    const pending = provider.call(call('chat', chatBody, signal));
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    const reason = new Error('timeout');
    signal.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('injects error statuses as a remote backend would map them', async () => {
    const fail = createSimulatorProvider({ faults: { error_rate: 1, error_status: 500 } });
    const err = (await fail.call(call('chat', chatBody)).catch((e: unknown) => e)) as GatewayError;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_error');
    const overloaded = createSimulatorProvider({ faults: { error_rate: 1, error_status: 429 } });
    const err429 = (await overloaded.call(call('embeddings', { model: 'e', input: 'x' })).catch((e: unknown) => e)) as GatewayError;
    expect(err429.status).toBe(503);
    expect(err429.retryAfterMs).toBeGreaterThan(0);
    const bad = (await createSimulatorProvider({}).call(call('chat', { model: 'm', messages: [] })).catch((e: unknown) => e)) as GatewayError;
    expect(bad.status).toBe(400);
    expect(bad.param).toBe('messages');
  });

  it('fails about error_rate of requests, in the same pattern in every fresh instance', async () => {
    const outcomes = async (): Promise<boolean[]> => {
      const provider = createSimulatorProvider({ faults: { error_rate: 0.5 } });
      const out: boolean[] = [];
      for (let i = 0; i < 100; i++) out.push(await provider.call(call('embeddings', { model: 'e', input: 'x' })).then(() => true, () => false));
      return out;
    };
    const first = await outcomes();
    const failures = first.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(30);
    expect(failures).toBeLessThan(70);
    expect(await outcomes()).toEqual(first);
  });

  it('breaks a stream after break_after_tokens pieces, and a longer non-streamed answer outright', async () => {
    const provider = createSimulatorProvider({ output_tokens: [30, 30], faults: { break_after_tokens: 5 } });
    const result = await provider.call(call('chat', { ...chatBody, stream: true }));
    if (result.kind !== 'stream') throw new Error('expected a stream');
    const seen: Any[] = [];
    const err = await (async () => {
      for await (const batch of result.events) for (const chunk of batch) seen.push(chunk as Any);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('upstream_error');
    expect(seen.filter((c) => c.choices[0].delta.content)).toHaveLength(5);
    await expect(provider.call(call('chat', chatBody))).rejects.toMatchObject({ code: 'upstream_error' });
    // An answer shorter than the break point completes.
    const short = await provider.call(call('chat', { ...chatBody, max_tokens: 4 }));
    expect(short.kind).toBe('json');
  });

  it('delays answers by latency_ms', async () => {
    const provider = createSimulatorProvider({ faults: { latency_ms: 80 } });
    const start = performance.now();
    await provider.call(call('embeddings', { model: 'e', input: 'x' }));
    expect(performance.now() - start).toBeGreaterThanOrEqual(75);
  });
});
