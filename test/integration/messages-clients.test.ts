// The Messages door (SPEC §17, issue 16) with the clients people use, against the running gateway:
// Anthropic's own SDK (`@anthropic-ai/sdk`: messages.create, messages.stream with its helpers and
// finalMessage(), a tool round trip, an image, countTokens) and the Vercel AI SDK's `@ai-sdk/anthropic`
// provider (generateText and streamText with a tool) — to a model on the in-process simulator (translated
// to chat and back), to a model on an `anthropic` provider pointing at the standalone simulator (native:
// its events relayed as they came), and to one on a recording Anthropic backend (the request seen
// exactly as the SDK sent it, but for the model name).
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import type { RawConfig } from '../../src/config/schema.js';
import { spawnSimulator, startFakeUpstream, startTestGateway, testConfig, type ChildServer, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const WEATHER: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const RECORDED_MESSAGE = {
  id: 'msg_recorded',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'Recorded.', citations: null }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 2 },
};

let sim: ChildServer;
let recorder: FakeUpstream;
let gw: TestGateway;
let client: Anthropic;

beforeAll(async () => {
  recorder = await startFakeUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(RECORDED_MESSAGE));
  });
  sim = await spawnSimulator();
  const config: RawConfig = testConfig();
  config.providers.simclaude = { type: 'anthropic', base_url: sim.url, api_key: 'sk-ant-test' };
  config.providers.recorded = { type: 'anthropic', base_url: recorder.url, api_key: 'sk-ant-test' };
  const claude = (id: string, provider: string) => ({
    id,
    category: 'multimodal' as const,
    context_length: 200000,
    max_output_tokens: 8192,
    defaults: { max_tokens: 1024 },
    capabilities: ['chat' as const, 'tools' as const, 'vision' as const],
    pricing: { input: 3, output: 15 },
    deployments: [{ provider, model: 'claude-sonnet-4-5' }],
  });
  config.models.push(claude('claude-sim', 'simclaude'), claude('claude-recorded', 'recorded'));
  gw = await startTestGateway(config);
  // The SDK appends /v1/messages itself.
  client = new Anthropic({ baseURL: gw.url, apiKey: gw.apiKey, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await recorder?.close();
  await sim?.stop();
});

/** The text of a message's text blocks. */
function textOf(message: Anthropic.Message): string {
  return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

for (const model of ['sim-chat', 'claude-sim']) {
  describe(`@anthropic-ai/sdk on ${model} (${model === 'sim-chat' ? 'translated' : 'native'})`, () => {
    it('messages.create answers a message', async () => {
      const { data: message, request_id, response } = await client.messages.create({ model, max_tokens: 200, system: 'You are terse.', messages: [{ role: 'user', content: 'Tell me about the sea.' }] }).withResponse();
      expect(request_id).toBe(response.headers.get('x-request-id'));
      expect(message.id).toMatch(/^msg_/);
      expect(message).toMatchObject({ type: 'message', role: 'assistant', model });
      expect(['end_turn', 'max_tokens']).toContain(message.stop_reason);
      expect(textOf(message).length).toBeGreaterThan(0);
      expect(message.usage.input_tokens).toBeGreaterThan(0);
      expect(message.usage.output_tokens).toBeGreaterThan(0);
    });

    it('messages.stream: the text helper events add up to finalMessage()', async () => {
      const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: 'user', content: 'Stream me a story.' }] });
      let text = '';
      let started = false;
      stream.on('streamEvent', (event) => {
        if (event.type === 'message_start') started = true;
      });
      stream.on('text', (delta) => (text += delta));
      const final = await stream.finalMessage();
      expect(started).toBe(true);
      expect(final.model).toBe(model);
      expect(text.length).toBeGreaterThan(0);
      expect(textOf(final)).toBe(text);
      expect(final.usage.output_tokens).toBeGreaterThan(0);
      expect(['end_turn', 'max_tokens']).toContain(final.stop_reason);
    });

    it('runs a tool round trip (create, then a streamed tool call)', async () => {
      const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris?' };
      const first = await client.messages.create({ model, max_tokens: 300, tools: [WEATHER], tool_choice: { type: 'any' }, messages: [question] });
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
      expect(use.name).toBe('get_weather');
      expect(use.input).toEqual(expect.objectContaining({ city: expect.any(String) }));
      const second = await client.messages.create({
        model,
        max_tokens: 300,
        tools: [WEATHER],
        messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 °C and sunny' }] }],
      });
      expect(second.stop_reason).not.toBe('tool_use');
      expect(textOf(second).length).toBeGreaterThan(0);

      const streamed = await client.messages.stream({ model, max_tokens: 300, tools: [WEATHER], tool_choice: { type: 'tool', name: 'get_weather' }, messages: [question] }).finalMessage();
      const streamedUse = streamed.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
      expect(streamedUse.input).toEqual(expect.objectContaining({ city: expect.any(String) }));
      expect(streamed.stop_reason).toBe('tool_use');
    });

    it('takes an image', async () => {
      const message = await client.messages.create({
        model,
        max_tokens: 100,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } }, { type: 'text', text: 'What is this?' }] }],
      });
      expect(textOf(message).length).toBeGreaterThan(0);
    });

    it('countTokens counts the prompt as Floodgate does', async () => {
      const count = await client.messages.countTokens({ model, system: 'Be brief.', messages: [{ role: 'user', content: 'How long is this prompt?' }] });
      expect(count).toEqual({ input_tokens: countChatPromptTokens([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'How long is this prompt?' }]) });
    });
  });
}

