// The config file's schema: one TypeBox source for validation, for the types the code reads and for the
// reference in docs/configuration.md (src/config/reference.ts renders it). Each field carries, as schema
// annotations that validation ignores: `description`, `default` (the value load.ts or the code using the
// field applies when it is absent: test/unit/docs-reference.test.ts compares them), `examples`, and our own
// keys `spec` (the SPEC section, inherited by the fields below), `defaultText` (a default that is not one
// literal value) and `keyName` (what a record's keys name, for `providers.<name>`).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { StringEnum } from '../openai/schemas/common.js';
import { BILLING_MODES } from '../store/accounts.js';
import { ALERT_EVENT_TYPES } from '../alerts/events.js';

const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const PositiveInt = (extra: object = {}) => Type.Integer({ minimum: 1, ...extra });

/** A provider's timeouts (defaults: routing/timeouts.ts) and a deployment's, over its provider's. */
const timeoutsSchema = (deployment: boolean) =>
  Type.Object(
    {
      connect_ms: Opt(
        PositiveInt(
          deployment
            ? { description: 'Refused here: connections are pooled per provider, so set `connect_ms` on the provider.' }
            : { description: 'How long opening a connection to the backend may take; past it the attempt fails (and is retried elsewhere).', default: 5_000 },
        ),
      ),
      first_byte_ms: Opt(PositiveInt({ description: "How long the backend may take to send its response's first byte (a 504 `upstream_timeout` past it).", ...(deployment ? { defaultText: "the provider's" } : { default: 60_000 }) })),
      idle_ms: Opt(PositiveInt({ description: 'How long a stream may stall between two chunks from the backend.', ...(deployment ? { defaultText: "the provider's" } : { default: 30_000 }) })),
      total_ms: Opt(PositiveInt({ description: 'How long one call to the backend may take in all, streams included.', ...(deployment ? { defaultText: "the provider's" } : { default: 600_000 }) })),
    },
    { additionalProperties: false, spec: '§7', description: deployment ? "This deployment's timeouts, field by field over its provider's." : "Timeouts of every call to this backend (a deployment's own `timeouts` override them)." },
  );

export const TimeoutsSchema = timeoutsSchema(false);
const DeploymentTimeoutsSchema = timeoutsSchema(true);

export const SimulatorFaultsSchema = Type.Object(
  {
    error_rate: Opt(Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'Fraction of requests (0–1) answered with `error_status`.', examples: [0.1] })),
    error_status: Opt(Type.Integer({ minimum: 400, maximum: 599, default: 500, description: 'The HTTP status of an injected error.' })),
    latency_ms: Opt(Type.Integer({ minimum: 0, default: 0, description: 'Extra delay before the response starts.' })),
    hang: Opt(Type.Boolean({ default: false, description: 'Never answer: the request hangs until the client gives up.' })),
    break_after_tokens: Opt(Type.Integer({ minimum: 0, description: 'Break the connection (or the stream) after this many output tokens.', defaultText: 'never' })),
  },
  { additionalProperties: false, description: 'Faults the simulator injects, for tests and demos of retries, breakers and errors.' },
);

export const SimulatorSettingsSchema = Type.Object(
  {
    ttft_ms: Opt(Type.Integer({ minimum: 0, default: 0, description: "Time to first token: the delay before a response's first token." })),
    tokens_per_second: Opt(Type.Number({ minimum: 0, default: 0, description: 'The pace of generated tokens; 0 = as fast as possible.', examples: [50] })),
    output_tokens: Opt(Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })], { default: [16, 64], description: 'Default length of a generated answer, in tokens: `[min, max]`.' })),
    embedding_dimensions: Opt(PositiveInt({ maximum: 8192, default: 1024, description: "Length of an embedding vector when the request sets no `dimensions`." })),
    video_ms: Opt(Type.Integer({ minimum: 0, maximum: 3_600_000, default: 2000, description: 'How long a video job takes from queued to completed.' })),
    reasoning_models: Opt(Type.Array(Type.String(), { description: 'Upstream model names (glob `*`) answered with reasoning content first.', examples: [['sim-reasoner', '*-r1']] })),
    faults: Opt(SimulatorFaultsSchema),
  },
  { additionalProperties: false },
);

const ProviderCommon = {
  timeouts: Opt(TimeoutsSchema),
};

const CONNECTIONS_DESCRIPTION = 'Most connections open to the backend at once; idle ones are kept alive.';

