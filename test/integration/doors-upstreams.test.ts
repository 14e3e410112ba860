// Both doors (SPEC §17) through HTTP backends, with real clients: the standalone simulator behind a
// `type: openai` provider (chat completions on the wire) and behind a `type: anthropic` provider (the
// Messages API on the wire). The Responses door is translated to chat and then, for the anthropic
// provider, to Messages; the Messages door goes to the anthropic provider natively and is translated for
// the openai one. Each kind: a text answer, a function-tool round trip, and a stream read by the SDK's
// helpers, billed under the door's name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { spawnSimulator, startTestGateway, testConfig, type ChildServer, type TestAccount, type TestGateway } from '../helpers/gateway.js';
import { usageRecordsOf } from '../helpers/usage.js';
import type { UsageRecord } from '../../src/store/usage.js';

let sim: ChildServer;
let gw: TestGateway;
let acct: TestAccount;

const MODELS = [
  { id: 'via-openai', provider: 'http-openai', wire: 'chat completions' },
  { id: 'via-anthropic', provider: 'http-anthropic', wire: 'the Messages API' },
] as const;

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

beforeAll(async () => {
  sim = await spawnSimulator(['--ttft-ms', '0', '--tokens-per-second', '0']);
  const config = testConfig();
  config.providers['http-openai'] = { type: 'openai', base_url: `${sim.url}/v1` };
  config.providers['http-anthropic'] = { type: 'anthropic', base_url: sim.url, api_key: 'sk-ant-test' };
  for (const m of MODELS) {
    config.models.push({ id: m.id, category: 'text', context_length: 32768, defaults: { max_tokens: 256 }, capabilities: ['chat', 'tools', 'json_object'], pricing: { input: 1, output: 2 }, deployments: [{ provider: m.provider, model: 'sim-chat' }] });
  }
  gw = await startTestGateway(config);
  acct = await gw.createAccount({ creditMicros: 50_000_000 });
});

/** The records of `n` requests to `model` through `endpoint`, once settled and written. */
async function recordsFor(model: string, endpoint: string, n: number): Promise<UsageRecord[]> {
  for (let i = 0; i < 100; i++) {
    const records = (await usageRecordsOf(gw, acct.accountId)).filter((r) => r.model === model && r.endpoint === endpoint);
    if (records.length >= n) return records;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${n} ${endpoint} records for ${model}`);
}

afterAll(async () => {
  await gw?.close();
  await sim?.stop();
});

describe.each(MODELS)('the Responses door to $id ($wire on the wire)', ({ id }) => {
  it('answers text, completes a tool round trip by previous_response_id, and streams to finalResponse()', async () => {
    const client = acct.client;
    const text = await client.responses.create({ model: id, input: 'Say hello.' });
    expect(text.status).toBe('completed');
    expect(text.model).toBe(id);
    expect(text.output_text.length).toBeGreaterThan(0);
    expect(text.usage!.output_tokens).toBeGreaterThan(0);

    const first = await client.responses.create({ model: id, input: 'What is the weather in Oslo?', tools: [WEATHER] });
    const call = first.output.find((item) => item.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error(`no function call from ${id}: ${JSON.stringify(first.output)}`);
    expect(call.name).toBe('get_weather');
    const answer = await client.responses.create({ model: id, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c": 4}' }], tools: [WEATHER] });
    expect(answer.output.some((item) => item.type === 'function_call')).toBe(false);
    expect(answer.output_text.length).toBeGreaterThan(0);

    const stream = client.responses.stream({ model: id, input: 'Tell me a short story.' });
    let deltas = '';
    stream.on('response.output_text.delta', (event) => (deltas += event.delta));
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(deltas);

    // Four requests, each billed under the door's name.
    const records = await recordsFor(id, 'responses', 4);
    expect(records).toHaveLength(4);
    expect(records.every((r) => r.status === 200 && r.costMicros > 0 && r.deployment === `${id === 'via-openai' ? 'http-openai' : 'http-anthropic'}/sim-chat`)).toBe(true);
  });
});

describe.each(MODELS)('the Messages door to $id ($wire on the wire)', ({ id }) => {
  it('answers text, completes a tool round trip, and streams to finalMessage()', async () => {
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: acct.apiKey, maxRetries: 0 });
    const text = await anthropic.messages.create({ model: id, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] });
    expect(text.type).toBe('message');
    expect(text.model).toBe(id);
    expect(text.content[0].type).toBe('text');
    expect(text.usage.output_tokens).toBeGreaterThan(0);

    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'The weather in a city.', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const ask: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Oslo?' };
    const first = await anthropic.messages.create({ model: id, max_tokens: 128, tools, messages: [ask] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((block) => block.type === 'tool_use');
    if (use?.type !== 'tool_use') throw new Error(`no tool_use from ${id}`);
    const answer = await anthropic.messages.create({
      model: id,
      max_tokens: 128,
      tools,
      messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"temperature_c": 4}' }] }],
    });
    expect(answer.stop_reason).not.toBe('tool_use');
    expect(answer.content.some((block) => block.type === 'text')).toBe(true);

    const stream = anthropic.messages.stream({ model: id, max_tokens: 64, messages: [{ role: 'user', content: 'Tell me a short story.' }] });
    let deltas = '';
    stream.on('text', (delta) => (deltas += delta));
    const final = await stream.finalMessage();
    const finalText = final.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    expect(finalText).toBe(deltas);
    expect(final.usage.output_tokens).toBeGreaterThan(0);

    const records = await recordsFor(id, 'messages', 4);
    expect(records).toHaveLength(4);
    expect(records.every((r) => r.status === 200 && r.costMicros > 0)).toBe(true);
  });
});
