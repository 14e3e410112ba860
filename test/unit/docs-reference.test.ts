// The generated reference pages (docs/configuration.md, docs/errors.md) against their sources: each page is
// byte for byte what `npm run docs:generate` writes now, lists every config field and every catalog error,
// and the defaults the schema states are the ones the code applies.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFields, configurationReference, errorCatalogReference, fieldHeading, generatedDocs, githubSlug, type SchemaNode } from '../../src/config/reference.js';
import { ConfigSchema, ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_VERSION } from '../../src/config/schema.js';
import { resolveConfig, type Config } from '../../src/config/load.js';
import { ERRORS } from '../../src/openai/errors.js';
import { anthropicErrorType } from '../../src/providers/anthropic/errors.js';
import { DEFAULT_TIMEOUTS } from '../../src/routing/timeouts.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, DEFAULT_ERROR_STATUS, DEFAULT_OUTPUT_TOKENS } from '../../src/providers/simulator/core.js';
import { DEFAULT_VIDEO_MS } from '../../src/providers/simulator/media-answers.js';
import { REPO_ROOT } from '../helpers/gateway.js';

const page = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');

/** The schema's field paths, walked here on their own (not by the generator) so a field it skips is caught. */
function schemaPaths(node: SchemaNode, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push(path, ...below(child, path));
  }
  return out;
}
function below(node: SchemaNode, path: string): string[] {
  if (node.properties) return schemaPaths(node, path);
  if (node.patternProperties) {
    const value = Object.values(node.patternProperties)[0];
    const inner = `${path}.<${node.keyName ?? 'key'}>`;
    if (value.oneOf) return value.oneOf.flatMap((branch) => schemaPaths(branch, inner));
    return value.properties ? schemaPaths(value, inner) : [];
  }
  if (node.items && !Array.isArray(node.items) && node.items.properties) return schemaPaths(node.items, `${path}[]`);
  return [];
}

