import { describe, it, expect } from 'vitest';
import { validateChatRequest, validateCompletionRequest, validateEmbeddingRequest } from '../../src/openai/validate.js';
import { GatewayError } from '../../src/openai/errors.js';

type Validator = (body: unknown) => unknown;

/** Runs the validator, expecting a 400, and returns the thrown error. */
function rejection(validate: Validator, body: unknown): GatewayError {
  try {
    validate(body);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

const user = (content: unknown) => ({ role: 'user', content });
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [user('Hello')], ...extra });
const withMessages = (...messages: unknown[]) => ({ model: 'gpt-4o-mini', messages });
const embed = (extra: Record<string, unknown>) => ({ model: 'text-embedding-3-small', input: 'hello', ...extra });
const complete = (extra: Record<string, unknown>) => ({ model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', ...extra });

interface Case {
  name: string;
  validate: Validator;
  body: unknown;
  param: string | null;
  message: string;
}

const chatCases: Case[] = [
  {
    name: 'unknown role',
    validate: validateChatRequest,
    body: withMessages({ role: 'robot', content: 'beep' }),
    param: 'messages[0].role',
    message: 'messages[0].role: must be one of system, developer, user, assistant, tool, function; got "robot"',
  },
  { name: 'missing role', validate: validateChatRequest, body: withMessages({ content: 'x' }), param: 'messages[0].role', message: 'is required' },
  { name: 'role not a string', validate: validateChatRequest, body: withMessages({ role: 7, content: 'x' }), param: 'messages[0].role', message: 'got number 7' },
  { name: 'temperature too high', validate: validateChatRequest, body: chat({ temperature: 3 }), param: 'temperature', message: 'temperature: must be <= 2; got number 3' },
  { name: 'temperature wrong type', validate: validateChatRequest, body: chat({ temperature: 'hot' }), param: 'temperature', message: 'must be a number or null; got "hot"' },
  { name: 'top_p above 1', validate: validateChatRequest, body: chat({ top_p: 1.5 }), param: 'top_p', message: 'must be <= 1' },
  { name: 'presence_penalty below -2', validate: validateChatRequest, body: chat({ presence_penalty: -2.5 }), param: 'presence_penalty', message: 'must be >= -2' },
  { name: 'frequency_penalty above 2', validate: validateChatRequest, body: chat({ frequency_penalty: 2.1 }), param: 'frequency_penalty', message: 'must be <= 2' },
  { name: 'n zero', validate: validateChatRequest, body: chat({ n: 0 }), param: 'n', message: 'must be >= 1' },
  { name: 'n above 128', validate: validateChatRequest, body: chat({ n: 129 }), param: 'n', message: 'must be <= 128' },
  { name: 'empty messages', validate: validateChatRequest, body: { model: 'm', messages: [] }, param: 'messages', message: 'messages: must have at least 1 item' },
  { name: 'messages not an array', validate: validateChatRequest, body: { model: 'm', messages: 'hi' }, param: 'messages', message: 'must be an array; got "hi"' },
  { name: 'missing model', validate: validateChatRequest, body: { messages: [user('x')] }, param: 'model', message: 'model: is required' },
  { name: 'empty model', validate: validateChatRequest, body: chat({ model: '' }), param: 'model', message: 'must not be empty' },
  { name: 'missing messages', validate: validateChatRequest, body: { model: 'm' }, param: 'messages', message: 'is required' },
  { name: 'five stop sequences', validate: validateChatRequest, body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), param: 'stop', message: 'must have at most 4 items' },
  { name: 'stop a number', validate: validateChatRequest, body: chat({ stop: 5 }), param: 'stop', message: 'must be a string, an array or null' },
  { name: 'top_logprobs without logprobs', validate: validateChatRequest, body: chat({ top_logprobs: 3 }), param: 'top_logprobs', message: 'only allowed when logprobs is true' },
  { name: 'top_logprobs with logprobs false', validate: validateChatRequest, body: chat({ top_logprobs: 3, logprobs: false }), param: 'top_logprobs', message: 'got logprobs boolean false' },
  { name: 'top_logprobs above 20', validate: validateChatRequest, body: chat({ top_logprobs: 21, logprobs: true }), param: 'top_logprobs', message: 'must be <= 20' },
  { name: 'stream_options without stream', validate: validateChatRequest, body: chat({ stream_options: { include_usage: true } }), param: 'stream_options', message: 'only allowed when stream is true' },
  { name: 'stream not a boolean', validate: validateChatRequest, body: chat({ stream: 'yes' }), param: 'stream', message: 'must be a boolean or null' },
  {
    name: 'image part without url',
    validate: validateChatRequest,
    body: withMessages(user('a'), user('b'), user([{ type: 'image_url', image_url: {} }])),
    param: 'messages[2].content[0].image_url.url',
    message: 'is required',
  },
  {
    name: 'image url not a string',
    validate: validateChatRequest,
    body: withMessages(user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 42 } }])),
    param: 'messages[0].content[1].image_url.url',
    message: 'must be a string; got number 42',
  },
  {
    name: 'unknown content part type',
    validate: validateChatRequest,
    body: withMessages(user([{ type: 'video_url', video_url: { url: 'x' } }])),
    param: 'messages[0].content[0].type',
    message: 'must be one of text, image_url, input_audio, file; got "video_url"',
  },
  { name: 'image detail not allowed', validate: validateChatRequest, body: withMessages(user([{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'ultra' } }])), param: 'messages[0].content[0].image_url.detail', message: 'must be one of auto, low, high' },
  { name: 'input_audio format', validate: validateChatRequest, body: withMessages(user([{ type: 'input_audio', input_audio: { data: 'AAA', format: 'ogg' } }])), param: 'messages[0].content[0].input_audio.format', message: 'must be one of wav, mp3; got "ogg"' },
  { name: 'user content a number', validate: validateChatRequest, body: withMessages(user(5)), param: 'messages[0].content', message: 'must be a string or an array; got number 5' },
  { name: 'user content empty array', validate: validateChatRequest, body: withMessages(user([])), param: 'messages[0].content', message: 'must have at least 1 item' },
  {
    name: 'image part in a system message',
    validate: validateChatRequest,
    body: withMessages({ role: 'system', content: [{ type: 'image_url', image_url: { url: 'x' } }] }),
    param: 'messages[0].content[0].text',
    message: 'is required',
  },
  { name: 'tool message without tool_call_id', validate: validateChatRequest, body: withMessages(user('x'), { role: 'tool', content: '42' }), param: 'messages[1].tool_call_id', message: 'is required' },
  {
    name: 'assistant without content or tool_calls',
    validate: validateChatRequest,
    body: withMessages(user('x'), { role: 'assistant' }),
    param: 'messages[1].content',
    message: 'is required unless the assistant message has tool_calls or function_call',
  },
  {
    name: 'assistant with null content and empty tool_calls',
    validate: validateChatRequest,
    body: withMessages(user('x'), { role: 'assistant', content: null, tool_calls: [] }),
    param: 'messages[1].content',
    message: 'got null',
  },
  {
    name: 'tool call without arguments',
    validate: validateChatRequest,
    body: withMessages({ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f' } }] }),
    param: 'messages[0].tool_calls[0].function.arguments',
    message: 'is required',
  },
  { name: 'function message without content', validate: validateChatRequest, body: withMessages({ role: 'function', name: 'f' }), param: 'messages[0].content', message: 'is required' },
  {
    name: 'bad tool name',
    validate: validateChatRequest,
    body: chat({ tools: [{ type: 'function', function: { name: 'ok' } }, { type: 'function', function: { name: 'get weather' } }] }),
    param: 'tools[1].function.name',
    message: 'must match ^[a-zA-Z0-9_-]{1,64}$; got "get weather"',
  },
  { name: 'tool name too long', validate: validateChatRequest, body: chat({ tools: [{ type: 'function', function: { name: 'x'.repeat(65) } }] }), param: 'tools[0].function.name', message: 'must match' },
  { name: 'unknown tool type', validate: validateChatRequest, body: chat({ tools: [{ type: 'retrieval' }] }), param: 'tools[0].type', message: 'must be one of function, custom; got "retrieval"' },
  { name: 'tool parameters not an object', validate: validateChatRequest, body: chat({ tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }), param: 'tools[0].function.parameters', message: 'must be an object' },
  { name: 'tools null', validate: validateChatRequest, body: chat({ tools: null }), param: 'tools', message: 'must be an array; got null' },
  { name: 'tool_choice unknown string', validate: validateChatRequest, body: chat({ tool_choice: 'always' }), param: 'tool_choice', message: 'must be one of none, auto, required or an object; got "always"' },
  { name: 'named tool_choice without function', validate: validateChatRequest, body: chat({ tool_choice: { type: 'function' } }), param: 'tool_choice.function', message: 'is required' },
  { name: 'tool_choice object with unknown type', validate: validateChatRequest, body: chat({ tool_choice: { type: 'tool' } }), param: 'tool_choice.type', message: 'must be one of function, custom, allowed_tools' },
  { name: 'response_format unknown type', validate: validateChatRequest, body: chat({ response_format: { type: 'xml' } }), param: 'response_format.type', message: 'must be one of text, json_object, json_schema; got "xml"' },
  { name: 'json_schema without name', validate: validateChatRequest, body: chat({ response_format: { type: 'json_schema', json_schema: { schema: {} } } }), param: 'response_format.json_schema.name', message: 'is required' },
  { name: 'json_schema schema not an object', validate: validateChatRequest, body: chat({ response_format: { type: 'json_schema', json_schema: { name: 'r', schema: [] } } }), param: 'response_format.json_schema.schema', message: 'must be an object' },
  { name: 'logit_bias out of range', validate: validateChatRequest, body: chat({ logit_bias: { '50256': -101 } }), param: 'logit_bias.50256', message: 'must be >= -100; got number -101' },
  { name: 'logit_bias not an integer', validate: validateChatRequest, body: chat({ logit_bias: { '50256': 0.5 } }), param: 'logit_bias.50256', message: 'must be an integer' },
  { name: 'metadata with 17 pairs', validate: validateChatRequest, body: chat({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }), param: 'metadata', message: 'must have at most 16 entries' },
  { name: 'metadata key too long', validate: validateChatRequest, body: chat({ metadata: { ['k'.repeat(65)]: 'v' } }), param: 'metadata', message: 'must be at most 64 characters long' },
  { name: 'metadata value not a string', validate: validateChatRequest, body: chat({ metadata: { a: 1 } }), param: 'metadata.a', message: 'must be a string' },
  { name: 'safety_identifier too long', validate: validateChatRequest, body: chat({ safety_identifier: 'x'.repeat(65) }), param: 'safety_identifier', message: 'must be at most 64 characters long' },
  { name: 'safety_identifier null', validate: validateChatRequest, body: chat({ safety_identifier: null }), param: 'safety_identifier', message: 'must be a string; got null' },
  { name: 'max_tokens zero', validate: validateChatRequest, body: chat({ max_tokens: 0 }), param: 'max_tokens', message: 'must be >= 1' },
  { name: 'max_completion_tokens fractional', validate: validateChatRequest, body: chat({ max_completion_tokens: 10.5 }), param: 'max_completion_tokens', message: 'must be an integer or null' },
  { name: 'seed fractional', validate: validateChatRequest, body: chat({ seed: 1.5 }), param: 'seed', message: 'must be an integer or null' },
  { name: 'parallel_tool_calls null', validate: validateChatRequest, body: chat({ parallel_tool_calls: null }), param: 'parallel_tool_calls', message: 'must be a boolean; got null' },
  { name: 'reasoning_effort unknown', validate: validateChatRequest, body: chat({ reasoning_effort: 'extreme' }), param: 'reasoning_effort', message: 'must be one of none, minimal, low, medium, high, xhigh, max' },
  { name: 'service_tier unknown', validate: validateChatRequest, body: chat({ service_tier: 'turbo' }), param: 'service_tier', message: 'must be one of auto, default, flex, scale, priority, fast' },
  { name: 'verbosity unknown', validate: validateChatRequest, body: chat({ verbosity: 'loud' }), param: 'verbosity', message: 'must be one of low, medium, high' },
  { name: 'modalities unknown', validate: validateChatRequest, body: chat({ modalities: ['text', 'video'] }), param: 'modalities[1]', message: 'must be one of text, audio; got "video"' },
  { name: 'audio without voice', validate: validateChatRequest, body: chat({ audio: { format: 'wav' } }), param: 'audio.voice', message: 'is required' },
  { name: 'prediction wrong type', validate: validateChatRequest, body: chat({ prediction: { type: 'text', content: 'x' } }), param: 'prediction.type', message: 'must be "content"' },
  { name: 'web_search_options context size', validate: validateChatRequest, body: chat({ web_search_options: { search_context_size: 'huge' } }), param: 'web_search_options.search_context_size', message: 'must be one of low, medium, high' },
  { name: 'functions empty', validate: validateChatRequest, body: chat({ functions: [] }), param: 'functions', message: 'must have at least 1 item' },
  { name: 'function_call unknown string', validate: validateChatRequest, body: chat({ function_call: 'always' }), param: 'function_call', message: 'must be one of none, auto or an object' },
  { name: 'body an array', validate: validateChatRequest, body: [chat()], param: null, message: 'The request body must be a JSON object.' },
  { name: 'body null', validate: validateChatRequest, body: null, param: null, message: 'The request body must be a JSON object.' },
  { name: 'body a string', validate: validateChatRequest, body: 'hello', param: null, message: 'The request body must be a JSON object.' },
];

const embeddingCases: Case[] = [
  { name: 'encoding_format null', validate: validateEmbeddingRequest, body: embed({ encoding_format: null }), param: 'encoding_format', message: 'encoding_format: must be one of float, base64; got null' },
  { name: 'encoding_format unknown', validate: validateEmbeddingRequest, body: embed({ encoding_format: 'int8' }), param: 'encoding_format', message: 'got "int8"' },
  { name: 'dimensions zero', validate: validateEmbeddingRequest, body: embed({ dimensions: 0 }), param: 'dimensions', message: 'must be >= 1' },
  { name: 'dimensions null', validate: validateEmbeddingRequest, body: embed({ dimensions: null }), param: 'dimensions', message: 'must be an integer; got null' },
  { name: 'user null', validate: validateEmbeddingRequest, body: embed({ user: null }), param: 'user', message: 'must be a string; got null' },
  { name: 'empty string input', validate: validateEmbeddingRequest, body: embed({ input: '' }), param: 'input', message: 'must not be empty' },
  { name: 'empty array input', validate: validateEmbeddingRequest, body: embed({ input: [] }), param: 'input', message: 'must have at least 1 item' },
  { name: 'input null', validate: validateEmbeddingRequest, body: embed({ input: null }), param: 'input', message: 'must be a string or an array; got null' },
  { name: 'mixed strings and numbers', validate: validateEmbeddingRequest, body: embed({ input: ['a', 5] }), param: 'input[1]', message: 'must be a string; got number 5' },
  { name: 'empty token array', validate: validateEmbeddingRequest, body: embed({ input: [[1, 2], []] }), param: 'input[1]', message: 'must have at least 1 item' },
  { name: 'too many inputs', validate: validateEmbeddingRequest, body: embed({ input: Array.from({ length: 2049 }, () => 'x') }), param: 'input', message: 'must have at most 2048 items' },
  { name: 'missing input', validate: validateEmbeddingRequest, body: { model: 'e' }, param: 'input', message: 'input: is required' },
  { name: 'missing model', validate: validateEmbeddingRequest, body: { input: 'x' }, param: 'model', message: 'model: is required' },
  { name: 'body an array', validate: validateEmbeddingRequest, body: ['x'], param: null, message: 'must be a JSON object' },
];

const completionCases: Case[] = [
  { name: 'missing prompt', validate: validateCompletionRequest, body: { model: 'm' }, param: 'prompt', message: 'prompt: is required' },
  { name: 'logprobs a boolean', validate: validateCompletionRequest, body: complete({ logprobs: true }), param: 'logprobs', message: 'must be an integer or null; got boolean true' },
  { name: 'logprobs above 5', validate: validateCompletionRequest, body: complete({ logprobs: 6 }), param: 'logprobs', message: 'must be <= 5' },
  { name: 'best_of above 20', validate: validateCompletionRequest, body: complete({ best_of: 21 }), param: 'best_of', message: 'must be <= 20' },
  { name: 'max_tokens negative', validate: validateCompletionRequest, body: complete({ max_tokens: -1 }), param: 'max_tokens', message: 'must be >= 0' },
  { name: 'fractional token id', validate: validateCompletionRequest, body: complete({ prompt: [[1, 2], [3.5]] }), param: 'prompt[1][0]', message: 'must be an integer; got number 3.5' },
  { name: 'prompt a number', validate: validateCompletionRequest, body: complete({ prompt: 5 }), param: 'prompt', message: 'must be a string, an array or null' },
  { name: 'echo a string', validate: validateCompletionRequest, body: complete({ echo: 'yes' }), param: 'echo', message: 'must be a boolean or null' },
  { name: 'suffix a number', validate: validateCompletionRequest, body: complete({ suffix: 1 }), param: 'suffix', message: 'must be a string or null' },
  { name: 'stream_options with stream false', validate: validateCompletionRequest, body: complete({ stream: false, stream_options: { include_usage: true } }), param: 'stream_options', message: 'got stream boolean false' },
  { name: 'temperature negative', validate: validateCompletionRequest, body: complete({ temperature: -0.1 }), param: 'temperature', message: 'must be >= 0' },
  { name: 'body null', validate: validateCompletionRequest, body: null, param: null, message: 'must be a JSON object' },
];

describe.each([
  ['chat completions', chatCases],
  ['embeddings', embeddingCases],
  ['legacy completions', completionCases],
])('%s: invalid requests', (_endpoint, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const err = rejection(c.validate, c.body);
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBeNull();
    expect(err.param).toBe(c.param);
    expect(err.message).toContain(c.message);
    // The message leads with the field it is about, so it reads on its own.
    if (c.param !== null) expect(err.message.startsWith(`${c.param}: `)).toBe(true);
  });
});

