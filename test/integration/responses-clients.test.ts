// Acceptance of the Responses API door (SPEC §17, issue 16) with real clients, unchanged, against the
// running gateway on the simulator: the `openai` SDK (create, stream helpers, tool round trips, stored
// responses), the OpenAI Agents SDK running an agent with a function tool to completion, and the Vercel AI
// SDK's `openai` provider (which speaks the Responses API by default) with generateText and streamText.
// The simulator calls an offered tool when the conversation ends with the user, and answers in text once
// it ends with a tool's output (src/providers/simulator/chat.ts), so every round trip terminates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { z } from 'zod';
import { Agent, OpenAIProvider, Runner, run, setDefaultOpenAIClient, setTracingDisabled, tool as agentTool } from '@openai/agents';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool as aiTool } from 'ai';
import { startTestGateway, testConfig, type TestAccount, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let acct: TestAccount;
let client: OpenAI;

const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

// A 1×1 PNG.
const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

beforeAll(async () => {
  gw = await startTestGateway(testConfig());
  acct = await gw.createAccount({ creditMicros: 100_000_000 });
  client = acct.client;
});

afterAll(async () => {
  await gw?.close();
});

describe('openai SDK', () => {
  it('responses.create: text, and an image on a vision model', async () => {
    const text = await client.responses.create({ model: 'sim-chat', input: 'Say hello.' });
    expect(text.status).toBe('completed');
    expect(text.output_text.length).toBeGreaterThan(0);
    const image = await client.responses.create({
      model: 'sim-chat',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is in this image?' }, { type: 'input_image', image_url: PIXEL, detail: 'auto' }] }],
    });
    expect(image.output_text.length).toBeGreaterThan(0);
    expect(image.usage!.input_tokens).toBeGreaterThan(text.usage!.input_tokens);
  });

  it('a function-tool round trip with function_call_output, by full input and by previous_response_id', async () => {
    const first = await client.responses.create({ model: 'sim-chat', input: 'What is the weather in Lisbon?', tools: [WEATHER_TOOL] });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toBeDefined();
    if (call?.type !== 'function_call') throw new Error('no function call');
    expect(call.name).toBe('get_weather');
    expect(typeof JSON.parse(call.arguments).city).toBe('string');
    const output = { type: 'function_call_output' as const, call_id: call.call_id, output: JSON.stringify({ temperature_c: 19 }) };

    const byInput = await client.responses.create({ model: 'sim-chat', input: [{ role: 'user', content: 'What is the weather in Lisbon?' }, ...first.output, output] as never, tools: [WEATHER_TOOL] });
    expect(byInput.output.some((item) => item.type === 'function_call')).toBe(false);
    expect(byInput.output_text.length).toBeGreaterThan(0);

    const byPrevious = await client.responses.create({ model: 'sim-chat', previous_response_id: first.id, input: [output], tools: [WEATHER_TOOL] });
    expect(byPrevious.output[0].type).toBe('message');
    expect(byPrevious.output_text.length).toBeGreaterThan(0);
  });

  it('json_schema output that parses against its schema', async () => {
    const r = await client.responses.create({
      model: 'sim-chat',
      input: 'Describe a city.',
      text: { format: { type: 'json_schema', name: 'city', strict: true, schema: { type: 'object', properties: { name: { type: 'string' }, population: { type: 'integer' } }, required: ['name', 'population'], additionalProperties: false } } },
    });
    const parsed = JSON.parse(r.output_text) as { name: unknown; population: unknown };
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.population)).toBe(true);
  });

  it('responses.stream: helper events and finalResponse()', async () => {
    const stream = client.responses.stream({ model: 'sim-reasoner', input: 'Think, then answer.' });
    const seen = new Set<string>();
    let text = '';
    stream.on('event', (e) => seen.add(e.type));
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    for (const type of ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']) {
      expect(seen.has(type)).toBe(true);
    }
    expect(final.output_text).toBe(text);
    expect(final.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    expect(final.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('previous_response_id across three turns, retrieve, inputItems.list, delete; another account gets 404', async () => {
    const one = await client.responses.create({ model: 'sim-chat', input: 'Turn one.' });
    const two = await client.responses.create({ model: 'sim-chat', input: 'Turn two.', previous_response_id: one.id });
    const three = await client.responses.create({ model: 'sim-chat', input: 'Turn three.', previous_response_id: two.id });
    // Each turn carries the earlier ones: its prompt grows.
    expect(two.usage!.input_tokens).toBeGreaterThan(one.usage!.input_tokens);
    expect(three.usage!.input_tokens).toBeGreaterThan(two.usage!.input_tokens);

    const got = await client.responses.retrieve(three.id);
    expect(got.output_text).toBe(three.output_text);
    expect(got.previous_response_id).toBe(two.id);
    const items = await client.responses.inputItems.list(three.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Turn three.' }] });

    const stranger = await gw.createAccount({ creditMicros: 1_000_000 });
    await expect(stranger.client.responses.retrieve(three.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(stranger.client.responses.inputItems.list(three.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(stranger.client.responses.create({ model: 'sim-chat', input: 'hi', previous_response_id: three.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(stranger.client.responses.delete(three.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    await client.responses.delete(three.id);
    await expect(client.responses.retrieve(three.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // The turn before is still there.
    expect((await client.responses.retrieve(two.id)).id).toBe(two.id);
  });
});

/** The Agents SDK's function tool for the weather: records each city asked about, answers with `say`. */
function weatherAgentTool(calls: string[], say: (city: string) => string) {
  return agentTool({
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return say(city);
    },
  });
}

describe('OpenAI Agents SDK', () => {
  it('runs an agent with a zod function tool to completion', async () => {
    setTracingDisabled(true);
    const agentAccount = await gw.createAccount({ creditMicros: 10_000_000 });
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: agentAccount.apiKey, maxRetries: 0 }));
    const calls: string[] = [];
    const weather = weatherAgentTool(calls, (city) => `Sunny in ${city}, 21 °C.`);
    const agent = new Agent({ name: 'Forecaster', instructions: 'Answer weather questions with the tool.', model: 'sim-chat', tools: [weather] });
    const result = await run(agent, 'What is the weather in Porto?');
    expect(calls).toHaveLength(1);
    expect(typeof result.finalOutput).toBe('string');
    expect((result.finalOutput as string).length).toBeGreaterThan(0);

    // The same through an explicit provider pointed at the gateway, streamed.
    const runner = new Runner({ modelProvider: new OpenAIProvider({ baseURL: `${gw.url}/v1`, apiKey: agentAccount.apiKey, useResponses: true }) });
    const streamed = await runner.run(agent, 'And in Faro?', { stream: true });
    for await (const event of streamed) void event;
    await streamed.completed;
    expect(calls).toHaveLength(2);
    expect(String(streamed.finalOutput).length).toBeGreaterThan(0);
    // Through the Responses door: two model calls a run (the tool call, then the answer).
    await gw.flushUsage();
    const records = await gw.gateway.store.usage.list({ accountId: agentAccount.accountId }, { limit: 100 });
    expect(records.map((r) => r.endpoint)).toEqual(['responses', 'responses', 'responses', 'responses']);
  });

  it('runs an agent on a reasoning model: its reasoning items go back as input and the run completes', async () => {
    setTracingDisabled(true);
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: acct.apiKey, maxRetries: 0 }));
    const calls: string[] = [];
    const weather = weatherAgentTool(calls, (city) => `Rain in ${city}.`);
    const agent = new Agent({ name: 'Thinker', instructions: 'Use the tool.', model: 'sim-reasoner', tools: [weather] });
    const result = await run(agent, 'Weather in Braga?');
    expect(calls).toHaveLength(1);
    expect(String(result.finalOutput).length).toBeGreaterThan(0);
    expect(result.newItems.some((item) => item.type === 'reasoning_item')).toBe(true);
  });
});

describe('Vercel AI SDK', () => {
  /** A weather tool that notes each city it is asked about and answers `temperature`. */
  function weatherTools(seen: string[], temperature: number) {
    return {
      get_weather: aiTool({
        description: 'The weather in a city.',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          seen.push(city);
          return { city, temperature_c: temperature };
        },
      }),
    };
  }

  function provider() {
    return createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: acct.apiKey });
  }

  it('generateText with a tool: the Responses API, the tool run, a final text', async () => {
    const seen: string[] = [];
    const result = await generateText({
      model: provider()('sim-chat'),
      prompt: 'What is the weather in Braga?',
      tools: weatherTools(seen, 17),
      stopWhen: stepCountIs(3),
    });
    expect(seen).toHaveLength(1);
    expect(result.steps.length).toBe(2);
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe('stop');
    expect(result.response.id).toMatch(/^resp_/);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
  });

  it('generateText with a tool on a reasoning model: its reasoning comes back as an item_reference, resolved from the store', async () => {
    const sent: Record<string, unknown>[] = [];
    const recording = createOpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: acct.apiKey,
      fetch: (url, init) => {
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
        return fetch(url, init);
      },
    });
    const seen: string[] = [];
    const result = await generateText({
      model: recording('sim-reasoner'),
      prompt: 'What is the weather in Coimbra?',
      tools: weatherTools(seen, 15),
      stopWhen: stepCountIs(3),
    });
    expect(seen).toHaveLength(1);
    expect(result.text.length).toBeGreaterThan(0);
    expect(sent).toHaveLength(2);
    expect(sent[1].input).toContainEqual({ type: 'item_reference', id: (result.steps[0].reasoning[0] as any).providerMetadata.openai.itemId });
  });

  it('streamText with a tool', async () => {
    const seen: string[] = [];
    const result = streamText({
      model: provider()('sim-chat'),
      prompt: 'What is the weather in Évora?',
      tools: weatherTools(seen, 25),
      stopWhen: stepCountIs(3),
    });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(seen).toHaveLength(1);
    expect(text.length).toBeGreaterThan(0);
    expect(await result.text).toBe(text);
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });
});