export const OpenAIProviderSchema = Type.Object(
  {
    type: Type.Literal('openai', { description: 'Any OpenAI-compatible server: vLLM, SGLang, TGI, llama.cpp, Ollama, OpenAI, DeepSeek, the clouds.' }),
    base_url: Type.String({
      pattern: '^https?://',
      description:
        "The API's base; `/chat/completions` etc. are appended. A `{model}` in its path is replaced by the deployment's upstream model name on every call (Azure OpenAI: `…/openai/deployments/{model}`).",
      examples: ['http://127.0.0.1:8000/v1', 'https://api.openai.com/v1'],
    }),
    api_key: Opt(Type.String({ description: 'The key sent to the backend (masked in every log line and error).', examples: ['${OPENAI_API_KEY}'] })),
    api_key_header: Opt(
      Type.String({
        pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        default: 'authorization',
        description: 'The header that carries `api_key`: `authorization` sends `Bearer <key>`, any other header the key as it is (Azure: `api-key`).',
      }),
    ),
    query: Opt(Type.Record(Type.String(), Type.String(), { description: 'Query parameters added to every request (Azure OpenAI).', examples: [{ 'api-version': '2024-10-21' }] })),
    headers: Opt(Type.Record(Type.String(), Type.String(), { description: 'Extra headers sent with every request.' })),
    rename_fields: Opt(Type.Record(Type.String(), Type.String({ minLength: 1 }), { description: 'Request fields renamed before forwarding.', examples: [{ max_tokens: 'max_completion_tokens' }] })),
    drop_fields: Opt(Type.Array(Type.String({ minLength: 1 }), { description: 'Request fields removed before forwarding.', examples: [['stream_options']] })),
    connections: Opt(PositiveInt({ maximum: 10_000, description: CONNECTIONS_DESCRIPTION, defaultText: 'unbounded' })),
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';

export const AnthropicProviderSchema = Type.Object(
  {
    type: Type.Literal('anthropic', { description: "Anthropic's Messages API behind the OpenAI chat API (chat completions only)." }),
    base_url: Opt(Type.String({ pattern: '^https?://', default: ANTHROPIC_DEFAULT_BASE_URL, description: "The Messages API's origin (`/v1/messages` is appended; a trailing `/v1` is accepted)." })),
    api_key: Opt(Type.String({ description: 'Sent as `x-api-key` (masked in every log line and error).', examples: ['${ANTHROPIC_API_KEY}'] })),
    anthropic_version: Opt(Type.String({ minLength: 1, default: ANTHROPIC_DEFAULT_VERSION, description: 'The `anthropic-version` header.' })),
    headers: Opt(Type.Record(Type.String(), Type.String(), { description: 'Extra request headers.', examples: [{ 'anthropic-beta': 'prompt-caching-2024-07-31' }] })),
    prompt_caching: Opt(Type.Boolean({ default: false, description: 'Mark cache breakpoints (tools, system prompt, conversation so far) on requests that carry none.' })),
    connections: Opt(PositiveInt({ maximum: 10_000, description: CONNECTIONS_DESCRIPTION, defaultText: 'unbounded' })),
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

export const SimulatorProviderSchema = Type.Object(
  {
    type: Type.Literal('simulator', { description: 'The built-in simulator: deterministic answers, no network. It is not a model.' }),
    ...SimulatorSettingsSchema.properties,
    ...ProviderCommon,
  },
  { additionalProperties: false },
);

/** Discriminated on `type`, so a config error names the fields of the provider type actually meant. */
export const ProviderSchema = Type.Unsafe<Static<typeof OpenAIProviderSchema> | Static<typeof AnthropicProviderSchema> | Static<typeof SimulatorProviderSchema>>({
  description: 'A backend, by its `type`: its fields are those of that type.',
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
    provider: Type.String({ minLength: 1, description: 'The name of a provider in `providers`.', examples: ['local-vllm'] }),
    model: Opt(Type.String({ minLength: 1, description: 'The model name the backend knows.', defaultText: "the model's `id`", examples: ['deepseek-ai/DeepSeek-V3.2'] })),
    weight: Opt(Type.Number({ exclusiveMinimum: 0, default: 1, description: "This deployment's share of the model's traffic, among its healthy deployments." })),
    timeouts: Opt(DeploymentTimeoutsSchema),
  },
  { additionalProperties: false, description: 'Where the model is served: a provider and its name for the model.' },
);

/**
 * Prices in currency units: per million tokens for text, per unit for media (an image, a character of
 * speech input, a second of audio transcribed, a second of video). At most 6 decimal places each.
 */
const price = (description: string, extra: object = {}) => Opt(Type.Number({ minimum: 0, description: `${description} At most 6 decimal places.`, ...extra }));

export const PricingSchema = Type.Object(
  {
    input: price('Per million prompt tokens.', { default: 0, examples: [0.28] }),
    cached_input: price('Per million prompt tokens read from the prompt cache.', { defaultText: 'the `input` price' }),
    output: price('Per million completion tokens (reasoning included).', { default: 0, examples: [0.42] }),
    per_image: price('Per image generated.', { default: 0 }),
    per_character: price('Per character of speech input.', { default: 0 }),
    per_audio_second: price('Per second of audio transcribed.', { default: 0 }),
    per_video_second: price('Per second of video generated.', { default: 0 }),
  },
  { additionalProperties: false, spec: '§10', description: 'Prices in currency units (e.g. USD): per million tokens for text, per unit for media.' },
);

/**
 * Limits (SPEC §9), as a tier sets them and as an account or key overrides them. An absent figure is no
 * limit of that kind.
 */
export const LimitValuesSchema = Type.Object(
  {
    // Safe integers only (SPEC §16): a JSON or YAML figure past 2^53 arrives rounded, and is refused.
    requests_per_minute: Opt(PositiveInt({ maximum: Number.MAX_SAFE_INTEGER, description: 'Requests a minute: a token bucket whose burst is this figure.', defaultText: 'no limit', examples: [60] })),
    tokens_per_minute: Opt(
      PositiveInt({ maximum: Number.MAX_SAFE_INTEGER, description: "Tokens a minute, admitted at a request's upper bound (prompt + output cap) and reconciled when it ends.", defaultText: 'no limit', examples: [100_000] }),
    ),
    concurrent_requests: Opt(PositiveInt({ maximum: Number.MAX_SAFE_INTEGER, description: 'Requests in flight at once.', defaultText: 'no limit', examples: [5] })),
  },
  { additionalProperties: false, description: "A tier's limits; an absent figure is no limit of that kind." },
);

export const LimitsSchema = Type.Object(
  {
    default_tier: Opt(Type.String({ minLength: 1, default: 'default', description: 'The tier of accounts whose tier the config does not name (and of new accounts); must be one of `tiers` when set.', examples: ['standard'] })),
    tiers: Opt(Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), LimitValuesSchema, { keyName: 'tier', description: 'The tiers by name (`[A-Za-z0-9._-]`, up to 64 characters).' })),
  },
  { additionalProperties: false, spec: '§9', description: 'Rate limits per tier; an account or key may override its own (admin API).' },
);

/** What a limit does while Redis cannot be reached (SPEC §11): never silent, always logged and counted. */
export const REDIS_FAILURE_POLICIES = ['closed', 'open', 'local'] as const;

export const RedisSchema = Type.Object(
  {
    url: Type.String({ pattern: '^rediss?://', description: 'The Redis server (`rediss://` for TLS).', examples: ['redis://127.0.0.1:6379'] }),
    key_prefix: Opt(Type.String({ pattern: '^[A-Za-z0-9:._{}-]{0,64}$', default: 'floodgate:', description: 'Prefix of every key and channel: several gateways (or tests) can share one Redis.' })),
    lease_ms: Opt(Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000, description: 'Concurrency slots and balance reservations expire this long after their holder stops renewing them.' })),
    command_timeout_ms: Opt(Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: "A Redis call that takes longer fails (and the limit's policy applies)." })),
    failure_policy: Opt(
      Type.Object(
        {
          requests_per_minute: Opt(StringEnum(REDIS_FAILURE_POLICIES, { default: 'local', description: 'The requests-a-minute limit while Redis is unreachable.' })),
          tokens_per_minute: Opt(StringEnum(REDIS_FAILURE_POLICIES, { default: 'local', description: 'The tokens-a-minute limit while Redis is unreachable.' })),
          concurrent_requests: Opt(StringEnum(REDIS_FAILURE_POLICIES, { default: 'local', description: 'The concurrency limit while Redis is unreachable.' })),
        },
        {
          additionalProperties: false,
          description:
            'Per limit, while Redis is unreachable: `closed` refuses (503 `limits_unavailable`), `open` admits without that limit, `local` enforces it per instance in memory. Never silent: logged and counted. Balance reservations always fail closed.',
        },
      ),
    ),
  },
  { additionalProperties: false, spec: '§11', description: 'Shared rate limits, concurrency leases and balance reservations of a scale-out deployment; absent, they are kept in process.' },
);

