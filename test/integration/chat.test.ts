// The OpenAI-compatible API end to end: the real gateway on a port, the in-process simulator behind it,
// the official openai SDK and raw HTTP in front.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, sseData, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Tell me about the sea.' },
];

describe('chat completions', () => {
  it('answers a non-streamed call in the exact OpenAI shape with the client model name', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'simulator-chat', messages, seed: 7 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(Number(res.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(0);
    expect(res.headers.get('server-timing')).toMatch(/gateway;dur=[\d.]+, upstream;dur=[\d.]+/);
    const body = res.json();
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe('simulator-chat');
    expect(typeof body.created).toBe('number');
    expect(body).not.toHaveProperty('system_fingerprint');
    const choice = body.choices[0];
    expect(choice).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop' });
    expect(choice.message.role).toBe('assistant');
    expect(typeof choice.message.content).toBe('string');
    expect(choice.message).toHaveProperty('refusal', null);
    expect(body.usage).toMatchObject({ cache_read_input_tokens: expect.any(Number), cache_creation_input_tokens: 0 });
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('streams chunks that reassemble to the same text as the non-streamed call with the same seed', async () => {
    const full = await gw.client.chat.completions.create({ model: 'sim-chat', messages, seed: 42 });
    const stream = await gw.client.chat.completions.create({ model: 'sim-chat', messages, seed: 42, stream: true });
    let text = '';
    const ids = new Set<string>();
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.model).toBe('sim-chat');
      expect(chunk).not.toHaveProperty('usage');
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    expect(ids.size).toBe(1);
    expect(text).toBe(full.choices[0].message.content);
    expect(finish).toBe('stop');
  });

  it('sends usage: null on every chunk and one last usage chunk only with include_usage', async () => {
    const withUsage = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'sim-chat', messages, stream: true, stream_options: { include_usage: true } },
    });
    expect(withUsage.status).toBe(200);
    expect(withUsage.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(withUsage.text).not.toMatch(/^event:/m);
    const events = sseData(withUsage.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBeGreaterThan(0);
    expect(last.usage).toHaveProperty('cache_read_input_tokens');
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(new Set(chunks.map((c) => `${c.id}/${c.created}/${c.model}`)).size).toBe(1);

    const without = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'sim-chat', messages, stream: true },
    });
    const plain = sseData(without.text).slice(0, -1).map((e) => JSON.parse(e));
    for (const c of plain) {
      expect(c).not.toHaveProperty('usage');
      expect(c.choices.length).toBeGreaterThan(0);
    }
  });

  it('calls tools, and the SDK stream helper accepts the tool-call deltas', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'] },
        },
      },
    ];
    const res = await gw.client.chat.completions.create({ model: 'sim-chat', messages, tools, tool_choice: 'required' });
    const call = res.choices[0].message.tool_calls?.[0];
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    const args = JSON.parse((call as { function: { arguments: string } }).function.arguments);
    expect(typeof args.city).toBe('string');
    expect(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7).toBe(true);

    const runner = gw.client.chat.completions.stream({ model: 'sim-chat', messages, tools, tool_choice: 'required' });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const streamed = final.choices[0].message.tool_calls?.[0] as { id: string; function: { name: string; arguments: string } };
    expect(streamed.id).toBeTruthy();
    expect(streamed.function.name).toBe('get_weather');
    expect(JSON.parse(streamed.function.arguments)).toHaveProperty('city');
  });

  it('answers JSON for json_object and several choices for n', async () => {
    const json = await gw.client.chat.completions.create({ model: 'sim-chat', messages, response_format: { type: 'json_object' } });
    expect(() => JSON.parse(json.choices[0].message.content ?? '')).not.toThrow();
    const many = await gw.client.chat.completions.create({ model: 'sim-chat', messages, n: 3 });
    expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it('honours stop and max_tokens (length)', async () => {
    const full = await gw.client.chat.completions.create({ model: 'sim-chat', messages, seed: 3 });
    const words = (full.choices[0].message.content ?? '').split(' ');
    const stopWord = words[Math.floor(words.length / 2)];
    const stopped = await gw.client.chat.completions.create({ model: 'sim-chat', messages, seed: 3, stop: [stopWord] });
    expect(stopped.choices[0].finish_reason).toBe('stop');
    expect(stopped.choices[0].message.content).not.toContain(stopWord);
    const short = await gw.client.chat.completions.create({ model: 'sim-chat', messages, seed: 3, max_tokens: 5 });
    expect(short.choices[0].finish_reason).toBe('length');
    expect(short.usage?.completion_tokens).toBe(5);
  });

  it('streams reasoning content from the reasoning model and reports reasoning tokens', async () => {
    const res = await gw.client.chat.completions.create({ model: 'sim-reasoner', messages });
    expect((res.choices[0].message as unknown as { reasoning_content: string }).reasoning_content.length).toBeGreaterThan(0);
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
  });
});

