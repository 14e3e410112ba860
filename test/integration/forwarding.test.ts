// What reaches the backend: a recording fake upstream behind the `openai` provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, sseData, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

let upstream: FakeUpstream;
let gw: TestGateway;

function chunk(extra: Record<string, unknown>) {
  return { id: 'upstream-id', object: 'chat.completion.chunk', created: 1, model: 'upstream-model', system_fingerprint: 'fp', ...extra };
}

beforeAll(async () => {
  upstream = await startFakeUpstream((req, res) => {
    if (req.body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] }))}\n\n`);
      res.write(`data: ${JSON.stringify(chunk({ choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'eos' }] }))}\n\n`);
      res.write(`data: ${JSON.stringify(chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 4 } } }))}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'upstream-id',
        object: 'chat.completion',
        created: 1,
        model: 'upstream-model',
        system_fingerprint: 'fp',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'end_turn' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      }),
    );
  });
  const config = testConfig();
  config.providers = {
    vllm: {
      type: 'openai',
      base_url: `${upstream.url}/v1`,
      api_key: 'upstream-secret',
      headers: { 'x-tenant': 'floodgate' },
      rename_fields: { max_tokens: 'max_completion_tokens' },
      drop_fields: ['user'],
    },
  };
  config.models = [{ id: 'client-model', category: 'text', defaults: { max_tokens: 256, temperature: 0.7 }, deployments: [{ provider: 'vllm', model: 'upstream-model' }] }];
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const headers = () => ({ authorization: `Bearer ${gw.apiKey}`, 'x-request-id': 'fwd-1' });

describe('forwarding', () => {
  it('forwards unknown fields untouched, substitutes the model, applies defaults, renames and drops', async () => {
    upstream.requests.length = 0;
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: headers(),
      json: { model: 'client-model', messages: [{ role: 'user', content: 'hi' }], top_k: 40, min_p: 0.05, repetition_penalty: 1.1, chat_template_kwargs: { enable_thinking: false }, user: 'u-1', temperature: 0.2 },
    });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0];
    expect(sent.url).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer upstream-secret');
    expect(sent.headers['x-tenant']).toBe('floodgate');
    expect(sent.headers['x-request-id']).toBe('fwd-1');
    expect(sent.body).toEqual({
      model: 'upstream-model',
      messages: [{ role: 'user', content: 'hi' }],
      top_k: 40,
      min_p: 0.05,
      repetition_penalty: 1.1,
      chat_template_kwargs: { enable_thinking: false },
      temperature: 0.2,
      max_completion_tokens: 256,
    });
    const body = res.json();
    expect(body.model).toBe('client-model');
    expect(body.id).not.toBe('upstream-id');
    expect(body).not.toHaveProperty('system_fingerprint');
    expect(body.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: 'Hello', refusal: null }, logprobs: null, finish_reason: 'stop' });
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  it('always asks for usage on streams and strips it again when the client did not ask', async () => {
    upstream.requests.length = 0;
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: headers(),
      json: { model: 'client-model', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_obfuscation: false } },
    });
    expect(upstream.requests[0].body.stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    const events = sseData(res.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks).toHaveLength(2);
    for (const c of chunks) {
      expect(c).not.toHaveProperty('usage');
      expect(c).not.toHaveProperty('system_fingerprint');
      expect(c.model).toBe('client-model');
    }
    expect(chunks[1].choices[0].finish_reason).toBe('stop');

    const withUsage = await rawRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: headers(),
      json: { model: 'client-model', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } },
    });
    const all = sseData(withUsage.text).slice(0, -1).map((e) => JSON.parse(e));
    expect(all).toHaveLength(3);
    expect(all[2]).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, cache_read_input_tokens: 4 } });
  });
});