export const BillingSchema = Type.Object(
  {
    initial_credit: Opt(
      Type.Number({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Credit given to the account created on the first start, and to each portal sign-up (currency units, e.g. USD).', examples: [5] }),
    ),
    mode: Opt(
      StringEnum(BILLING_MODES, {
        default: 'prepaid',
        description:
          '`prepaid`: a priced request reserves its maximum cost against the balance (402 `insufficient_balance` when it does not fit) and its cost is debited. `postpaid`: costs are recorded and count against budgets, the balance is neither needed nor debited. For accounts whose tier (`tiers`) and own setting (`floodgate accounts billing`) do not say.',
      }),
    ),
    tiers: Opt(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), StringEnum(BILLING_MODES), {
        keyName: 'tier',
        description: "The billing mode of each tier's accounts, by tier name (one of `limits.tiers` when those are set); an account's own setting wins.",
        examples: [{ internal: 'postpaid', customers: 'prepaid' }],
      }),
    ),
  },
  { additionalProperties: false, spec: '§10', description: 'Billing: prepaid balances or postpaid accounts (budgets are set per account and key, in the admin API, the CLI and the portal).' },
);

export const UsageSchema = Type.Object(
  {
    flush_ms: Opt(Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'Usage records wait at most this long before their batch is written (the crash-loss bound).' })),
    max_batch: Opt(Type.Integer({ minimum: 1, maximum: 10_000, default: 500, description: 'A batch is written as soon as it holds this many records.' })),
  },
  { additionalProperties: false, spec: '§10', description: 'The usage records, written in batches off the hot path.' },
);

