// The context check before forwarding (SPEC §6, §7): a prompt (plus the client's output cap) beyond the
// model's context is a 400 context_length_exceeded that no backend sees and that costs nothing; the
// model's default cap is lowered to what is left of the context, and that is what is forwarded and
// admitted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import { rawRequest, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

let fake: FakeUpstream;
let gw: TestGateway;

beforeAll(async () => {
  fake = await startFakeUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
  });
  const config = testConfig();
  config.providers.fake = { type: 'openai', base_url: `${fake.url}/v1` };
  config.models.push({ id: 'small-context', category: 'text', context_length: 100, defaults: { max_tokens: 1024 }, capabilities: ['chat', 'completions'], pricing: { input: 1, output: 1 }, deployments: [{ provider: 'fake' }] });
  gw = await startTestGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

function post(path: string, body: unknown) {
  return rawRequest(`${gw.url}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: body });
}

describe('context length', () => {
  it('refuses a prompt longer than the context before any backend call', async () => {
    const before = fake.requests.length;
    const messages = [{ role: 'user', content: 'word '.repeat(120) }];
    const res = await post('/chat/completions', { model: 'small-context', messages });
    expect(res.status).toBe(400);
    const tokens = countChatPromptTokens(messages);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
    expect(res.json().error.message).toContain(`maximum context length is 100 tokens`);
    expect(res.json().error.message).toContain(`${tokens} in the prompt`);
    expect(fake.requests.length).toBe(before);
  });

  it('refuses a prompt and max_tokens that do not fit together, naming both', async () => {
    const messages = [{ role: 'user', content: 'Hello there.' }];
    const tokens = countChatPromptTokens(messages);
    const res = await post('/chat/completions', { model: 'small-context', messages, max_tokens: 100 - tokens + 1 });
    expect(res.status).toBe(400);
    expect(res.json().error.code).toBe('context_length_exceeded');
    expect(res.json().error.message).toContain(`${100 + 1} tokens (${tokens} in the prompt, ${100 - tokens + 1} in the completion)`);
    expect((await post('/chat/completions', { model: 'small-context', messages, max_tokens: 100 - tokens })).status).toBe(200);
  });

  it('lowers the default cap to what the context leaves, and forwards it', async () => {
    const messages = [{ role: 'user', content: 'Hello there.' }];
    const res = await post('/chat/completions', { model: 'small-context', messages });
    expect(res.status).toBe(200);
    expect(fake.requests.at(-1)!.body.max_tokens).toBe(100 - countChatPromptTokens(messages));
  });

  it('checks a single legacy prompt, and leaves a batch of prompts to the backend', async () => {
    const long = 'word '.repeat(120);
    const single = await post('/completions', { model: 'small-context', prompt: long });
    expect(single.status).toBe(400);
    expect(single.json().error).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
    const before = fake.requests.length;
    await post('/completions', { model: 'small-context', prompt: [long, 'short'] });
    expect(fake.requests.length).toBe(before + 1);
  });
});
