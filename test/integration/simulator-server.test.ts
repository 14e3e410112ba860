// The standalone simulator server over real HTTP, with the official openai SDK and raw fetch: shapes,
// streaming, tools, embeddings, errors, pacing and injected faults.
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorSettings } from '../../src/config/schema.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/providers/simulator/server.js';

type Any = Record<string, any>;

const servers: SimulatorServer[] = [];

async function start(settings: SimulatorSettings = {}): Promise<SimulatorServer> {
  const server = await startSimulatorServer({ port: 0, settings });
  servers.push(server);
  return server;
}

function sdk(server: SimulatorServer): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
}

async function post(server: SimulatorServer, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** The `data:` payloads of an SSE body. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};

let sim: SimulatorServer;
let client: OpenAI;

beforeAll(async () => {
  sim = await start({ reasoning_models: ['*reason*'] });
  client = sdk(sim);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('simulator server: chat', () => {
  it('answers the SDK with a chat.completion, and raw HTTP with JSON headers', async () => {
    const res = await client.chat.completions.create({ model: 'my-model', messages: [{ role: 'user', content: 'Hello' }], seed: 1 });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('my-model');
    expect(res.choices[0].message.content).toMatch(/^This is a simulated response\./);
    expect(res.choices[0].message.refusal).toBeNull();
    expect(res.choices[0].logprobs).toBeNull();
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);

    const raw = await post(sim, '/v1/chat/completions', { model: 'my-model', messages: [{ role: 'user', content: 'Hello' }], seed: 1 }, { headers: { 'content-type': 'application/json', 'x-request-id': 'req_abc' } });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/json');
    expect(raw.headers.get('x-request-id')).toBe('req_abc');
    const text = await raw.text();
    expect(Number(raw.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect((JSON.parse(text) as Any).choices[0].message.content).toBe(res.choices[0].message.content);
  });

  it('streams through the SDK: pieces join to the non-streamed answer; usage comes last', async () => {
    const body = { model: 'sim-chat', messages: [{ role: 'user' as const, content: 'Stream it' }], seed: 5 };
    const full = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const chunks: Any[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(full.choices[0].message.content);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage.completion_tokens).toBe(full.usage!.completion_tokens);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('sends text/event-stream ending with [DONE]', async () => {
    const res = await post(sim, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Any);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('makes tool calls the SDK stream helper accepts, with arguments valid against the schema', async () => {
    const runner = client.chat.completions.stream({ model: 'sim-chat', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [WEATHER_TOOL] });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0];
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    const validate = new Ajv({ strict: false }).compile(WEATHER_TOOL.function.parameters);
    expect(validate(JSON.parse(call.function.arguments))).toBe(true);
  });

  it('gives reasoning models reasoning_content', async () => {
    const res = (await client.chat.completions.create({ model: 'sim-reasoner', messages: [{ role: 'user', content: 'why?' }] })) as Any;
    expect(res.choices[0].message.reasoning_content).toMatch(/^Let me think/);
    expect(res.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it('reports cached tokens for a repeated prompt', async () => {
    const messages = [{ role: 'user' as const, content: 'A long shared prefix for caching. '.repeat(10) }];
    const first = await client.chat.completions.create({ model: 'cache-test', messages });
    const second = await client.chat.completions.create({ model: 'cache-test', messages });
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0);
    expect(second.usage!.prompt_tokens_details!.cached_tokens! % 16).toBe(0);
  });
});

describe('simulator server: completions, embeddings, models', () => {
  it('answers legacy completions', async () => {
    const res = await client.completions.create({ model: 'sim-chat', prompt: 'Once', max_tokens: 4, n: 2 });
    expect(res.object).toBe('text_completion');
    expect(res.choices).toHaveLength(2);
    expect(res.choices[0].text).toBe('This is a simulated');
    expect(res.choices[0].finish_reason).toBe('length');
    const stream = await client.completions.create({ model: 'sim-chat', prompt: 'Once', max_tokens: 4, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('This is a simulated');
  });

  it('serves embeddings as floats and as base64 (the SDK default) with the same values', async () => {
    const viaSdk = await client.embeddings.create({ model: 'sim-embed', input: ['one', 'two'] });
    const raw = (await (await post(sim, '/v1/embeddings', { model: 'sim-embed', input: ['one', 'two'], encoding_format: 'float' })).json()) as Any;
    expect(viaSdk.data[0].embedding).toHaveLength(1024);
    expect(viaSdk.data[0].embedding).toEqual(raw.data[0].embedding);
    expect(viaSdk.data[1].embedding).toEqual(raw.data[1].embedding);
    const short = await client.embeddings.create({ model: 'sim-embed', input: 'one', dimensions: 256, encoding_format: 'float' });
    expect(short.data[0].embedding).toHaveLength(256);
    expect(Math.hypot(...short.data[0].embedding)).toBeCloseTo(1, 5);
  });

  it('lists default and seen models, and answers /healthz', async () => {
    await client.chat.completions.create({ model: 'seen-model', messages: [{ role: 'user', content: 'x' }] });
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain('sim-chat');
    expect(ids).toContain('seen-model');
    expect(models.data.every((m) => m.owned_by === 'floodgate-simulator' && m.object === 'model')).toBe(true);
    const health = await fetch(`${sim.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});

describe('simulator server: errors', () => {
  it('answers bad JSON, bad requests and unknown routes with OpenAI envelopes', async () => {
    const bad = await post(sim, '/v1/chat/completions', '{"model": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Any).error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });

    const err = (await client.chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('messages');

    const unknown = await fetch(`${sim.url}/v1/nothing`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/json');
    expect(((await unknown.json()) as Any).error.message).toMatch(/Unknown request URL/);
    expect((await fetch(`${sim.url}/v1/chat/completions`)).status).toBe(405);
  });
});

describe('simulator server: pacing and faults', () => {
  it('waits ttft_ms before the first chunk and paces the rest', async () => {
    const slow = await start({ ttft_ms: 120, tokens_per_second: 400, output_tokens: [40, 40] });
    const started = performance.now();
    const res = await post(slow, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - started;
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    expect(firstAt).toBeGreaterThanOrEqual(110);
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    // 40 pieces at 400/s: about 100 ms after the first.
    expect(performance.now() - started - firstAt).toBeGreaterThanOrEqual(80);
    expect(rest.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('answers an injected error status with an envelope', async () => {
    const failing = await start({ faults: { error_rate: 1, error_status: 503 } });
    const err = (await sdk(failing).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(503);
    expect(err.code).toBe('simulated_fault');
    const raw = await post(failing, '/v1/embeddings', { model: 'e', input: 'x' });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('1');
  });

  it('hangs until the client gives up, and still closes promptly', async () => {
    const hanging = await start({ faults: { hang: true } });
    const started = performance.now();
    const err = await post(hanging, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.timeout(150) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    const pending = post(hanging, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    const closing = performance.now();
    await hanging.close();
    expect(performance.now() - closing).toBeLessThan(500);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('breaks a stream after break_after_tokens pieces, and drops a longer non-streamed answer', async () => {
    const breaking = await start({ output_tokens: [30, 30], tokens_per_second: 1000, faults: { break_after_tokens: 3 } });
    const res = await post(breaking, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const err = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return null;
        text += new TextDecoder().decode(value);
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const data = sseData(text);
    expect(data).not.toContain('[DONE]');
    expect(data.map((d) => JSON.parse(d) as Any).filter((c) => c.choices[0].delta.content)).toHaveLength(3);

    const sdkErr = await (async () => {
      const stream = await sdk(breaking).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
      for await (const _chunk of stream) {
        // drain until the break
      }
    })().catch((e: unknown) => e);
    expect(sdkErr).toBeInstanceOf(Error);

    const dropped = await post(breaking, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    const short = await post(breaking, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    expect(short.status).toBe(200);
  });

  it('keeps serving after a client leaves mid-stream', async () => {
    const slow = await start({ tokens_per_second: 50, output_tokens: [50, 50] });
    const controller = new AbortController();
    const res = await post(slow, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const ok = await fetch(`${slow.url}/healthz`);
    expect(ok.status).toBe(200);
  });
});