/** The portal (SPEC §14): pages for people and the admin, and their JSON API at `${path}api/`. */
export const PORTAL_SIGNUP = ['open', 'invite', 'closed'] as const;

export const PortalSchema = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: true, description: 'Serve the portal on this instance.' })),
    path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$', default: '/', description: 'Where the pages are; the JSON API is at `${path}api/`. Not inside the API\'s base path or `/admin/v1`.', examples: ['/portal/'] })),
    signup: Opt(StringEnum(PORTAL_SIGNUP, { default: 'open', description: 'Who may create an account: anyone, holders of an invite, or no one.' })),
    title: Opt(Type.String({ minLength: 1, maxLength: 100, default: 'Floodgate', description: "The portal's name, in every page's title and header." })),
    base_url_shown: Opt(Type.String({ pattern: '^https?://', description: "The API's base URL as the docs print it.", defaultText: "this server's own URL and base path", examples: ['https://api.example.com/v1'] })),
    support: Opt(Type.String({ minLength: 1, maxLength: 500, description: 'Where users get help, shown in the portal.', defaultText: 'none', examples: ['support@example.com'] })),
    secure_cookies: Opt(Type.Union([Type.Literal('auto'), Type.Boolean()], { default: 'auto', description: 'Mark the session cookie Secure. `auto`: when the request came over https (or `x-forwarded-proto: https`).' })),
    session_ttl_hours: Opt(Type.Integer({ minimum: 1, maximum: 24 * 365, default: 168, description: 'How long a signed-in session lasts.' })),
    signups_per_minute: Opt(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        default: 3,
        description: 'Sign-ups a client address may make a minute (a burst of this many, then one every 60/N s): each sign-up is an account with `billing.initial_credit`, which must not be farmed.',
      }),
    ),
  },
  { additionalProperties: false, spec: '§14', description: 'The portal: pages for people and the admin, and their JSON API.' },
);

/** The Responses API's stored responses (SPEC §17): how long they are kept, how often expired ones are deleted. */
export const ResponsesSchema = Type.Object(
  {
    retention_days: Opt(Type.Integer({ minimum: 1, maximum: 3650, default: 30, description: 'How long a stored response is kept.' })),
    sweep_interval_ms: Opt(Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 3_600_000, description: 'How often the sweep deletes expired responses from the store.' })),
  },
  { additionalProperties: false, spec: '§17', description: "The Responses API's stored responses." },
);

/** The Prometheus endpoint (SPEC §12): unauthenticated, outside the API's base path. */
export const MetricsSchema = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: true, description: 'Off: no metrics route (a 404) and no per-request observations.' })),
    path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$', default: '/metrics', description: 'Where Prometheus scrapes, outside the base path, without authentication.' })),
  },
  { additionalProperties: false, spec: '§12', description: 'The Prometheus endpoint (unauthenticated: restrict it at the network if the figures are private).' },
);

/** OpenTelemetry traces over OTLP/HTTP: one span per API request, with admission, attempts and settlement under it. */
export const TracingSchema = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: false, description: 'Off: no tracer is made and requests carry no tracing work.' })),
    endpoint: Opt(Type.String({ pattern: '^https?://', default: 'http://localhost:4318/v1/traces', description: "The collector's OTLP/HTTP traces URL." })),
    headers: Opt(Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: "Sent with each export (a collector's API key).", examples: [{ authorization: 'Bearer ${OTEL_TOKEN}' }] })),
    sampling_ratio: Opt(Type.Number({ minimum: 0, maximum: 1, default: 1, description: "Fraction of new traces kept (0–1); a client's sampled parent is always honoured." })),
    service_name: Opt(Type.String({ minLength: 1, default: 'floodgate', description: 'The `service.name` of every span.' })),
  },
  { additionalProperties: false, spec: '§12', description: 'OpenTelemetry traces over OTLP/HTTP: a span per API request, with admission, each backend attempt and settlement under it.' },
);

