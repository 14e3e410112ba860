// The config file's schema: one TypeBox source for validation and for the types the code reads.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StringEnum } from '../openai/schemas/common.js';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const PositiveInt = (extra: object = {}) => Type.Integer({ minimum: 1, ...extra });

export const TimeoutsSchema = Type.Object(
  {
    connect_ms: Opt(PositiveInt()),
    first_byte_ms: Opt(PositiveInt()),
    idle_ms: Opt(PositiveInt()),
    total_ms: Opt(PositiveInt()),
  },
  { additionalProperties: false },
);

export const SimulatorFaultsSchema = Type.Object(
  {
    /** Fraction of requests (0–1) answered with `error_status`. */
    error_rate: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    error_status: Opt(Type.Integer({ minimum: 400, maximum: 599 })),
    /** Extra delay before the response starts. */
    latency_ms: Opt(Type.Integer({ minimum: 0 })),
    /** Never answer: the request hangs until the client gives up. */
    hang: Opt(Type.Boolean()),
    /** Break the connection (or the stream) after this many output tokens. */
    break_after_tokens: Opt(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const SimulatorSettingsSchema = Type.Object(
  {
    ttft_ms: Opt(Type.Integer({ minimum: 0 })),
    /** 0 = as fast as possible. */
    tokens_per_second: Opt(Type.Number({ minimum: 0 })),
    /** Default length of a generated answer, in tokens: [min, max]. */
    output_tokens: Opt(Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })])),
    embedding_dimensions: Opt(PositiveInt({ maximum: 8192 })),
    /** How long a video job takes from queued to completed. */
    video_ms: Opt(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    /** Upstream model names (glob `*`) answered with reasoning content first. */
    reasoning_models: Opt(Type.Array(Type.String())),
    faults: Opt(SimulatorFaultsSchema),
  },
  { additionalProperties: false },
);

const ProviderCommon = {
  timeouts: Opt(TimeoutsSchema),
};

