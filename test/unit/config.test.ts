// Config: validation with field paths, env interpolation, the embedded default and the examples.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, interpolateEnv, resolveConfig } from '../../src/config/load.js';
import { EMBEDDED_DEFAULT } from '../../src/config/embedded-default.js';
import { REPO_ROOT } from '../helpers/gateway.js';

function configWith(mutate: (c: any) => void): unknown {
  const c: any = structuredClone(EMBEDDED_DEFAULT);
  mutate(c);
  return c;
}

function errorOf(doc: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveConfig(doc, 'test', {}, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('names an unknown provider with its path and the known ones', () => {
    const msg = errorOf(configWith((c) => (c.models[2].deployments[0].provider = 'vlm')));
    expect(msg).toBe('models[2].deployments[0].provider: unknown provider "vlm" (known: sim)');
  });

  it('reports schema errors with field paths', () => {
    expect(errorOf(configWith((c) => (c.models[0].category = 'chatbot')))).toMatch(/^models\[0\]\.category: must be one of/);
    expect(errorOf(configWith((c) => (c.server.port = 'eighty')))).toMatch(/^server\.port: must be an integer/);
    expect(errorOf(configWith((c) => (c.providers.sim.type = 'vllm')))).toMatch(/providers\.sim\.type: unknown provider type "vllm"/);
    expect(errorOf(configWith((c) => (c.providers.sim.tokens_per_sec = 3)))).toMatch(/providers\.sim\.tokens_per_sec: is not a known field here/);
    expect(errorOf(configWith((c) => (c.models[1].aliases = ['sim-chat'])))).toMatch(/models\[1\]\.aliases\[0\]: "sim-chat" is already used by models\[0\]\.id/);
    expect(errorOf(configWith((c) => delete c.models[0].deployments))).toMatch(/models\[0\]\.deployments: is required/);
  });

  it('checks fallbacks name other models, and the routing section field by field', () => {
    expect(errorOf(configWith((c) => (c.models[0].fallbacks = ['nope'])))).toBe('models[0].fallbacks[0]: unknown model "nope"');
    expect(errorOf(configWith((c) => (c.models[0].fallbacks = [c.models[0].id])))).toMatch(/^models\[0\]\.fallbacks\[0\]: "sim-chat" is this model itself$/);
    expect(errorOf(configWith((c) => (c.routing = { retry: { attempts: 0 } })))).toMatch(/^routing\.retry\.attempts: must be >= 1/);
    expect(errorOf(configWith((c) => (c.routing = { circuit_breaker: { error_rate: 0 } })))).toMatch(/^routing\.circuit_breaker\.error_rate: must be > 0/);
    expect(errorOf(configWith((c) => (c.models[0].deployments[0].timeouts = { connect_ms: 100 })))).toMatch(
      /^models\[0\]\.deployments\[0\]\.timeouts\.connect_ms: set connect_ms on the provider \(providers\.sim\.timeouts\)/,
    );
    expect(errorOf(configWith((c) => (c.models[1].retry = { budget: 5 })))).toMatch(/^models\[1\]\.retry\.budget: is not a known field here/);
    const cfg = resolveConfig(configWith((c) => (c.routing = { retry: { attempts: 5 }, probes: { enabled: false } })), 'test');
    expect(cfg.routing.retry).toEqual({ attempts: 5, budget_ms: 10_000, backoff_ms: 100 });
    expect(cfg.routing.probes).toEqual({ enabled: false, interval_ms: 0, timeout_ms: 5_000, liveness_ms: 2_000 });
    expect(resolveConfig(configWith((c) => (c.routing = { probes: { liveness_ms: 0 } })), 'test').routing.probes.liveness_ms).toBe(0);
    expect(errorOf(configWith((c) => (c.routing = { probes: { liveness_ms: -1 } })))).toMatch(/^routing\.probes\.liveness_ms: must be >= 0/);
    expect(errorOf(configWith((c) => (c.routing = { probes: { liveness_ms: '2s' } })))).toMatch(/^routing\.probes\.liveness_ms: /);
    expect(cfg.routing.breaker).toEqual({ window_ms: 30_000, min_requests: 5, error_rate: 0.5, open_ms: 5_000, max_open_ms: 120_000 });
  });

  it('interpolates ${ENV} and ${ENV:-default}, and fails on a missing variable', () => {
    expect(interpolateEnv({ a: 'x-${A}-y', b: ['${B:-dflt}'] }, { A: '1' })).toEqual({ a: 'x-1-y', b: ['dflt'] });
    const msg = errorOf(configWith((c) => (c.auth.pepper = '${PEPPER_MISSING}')));
    expect(msg).toMatch(/auth\.pepper: environment variable PEPPER_MISSING is not set/);
    const ok = resolveConfig(configWith((c) => (c.auth.pepper = '${PEPPER}')), 'test', {}, { PEPPER: 'p'.repeat(32) });
    expect(ok.auth.pepper).toBe('p'.repeat(32));
  });

  it('reads a whole-field ${VAR} as the field\'s type: integers, numbers, booleans', () => {
    const doc = configWith((c) => {
      c.server.port = '${PORT:-8080}';
      c.redis = { url: 'redis://127.0.0.1:6379', lease_ms: '${LEASE_MS:-30000}' };
      c.metrics = { enabled: '${METRICS:-true}' };
      c.portal = { secure_cookies: '${SECURE}' };
      c.models[0].pricing = { input: '${PRICE_IN}', output: 2 };
      c.models[0].description = '${DESC}';
    });
    const cfg = resolveConfig(doc, 'test', {}, { PORT: '9123', SECURE: 'false', PRICE_IN: '0.25', DESC: '42' });
    expect(cfg.server.port).toBe(9123);
    expect(cfg.redis?.leaseMs).toBe(30_000);
    expect(cfg.metrics.enabled).toBe(true);
    expect(cfg.portal.secureCookies).toBe(false);
    expect(cfg.models[0].pricing?.input).toBe(0.25);
    // A string field keeps the variable's text, digits or not.
    expect(cfg.models[0].description).toBe('42');
    expect(resolveConfig(doc, 'test', {}, { SECURE: 'auto', PRICE_IN: '1', DESC: 'x' }).portal.secureCookies).toBe('auto');
  });

  it('refuses a ${VAR} that is not of the field\'s type, naming the field and the variable', () => {
    const port = configWith((c) => (c.server.port = '${PORT}'));
    expect(errorOf(port, { PORT: 'eighty' })).toBe('server.port: must be an integer; environment variable PORT gives "eighty"');
    expect(errorOf(port, { PORT: '80.5' })).toBe('server.port: must be an integer; environment variable PORT gives "80.5"');
    const lease = configWith((c) => (c.redis = { url: 'redis://127.0.0.1:6379', lease_ms: '${LEASE_MS:-soon}' }));
    expect(errorOf(lease)).toBe('redis.lease_ms: must be an integer; environment variable LEASE_MS gives "soon"');
    expect(errorOf(configWith((c) => (c.metrics = { enabled: '${METRICS}' })), { METRICS: 'yes' })).toBe('metrics.enabled: must be true or false; environment variable METRICS gives "yes"');
    expect(errorOf(configWith((c) => (c.models[0].pricing = { input: '${P}' })), { P: 'cheap' })).toBe('models[0].pricing.input: must be a number; environment variable P gives "cheap"');
    // The schema's own bounds still apply to a coerced value.
    expect(errorOf(lease, { LEASE_MS: '10' })).toMatch(/^redis\.lease_ms: must be >= 1000/);
    // Only a whole-field variable is coerced: text around it leaves a string, refused as before.
    expect(errorOf(configWith((c) => (c.server.port = '80${X}')), { X: '80' })).toMatch(/^server\.port: must be an integer/);
  });

  it('takes a model\'s family, listed and the gated capabilities, and refuses bad ones with the field path', () => {
    const cfg = resolveConfig(configWith((c) => Object.assign(c.models[0], { family: 'DeepSeek', listed: false, capabilities: ['chat', 'logprobs', 'audio_output', 'prediction', 'web_search'] })), 'test');
    expect(cfg.models[0]).toMatchObject({ family: 'DeepSeek', listed: false });
    expect(errorOf(configWith((c) => (c.models[0].listed = 'no')))).toMatch(/^models\[0\]\.listed: must be a boolean/);
    expect(errorOf(configWith((c) => (c.models[0].family = '')))).toMatch(/^models\[0\]\.family: /);
    expect(errorOf(configWith((c) => (c.models[0].capabilities = ['chat', 'web_browsing'])))).toMatch(/^models\[0\]\.capabilities\[1\]: must be one of/);
  });

  it('takes FLOODGATE_PORT and FLOODGATE_HOST over the file, and the command line over both', () => {
    const env = { FLOODGATE_PORT: '9444', FLOODGATE_HOST: '0.0.0.0' };
    expect(resolveConfig(structuredClone(EMBEDDED_DEFAULT), 'test', {}, env).server).toMatchObject({ host: '0.0.0.0', port: 9444 });
    expect(resolveConfig(structuredClone(EMBEDDED_DEFAULT), 'test', { port: 9555, host: '::1' }, env).server).toMatchObject({ host: '::1', port: 9555 });
    expect(errorOf(structuredClone(EMBEDDED_DEFAULT), { FLOODGATE_PORT: 'http' })).toBe('server.port: environment variable FLOODGATE_PORT must be a port number (0-65535); got "http"');
  });

  it('applies overrides and defaults', () => {
    const cfg = resolveConfig(structuredClone(EMBEDDED_DEFAULT), 'test', { host: '0.0.0.0', port: 9000, dataDir: '/tmp/fg' });
    expect(cfg.server).toMatchObject({ host: '0.0.0.0', port: 9000, basePath: '/v1', bodyLimitBytes: 8 * 1024 * 1024, cors: null });
    expect(cfg.storeUrl).toBe('sqlite:/tmp/fg/floodgate.db');
    expect(cfg.storePoolSize).toBe(10);
    expect(cfg.auth.keyPrefix).toBe('fk-');
  });

  it('takes a PostgreSQL store with its pool size', () => {
    const cfg = resolveConfig(configWith((c) => (c.store = { url: 'postgres://fg:pw@db:5432/floodgate', pool_size: 25 })), 'test');
    expect(cfg.storeUrl).toBe('postgres://fg:pw@db:5432/floodgate');
    expect(cfg.storePoolSize).toBe(25);
    expect(errorOf(configWith((c) => (c.store = { url: 'postgres://db/x', pool_size: 0 })))).toMatch(/^store\.pool_size: must be >= 1/);
    expect(errorOf(configWith((c) => (c.store = { url: 'postgres://db/x', pool_size: 2.5 })))).toMatch(/^store\.pool_size: must be an integer/);
    expect(errorOf(configWith((c) => (c.store = { url: 'mysql://db/x' })))).toMatch(/^store\.url: /);
  });

  it('keeps examples/embedded-default.yaml identical to the built-in default', () => {
    const example = parse(readFileSync(join(REPO_ROOT, 'examples', 'embedded-default.yaml'), 'utf8'));
    expect(example).toEqual(EMBEDDED_DEFAULT);
  });

  // examples/cloud-providers.yaml: one variable per service.
  const CLOUD_ENV = Object.fromEntries(
    ['AZURE_OPENAI_API_KEY', 'GEMINI_API_KEY', 'AWS_BEARER_TOKEN_BEDROCK', 'GROQ_API_KEY', 'TOGETHER_API_KEY', 'DEEPSEEK_API_KEY', 'MISTRAL_API_KEY'].map((name) => [name, 'k']),
  );
  CLOUD_ENV.AZURE_OPENAI_ENDPOINT = 'https://example.openai.azure.com';

  it('accepts every example config', () => {
    const env = { FLOODGATE_PEPPER: 'x'.repeat(32), VLLM_API_KEY: 'k', ANTHROPIC_API_KEY: 'k', OPENAI_API_KEY: 'k', ...CLOUD_ENV };
    for (const file of readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) {
      const doc = parse(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8'));
      expect(() => resolveConfig(doc, file, {}, env), file).not.toThrow();
    }
  });
});