/** Webhook alerts (SPEC §12): budget, balance and breaker events POSTed to an operator's receivers, off the hot path. */
export const AlertsSchema = Type.Object(
  {
    balance_low: Opt(
      // Read exactly (admin/money.ts) by the loader, which words the errors.
      Type.Union([Type.String(), Type.Number()], {
        description: 'A prepaid balance falling below this fires `balance.low`: an amount in currency units with up to 6 decimals, like `billing.initial_credit` (`"5.00"`).',
        defaultText: 'none: no `balance.low` events',
        examples: ['5.00'],
      }),
    ),
    webhooks: Opt(
      Type.Array(
        Type.Object(
          {
            url: Type.String({ pattern: '^https?://', description: 'Where the events are POSTed (redirects are not followed).', examples: ['https://hooks.example.com/floodgate'] }),
            secret: Type.String({
              minLength: 8,
              description: 'Signs each delivery (Standard Webhooks: the `webhook-signature` header): `whsec_` + base64 bytes, or any other string used as it is. Masked in every log line.',
              examples: ['${WEBHOOK_SECRET}'],
            }),
            events: Opt(
              Type.Array(StringEnum(ALERT_EVENT_TYPES), {
                minItems: 1,
                description: 'The event types this receiver gets.',
                defaultText: 'all of them',
                examples: [['budget.exhausted', 'breaker.opened']],
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { description: 'The receivers; none (the default): no alerts are sent and nothing of them is loaded.' },
      ),
    ),
    queue_size: Opt(PositiveInt({ maximum: 1_000_000, default: 1000, description: 'Deliveries waiting to be sent, across receivers; past it a new one is dropped (`floodgate_webhook_dropped_total{reason="queue_full"}`).' })),
    max_attempts: Opt(PositiveInt({ maximum: 100, default: 8, description: 'Attempts per delivery, the first included, before it is given up.' })),
    backoff_ms: Opt(
      Type.Integer({ minimum: 1, maximum: 300_000, default: 1000, description: 'The wait before the first retry, doubled for each one after (with jitter, up to 5 minutes); a receiver\'s `Retry-After` wins.' }),
    ),
    timeout_ms: Opt(PositiveInt({ maximum: 600_000, default: 5000, description: 'How long one attempt may take, the response included.' })),
  },
  { additionalProperties: false, spec: '§12', description: 'Webhook alerts: budget, balance and breaker events, signed, retried, de-duplicated; delivered off the hot path from a bounded queue.' },
);

/** Retries before the first byte reaches the client (SPEC §7): `routing.retry`, and a model's own over it. */
const retrySchema = (model: boolean) => {
  const dflt = (value: number) => (model ? { defaultText: '`routing.retry`\'s' } : { default: value });
  return Type.Object(
    {
      attempts: Opt(Type.Integer({ minimum: 1, maximum: 10, description: "Attempts per model, the first included (1: no retries), before the model's fallbacks.", ...dflt(3) })),
      budget_ms: Opt(Type.Integer({ minimum: 0, maximum: 600_000, description: 'No new attempt starts once this long has passed since the first one.', ...dflt(10_000) })),
      backoff_ms: Opt(Type.Integer({ minimum: 0, maximum: 60_000, description: "The first wait before the same deployment is tried again (doubled each time; a backend's Retry-After wins).", ...dflt(100) })),
    },
    {
      additionalProperties: false,
      spec: '§7',
      description: model
        ? "This model's retries, field by field over `routing.retry`."
        : 'Retries before the first byte reaches the client: connect errors, first-byte timeouts, 429 and 5xx, on another deployment or the same after a backoff. Every model\'s, unless it sets its own.',
    },
  );
};

export const RetrySchema = retrySchema(false);
const ModelRetrySchema = retrySchema(true);

/** The circuit breaker each deployment has (SPEC §7). */
export const CircuitBreakerSchema = Type.Object(
  {
    window_ms: Opt(Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000, description: 'The rolling window outcomes are counted over.' })),
    min_requests: Opt(Type.Integer({ minimum: 1, maximum: 100_000, default: 5, description: 'Fewer requests than this in the window never open the breaker.' })),
    error_rate: Opt(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.5, description: 'The share of failed requests in the window (0–1] that opens it.' })),
    open_ms: Opt(Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000, description: 'How long an open breaker stays open before a trial request (or probe) is let through.' })),
    max_open_ms: Opt(
      Type.Integer({
        minimum: 100,
        maximum: 3_600_000,
        default: 120_000,
        description: 'Each trial that fails doubles the cool-down (with jitter), up to this: a backend that stays down (or keeps refusing our credentials) is probed ever more rarely, not every `open_ms` forever.',
      }),
    ),
  },
  { additionalProperties: false, description: 'The circuit breaker each deployment has.' },
);

