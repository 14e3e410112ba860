// Loads the config: YAML file (or the embedded default), `${ENV}` interpolation, validation with field
// paths, cross-references, and the defaults the rest of the code relies on.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigSchema, PROVIDER_TYPES, type RawConfig, type ProviderConfig, type ModelConfig, type LimitValuesConfig, type RetryConfig, type CircuitBreakerConfig, type ProbesConfig, type RedisFailurePolicy } from './schema.js';
import { EMBEDDED_DEFAULT } from './embedded-default.js';
import { describeAjvError, valueAt } from '../validation/ajv-errors.js';
import { checkErrorPresentations, ErrorRendering } from '../openai/errors.js';
import { checkOpenAIProvider } from '../providers/openai/endpoint.js';
import { UNSUPPORTED_ENDPOINT_NAMES } from '../api/unsupported.js';
import { readPepperFile } from '../auth/key-material.js';
import type { BillingMode } from '../store/accounts.js';
import { ALERT_EVENT_TYPES, type AlertEventType } from '../alerts/events.js';
import { parseAmountMicros } from '../admin/money.js';

/** A config that cannot be used: the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface CorsConfig {
  origins: string[];
  maxAgeS: number;
}

export interface Config {
  /** Where the config came from: a file path or "embedded default". */
  source: string;
  server: {
    host: string;
    port: number;
    basePath: string;
    bodyLimitBytes: number;
    heartbeatMs: number;
    /** How long a graceful shutdown lets in-flight requests run before it cuts them. */
    shutdownGraceMs: number;
    /** Slow and idle clients: see `server.*_timeout_ms` and `server.max_connections` in the schema. */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    bodyIdleTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    publicModels: boolean;
    cors: CorsConfig | null;
  };
  dataDir: string;
  storeUrl: string;
  /** PostgreSQL: the connection pool's size per process (`store.pool_size`). */
  storePoolSize: number;
  /** `pepperFile`: where `pepper` was read from (auth.pepper_file), absolute. */
  auth: { keyPrefix: string; pepper?: string; pepperFile?: string; adminToken?: string; docUrl?: string; keyCacheMs: number };
  /** The error catalog as this deployment words it (`errors`, `doc_urls`, `unsupported_endpoints`). */
  errors: ErrorRendering;
  logging: { level: string };
  limits: { defaultTier: string; tiers: Record<string, LimitValuesConfig> };
  /** The shared limits and reservations of a scale-out deployment (SPEC §11); absent: in process. */
  redis: RedisConfig | null;
  billing: { initialCreditMicros: number; mode: BillingMode; tiers: Record<string, BillingMode> };
  usage: { flushMs: number; maxBatch: number };
  /** The Prometheus endpoint. */
  metrics: { enabled: boolean; path: string };
  /** OpenTelemetry traces (OTLP/HTTP); null when off. */
  tracing: TracingConfig | null;
  /** Webhook alerts (src/alerts/); no webhooks: off, and nothing of them is loaded. */
  alerts: AlertsConfig;
  /** The portal (SPEC §14; docs/portal-contract.md). */
  portal: PortalConfig;
  /** Stored responses of the Responses API (SPEC §17): kept `retentionMs`, expired ones swept every `sweepIntervalMs`. */
  responses: { retentionMs: number; sweepIntervalMs: number };
  routing: RoutingConfig;
  providers: Record<string, ProviderConfig>;
  models: ModelConfig[];
}

export interface TracingConfig {
  endpoint: string;
  headers: Record<string, string>;
  samplingRatio: number;
  serviceName: string;
}

export interface WebhookConfig {
  url: string;
  /** As configured: `whsec_<base64>` or a plain string (its UTF-8 bytes are the key). */
  secret: string;
  events: AlertEventType[];
}

