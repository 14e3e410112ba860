// Cloud providers through their OpenAI-compatible endpoints (issue 18, item 4): examples/cloud-providers.yaml
// with each service's base URL pointed at a standalone simulator that requires what the service does —
// Azure OpenAI's `api-key` header, `api-version` query and deployment path; the others' Bearer key and
// path prefix. Through Floodgate with the official SDK: each serves; a wrong or missing key or query
// parameter at the backend is our 502 (SPEC §6); Azure streams; no backend key reaches a log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import type { RawConfig } from '../../src/config/schema.js';
import { PASS_THROUGH_ROUTING, rawRequest, spawnSimulator, startFakeUpstream, startTestGateway, testConfig, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';
import { exampleConfig, startExample } from '../helpers/examples.js';
import { simulatorAccessFromOptions } from '../../src/cli/simulate.js';
import { startSimulatorServer } from '../../src/providers/simulator/server.js';

const EXAMPLE = 'cloud-providers';
const AZURE_API_VERSION = '2024-10-21';

/** The backend keys (test values): none may appear in a log line. */
const ENV: Record<string, string> = {
  AZURE_OPENAI_ENDPOINT: 'https://floodgate-test.openai.azure.com',
  AZURE_OPENAI_API_KEY: 'azure-test-key-5d1c0e9b7a3f42c8',
  GEMINI_API_KEY: 'gemini-test-key-0b7e4f2a9c6d13e5',
  AWS_BEARER_TOKEN_BEDROCK: 'bedrock-test-key-8e2a6c4f0d9b71a3',
  GROQ_API_KEY: 'groq-test-key-3f9d1b7e5a2c60d4',
  TOGETHER_API_KEY: 'together-test-key-6a0c8e2f4b1d97e3',
  DEEPSEEK_API_KEY: 'deepseek-test-key-1e5b9d3f7c0a28b6',
  MISTRAL_API_KEY: 'mistral-test-key-9c3e7a1d5f8b04e2',
};

interface Service {
  provider: string;
  model: string;
  /** The path the service serves its OpenAI-compatible API under. */
  basePath: string;
  /** `floodgate simulate` flags requiring the service's key (and query). */
  require: string[];
}

const bearer = (env: string) => ['--require-header', `authorization: Bearer ${ENV[env]}`];
const SERVICES: Service[] = [
  {
    provider: 'azure-openai',
    model: 'gpt-4o',
    basePath: '/openai/deployments/gpt-4o-prod',
    require: ['--require-header', `api-key: ${ENV.AZURE_OPENAI_API_KEY}`, '--require-query', `api-version=${AZURE_API_VERSION}`],
  },
  { provider: 'gemini', model: 'gemini-2.5-flash', basePath: '/v1beta/openai', require: bearer('GEMINI_API_KEY') },
  { provider: 'bedrock', model: 'gpt-oss-20b', basePath: '/openai/v1', require: bearer('AWS_BEARER_TOKEN_BEDROCK') },
  { provider: 'groq', model: 'groq-llama-3.3-70b', basePath: '/openai/v1', require: bearer('GROQ_API_KEY') },
  { provider: 'together', model: 'together-llama-3.3-70b', basePath: '/v1', require: bearer('TOGETHER_API_KEY') },
  { provider: 'deepseek', model: 'deepseek-chat', basePath: '/v1', require: bearer('DEEPSEEK_API_KEY') },
  { provider: 'mistral', model: 'mistral-small', basePath: '/v1', require: bearer('MISTRAL_API_KEY') },
];

const SPAWNED = new Set(['azure-openai', 'gemini']);

interface Simulator {
  url: string;
  stop(): Promise<void>;
}

/** The standalone simulator's server in this process, its access rules read from the CLI flags. */
async function inProcessSimulator(flags: string[]): Promise<Simulator> {
  const opts: { basePath?: string; requireHeader: string[]; requireQuery: string[] } = { requireHeader: [], requireQuery: [] };
  for (let i = 0; i < flags.length; i += 2) {
    const value = flags[i + 1]!;
    if (flags[i] === '--base-path') opts.basePath = value;
    else if (flags[i] === '--require-header') opts.requireHeader.push(value);
    else if (flags[i] === '--require-query') opts.requireQuery.push(value);
  }
  const server = await startSimulatorServer({ settings: { ttft_ms: 0, tokens_per_second: 0 }, access: simulatorAccessFromOptions(opts) });
  return { url: server.url, stop: () => server.close() };
}

const simulators = new Map<string, Simulator>();
let gw: TestGateway;
let misconfigured: TestGateway;
const savedEnv: Record<string, string | undefined> = {};

/** The example's base URL with its scheme and host replaced by the simulator's (the path kept as written). */
function onSimulator(baseUrl: string, sim: Simulator): string {
  return baseUrl.replace(/^(?:\$\{[A-Z_]+\}|https?:\/\/[^/]+)/, sim.url);
}

function logText(g: TestGateway): string {
  return g.logs.map((line) => JSON.stringify(line)).join('\n');
}

function expectNoBackendKey(g: TestGateway, extra: string[] = []): void {
  const text = logText(g);
  for (const key of [...Object.values(ENV).filter((v) => v.includes('-key-')), ...extra]) expect(text.includes(key), `a log line carries ${key.slice(0, 12)}…`).toBe(false);
}

beforeAll(async () => {
  for (const [name, value] of Object.entries(ENV)) {
    savedEnv[name] = process.env[name];
    process.env[name] = value;
  }
  // Azure's and Gemini's stand-ins are `floodgate simulate` processes given the flags; the others run
  // the same server in this process with the same flags parsed by the same code (seven node processes
  // would only slow a loaded machine down).
  const started = await Promise.allSettled(
    SERVICES.map((s) => {
      const flags = ['--base-path', s.basePath, ...s.require];
      if (SPAWNED.has(s.provider)) return spawnSimulator(['--ttft-ms', '0', '--tokens-per-second', '0', ...flags]);
      return inProcessSimulator(flags);
    }),
  );
  // Those that started are stopped by afterAll even when another did not start.
  SERVICES.forEach((s, i) => {
    const result = started[i]!;
    if (result.status === 'fulfilled') simulators.set(s.provider, result.value);
  });
  const failed = started.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;

  gw = await startExample(EXAMPLE, (raw) => {
    for (const s of SERVICES) {
      const p = raw.providers[s.provider]!;
      if (p.type === 'openai') p.base_url = onSimulator(p.base_url, simulators.get(s.provider)!);
    }
    // Not in the example: an image model on the same Azure deployment path, for the media calls' URL.
    raw.models.push({ id: 'azure-image', category: 'image', capabilities: ['images'], deployments: [{ provider: 'azure-openai', model: 'gpt-4o-prod' }] });
  });

  // One gateway whose providers all call the Azure stand-in, each misconfigured in one way.
  const azure = structuredClone(exampleConfig(EXAMPLE).providers['azure-openai']!);
  if (azure.type !== 'openai') throw new Error('azure-openai is not an openai provider');
  azure.base_url = onSimulator(azure.base_url, simulators.get('azure-openai')!);
  const variants: Record<string, Partial<typeof azure>> = {
    'wrong-key': { api_key: 'azure-wrong-key-2c7f9e1a4b6d08e3' },
    'no-key': { api_key: undefined },
    'bearer-key': { api_key_header: undefined },
    'no-api-version': { query: undefined },
    'wrong-api-version': { query: { 'api-version': '2023-05-15' } },
    'wrong-deployment': {},
  };
  const cfg = testConfig({ routing: PASS_THROUGH_ROUTING });
  cfg.providers = {};
  cfg.models = [];
  for (const [name, change] of Object.entries(variants)) {
    const provider: Record<string, unknown> = { ...azure, ...change };
    for (const field of Object.keys(provider)) if (provider[field] === undefined) delete provider[field];
    cfg.providers[name] = provider as typeof azure;
    // The upstream model name is the deployment's: gpt-4o-prod but for the wrong-deployment case.
    cfg.models.push({ id: name, category: 'text', capabilities: ['chat'], deployments: [{ provider: name, model: name === 'wrong-deployment' ? 'gpt-4o-test' : 'gpt-4o-prod' }] });
  }
  misconfigured = await startTestGateway(cfg);
}, 60_000);

afterAll(async () => {
  await Promise.all([gw?.close(), misconfigured?.close()]);
  await Promise.all([...simulators.values()].map((s) => s.stop()));
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('examples/cloud-providers.yaml', () => {
  it('is accepted as written, with the services’ variables set', () => {
    const config = resolveConfig(exampleConfig(EXAMPLE), EXAMPLE, {}, { ...ENV });
    const azure = config.providers['azure-openai'];
    expect(azure).toMatchObject({ type: 'openai', base_url: 'https://floodgate-test.openai.azure.com/openai/deployments/{model}', api_key_header: 'api-key', query: { 'api-version': AZURE_API_VERSION } });
    expect(config.providers.bedrock).toMatchObject({ base_url: 'https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1' });
    expect(config.providers.gemini).toMatchObject({ base_url: 'https://generativelanguage.googleapis.com/v1beta/openai/' });
    expect(config.models.map((m) => m.id).sort()).toEqual(SERVICES.map((s) => s.model).sort());
  });

  it('refuses to start without a service’s key variable, naming the field', () => {
    const { MISTRAL_API_KEY: _omitted, ...env } = ENV;
    expect(() => resolveConfig(exampleConfig(EXAMPLE), EXAMPLE, {}, env)).toThrow(/providers\.mistral\.api_key: environment variable MISTRAL_API_KEY is not set/);
  });

  it.each(SERVICES.map((s) => [s.provider, s] as const))('serves a chat completion through %s, on its path with its key', async (_name, s) => {
    const res = await gw.client.chat.completions.create({ model: s.model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 20 });
    expect(res.model).toBe(s.model);
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it("streams through Azure's deployment path, with the usage chunk", async () => {
    const stream = await gw.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 30, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(30);
  });

  it('streams through Mistral, whose provider drops stream_options', async () => {
    const stream = await gw.client.chat.completions.create({ model: 'mistral-small', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
  });

  it("sends a media call on Azure's deployment path with its api-version too", async () => {
    const res = await gw.client.images.generate({ model: 'azure-image', prompt: 'a lighthouse', size: '256x256', response_format: 'b64_json' });
    expect(res.data?.[0]?.b64_json?.length).toBeGreaterThan(0);
  });

  it('writes no backend key to its log', async () => {
    expect(gw.logs.some((l) => l.msg === 'request')).toBe(true);
    expectNoBackendKey(gw);
  });
});

describe("a backend refusing the gateway's credentials or URL", () => {
  it.each(['wrong-key', 'no-key', 'bearer-key', 'no-api-version', 'wrong-api-version', 'wrong-deployment'])('%s: the client gets 502 upstream_error', async (model) => {
    const res = await rawRequest(`${misconfigured.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${misconfigured.apiKey}` },
      json: { model, messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(res.status).toBe(502);
    expect(res.json().error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    // The backend's own words (which echo the key it was sent) never reach the client.
    expect(res.text).not.toContain('azure-');
  });

  it('logs what the backend said with the key it echoed masked', async () => {
    const text = logText(misconfigured);
    // The simulator's 401 repeats the key it got; the log line keeps the message and masks the key.
    expect(text).toContain('Incorrect API key provided in api-key: ***');
    expect(text).toContain('Resource not found');
    expectNoBackendKey(misconfigured, ['azure-wrong-key-2c7f9e1a4b6d08e3']);
  });
});

describe('the wire form of api_key_header, query and {model}', () => {
  let fake: FakeUpstream;
  let g: TestGateway;
  const queryKey = 'fn-query-secret-4e8a2c6f0b';

  beforeAll(async () => {
    // A backend that refuses everything and repeats the request's URL and key in its error.
    fake = await startFakeUpstream((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `denied: ${req.url} with key ${String(req.headers['api-key'])}` } }));
    });
    const cfg = testConfig({ routing: PASS_THROUGH_ROUTING });
    cfg.providers = {
      fn: {
        type: 'openai',
        base_url: `${fake.url}/openai/deployments/{model}?region=west`,
        api_key: 'custom-backend-key-7b3d9f1e5a',
        api_key_header: 'Api-Key',
        query: { 'api-version': AZURE_API_VERSION, code: queryKey },
      },
    };
    cfg.models = [{ id: 'fn-chat', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'fn', model: 'dep 1/a' }] }];
    g = await startTestGateway(cfg);
  });

  afterAll(async () => {
    await g?.close();
    await fake?.close();
  });

  it('sends the key raw in the named header, the query on the path, the deployment URL-encoded; masks both secrets in the log', async () => {
    await expect(g.client.chat.completions.create({ model: 'fn-chat', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 502 });
    const req = fake.requests.at(-1)!;
    expect(req.url).toBe(`/openai/deployments/dep%201%2Fa/chat/completions?region=west&api-version=${AZURE_API_VERSION}&code=${queryKey}`);
    expect(req.headers['api-key']).toBe('custom-backend-key-7b3d9f1e5a');
    expect(req.headers.authorization).toBeUndefined();
    const text = logText(g);
    expect(text).toContain('denied: /openai/deployments/');
    expect(text).not.toContain(queryKey);
    expect(text).not.toContain('custom-backend-key-7b3d9f1e5a');
  });
});

describe('start-up checks of the new provider fields', () => {
  function withProvider(provider: Record<string, unknown>): RawConfig {
    const cfg = testConfig();
    cfg.providers = { cloud: provider as RawConfig['providers'][string] };
    cfg.models = [{ id: 'm', category: 'text', capabilities: ['chat'], deployments: [{ provider: 'cloud' }] }];
    return cfg;
  }
  const base = { type: 'openai', base_url: 'https://x.openai.azure.com/openai/deployments/{model}', api_key: 'k' };

  it.each([
    ['an unknown placeholder', { ...base, base_url: 'https://x.openai.azure.com/openai/deployments/{deployment}' }, /providers\.cloud\.base_url: unknown placeholder "\{deployment\}"/],
    ['{model} in the host', { ...base, base_url: 'https://{model}.openai.azure.com/v1' }, /providers\.cloud\.base_url: \{model\} may only stand in the URL's path/],
    ['{model} in the query', { ...base, base_url: 'https://x.example.com/v1?deployment={model}' }, /providers\.cloud\.base_url: \{model\} may only stand in the URL's path/],
    ['an empty query parameter name', { ...base, query: { '': '1' } }, /providers\.cloud\.query: "" is not a query parameter name/],
    ['a query parameter name with &', { ...base, query: { 'a&b': '1' } }, /providers\.cloud\.query: "a&b" is not a query parameter name/],
    ['a query value that is not a string', { ...base, query: { 'api-version': 2024 } }, /providers\.cloud\.query\.api-version/],
    ['a key header with a space', { ...base, api_key_header: 'api key' }, /providers\.cloud\.api_key_header/],
    ['a key header the gateway sets itself', { ...base, api_key_header: 'Content-Type' }, /providers\.cloud\.api_key_header: content-type is set by the gateway itself/],
    ['a misspelt field', { ...base, api_version: '2024-10-21' }, /providers\.cloud.*api_version/],
  ])('refuses %s, naming the field', (_what, provider, message) => {
    expect(() => resolveConfig(withProvider(provider), 'test', {}, {})).toThrow(ConfigError);
    expect(() => resolveConfig(withProvider(provider), 'test', {}, {})).toThrow(message);
  });

  it('accepts {model} in the path, query parameters and a key header', () => {
    expect(() => resolveConfig(withProvider({ ...base, api_key_header: 'api-key', query: { 'api-version': '2024-10-21' } }), 'test', {}, {})).not.toThrow();
  });
});