export const ProbesSchema = Type.Object(
  {
    enabled: Opt(Type.Boolean({ default: true, description: 'Probe an open deployment when its cool-down ends, so it comes back without client traffic.' })),
    interval_ms: Opt(Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0, description: 'Also probe every deployment this often (0: only open ones).' })),
    timeout_ms: Opt(Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000, description: 'A probe that has not answered within this long failed.' })),
    liveness_ms: Opt(
      Type.Integer({
        minimum: 0,
        maximum: 3_600_000,
        default: 2_000,
        description: "Check every HTTP deployment's reachability this often (a connection, no request; 0: never). One that cannot be connected to opens its breaker at once, and one that can again gets its trial at once.",
      }),
    ),
  },
  { additionalProperties: false, description: 'Active health probes of the deployments.' },
);

export const RoutingSchema = Type.Object(
  {
    retry: Opt(RetrySchema),
    circuit_breaker: Opt(CircuitBreakerSchema),
    probes: Opt(ProbesSchema),
  },
  { additionalProperties: false, spec: '§7', description: 'Balancing, retries, circuit breakers and probes, for every model.' },
);

export const ModelSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256, description: 'The name clients send as `model`; unique among ids and aliases.', examples: ['deepseek-chat'] }),
    aliases: Opt(Type.Array(Type.String({ minLength: 1 }), { description: 'Other names clients may send for this model.', examples: [['deepseek-v3.2']] })),
    category: StringEnum(CATEGORIES, { description: 'What kind of model it is, shown on `/v1/models`; it sets the default `capabilities`.' }),
    owned_by: Opt(Type.String({ default: 'floodgate', description: 'The `owned_by` of the Model object on `/v1/models`.' })),
    family: Opt(Type.String({ minLength: 1, description: "The model family shown on `/v1/models` and in the portal's catalog.", examples: ['DeepSeek'] })),
    listed: Opt(Type.Boolean({ default: true, description: "`false`: served, and answering `/v1/models/{id}`, but left out of `/v1/models` and the portal's catalog." })),
    description: Opt(Type.String({ description: "A line about the model, for the portal's catalog." })),
    context_length: Opt(PositiveInt({ description: 'Prompt plus output, in tokens: a longer request is a 400 `context_length_exceeded` before any backend is called.', examples: [131_072] })),
    max_output_tokens: Opt(PositiveInt({ description: 'The most output tokens a request may ask for.', examples: [8192] })),
    defaults: Opt(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Request fields applied when the client omits them. A text model without `max_tokens` or `max_completion_tokens` here gets `max_tokens`: `max_output_tokens`, at most 4096, so every request has an output cap.',
        examples: [{ max_tokens: 1024, temperature: 0.7, top_p: 1.0 }],
      }),
    ),
    capabilities: Opt(
      Type.Array(StringEnum(CAPABILITIES), {
        description: 'What the model can do: a request that needs a capability the model lacks is a 400 naming the field, before any backend is called.',
        defaultText: "the category's usual set",
        examples: [['chat', 'tools', 'json_object', 'json_schema']],
      }),
    ),
    pricing: Opt(PricingSchema),
    deployments: Type.Array(DeploymentSchema, { minItems: 1, description: 'Where the model is served (at least one), balanced by weight among the healthy ones.' }),
    voices: Opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, spec: '§2', description: 'Speech models: the voices a request may name.', defaultText: 'any' })),
    audio_formats: Opt(Type.Array(StringEnum(SPEECH_FORMATS), { minItems: 1, spec: '§2', description: 'Speech models: the `response_format`s the backend can make.', defaultText: 'all six' })),
    sizes: Opt(
      Type.Array(Type.String({ pattern: '^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$' }), {
        minItems: 1,
        spec: '§2',
        description: 'Image and video models: the sizes a request may ask for, `WIDTHxHEIGHT`.',
        defaultText: 'any up to 4096×4096',
        examples: [['1024x1024', '1792x1024']],
      }),
    ),
    max_audio_seconds: Opt(PositiveInt({ maximum: 86_400, default: 3600, spec: '§2', description: 'Transcription models: the longest audio a request is reserved for, in seconds.' })),
    max_video_seconds: Opt(PositiveInt({ maximum: 3600, default: 20, spec: '§2', description: 'Video models: the longest video a request may ask for, in seconds.' })),
    fallbacks: Opt(Type.Array(Type.String({ minLength: 1 }), { description: 'Other models (ids or aliases) tried in order when every deployment of this one has failed.' })),
    retry: Opt(ModelRetrySchema),
  },
  { additionalProperties: false, spec: '§7', description: 'A model of the catalog.' },
);