export interface AlertsConfig {
  /** A prepaid balance below this (micro-units) fires `balance.low`; null: never. */
  balanceLowMicros: number | null;
  webhooks: WebhookConfig[];
  /** Deliveries waiting, across webhooks, before new ones are dropped. */
  queueSize: number;
  maxAttempts: number;
  /** The first retry's wait (doubled per retry, with jitter, up to 5 minutes). */
  backoffMs: number;
  /** One attempt's time limit. */
  timeoutMs: number;
}

export interface PortalConfig {
  enabled: boolean;
  /** Always ends with "/". */
  path: string;
  /** `path` + "api": the portal's JSON API. */
  apiPrefix: string;
  signup: 'open' | 'invite' | 'closed';
  title: string;
  baseUrlShown: string | null;
  support: string | null;
  secureCookies: 'auto' | boolean;
  sessionTtlMs: number;
  /** Sign-ups per client address a minute. */
  signupsPerMinute: number;
}

export interface RoutingConfig {
  /** Every model's retry policy unless it sets its own fields. */
  retry: Required<RetryConfig>;
  breaker: Required<CircuitBreakerConfig>;
  probes: Required<ProbesConfig>;
}

export interface RedisConfig {
  url: string;
  keyPrefix: string;
  leaseMs: number;
  commandTimeoutMs: number;
  failurePolicy: { requests: RedisFailurePolicy; tokens: RedisFailurePolicy; concurrency: RedisFailurePolicy };
}

export const DEFAULT_RETRY: Required<RetryConfig> = { attempts: 3, budget_ms: 10_000, backoff_ms: 100 };
export const DEFAULT_BREAKER: Required<CircuitBreakerConfig> = { window_ms: 30_000, min_requests: 5, error_rate: 0.5, open_ms: 5_000, max_open_ms: 120_000 };
export const DEFAULT_PROBES: Required<ProbesConfig> = { enabled: true, interval_ms: 0, timeout_ms: 5_000, liveness_ms: 2_000 };

export interface ConfigOverrides {
  host?: string;
  port?: number;
  dataDir?: string;
}

const ajv = new Ajv({ allErrors: true, discriminator: true, strict: false });
const validateRaw = ajv.compile<RawConfig>(ConfigSchema);

/** Replaces `${NAME}` and `${NAME:-default}` in every string of the parsed document. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${path || '(root)'}: environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/** JSON Schema node, as far as the coercion below reads it. */
interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
}

/** The JSON types the schema allows at a value reached through `keys`; empty when it says nothing. */
function typesAt(schema: SchemaNode, keys: (string | number)[]): Set<string> {
  const out = new Set<string>();
  const visit = (node: SchemaNode, i: number): void => {
    for (const branch of [...(node.anyOf ?? []), ...(node.oneOf ?? [])]) visit(branch, i);
    if (i === keys.length) {
      if (typeof node.type === 'string') out.add(node.type);
      else if (Array.isArray(node.type)) for (const t of node.type) out.add(t);
      return;
    }
    const key = keys[i];
    if (typeof key === 'number') {
      if (node.items) visit(node.items, i + 1);
      return;
    }
    const own = node.properties?.[key];
    if (own) return visit(own, i + 1);
    for (const [pattern, sub] of Object.entries(node.patternProperties ?? {})) if (new RegExp(pattern, 'u').test(key)) visit(sub, i + 1);
    if (typeof node.additionalProperties === 'object') visit(node.additionalProperties, i + 1);
  };
  visit(schema, 0);
  return out;
}

/**
 * A field that is one `${VAR}` and nothing else takes the variable's value as the field's type (an
 * environment has only strings): `port: ${PORT:-8080}` is a number. A value that is not of that type is
 * refused here, naming the field and the variable, rather than as a puzzling "must be integer".
 */