export const OpenAIProviderSchema = Type.Object(
  {
    type: Type.Literal('openai'),
    /**
     * The API's base; `/chat/completions` etc. are appended. A `{model}` in its path is replaced by the
     * deployment's upstream model name on every call (Azure OpenAI: `…/openai/deployments/{model}`).
     */
    base_url: Type.String({ pattern: '^https?://' }),
    api_key: Opt(Type.String()),
    /** The header that carries `api_key`: `authorization` (default) sends `Bearer <key>`, any other header the key as it is (Azure: `api-key`). */
    api_key_header: Opt(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" })),
    /** Query parameters added to every request, e.g. `{api-version: "2024-10-21"}` (Azure OpenAI). */
    query: Opt(Type.Record(Type.String(), Type.String())),
    headers: Opt(Type.Record(Type.String(), Type.String())),
    /** Request fields renamed before forwarding, e.g. `{max_tokens: max_completion_tokens}`. */
    rename_fields: Opt(Type.Record(Type.String(), Type.String({ minLength: 1 }))),
    /** Request fields removed before forwarding. */
    drop_fields: Opt(Type.Array(Type.String({ minLength: 1 }))),
    /** Most connections open to the backend at once (default: unbounded; idle ones are kept alive). */
    connections: Opt(PositiveInt({ maximum: 10_000 })),
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';

export const AnthropicProviderSchema = Type.Object(
  {
    type: Type.Literal('anthropic'),
    /** The Messages API's origin (`/v1/messages` is appended; a trailing `/v1` is accepted). */
    base_url: Opt(Type.String({ pattern: '^https?://', default: ANTHROPIC_DEFAULT_BASE_URL })),
    api_key: Opt(Type.String()),
    /** The `anthropic-version` header. */
    anthropic_version: Opt(Type.String({ minLength: 1, default: ANTHROPIC_DEFAULT_VERSION })),
    /** Extra request headers, e.g. `anthropic-beta`. */
    headers: Opt(Type.Record(Type.String(), Type.String())),
    /** Mark cache breakpoints (tools, system prompt, conversation so far) on requests that carry none. */
    prompt_caching: Opt(Type.Boolean()),
    connections: Opt(PositiveInt({ maximum: 10_000 })),
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

export const SimulatorProviderSchema = Type.Object(
  {
    type: Type.Literal('simulator'),
    ...SimulatorSettingsSchema.properties,
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

/** Discriminated on `type`, so a config error names the fields of the provider type actually meant. */
export const ProviderSchema = Type.Unsafe<Static<typeof OpenAIProviderSchema> | Static<typeof AnthropicProviderSchema> | Static<typeof SimulatorProviderSchema>>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [OpenAIProviderSchema, AnthropicProviderSchema, SimulatorProviderSchema],
});
export const PROVIDER_TYPES = ['openai', 'anthropic', 'simulator'] as const;

export const CATEGORIES = ['text', 'code', 'reasoning', 'multimodal', 'embeddings', 'image', 'audio', 'video'] as const;
export const CAPABILITIES = [
  'chat',
  'completions',
  'embeddings',
  'tools',
  'vision',
  'json_object',
  'json_schema',
  'n',
  'logprobs',
  'dimensions',
  // Fields a request may carry only to a model that has these (else a 400 naming the field): `audio` and
  // `modalities: ["audio"]`, `prediction`, `web_search_options`.
  'audio_output',
  'prediction',
  'web_search',
  // Media endpoints (SPEC §2): POST /v1/images/generations, /v1/audio/speech, /v1/audio/transcriptions, /v1/videos/generations.
  'images',
  'speech',
  'transcriptions',
  'video',
] as const;
export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;

export const DeploymentSchema = Type.Object(
  {
    provider: Type.String({ minLength: 1 }),
    /** The model name the backend knows; defaults to the catalog id. */
    model: Opt(Type.String({ minLength: 1 })),
    weight: Opt(Type.Number({ exclusiveMinimum: 0 })),
    timeouts: Opt(TimeoutsSchema),
  },
  { additionalProperties: false },
);

/**
 * Prices in currency units: per million tokens for text, per unit for media (an image, a character of
 * speech input, a second of audio transcribed, a second of video). At most 6 decimal places each.
 */
export const PricingSchema = Type.Object(
  {
    input: Opt(Type.Number({ minimum: 0 })),
    cached_input: Opt(Type.Number({ minimum: 0 })),
    output: Opt(Type.Number({ minimum: 0 })),
    per_image: Opt(Type.Number({ minimum: 0 })),
    per_character: Opt(Type.Number({ minimum: 0 })),
    per_audio_second: Opt(Type.Number({ minimum: 0 })),
    per_video_second: Opt(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/**
 * Limits (SPEC §9), as a tier sets them and as an account or key overrides them. An absent figure is no
 * limit of that kind.
 */
export const LimitValuesSchema = Type.Object(
  {
    // Safe integers only (SPEC §16): a JSON or YAML figure past 2^53 arrives rounded, and is refused.
    requests_per_minute: Opt(PositiveInt({ maximum: Number.MAX_SAFE_INTEGER })),
    tokens_per_minute: Opt(PositiveInt({ maximum: Number.MAX_SAFE_INTEGER })),
    concurrent_requests: Opt(PositiveInt({ maximum: Number.MAX_SAFE_INTEGER })),
  },
  { additionalProperties: false },
);

export const LimitsSchema = Type.Object(
  {
    /** The tier of accounts whose tier the config does not name (and of new accounts). */
    default_tier: Opt(Type.String({ minLength: 1 })),
    tiers: Opt(Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), LimitValuesSchema)),
  },
  { additionalProperties: false },
);

/** What a limit does while Redis cannot be reached (SPEC §11): never silent, always logged and counted. */
export const REDIS_FAILURE_POLICIES = ['closed', 'open', 'local'] as const;

export const RedisSchema = Type.Object(
  {
    url: Type.String({ pattern: '^rediss?://' }),
    /** Prefix of every key and channel: several gateways (or tests) can share one Redis. */
    key_prefix: Opt(Type.String({ pattern: '^[A-Za-z0-9:._{}-]{0,64}$' })),
    /** Concurrency slots and balance reservations expire this long after their holder stops renewing them. */
    lease_ms: Opt(Type.Integer({ minimum: 1000, maximum: 600_000 })),
    /** A Redis call that takes longer fails (and the limit's policy applies). */
    command_timeout_ms: Opt(Type.Integer({ minimum: 10, maximum: 60_000 })),
    /**
     * Per limit, while Redis is unreachable: `closed` refuses (503), `open` admits without that limit,
     * `local` enforces it per instance in memory. Balance reservations always fail closed.
     */
    failure_policy: Opt(
      Type.Object(
        {
          requests_per_minute: Opt(StringEnum(REDIS_FAILURE_POLICIES)),
          tokens_per_minute: Opt(StringEnum(REDIS_FAILURE_POLICIES)),
          concurrent_requests: Opt(StringEnum(REDIS_FAILURE_POLICIES)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const BillingSchema = Type.Object(
  {
    /** Credit given to the account created on the first start (currency units, e.g. USD; at most the largest balance, 10^9). */
    initial_credit: Opt(Type.Number({ minimum: 0, maximum: 1_000_000_000 })),
  },
  { additionalProperties: false },
);

export const UsageSchema = Type.Object(
  {
    /** Usage records wait at most this long before their batch is written (the crash-loss bound). */
    flush_ms: Opt(Type.Integer({ minimum: 1, maximum: 10_000 })),
    /** A batch is written as soon as it holds this many records. */
    max_batch: Opt(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

/** The portal (SPEC §14): pages for people and the admin, and their JSON API at `${path}api/`. */
export const PORTAL_SIGNUP = ['open', 'invite', 'closed'] as const;

export const PortalSchema = Type.Object(
  {
    enabled: Opt(Type.Boolean()),
    /** Where the pages are (default `/`); the JSON API is at `${path}api/`. */
    path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$' })),
    signup: Opt(StringEnum(PORTAL_SIGNUP)),
    title: Opt(Type.String({ minLength: 1, maxLength: 100 })),
    /** The API's base URL as the docs print it (default: this server's own URL and base path). */
    base_url_shown: Opt(Type.String({ pattern: '^https?://' })),
    support: Opt(Type.String({ minLength: 1, maxLength: 500 })),
    /** `auto`: Secure when the request came over https (or `x-forwarded-proto: https`). */
    secure_cookies: Opt(Type.Union([Type.Literal('auto'), Type.Boolean()])),
    session_ttl_hours: Opt(Type.Integer({ minimum: 1, maximum: 24 * 365 })),
    /**
     * Sign-ups a client address may make a minute (a burst of this many, then one every 60/N s): each
     * sign-up is an account with `billing.initial_credit`, which must not be farmed.
     */
    signups_per_minute: Opt(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

/** The Responses API's stored responses (SPEC §17): how long they are kept, how often expired ones are deleted. */
export const ResponsesSchema = Type.Object(
  {
    retention_days: Opt(Type.Integer({ minimum: 1, maximum: 3650 })),
    /** How often the sweep deletes expired responses from the store. */
    sweep_interval_ms: Opt(Type.Integer({ minimum: 1000, maximum: 86_400_000 })),
  },
  { additionalProperties: false },
);

/** The Prometheus endpoint (SPEC §12): unauthenticated, outside the API's base path. */
export const MetricsSchema = Type.Object(
  {
    /** Off: no /metrics route (a 404) and no per-request observations. */
    enabled: Opt(Type.Boolean()),
    path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$' })),
  },
  { additionalProperties: false },
);

/** OpenTelemetry traces over OTLP/HTTP: one span per API request, with admission, attempts and settlement under it. */
export const TracingSchema = Type.Object(
  {
    /** Off (the default): no tracer is made and requests carry no tracing work. */
    enabled: Opt(Type.Boolean()),
    /** The collector's OTLP/HTTP traces URL. */
    endpoint: Opt(Type.String({ pattern: '^https?://' })),
    /** Sent with each export (a collector's API key). */
    headers: Opt(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    /** Fraction of new traces kept (0–1); a client's sampled parent is always honoured. */
    sampling_ratio: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    service_name: Opt(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** Retries before the first byte reaches the client (SPEC §7), per model. */
export const RetrySchema = Type.Object(
  {
    /** Attempts per model, the first included (1: no retries), before the model's fallbacks. */
    attempts: Opt(Type.Integer({ minimum: 1, maximum: 10 })),
    /** No new attempt starts once this long has passed since the first one. */
    budget_ms: Opt(Type.Integer({ minimum: 0, maximum: 600_000 })),
    /** The first wait before the same deployment is tried again (doubled each time; a backend's Retry-After wins). */
    backoff_ms: Opt(Type.Integer({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

/** The circuit breaker each deployment has (SPEC §7). */
export const CircuitBreakerSchema = Type.Object(
  {
    /** The rolling window outcomes are counted over. */
    window_ms: Opt(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    /** Fewer requests than this in the window never open the breaker. */
    min_requests: Opt(Type.Integer({ minimum: 1, maximum: 100_000 })),
    /** The share of failed requests in the window (0–1] that opens it. */
    error_rate: Opt(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    /** How long an open breaker stays open before a trial request (or probe) is let through. */
    open_ms: Opt(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    /**
     * Each trial that fails doubles the cool-down (with jitter), up to this: a backend that stays down
     * (or keeps refusing our credentials) is probed ever more rarely, not every `open_ms` forever.
     */
    max_open_ms: Opt(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);

export const ProbesSchema = Type.Object(
  {
    /** Probe an open deployment when its cool-down ends, so it comes back without client traffic. */
    enabled: Opt(Type.Boolean()),
    /** Also probe every deployment this often (0: only open ones). */
    interval_ms: Opt(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    /** A probe that has not answered within this long failed. */
    timeout_ms: Opt(Type.Integer({ minimum: 100, maximum: 600_000 })),
    /**
     * Check every HTTP deployment's reachability this often (a connection, no request; 0: never). One
     * that cannot be connected to opens its breaker at once, and one that can again gets its trial at once.
     */
    liveness_ms: Opt(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);

export const RoutingSchema = Type.Object(
  {
    /** Defaults for every model (a model's own `retry` overrides them field by field). */
    retry: Opt(RetrySchema),
    circuit_breaker: Opt(CircuitBreakerSchema),
    probes: Opt(ProbesSchema),
  },
  { additionalProperties: false },
);

export const ModelSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256 }),
    aliases: Opt(Type.Array(Type.String({ minLength: 1 }))),
    category: StringEnum(CATEGORIES),
    owned_by: Opt(Type.String()),
    /** The model family shown on /v1/models and in the portal's catalog (e.g. "DeepSeek", "Qwen"). */
    family: Opt(Type.String({ minLength: 1 })),
    /** false: served, but left out of /v1/models and the portal's catalog. */
    listed: Opt(Type.Boolean()),
    description: Opt(Type.String()),
    context_length: Opt(PositiveInt()),
    max_output_tokens: Opt(PositiveInt()),
    defaults: Opt(Type.Record(Type.String(), Type.Unknown())),
    capabilities: Opt(Type.Array(StringEnum(CAPABILITIES))),
    pricing: Opt(PricingSchema),
    deployments: Type.Array(DeploymentSchema, { minItems: 1 }),
    /** Speech models: the voices a request may name (any, when absent). */
    voices: Opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** Speech models: the `response_format`s the backend can make (all six, when absent). */
    audio_formats: Opt(Type.Array(StringEnum(SPEECH_FORMATS), { minItems: 1 })),
    /** Image and video models: the sizes a request may ask for, `WIDTHxHEIGHT` (any up to 4096×4096, when absent). */
    sizes: Opt(Type.Array(Type.String({ pattern: '^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$' }), { minItems: 1 })),
    /** Transcription models: the longest audio a request is reserved for (seconds, default 3600). */
    max_audio_seconds: Opt(PositiveInt({ maximum: 86_400 })),
    /** Video models: the longest video a request may ask for (seconds, default 20). */
    max_video_seconds: Opt(PositiveInt({ maximum: 3600 })),
    /** Other models (ids or aliases) tried in order when every deployment of this one has failed. */
    fallbacks: Opt(Type.Array(Type.String({ minLength: 1 }))),
    retry: Opt(RetrySchema),
  },
  { additionalProperties: false },
);

export const ErrorPresentationSchema = Type.Object(
  {
    message: Opt(Type.String({ minLength: 1 })),
    type: Opt(Type.String({ minLength: 1 })),
    code: Opt(Type.String({ minLength: 1 })),
    doc_url: Opt(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const DocUrlsSchema = Type.Object(
  {
    keys: Opt(Type.String({ minLength: 1 })),
    billing: Opt(Type.String({ minLength: 1 })),
    limits: Opt(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Opt(
      Type.Object(
        {
          host: Opt(Type.String()),
          port: Opt(Type.Integer({ minimum: 0, maximum: 65535 })),
          base_path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$' })),
          body_limit_bytes: Opt(PositiveInt()),
          heartbeat_ms: Opt(PositiveInt()),
          /** On SIGTERM / SIGINT, how long in-flight requests and streams may run on before they are cut. */
          shutdown_grace_ms: Opt(Type.Integer({ minimum: 0 })),
          /** Slow or idle clients (SPEC §16): the time a request's headers may take to arrive, from its first byte. */
          headers_timeout_ms: Opt(PositiveInt()),
          /** The time a whole request (headers and body) may take to arrive; 0 for no limit. The response is not limited. */
          request_timeout_ms: Opt(Type.Integer({ minimum: 0 })),
          /** How long a request body may stop arriving before the connection is closed (a 408). */
          body_idle_timeout_ms: Opt(PositiveInt()),
          /** How long an idle keep-alive connection stays open. */
          keep_alive_timeout_ms: Opt(PositiveInt()),
          /** Connections this process holds at once; more are closed as they arrive. 0 for no cap. */
          max_connections: Opt(Type.Integer({ minimum: 0 })),
          /** Allow `GET /v1/models` without a key. */
          public_models: Opt(Type.Boolean()),
          cors: Opt(
            Type.Object(
              { origins: Type.Array(Type.String({ minLength: 1 })), max_age_s: Opt(Type.Integer({ minimum: 0 })) },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    data_dir: Opt(Type.String({ minLength: 1 })),
    store: Opt(
      Type.Object(
        {
          url: Type.String({ pattern: '^(sqlite:|postgres://|postgresql://)' }),
          /** PostgreSQL: the most connections each gateway process opens (default 10). */
          pool_size: Opt(PositiveInt({ maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Opt(
      Type.Object(
        {
          key_prefix: Opt(Type.String({ pattern: '^[A-Za-z0-9_-]{0,16}$' })),
          /** HMAC pepper for API keys; generated into the data directory when unset. */
          pepper: Opt(Type.String({ minLength: 16 })),
          /** A file holding the pepper (a mounted secret), read at start-up; instead of `pepper`. */
          pepper_file: Opt(Type.String({ minLength: 1 })),
          admin_token: Opt(Type.String({ minLength: 16 })),
          doc_url: Opt(Type.String()),
          /** How long a verified key stays cached in process (SPEC §3: at most 1 s). */
          key_cache_ms: Opt(Type.Integer({ minimum: 0, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    logging: Opt(
      Type.Object(
        { level: Opt(StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])) },
        { additionalProperties: false },
      ),
    ),
    /** An error's wording per catalog name (SPEC §6): message (`{message}` = the gateway's own), type, code, doc_url. */
    errors: Opt(Type.Record(Type.String(), ErrorPresentationSchema)),
    /** doc_url per kind of error; auth.doc_url stands for any kind not set here. */
    doc_urls: Opt(DocUrlsSchema),
    /** An unsupported endpoint's message, by its name (`/v1/fine_tuning`): replaces the built-in one. */
    unsupported_endpoints: Opt(Type.Record(Type.String(), Type.String({ minLength: 1 }))),
    limits: Opt(LimitsSchema),
    redis: Opt(RedisSchema),
    billing: Opt(BillingSchema),
    usage: Opt(UsageSchema),
    metrics: Opt(MetricsSchema),
    tracing: Opt(TracingSchema),
    portal: Opt(PortalSchema),
    responses: Opt(ResponsesSchema),
    routing: Opt(RoutingSchema),
    providers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), ProviderSchema),
    models: Type.Array(ModelSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
export type OpenAIProviderConfig = Static<typeof OpenAIProviderSchema>;
export type AnthropicProviderConfig = Static<typeof AnthropicProviderSchema>;
export type SimulatorProviderConfig = Static<typeof SimulatorProviderSchema>;
export type SimulatorSettings = Static<typeof SimulatorSettingsSchema>;
export type ModelConfig = Static<typeof ModelSchema>;
export type DeploymentConfig = Static<typeof DeploymentSchema>;
export type Timeouts = Static<typeof TimeoutsSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type CircuitBreakerConfig = Static<typeof CircuitBreakerSchema>;
export type ProbesConfig = Static<typeof ProbesSchema>;
export type LimitValuesConfig = Static<typeof LimitValuesSchema>;
export type RedisFailurePolicy = (typeof REDIS_FAILURE_POLICIES)[number];
export type PricingConfig = Static<typeof PricingSchema>;
export type Category = (typeof CATEGORIES)[number];
export type Capability = (typeof CAPABILITIES)[number];