export const ErrorPresentationSchema = Type.Object(
  {
    message: Opt(Type.String({ minLength: 1, description: "The error's message; `{message}` in it stands for the gateway's own.", examples: ['Too many requests: {message}'] })),
    type: Opt(Type.String({ minLength: 1, description: 'The `type` sent instead of the catalog\'s.' })),
    code: Opt(Type.String({ minLength: 1, description: 'The `code` sent instead of the catalog\'s.', examples: ['401'] })),
    doc_url: Opt(Type.String({ minLength: 1, description: 'A `doc_url` on this error, over `doc_urls` and `auth.doc_url`.' })),
  },
  { additionalProperties: false, description: "One error's wording; unset fields keep the catalog's. The status, `param` and headers stay the catalog's." },
);

export const DocUrlsSchema = Type.Object(
  {
    keys: Opt(Type.String({ minLength: 1, description: 'On 401 and 403 key, account and model-access errors.', defaultText: '`auth.doc_url`' })),
    billing: Opt(Type.String({ minLength: 1, description: 'On the 402.', defaultText: '`auth.doc_url`' })),
    limits: Opt(Type.String({ minLength: 1, description: 'On the 429.', defaultText: '`auth.doc_url`' })),
  },
  { additionalProperties: false, spec: '§6', description: 'A `doc_url` per kind of error; `auth.doc_url` stands for any kind not set here.' },
);