function coerceEnvValues(original: unknown, interpolated: unknown, schema: SchemaNode, keys: (string | number)[] = [], path = ''): unknown {
  if (typeof original === 'string' && typeof interpolated === 'string') {
    const whole = WHOLE_VARIABLE.exec(original);
    if (whole === null) return interpolated;
    const types = typesAt(schema, keys);
    const text = interpolated.trim();
    if (types.has('boolean') && (text === 'true' || text === 'false')) return text === 'true';
    const numeric = types.has('number') || types.has('integer');
    if (numeric && /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
      const n = Number(text);
      if (!types.has('integer') || types.has('number') || Number.isInteger(n)) return n;
    }
    if (types.size === 0 || types.has('string')) return interpolated;
    const wanted = types.has('integer') && !types.has('number') ? 'an integer' : numeric ? 'a number' : types.has('boolean') ? 'true or false' : [...types].join(' or ');
    throw new ConfigError(`${path || '(root)'}: must be ${wanted}; environment variable ${whole[1]} gives ${JSON.stringify(interpolated)}`);
  }
  if (Array.isArray(original) && Array.isArray(interpolated)) {
    return interpolated.map((v: unknown, i) => coerceEnvValues(original[i], v, schema, [...keys, i], `${path}[${i}]`));
  }
  if (original !== null && typeof original === 'object' && interpolated !== null && typeof interpolated === 'object') {
    const out: Record<string, unknown> = {};
    const from = original as Record<string, unknown>;
    for (const [k, v] of Object.entries(interpolated)) out[k] = coerceEnvValues(from[k], v, schema, [...keys, k], path ? `${path}.${k}` : k);
    return out;
  }
  return interpolated;
}

/** `FLOODGATE_PORT` / `FLOODGATE_HOST`: between the command line (which wins) and the file. */
function envListen(env: NodeJS.ProcessEnv): { host?: string; port?: number } {
  const out: { host?: string; port?: number } = {};
  const host = env.FLOODGATE_HOST;
  if (host !== undefined && host !== '') out.host = host;
  const port = env.FLOODGATE_PORT;
  if (port !== undefined && port !== '') {
    const n = Number(port);
    if (!/^\d+$/.test(port.trim()) || n > 65_535) throw new ConfigError(`server.port: environment variable FLOODGATE_PORT must be a port number (0-65535); got ${JSON.stringify(port)}`);
    out.port = n;
  }
  return out;
}

/** Ajv's errors as `path: message` lines, one per distinct problem. */
export function formatSchemaErrors(errors: ErrorObject[] | null | undefined, doc: unknown): string {
  const lines = new Set<string>();
  for (const err of errors ?? []) {
    // A discriminated union reports its branch errors itself; the generic oneOf line adds nothing.
    if (err.keyword === 'oneOf') continue;
    if (err.keyword === 'discriminator') {
      const p = err.params as { tag: string; tagValue: unknown };
      const path = err.instancePath ? `${describeAjvError(err, undefined).path}.${p.tag}` : p.tag;
      lines.add(`${path}: unknown provider type ${JSON.stringify(p.tagValue)} (known: ${PROVIDER_TYPES.join(', ')})`);
      continue;
    }
    const { path, message } = describeAjvError(err, valueAt(doc, err.instancePath));
    lines.add(`${path ?? '(root)'}: ${message}`);
  }
  return [...lines].join('\n');
}

/** Reads and parses a YAML file; unreadable or invalid files are ConfigErrors naming the file. */
export function readYamlFile(file: string, what = 'config'): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ConfigError(`${file}: invalid YAML: ${err.message}`);
    throw err;
  }
}

