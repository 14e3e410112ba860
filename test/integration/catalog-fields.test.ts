// What a service's config says about its catalog and its refusals (issue 15): a model's `family` on
// /v1/models, `listed: false` (served, not listed, not in the portal), capability-gated request fields
// refused with the field named, a fallback skipped for the balance told in the error, and FLOODGATE_PORT.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { countChatPromptTokens } from '../../src/accounting/tokenizer.js';
import type { RawConfig } from '../../src/config/schema.js';
import { rawRequest, spawnCli, startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';

const CHEAP = { input: 1, output: 2 };
const PRICEY = { input: 100, output: 200 };

function catalogConfig(): RawConfig {
  const config = testConfig();
  const chat = config.models.find((m) => m.id === 'sim-chat')!;
  chat.family = 'Simulated';
  config.models.find((m) => m.id === 'sim-video')!.listed = false;
  config.providers.down = { type: 'openai', base_url: 'http://127.0.0.1:1/v1' };
  config.models.push(
    { id: 'sim-logprobs', category: 'text', capabilities: ['chat', 'completions', 'logprobs', 'prediction'], deployments: [{ provider: 'sim' }] },
    { id: 'cheap-down', category: 'text', capabilities: ['chat'], pricing: CHEAP, fallbacks: ['pricey-up'], deployments: [{ provider: 'down' }] },
    { id: 'pricey-up', category: 'text', capabilities: ['chat'], pricing: PRICEY, deployments: [{ provider: 'sim' }] },
  );
  return config;
}

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway(catalogConfig());
});

afterAll(async () => {
  await gw?.close();
});