export const ConfigSchema = Type.Object(
  {
    server: Opt(
      Type.Object(
        {
          host: Opt(Type.String({ default: '127.0.0.1', spec: '§1', description: 'The address to listen on (`FLOODGATE_HOST` and `--host` override it).', examples: ['0.0.0.0'] })),
          port: Opt(Type.Integer({ minimum: 0, maximum: 65535, default: 8080, spec: '§1', description: 'The port to listen on (`FLOODGATE_PORT` and `--port` override it; 0: any free port).', examples: [9000] })),
          base_path: Opt(Type.String({ pattern: '^/[A-Za-z0-9._~/-]*$', default: '/v1', spec: '§2', description: 'Where the API is served (`/`: at the root).' })),
          body_limit_bytes: Opt(PositiveInt({ default: 8 * 1024 * 1024, spec: '§3', description: 'The largest JSON body; past it a 413, without reading the rest into memory (transcription uploads: 25 MiB).' })),
          heartbeat_ms: Opt(PositiveInt({ default: 15_000, spec: '§5', description: 'A stream that has sent nothing for this long gets an SSE comment (`: keep-alive`).' })),
          shutdown_grace_ms: Opt(Type.Integer({ minimum: 0, default: 30_000, spec: '§12', description: 'On SIGTERM / SIGINT, how long in-flight requests and streams may run on before they are cut.' })),
          headers_timeout_ms: Opt(PositiveInt({ default: 10_000, description: "The time a request's headers may take to arrive, from its first byte (a 408); at most `request_timeout_ms`." })),
          request_timeout_ms: Opt(Type.Integer({ minimum: 0, default: 300_000, description: 'The time a whole request (headers and body) may take to arrive; 0 for no limit. The response is not limited.' })),
          body_idle_timeout_ms: Opt(PositiveInt({ default: 30_000, description: 'How long a request body may stop arriving before the connection is closed (a 408).' })),
          keep_alive_timeout_ms: Opt(PositiveInt({ default: 65_000, description: 'How long an idle keep-alive connection stays open.' })),
          max_connections: Opt(Type.Integer({ minimum: 0, default: 10_000, description: 'Connections this process holds at once; more are closed as they arrive. 0 for no cap.' })),
          public_models: Opt(Type.Boolean({ default: false, spec: '§2', description: 'Allow `GET /v1/models` without a key.' })),
          cors: Opt(
            Type.Object(
              {
                origins: Type.Array(Type.String({ minLength: 1 }), { description: 'The origins granted CORS; none listed, no grant.', examples: [['https://app.example.com']] }),
                max_age_s: Opt(Type.Integer({ minimum: 0, default: 600, description: 'How long a browser may cache a preflight answer, in seconds.' })),
              },
              { additionalProperties: false, spec: '§3', description: 'The API is for servers: no `Access-Control-Allow-Origin` unless this lists the origin.' },
            ),
          ),
        },
        { additionalProperties: false, spec: '§16', description: 'The HTTP server, and the limits on slow and idle clients.' },
      ),
    ),
    data_dir: Opt(Type.String({ minLength: 1, default: './data', spec: '§1', description: 'Where the SQLite store and the generated pepper live (`--data-dir` overrides it).' })),
    store: Opt(
      Type.Object(
        {
          url: Type.String({
            pattern: '^(sqlite:|postgres://|postgresql://)',
            description: 'The store: `sqlite:PATH` (one machine) or `postgres://…` (any number of instances on any number of machines).',
            examples: ['postgres://floodgate:${PGPASSWORD}@db:5432/floodgate'],
          }),
          pool_size: Opt(PositiveInt({ maximum: 1000, default: 10, description: 'PostgreSQL: the most connections each gateway process opens.' })),
        },
        { additionalProperties: false, spec: '§11', description: 'Keys, accounts, the ledger, usage records, stored responses and video jobs.', defaultText: 'SQLite at `<data_dir>/floodgate.db`' },
      ),
    ),
    auth: Opt(
      Type.Object(
        {
          key_prefix: Opt(Type.String({ pattern: '^[A-Za-z0-9_-]{0,16}$', default: 'fk-', description: 'The prefix of every new API key.', examples: ['sk-'] })),
          pepper: Opt(Type.String({ minLength: 16, description: 'HMAC pepper for API keys (changing it invalidates every key).', defaultText: 'generated into the data directory', examples: ['${FLOODGATE_PEPPER}'] })),
          pepper_file: Opt(Type.String({ minLength: 1, description: 'A file holding the pepper (a mounted secret), read at start-up; instead of `pepper`.', examples: ['/run/secrets/floodgate-pepper'] })),
          admin_token: Opt(Type.String({ minLength: 16, spec: '§13', description: 'The admin API\'s token.', defaultText: 'generated on the first start and printed once', examples: ['${FLOODGATE_ADMIN_TOKEN}'] })),
          doc_url: Opt(Type.String({ spec: '§6', description: 'A `doc_url` on key, billing and limit errors, for any kind `doc_urls` does not set.', examples: ['https://example.com/docs/errors'] })),
          key_cache_ms: Opt(Type.Integer({ minimum: 0, maximum: 1000, default: 1000, description: 'How long a verified key stays cached in process (at most 1 s, so a disabled key is refused within 1 s).' })),
        },
        { additionalProperties: false, spec: '§3', description: 'API keys and the admin token.' },
      ),
    ),
    logging: Opt(
      Type.Object(
        { level: Opt(StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'The least severe level written.' })) },
        { additionalProperties: false, spec: '§12', description: 'The JSON log: one line per request, and the gateway\'s own events.' },
      ),
    ),
    errors: Opt(
      Type.Record(Type.String(), ErrorPresentationSchema, {
        keyName: 'error',
        spec: '§6',
        description: 'An error\'s wording, by its name in the catalog ([errors.md](errors.md)): message (`{message}` = the gateway\'s own), type, code, doc_url.',
        examples: [{ invalid_api_key: { message: 'Missing or invalid Bearer API key.', type: 'invalid_api_key', code: '401' } }],
      }),
    ),
    doc_urls: Opt(DocUrlsSchema),
    unsupported_endpoints: Opt(
      Type.Record(Type.String(), Type.String({ minLength: 1 }), {
        spec: '§2',
        description: "An unsupported endpoint's 404 message, by the endpoint's name (`/v1/audio/translations`, `/v1/fine_tuning`, `/v1/assistants`, `/v1/threads`, `/v1/runs`, `/v1/batches`, `/v1/files`, `/v1/images/edits`, `/v1/images/variations`): replaces the built-in one.",
        examples: [{ '/v1/fine_tuning': 'Use FlexAI Fine-Tuning instead.' }],
      }),
    ),
    limits: Opt(LimitsSchema),
    redis: Opt(RedisSchema),
    billing: Opt(BillingSchema),
    usage: Opt(UsageSchema),
    metrics: Opt(MetricsSchema),
    tracing: Opt(TracingSchema),
    alerts: Opt(AlertsSchema),
    portal: Opt(PortalSchema),
    responses: Opt(ResponsesSchema),
    routing: Opt(RoutingSchema),
    providers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), ProviderSchema, {
      keyName: 'name',
      spec: '§8',
      description: 'The backends, by a name of `[A-Za-z0-9._-]` that deployments refer to.',
    }),
    models: Type.Array(ModelSchema, { minItems: 1, spec: '§7', description: 'The model catalog (at least one model).' }),
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