describe('@anthropic-ai/sdk on an anthropic backend that records', () => {
  it('the backend sees the request exactly as the SDK sent it, but for the model name', async () => {
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model: 'claude-recorded',
      max_tokens: 2000,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello!' }, { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }],
      tools: [WEATHER],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      stop_sequences: ['END'],
      top_k: 3,
      metadata: { user_id: 'u-7' },
    };
    const before = recorder.requests.length;
    const message = await client.messages.create(params);
    expect(recorder.requests).toHaveLength(before + 1);
    expect(recorder.requests[before].body).toEqual({ ...params, model: 'claude-sonnet-4-5' });
    expect(message).toEqual({ ...RECORDED_MESSAGE, model: 'claude-recorded' });
  });

  it('the SDK’s beta messages reach the backend with their beta flags', async () => {
    const before = recorder.requests.length;
    const message = await client.beta.messages.create({ model: 'claude-recorded', max_tokens: 50, betas: ['context-management-2025-06-27'], messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.model).toBe('claude-recorded');
    expect(recorder.requests[before].headers['anthropic-beta']).toBe('context-management-2025-06-27');
    expect(recorder.requests[before].body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] });
  });

  it('an error reaches the SDK as its own error class', async () => {
    const err = await client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const bad = await client.messages.create({ model: 'sim-chat', max_tokens: 10, messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
  });
});

for (const model of ['sim-chat', 'claude-sim']) {
  describe(`Vercel AI SDK @ai-sdk/anthropic on ${model}`, () => {
    const anthropic = () => createAnthropic({ baseURL: `${gw.url}/v1`, apiKey: gw.apiKey });
    const weather = tool({
      description: 'Weather for a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => `21 °C and sunny in ${city}`,
    });

    it('generateText answers, and runs a tool to completion', async () => {
      const plain = await generateText({ model: anthropic()(model), prompt: 'Say hello.', maxOutputTokens: 200, maxRetries: 0 });
      expect(plain.text.length).toBeGreaterThan(0);
      expect(plain.usage.outputTokens).toBeGreaterThan(0);
      const withTool = await generateText({ model: anthropic()(model), prompt: 'Weather in Paris?', tools: { get_weather: weather }, stopWhen: stepCountIs(3), maxOutputTokens: 300, maxRetries: 0 });
      expect(withTool.steps[0].toolCalls.map((c) => c.toolName)).toEqual(['get_weather']);
      expect(withTool.steps[0].toolResults[0].output).toMatch(/sunny/);
      expect(withTool.text.length).toBeGreaterThan(0);
    });

    it('streamText streams, and runs a tool to completion', async () => {
      const plain = streamText({ model: anthropic()(model), prompt: 'Tell me a story.', maxOutputTokens: 200, maxRetries: 0 });
      let text = '';
      for await (const delta of plain.textStream) text += delta;
      expect(text.length).toBeGreaterThan(0);
      expect(await plain.text).toBe(text);
      const withTool = streamText({ model: anthropic()(model), prompt: 'Weather in Oslo?', tools: { get_weather: weather }, stopWhen: stepCountIs(3), maxOutputTokens: 300, maxRetries: 0 });
      let streamed = '';
      for await (const delta of withTool.textStream) streamed += delta;
      const steps = await withTool.steps;
      expect(steps[0].toolCalls.map((c) => c.toolName)).toEqual(['get_weather']);
      expect(streamed.length).toBeGreaterThan(0);
    });
  });
}