/** Checks what the schema cannot: references between sections and unique names. */
function checkReferences(raw: RawConfig): string[] {
  const problems: string[] = [];
  const providerNames = Object.keys(raw.providers);
  for (const [name, provider] of Object.entries(raw.providers)) if (provider.type === 'openai') problems.push(...checkOpenAIProvider(provider, `providers.${name}`));
  const names = new Map<string, string>();
  raw.models.forEach((model, i) => {
    for (const [j, name] of [model.id, ...(model.aliases ?? [])].entries()) {
      const where = j === 0 ? `models[${i}].id` : `models[${i}].aliases[${j - 1}]`;
      const seen = names.get(name);
      if (seen) problems.push(`${where}: "${name}" is already used by ${seen}`);
      else names.set(name, where);
    }
    model.deployments.forEach((d, j) => {
      if (!(d.provider in raw.providers)) {
        problems.push(`models[${i}].deployments[${j}].provider: unknown provider "${d.provider}" (known: ${providerNames.join(', ') || 'none'})`);
      }
      if (d.timeouts?.connect_ms !== undefined) {
        // Connections are pooled per provider (one backend server), so their timeout is the provider's.
        problems.push(`models[${i}].deployments[${j}].timeouts.connect_ms: set connect_ms on the provider (providers.${d.provider}.timeouts); connections are pooled per provider`);
      }
    });
    for (const [field, price] of Object.entries(model.pricing ?? {})) {
      // Prices become integer pico-units (per token: price per million × 10^6; per media unit: × 10^12, per
      // audio millisecond × 10^9): exact only to six decimal places.
      if (Math.abs(price * 1e6 - Math.round(price * 1e6)) > 1e-6) problems.push(`models[${i}].pricing.${field}: at most 6 decimal places`);
    }
    (model.fallbacks ?? []).forEach((name, j) => {
      if (name === model.id || (model.aliases ?? []).includes(name)) problems.push(`models[${i}].fallbacks[${j}]: "${name}" is this model itself`);
      else if (!raw.models.some((m) => m.id === name || (m.aliases ?? []).includes(name))) problems.push(`models[${i}].fallbacks[${j}]: unknown model "${name}"`);
    });
    const defaults = model.defaults ?? {};
    for (const key of ['max_tokens', 'max_completion_tokens'] as const) {
      const v = defaults[key];
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) problems.push(`models[${i}].defaults.${key}: must be a positive integer`);
    }
  });
  problems.push(...checkErrorPresentations(raw.errors));
  for (const name of Object.keys(raw.unsupported_endpoints ?? {})) {
    if (!UNSUPPORTED_ENDPOINT_NAMES.includes(name)) problems.push(`unsupported_endpoints.${name}: not an unsupported endpoint (known: ${UNSUPPORTED_ENDPOINT_NAMES.join(', ')})`);
  }
  const tiers = raw.limits?.tiers ?? {};
  const defaultTier = raw.limits?.default_tier;
  if (defaultTier !== undefined && !(defaultTier in tiers)) {
    problems.push(`limits.default_tier: unknown tier "${defaultTier}" (known: ${Object.keys(tiers).join(', ') || 'none'})`);
  }
  if (raw.limits?.tiers !== undefined) {
    for (const tier of Object.keys(raw.billing?.tiers ?? {})) {
      if (!(tier in tiers)) problems.push(`billing.tiers.${tier}: unknown tier (known: ${Object.keys(tiers).join(', ') || 'none'})`);
    }
  }
  return problems;
}

