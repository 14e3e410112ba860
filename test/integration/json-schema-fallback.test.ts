// SPEC §5: response_format json_schema goes through where the model supports it; a model with only
// json_object gets json_object with the schema in a system message, and the client is told so by
// `x-floodgate-fallback: response_format=json_object`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

let fake: FakeUpstream;
let gw: TestGateway;
const CONTENT = '{"city":"Paris","population":2100000}';

beforeAll(async () => {
  fake = await startFakeUpstream((req, res) => {
    if (req.body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: CONTENT }, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: CONTENT }, finish_reason: 'stop' }], usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 } }));
  });
  const config = testConfig();
  config.providers.fake = { type: 'openai', base_url: `${fake.url}/v1` };
  const model = (id: string, capabilities: ('chat' | 'json_object' | 'json_schema')[]) => ({ id, category: 'text' as const, defaults: { max_tokens: 100 }, capabilities, deployments: [{ provider: 'fake', model: 'upstream' }] });
  config.models.push(model('objects-only', ['chat', 'json_object']), model('schemas', ['chat', 'json_object', 'json_schema']), model('no-json', ['chat']));
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'], additionalProperties: false };
const responseFormat = { type: 'json_schema' as const, json_schema: { name: 'city_facts', schema, strict: true } };
const messages = [{ role: 'user' as const, content: 'Facts about Paris, please.' }];

describe('json_schema fallback', () => {
  it('sends json_object with the schema in a system message, and says so in a header', async () => {
    const { data, response } = await gw.client.chat.completions.create({ model: 'objects-only', messages, response_format: responseFormat }).withResponse();
    expect(response.headers.get('x-floodgate-fallback')).toBe('response_format=json_object');
    expect(JSON.parse(data.choices[0].message.content!)).toEqual({ city: 'Paris', population: 2100000 });
    const sent = fake.requests.at(-1)!.body;
    expect(sent.response_format).toEqual({ type: 'json_object' });
    const [system, ...rest] = sent.messages as { role: string; content: string }[];
    expect(system.role).toBe('system');
    expect(system.content).toContain('city_facts');
    expect(system.content).toContain(JSON.stringify(schema));
    expect(rest).toEqual(messages);
  });

  it('tells a streaming client too', async () => {
    const { data: stream, response } = await gw.client.chat.completions.create({ model: 'objects-only', messages, response_format: responseFormat, stream: true }).withResponse();
    expect(response.headers.get('x-floodgate-fallback')).toBe('response_format=json_object');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(CONTENT);
  });

  it('passes json_schema through where the model has it, with no header', async () => {
    const { response } = await gw.client.chat.completions.create({ model: 'schemas', messages, response_format: responseFormat }).withResponse();
    expect(response.headers.get('x-floodgate-fallback')).toBeNull();
    expect(fake.requests.at(-1)!.body.response_format).toEqual(responseFormat);
    expect(fake.requests.at(-1)!.body.messages).toEqual(messages);
  });

  it('refuses JSON output on a model with neither, naming the field', async () => {
    const before = fake.requests.length;
    await expect(gw.client.chat.completions.create({ model: 'no-json', messages, response_format: responseFormat })).rejects.toMatchObject({ status: 400, param: 'response_format.type' });
    expect(fake.requests.length).toBe(before);
  });
});