describe('legacy completions', () => {
  it('answers text_completion, streamed and not', async () => {
    const res = await gw.client.completions.create({ model: 'sim-chat', prompt: 'Once upon a time', seed: 1 });
    expect(res.object).toBe('text_completion');
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices[0]).toHaveProperty('logprobs', null);
    const stream = await gw.client.completions.create({ model: 'sim-chat', prompt: 'Once upon a time', seed: 1, stream: true });
    let text = '';
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0]?.text ?? '';
    }
    expect(text).toBe(res.choices[0].text);
  });
});

describe('embeddings', () => {
  it('returns float vectors and base64 that decodes to the same floats', async () => {
    const float = await rawRequest(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'sim-embed', input: ['hello', 'world'], encoding_format: 'float' },
    });
    const fb = float.json();
    expect(fb.object).toBe('list');
    expect(fb.model).toBe('sim-embed');
    expect(fb.data).toHaveLength(2);
    expect(fb.usage.prompt_tokens).toBeGreaterThan(0);
    const vector: number[] = fb.data[0].embedding;
    expect(Math.hypot(...vector)).toBeCloseTo(1, 4);

    const b64 = await rawRequest(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      json: { model: 'sim-embed', input: ['hello', 'world'], encoding_format: 'base64' },
    });
    const encoded: string = b64.json().data[0].embedding;
    const bytes = Buffer.from(encoded, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toHaveLength(vector.length);
    decoded.forEach((v, i) => expect(v).toBeCloseTo(vector[i], 6));

    // The SDK asks for base64 by default and decodes it.
    const sdk = await gw.client.embeddings.create({ model: 'sim-embed', input: 'hello', dimensions: 16 });
    expect(sdk.data[0].embedding).toHaveLength(16);
  });
});

describe('models', () => {
  it('lists and gets models with category, context length, pricing and capabilities', async () => {
    const list = await gw.client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(['sim-chat', 'sim-reasoner', 'sim-embed', 'sim-image', 'sim-tts', 'sim-whisper', 'sim-video']);
    const model = (await gw.client.models.retrieve('sim-embed')) as unknown as Record<string, any>;
    expect(model).toMatchObject({ id: 'sim-embed', object: 'model', category: 'embeddings', context_length: 8192 });
    expect(model.pricing.input).toBe(0.02);
    expect(model.capabilities).toContain('embeddings');
    const alias = await rawRequest(`${gw.url}/v1/models/simulator-chat`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(alias.json().id).toBe('sim-chat');
  });
});

describe('headers and health', () => {
  it('keeps a well-formed X-Request-ID and replaces a bad one', async () => {
    const kept = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'trace-123.abc:9' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-123.abc:9');
    const replaced = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^req_/);
    const error = await rawRequest(`${gw.url}/v1/models`, { headers: { 'x-request-id': 'err-1' } });
    expect(error.status).toBe(401);
    expect(error.headers.get('x-request-id')).toBe('err-1');
  });

  it('grants no CORS by default', async () => {
    const res = await rawRequest(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('answers /healthz and /healthz?ready=1', async () => {
    const health = await rawRequest(`${gw.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await rawRequest(`${gw.url}/healthz?ready=1`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', store: 'ok', models: ['sim-chat', 'sim-reasoner', 'sim-embed', 'sim-image', 'sim-tts', 'sim-whisper', 'sim-video'] });
  });

  it('writes one log line per request with ids, model and tokens, never the key', async () => {
    const before = gw.logs.length;
    await gw.client.chat.completions.create({ model: 'sim-chat', messages });
    await new Promise((r) => setTimeout(r, 50));
    const lines = gw.logs.slice(before).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 200, model: 'sim-chat', deployment: 'sim/sim-chat', settle: 'complete', stream: false });
    expect(lines[0].account_id).toMatch(/^acct_/);
    expect(lines[0].key_id).toMatch(/^key_/);
    expect(JSON.stringify(gw.logs)).not.toContain(gw.apiKey);
  });
});