/** Validates, and checks the very same object comes back, unmodified. */
function expectAccepted(validate: Validator, body: unknown): void {
  const before = structuredClone(body);
  expect(validate(body)).toBe(body);
  expect(body).toEqual(before);
}

describe('valid requests pass unchanged', () => {
  it('a minimal chat request', () => {
    expectAccepted(validateChatRequest, chat());
  });

  it('unknown top-level fields and unknown keys inside messages and parts', () => {
    expectAccepted(validateChatRequest, {
      model: 'llama',
      messages: [
        { role: 'system', content: 'Be brief.', cache_control: { type: 'ephemeral' } },
        { role: 'user', content: [{ type: 'text', text: 'hi', prompt_cache_breakpoint: { mode: 'explicit' } }] },
        { role: 'assistant', content: 'Hello.', reasoning_content: 'The user greeted me.' },
        user('again'),
      ],
      top_k: 40,
      min_p: 0.05,
      repetition_penalty: 1.1,
      chat_template_kwargs: { enable_thinking: false },
      stream_options: null,
    });
  });

  it('tool-call history: assistant without content, tool results, a custom tool call', () => {
    expectAccepted(validateChatRequest, {
      model: 'gpt-4o',
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        user('Weather in Paris and Rome?'),
        {
          role: 'assistant',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'custom', custom: { name: 'grep', input: 'rome' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'Rome: 25' }] },
        { role: 'assistant', content: null, function_call: { name: 'legacy', arguments: '{}' } },
        { role: 'function', name: 'legacy', content: null },
        { role: 'assistant', content: [{ type: 'text', text: 'Paris 21, Rome 25.' }, { type: 'refusal', refusal: 'no more' }], refusal: null },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            strict: true,
          },
        },
        { type: 'custom', custom: { name: 'grep', format: { type: 'grammar', grammar: { definition: 'start: /.+/', syntax: 'lark' } } } },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    });
  });

  it('image, audio and file parts', () => {
    expectAccepted(validateChatRequest, {
      model: 'gpt-4o',
      messages: [
        user([
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          { type: 'file', file: { file_id: 'file-abc' } },
        ]),
      ],
      modalities: ['text', 'audio'],
      audio: { format: 'mp3', voice: 'alloy' },
    });
  });

  it('json_schema response format and every sampling field at its bounds', () => {
    expectAccepted(validateChatRequest, {
      model: 'gpt-4o',
      messages: [user('Give me a person.')],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', schema: { type: 'object', properties: { name: { type: 'string' } } }, strict: true },
      },
      temperature: 2,
      top_p: 0,
      frequency_penalty: -2,
      presence_penalty: 2,
      n: 128,
      stop: ['\n', 'END', '###', 'STOP'],
      logprobs: true,
      top_logprobs: 20,
      logit_bias: { '50256': -100, '1234': 100 },
      max_completion_tokens: 1,
      seed: -42,
      metadata: { team: 'search' },
      safety_identifier: 'x'.repeat(64),
      prompt_cache_key: 'k',
      reasoning_effort: 'minimal',
      service_tier: 'flex',
      verbosity: 'low',
      store: false,
      user: 'u-1',
      prediction: { type: 'content', content: 'old text' },
      web_search_options: { search_context_size: 'low', user_location: { type: 'approximate', approximate: { city: 'Paris' } } },
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('nullable fields sent as null', () => {
    expectAccepted(validateChatRequest, {
      ...chat(),
      audio: null,
      frequency_penalty: null,
      logit_bias: null,
      logprobs: null,
      max_completion_tokens: null,
      max_tokens: null,
      metadata: null,
      modalities: null,
      n: null,
      prediction: null,
      presence_penalty: null,
      reasoning_effort: null,
      seed: null,
      service_tier: null,
      stop: null,
      store: null,
      stream_options: null,
      temperature: null,
      top_logprobs: null,
      top_p: null,
      verbosity: null,
      stream: null,
    });
  });

  it('embedding inputs of every shape', () => {
    expectAccepted(validateEmbeddingRequest, embed({ input: 'hello', dimensions: 256, encoding_format: 'base64', user: 'u' }));
    expectAccepted(validateEmbeddingRequest, embed({ input: ['a', 'b'] }));
    expectAccepted(validateEmbeddingRequest, embed({ input: [1, 2, 3] }));
    expectAccepted(validateEmbeddingRequest, embed({ input: [[1, 2], [3]], extra_field: true }));
  });

  it('legacy completions with null prompt, token prompts and streaming', () => {
    expectAccepted(validateCompletionRequest, complete({ prompt: null }));
    expectAccepted(validateCompletionRequest, complete({ prompt: [[1, 2], [3]], logprobs: 5, best_of: 2, n: 2, echo: true, suffix: null, max_tokens: 0 }));
    expectAccepted(validateCompletionRequest, complete({ prompt: ['a', 'b'], stream: true, stream_options: { include_usage: true }, top_k: 5 }));
  });
});