describe('docs/configuration.md', () => {
  it('is what the generator makes from the schema now (run `npm run docs:generate`)', () => {
    expect(page('docs/configuration.md')).toBe(configurationReference());
  });

  it('has a heading for every field of the schema', () => {
    const text = configurationReference();
    const paths = [...new Set(schemaPaths(ConfigSchema as SchemaNode))];
    expect(paths.length).toBeGreaterThan(150);
    for (const p of ['server.port', 'providers.<name>.base_url', 'models[].pricing.input', 'limits.tiers.<tier>.requests_per_minute', 'errors.<error>.message', 'models[].deployments[].timeouts.idle_ms']) expect(paths).toContain(p);
    const missing = paths.filter((p) => !new RegExp(`^#{2,4} \`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('gives every field a description and a SPEC section, under a heading of its own', () => {
    const fields = configFields();
    expect(fields.filter((f) => !f.node.description).map((f) => f.path)).toEqual([]);
    expect(fields.filter((f) => !/^§\d+$/.test(f.spec ?? '')).map((f) => f.path)).toEqual([]);
    const slugs = fields.map((f) => githubSlug(fieldHeading(f).replaceAll('`', '')));
    expect(new Set(slugs).size).toBe(slugs.length);
  });

  it('states the defaults the code applies', () => {
    const minimal = { providers: { sim: { type: 'simulator' } }, models: [{ id: 'm', category: 'text', deployments: [{ provider: 'sim' }] }] };
    const fuller = { ...minimal, server: { cors: { origins: ['https://app.example.com'] } }, redis: { url: 'redis://127.0.0.1:6379' }, tracing: { enabled: true } };
    const a = resolveConfig(minimal, 'test', {}, {});
    const b = resolveConfig(fuller, 'test', {}, {});
    // What load.ts fills in when a field is absent, as the resolved config holds it.
    const applied: Record<string, (c: Config, full: Config) => unknown> = {
      'server.host': (c) => c.server.host,
      'server.port': (c) => c.server.port,
      'server.base_path': (c) => c.server.basePath,
      'server.body_limit_bytes': (c) => c.server.bodyLimitBytes,
      'server.heartbeat_ms': (c) => c.server.heartbeatMs,
      'server.shutdown_grace_ms': (c) => c.server.shutdownGraceMs,
      'server.headers_timeout_ms': (c) => c.server.headersTimeoutMs,
      'server.request_timeout_ms': (c) => c.server.requestTimeoutMs,
      'server.body_idle_timeout_ms': (c) => c.server.bodyIdleTimeoutMs,
      'server.keep_alive_timeout_ms': (c) => c.server.keepAliveTimeoutMs,
      'server.max_connections': (c) => c.server.maxConnections,
      'server.public_models': (c) => c.server.publicModels,
      'server.cors.max_age_s': (_c, f) => f.server.cors?.maxAgeS,
      data_dir: (c) => (c.dataDir === resolve('./data') ? './data' : c.dataDir),
      'store.pool_size': (c) => c.storePoolSize,
      'auth.key_prefix': (c) => c.auth.keyPrefix,
      'auth.key_cache_ms': (c) => c.auth.keyCacheMs,
      'logging.level': (c) => c.logging.level,
      'limits.default_tier': (c) => c.limits.defaultTier,
      'redis.key_prefix': (_c, f) => f.redis?.keyPrefix,
      'redis.lease_ms': (_c, f) => f.redis?.leaseMs,
      'redis.command_timeout_ms': (_c, f) => f.redis?.commandTimeoutMs,
      'redis.failure_policy.requests_per_minute': (_c, f) => f.redis?.failurePolicy.requests,
      'redis.failure_policy.tokens_per_minute': (_c, f) => f.redis?.failurePolicy.tokens,
      'redis.failure_policy.concurrent_requests': (_c, f) => f.redis?.failurePolicy.concurrency,
      'billing.initial_credit': (c) => c.billing.initialCreditMicros / 1_000_000,
      'billing.mode': (c) => c.billing.mode,
      'usage.flush_ms': (c) => c.usage.flushMs,
      'usage.max_batch': (c) => c.usage.maxBatch,
      'metrics.enabled': (c) => c.metrics.enabled,
      'metrics.path': (c) => c.metrics.path,
      'tracing.enabled': (c) => c.tracing !== null,
      'tracing.endpoint': (_c, f) => f.tracing?.endpoint,
      'tracing.sampling_ratio': (_c, f) => f.tracing?.samplingRatio,
      'tracing.service_name': (_c, f) => f.tracing?.serviceName,
      'alerts.queue_size': (c) => c.alerts.queueSize,
      'alerts.max_attempts': (c) => c.alerts.maxAttempts,
      'alerts.backoff_ms': (c) => c.alerts.backoffMs,
      'alerts.timeout_ms': (c) => c.alerts.timeoutMs,
      'portal.enabled': (c) => c.portal.enabled,
      'portal.path': (c) => c.portal.path,
      'portal.signup': (c) => c.portal.signup,
      'portal.title': (c) => c.portal.title,
      'portal.secure_cookies': (c) => c.portal.secureCookies,
      'portal.session_ttl_hours': (c) => c.portal.sessionTtlMs / 3_600_000,
      'portal.signups_per_minute': (c) => c.portal.signupsPerMinute,
      'responses.retention_days': (c) => c.responses.retentionMs / 86_400_000,
      'responses.sweep_interval_ms': (c) => c.responses.sweepIntervalMs,
    };
    for (const key of ['attempts', 'budget_ms', 'backoff_ms'] as const) applied[`routing.retry.${key}`] = (c) => c.routing.retry[key];
    for (const key of ['window_ms', 'min_requests', 'error_rate', 'open_ms', 'max_open_ms'] as const) applied[`routing.circuit_breaker.${key}`] = (c) => c.routing.breaker[key];
    for (const key of ['enabled', 'interval_ms', 'timeout_ms', 'liveness_ms'] as const) applied[`routing.probes.${key}`] = (c) => c.routing.probes[key];
    // Defaults the code applies where it reads the field, through a named constant.
    const constants: Record<string, unknown> = {
      'providers.<name>.timeouts.connect_ms': DEFAULT_TIMEOUTS.connect_ms,
      'providers.<name>.timeouts.first_byte_ms': DEFAULT_TIMEOUTS.first_byte_ms,
      'providers.<name>.timeouts.idle_ms': DEFAULT_TIMEOUTS.idle_ms,
      'providers.<name>.timeouts.total_ms': DEFAULT_TIMEOUTS.total_ms,
      'providers.<name>.base_url': ANTHROPIC_DEFAULT_BASE_URL,
      'providers.<name>.anthropic_version': ANTHROPIC_DEFAULT_VERSION,
      'providers.<name>.output_tokens': [...DEFAULT_OUTPUT_TOKENS],
      'providers.<name>.embedding_dimensions': DEFAULT_EMBEDDING_DIMENSIONS,
      'providers.<name>.faults.error_status': DEFAULT_ERROR_STATUS,
      'providers.<name>.video_ms': DEFAULT_VIDEO_MS,
    };
    // Defaults written inline where the field is read (`?? value`), named here so that a new default in
    // the schema must be placed in one of these three lists.
    const inline = [
      'providers.<name>.api_key_header', // providers/openai/endpoint.ts
      'providers.<name>.prompt_caching', // providers/anthropic/provider.ts: `=== true`
      'providers.<name>.ttft_ms', // providers/simulator/core.ts
      'providers.<name>.tokens_per_second',
      'providers.<name>.faults.error_rate',
      'providers.<name>.faults.latency_ms',
      'providers.<name>.faults.hang',
      'models[].owned_by', // api/models.ts
      'models[].listed', // api/models.ts: `!== false`
      'models[].deployments[].weight', // routing/catalog.ts
      'models[].max_audio_seconds', // api/media.ts
      'models[].max_video_seconds', // api/videos.ts
      'models[].pricing.input', // accounting/pricing.ts
      'models[].pricing.output',
      'models[].pricing.per_image',
      'models[].pricing.per_character',
      'models[].pricing.per_audio_second',
      'models[].pricing.per_video_second',
    ];

    const withDefault = configFields().filter((f) => f.node.default !== undefined);
    const placed = new Set([...Object.keys(applied), ...Object.keys(constants), ...inline]);
    expect(withDefault.map((f) => f.path).filter((p) => !placed.has(p))).toEqual([]);
    const byPath = new Map(withDefault.map((f) => [f.path, f.node.default]));
    for (const [path, read] of Object.entries(applied)) expect({ path, value: byPath.get(path) }).toEqual({ path, value: read(a, b) });
    for (const [path, value] of Object.entries(constants)) expect({ path, value: byPath.get(path) }).toEqual({ path, value });
    for (const path of inline) expect(byPath.has(path), path).toBe(true);
  });
});

describe('docs/errors.md', () => {
  it('is what the generator makes from the catalog now (run `npm run docs:generate`)', () => {
    expect(page('docs/errors.md')).toBe(errorCatalogReference());
  });

  it('lists every catalog error with its status, type, code, Messages-door type and when it is sent', () => {
    const text = errorCatalogReference();
    for (const [name, e] of Object.entries(ERRORS) as [string, { status: number; type: string; code: string | null; when: string }][]) {
      expect(e.when.trim().length, name).toBeGreaterThan(10);
      const row = text.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      const cells = row!.split(' | ');
      expect(cells.slice(1, 5)).toEqual([String(e.status), `\`${e.type}\``, e.code === null ? '`null`' : `\`${e.code}\``, `\`${anthropicErrorType(e.status)}\``]);
      expect(row).toContain(e.when);
    }
  });
});

describe('docs:generate', () => {
  it('writes exactly these pages', () => {
    expect(Object.keys(generatedDocs()).sort()).toEqual(['docs/configuration.md', 'docs/errors.md']);
  });
});