function resolveAlerts(raw: RawConfig['alerts']): AlertsConfig {
  const problems: string[] = [];
  const webhooks = (raw?.webhooks ?? []).map((hook, i): WebhookConfig => {
    // Only the field is named: a webhook's URL may carry a token of its own (a chat service's incoming hook).
    let url: URL | undefined;
    try {
      url = new URL(hook.url);
    } catch {
      problems.push(`alerts.webhooks[${i}].url: not a valid URL`);
    }
    if (url !== undefined && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`alerts.webhooks[${i}].url: must be http:// or https://`);
    if (hook.secret.startsWith('whsec_')) {
      const encoded = hook.secret.slice('whsec_'.length);
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || Buffer.from(encoded, 'base64').length < 16) {
        problems.push(`alerts.webhooks[${i}].secret: a whsec_ secret must be followed by base64 of at least 16 bytes`);
      }
    }
    const events = hook.events ?? [...ALERT_EVENT_TYPES];
    if (new Set(events).size !== events.length) problems.push(`alerts.webhooks[${i}].events: lists an event twice`);
    return { url: hook.url, secret: hook.secret, events };
  });
  let balanceLowMicros: number | null = null;
  if (raw?.balance_low !== undefined) {
    try {
      balanceLowMicros = parseAmountMicros(raw.balance_low);
      if (balanceLowMicros < 0) problems.push('alerts.balance_low: must not be negative');
    } catch (err) {
      problems.push(`alerts.balance_low: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return {
    balanceLowMicros,
    webhooks,
    queueSize: raw?.queue_size ?? 1000,
    maxAttempts: raw?.max_attempts ?? 8,
    backoffMs: raw?.backoff_ms ?? 1000,
    timeoutMs: raw?.timeout_ms ?? 5000,
  };
}

function resolvePortal(raw: RawConfig['portal']): PortalConfig {
  const path = `${(raw?.path ?? '/').replace(/\/+$/, '')}/`;
  return {
    enabled: raw?.enabled ?? true,
    path,
    apiPrefix: `${path}api`,
    signup: raw?.signup ?? 'open',
    title: raw?.title ?? 'Floodgate',
    baseUrlShown: raw?.base_url_shown?.replace(/\/+$/, '') ?? null,
    support: raw?.support ?? null,
    secureCookies: raw?.secure_cookies ?? 'auto',
    sessionTtlMs: (raw?.session_ttl_hours ?? 168) * 3_600_000,
    signupsPerMinute: raw?.signups_per_minute ?? 3,
  };
}

/** Validates a parsed config document and fills in defaults. */
/** auth.pepper, or the content of auth.pepper_file (read now, so a missing or short file fails the start). */
function pepperFromConfig(pepper: string | undefined, file: string | undefined): { pepper?: string; pepperFile?: string } {
  if (file === undefined) return { pepper };
  if (pepper !== undefined) throw new ConfigError('auth.pepper_file: set auth.pepper or auth.pepper_file, not both');
  const path = resolve(file);
  try {
    return { pepper: readPepperFile(path), pepperFile: path };
  } catch (err) {
    throw new ConfigError(`auth.pepper_file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function resolveConfig(doc: unknown, source: string, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const interpolated = coerceEnvValues(doc, interpolateEnv(doc, env), ConfigSchema as SchemaNode);
  const listen = envListen(env);
  if (!validateRaw(interpolated)) throw new ConfigError(formatSchemaErrors(validateRaw.errors, interpolated));
  const raw = interpolated;
  const problems = checkReferences(raw);
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));

  const dataDir = resolve(overrides.dataDir ?? raw.data_dir ?? './data');
  const basePath = (raw.server?.base_path ?? '/v1').replace(/\/+$/, '') || '';
  const cors = raw.server?.cors;
  const headersTimeoutMs = raw.server?.headers_timeout_ms ?? 10_000;
  const requestTimeoutMs = raw.server?.request_timeout_ms ?? 300_000;
  // Node checks both on the same pass; headers that may outlast the whole request make no sense.
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) throw new ConfigError(`server.headers_timeout_ms (${headersTimeoutMs}) must not exceed server.request_timeout_ms (${requestTimeoutMs})`);
  const portal = resolvePortal(raw.portal);
  // The pages answer what no route does under their path: they must not sit inside the API's or the admin's.
  for (const taken of [basePath, '/admin/v1']) {
    if (taken !== '' && portal.path.startsWith(`${taken}/`)) throw new ConfigError(`portal.path: ${portal.path} is inside ${taken}, which the gateway serves; pick another path`);
  }
  return {
    source,
    server: {
      host: overrides.host ?? listen.host ?? raw.server?.host ?? '127.0.0.1',
      port: overrides.port ?? listen.port ?? raw.server?.port ?? 8080,
      basePath,
      bodyLimitBytes: raw.server?.body_limit_bytes ?? 8 * 1024 * 1024,
      heartbeatMs: raw.server?.heartbeat_ms ?? 15_000,
      shutdownGraceMs: raw.server?.shutdown_grace_ms ?? 30_000,
      headersTimeoutMs,
      requestTimeoutMs,
      bodyIdleTimeoutMs: raw.server?.body_idle_timeout_ms ?? 30_000,
      keepAliveTimeoutMs: raw.server?.keep_alive_timeout_ms ?? 65_000,
      maxConnections: raw.server?.max_connections ?? 10_000,
      publicModels: raw.server?.public_models ?? false,
      cors: cors && cors.origins.length > 0 ? { origins: cors.origins, maxAgeS: cors.max_age_s ?? 600 } : null,
    },
    dataDir,
    storeUrl: raw.store?.url ?? `sqlite:${resolve(dataDir, 'floodgate.db')}`,
    storePoolSize: raw.store?.pool_size ?? 10,
    auth: {
      keyPrefix: raw.auth?.key_prefix ?? 'fk-',
      ...pepperFromConfig(raw.auth?.pepper, raw.auth?.pepper_file),
      adminToken: raw.auth?.admin_token,
      docUrl: raw.auth?.doc_url,
      keyCacheMs: raw.auth?.key_cache_ms ?? 1000,
    },
    errors: new ErrorRendering({ errors: raw.errors, docUrls: raw.doc_urls, fallbackDocUrl: raw.auth?.doc_url, unsupportedMessages: raw.unsupported_endpoints }),
    logging: { level: raw.logging?.level ?? 'info' },
    limits: { defaultTier: raw.limits?.default_tier ?? 'default', tiers: raw.limits?.tiers ?? {} },
    redis: raw.redis
      ? {
          url: raw.redis.url,
          keyPrefix: raw.redis.key_prefix ?? 'floodgate:',
          leaseMs: raw.redis.lease_ms ?? 30_000,
          commandTimeoutMs: raw.redis.command_timeout_ms ?? 1000,
          failurePolicy: {
            requests: raw.redis.failure_policy?.requests_per_minute ?? 'local',
            tokens: raw.redis.failure_policy?.tokens_per_minute ?? 'local',
            concurrency: raw.redis.failure_policy?.concurrent_requests ?? 'local',
          },
        }
      : null,
    billing: { initialCreditMicros: Math.round((raw.billing?.initial_credit ?? 0) * 1_000_000), mode: raw.billing?.mode ?? 'prepaid', tiers: raw.billing?.tiers ?? {} },
    usage: { flushMs: raw.usage?.flush_ms ?? 100, maxBatch: raw.usage?.max_batch ?? 500 },
    metrics: { enabled: raw.metrics?.enabled ?? true, path: raw.metrics?.path ?? '/metrics' },
    tracing:
      raw.tracing?.enabled === true
        ? {
            endpoint: raw.tracing.endpoint ?? 'http://localhost:4318/v1/traces',
            headers: raw.tracing.headers ?? {},
            samplingRatio: raw.tracing.sampling_ratio ?? 1,
            serviceName: raw.tracing.service_name ?? 'floodgate',
          }
        : null,
    alerts: resolveAlerts(raw.alerts),
    portal,
    responses: { retentionMs: (raw.responses?.retention_days ?? 30) * 86_400_000, sweepIntervalMs: raw.responses?.sweep_interval_ms ?? 3_600_000 },
    routing: {
      retry: { ...DEFAULT_RETRY, ...raw.routing?.retry },
      breaker: { ...DEFAULT_BREAKER, ...raw.routing?.circuit_breaker },
      probes: { ...DEFAULT_PROBES, ...raw.routing?.probes },
    },
    providers: raw.providers,
    models: raw.models,
  };
}

/** Reads the config named by `--config`, `FLOODGATE_CONFIG` or `./floodgate.yaml`; else the embedded default. */
export function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = path ?? env.FLOODGATE_CONFIG ?? (existsSync('floodgate.yaml') ? 'floodgate.yaml' : undefined);
  if (file === undefined) return resolveConfig(structuredClone(EMBEDDED_DEFAULT), 'embedded default', overrides, env);
  const doc = readYamlFile(file);
  try {
    return resolveConfig(doc, resolve(file), overrides, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}:\n${err.message}`);
    throw err;
  }
}