function post(path: string, body: unknown, key = gw.apiKey) {
  return rawRequest(`${gw.url}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, json: body });
}

const user = [{ role: 'user', content: 'Hello' }];

describe('catalog presentation', () => {
  it('shows a model\'s family on /v1/models and /v1/models/{id}, and none where the config sets none', async () => {
    const list = await gw.client.models.list();
    const chat = list.data.find((m) => m.id === 'sim-chat') as unknown as Record<string, unknown>;
    expect(chat.family).toBe('Simulated');
    expect((list.data.find((m) => m.id === 'sim-embed') as unknown as Record<string, unknown>).family).toBeUndefined();
    const one = (await gw.client.models.retrieve('sim-chat')) as unknown as Record<string, unknown>;
    expect(one.family).toBe('Simulated');
  });

  it('serves an unlisted model but leaves it out of /v1/models and the portal\'s catalog', async () => {
    const list = await gw.client.models.list();
    expect(list.data.map((m) => m.id)).not.toContain('sim-video');
    expect(list.data.map((m) => m.id)).toContain('sim-image');
    expect((await gw.client.models.retrieve('sim-video')).id).toBe('sim-video');
    const job = await post('/videos/generations', { model: 'sim-video', prompt: 'a wave', seconds: 1 });
    expect(job.status).toBeLessThan(300);
    const portal = await rawRequest(`${gw.url}/api/models`);
    expect(portal.status).toBe(200);
    const ids = (portal.json().data as { id: string; family: string }[]).map((m) => m.id);
    expect(ids).toContain('sim-image');
    expect(ids).not.toContain('sim-video');
    const portalChat = (portal.json().data as { id: string; family: string }[]).find((m) => m.id === 'sim-chat');
    expect(portalChat?.family).toBe('Simulated');
  });
});

describe('capability-gated fields', () => {
  const refusals: [string, string, Record<string, unknown>, string][] = [
    ['chat logprobs', '/chat/completions', { model: 'sim-chat', messages: user, logprobs: true }, 'logprobs'],
    ['chat top_logprobs', '/chat/completions', { model: 'sim-chat', messages: user, logprobs: true, top_logprobs: 2 }, 'logprobs'],
    ['completions logprobs', '/completions', { model: 'sim-chat', prompt: 'Hello', logprobs: 0 }, 'logprobs'],
    ['audio output', '/chat/completions', { model: 'sim-chat', messages: user, modalities: ['text', 'audio'] }, 'modalities'],
    ['audio', '/chat/completions', { model: 'sim-chat', messages: user, audio: { voice: 'alloy', format: 'mp3' } }, 'audio'],
    ['prediction', '/chat/completions', { model: 'sim-chat', messages: user, prediction: { type: 'content', content: 'Hi' } }, 'prediction'],
    ['web_search_options', '/chat/completions', { model: 'sim-logprobs', messages: user, web_search_options: {} }, 'web_search_options'],
  ];
  it.each(refusals)('%s: a model without the capability answers 400 naming the field', async (_name, path, body, param) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    const error = res.json().error;
    expect(error).toMatchObject({ type: 'invalid_request_error', param });
    expect(error.message).toContain(`the model "${String(body.model)}" does not support`);
  });

  it('forwards the field to a model that has the capability', async () => {
    expect((await post('/chat/completions', { model: 'sim-logprobs', messages: user, logprobs: true, top_logprobs: 2 })).status).toBe(200);
    expect((await post('/completions', { model: 'sim-logprobs', prompt: 'Hello', logprobs: 1 })).status).toBe(200);
    expect((await post('/chat/completions', { model: 'sim-logprobs', messages: user, prediction: { type: 'content', content: 'Hi' } })).status).toBe(200);
    // logprobs: false asks for nothing a model may lack.
    expect((await post('/chat/completions', { model: 'sim-chat', messages: user, logprobs: false })).status).toBe(200);
  });

  it('refuses through the SDK too', async () => {
    const err = await gw.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Hi' }], logprobs: true, top_logprobs: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'logprobs' });
  });
});

describe('fallbacks and the balance', () => {
  it('says in the error that a fallback was skipped because the balance cannot cover its price', async () => {
    const counted = countChatPromptTokens(user);
    const cheapMax = maxCostMicros(modelPrices(CHEAP), counted, 10);
    const priceyMax = maxCostMicros(modelPrices(PRICEY), counted, 10);
    const acct = await gw.createAccount({ creditMicros: cheapMax + Math.floor((priceyMax - cheapMax) / 2) });
    const res = await post('/chat/completions', { model: 'cheap-down', messages: user, max_tokens: 10 }, acct.apiKey);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.json().error.message).toMatch(/The fallback model "pricey-up" was skipped: your balance or budget cannot cover its price\.$/);
    // With the credit to cover it, the same request is served by the fallback.
    const rich = await gw.createAccount({ creditMicros: 2 * priceyMax });
    const served = await post('/chat/completions', { model: 'cheap-down', messages: user, max_tokens: 10 }, rich.apiKey);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-floodgate-fallback')).toContain('model=pricey-up');
  });
});

describe('FLOODGATE_PORT and FLOODGATE_HOST', () => {
  it('the built CLI listens where the variables say, and --port wins over FLOODGATE_PORT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-env-port-'));
    const probe = await startTestGateway(testConfig());
    // A port known to be free a moment ago: the probe gateway's, once it is closed.
    const port = Number(new URL(probe.url).port);
    await probe.close();
    try {
      const server = await spawnCli(['serve', '--data-dir', dataDir], /Floodgate listening on/, { FLOODGATE_PORT: String(port), FLOODGATE_HOST: '127.0.0.1' });
      try {
        expect(new URL(server.url).port).toBe(String(port));
        expect((await rawRequest(`${server.url}/healthz`)).status).toBeLessThan(500);
      } finally {
        await server.stop();
      }
      const flag = await spawnCli(['serve', '--data-dir', dataDir, '--port', '0'], /Floodgate listening on/, { FLOODGATE_PORT: String(port) });
      try {
        expect(new URL(flag.url).port).not.toBe(String(port));
      } finally {
        await flag.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
