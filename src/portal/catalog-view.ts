// The portal's public views of the config (SPEC §14): the model catalog with prices and live status
// (the routing health /v1/models reads), and the API docs generated from the config, the error catalog
// and the unsupported endpoints.
import type { Config } from '../config/load.js';
import { SPEECH_FORMATS, type PricingConfig } from '../config/schema.js';
import type { Catalog, CatalogModel } from '../routing/catalog.js';
import { modelAvailable } from '../routing/router.js';
import type { ErrorName } from '../openai/errors.js';
import { unsupportedEndpoints } from '../api/unsupported.js';

export interface ModelPricingView {
  input?: number;
  cached_input?: number;
  output?: number;
  per_image?: number;
  per_second?: number;
  per_character?: number;
  per_video_second?: number;
}

export interface ModelView {
  id: string;
  aliases: string[];
  owned_by: string;
  family: string;
  category: string;
  description: string | null;
  context_length: number | null;
  max_output_tokens: number | null;
  capabilities: string[];
  pricing: ModelPricingView;
  live: boolean;
  voices?: string[];
  sizes?: string[];
  formats?: string[];
}

/** Currency units as the config has them: per million tokens, or per unit for media. */
function pricingOf(p: PricingConfig | undefined): ModelPricingView {
  if (p === undefined) return {};
  const out: ModelPricingView = {};
  if (p.input !== undefined) out.input = p.input;
  // A cached input without its own price is billed at the input price (routing/catalog.ts).
  if (p.cached_input !== undefined) out.cached_input = p.cached_input;
  else if (p.input !== undefined && p.output !== undefined) out.cached_input = p.input;
  if (p.output !== undefined) out.output = p.output;
  if (p.per_image !== undefined) out.per_image = p.per_image;
  if (p.per_audio_second !== undefined) out.per_second = p.per_audio_second;
  if (p.per_character !== undefined) out.per_character = p.per_character;
  if (p.per_video_second !== undefined) out.per_video_second = p.per_video_second;
  return out;
}

export function modelView(model: CatalogModel, now = Date.now()): ModelView {
  const cfg = model.config;
  const owner = cfg.owned_by ?? 'floodgate';
  const view: ModelView = {
    id: model.id,
    aliases: cfg.aliases ?? [],
    owned_by: owner,
    family: cfg.family ?? owner,
    category: cfg.category,
    description: cfg.description ?? null,
    context_length: cfg.context_length ?? null,
    max_output_tokens: cfg.max_output_tokens ?? null,
    capabilities: [...model.capabilities],
    pricing: pricingOf(cfg.pricing),
    live: modelAvailable(model, now),
  };
  if (cfg.voices) view.voices = cfg.voices;
  if (cfg.sizes) view.sizes = cfg.sizes;
  if (cfg.audio_formats) view.formats = cfg.audio_formats;
  else if (model.capabilities.has('speech')) view.formats = [...SPEECH_FORMATS];
  return view;
}

export function modelViews(catalog: Catalog): ModelView[] {
  const now = Date.now();
  return catalog.models.filter((m) => m.config.listed !== false).map((m) => modelView(m, now));
}

/** The API's base URL as the docs print it: the configured one, else this server's own. */
export function shownBaseUrl(config: Config, origin: string): string {
  return config.portal.baseUrlShown ?? `${origin}${config.server.basePath}`;
}

export function tiersView(config: Config): { name: string; requests_per_minute: number | null; tokens_per_minute: number | null; concurrent_requests: number | null }[] {
  return Object.entries(config.limits.tiers).map(([name, t]) => ({
    name,
    requests_per_minute: t.requests_per_minute ?? null,
    tokens_per_minute: t.tokens_per_minute ?? null,
    concurrent_requests: t.concurrent_requests ?? null,
  }));
}

/** Endpoints below the base path, each served when some model of the catalog has its capability. */
const ENDPOINTS: { method: string; path: string; description: string; capability?: string }[] = [
  { method: 'POST', path: '/chat/completions', description: 'Chat completions, streamed with "stream": true (server-sent events).', capability: 'chat' },
  { method: 'POST', path: '/responses', description: "OpenAI's Responses API: stored responses, previous_response_id, streaming.", capability: 'chat' },
  { method: 'GET', path: '/responses/{id}', description: 'A stored response (only the account that made it sees it).', capability: 'chat' },
  { method: 'GET', path: '/responses/{id}/input_items', description: "A stored response's input items.", capability: 'chat' },
  { method: 'DELETE', path: '/responses/{id}', description: 'Deletes a stored response.', capability: 'chat' },
  { method: 'POST', path: '/messages', description: "Anthropic's Messages API; the key in x-api-key or Authorization.", capability: 'chat' },
  { method: 'POST', path: '/messages/count_tokens', description: "The input tokens of a Messages API request.", capability: 'chat' },
  { method: 'POST', path: '/completions', description: 'Legacy text completions.', capability: 'completions' },
  { method: 'POST', path: '/embeddings', description: 'Embeddings of one text or a list of texts.', capability: 'embeddings' },
  { method: 'GET', path: '/models', description: 'The models this key can use, with context length, capabilities and prices.' },
  { method: 'GET', path: '/models/{id}', description: 'One model.' },
  { method: 'POST', path: '/images/generations', description: 'Image generation.', capability: 'images' },
  { method: 'POST', path: '/audio/speech', description: 'Text to speech.', capability: 'speech' },
  { method: 'POST', path: '/audio/transcriptions', description: 'Speech to text (multipart upload).', capability: 'transcriptions' },
  { method: 'POST', path: '/videos/generations', description: 'Starts a video generation job.', capability: 'video' },
  { method: 'GET', path: '/videos/generations/{id}', description: "A video generation job's status.", capability: 'video' },
  { method: 'GET', path: '/videos/generations/{id}/content', description: 'The finished video.', capability: 'video' },
];

/** When a client sees each error of the API (the portal's own and the admin's are left out). */
const ERROR_WHEN: Partial<Record<ErrorName, string>> = {
  invalid_request: 'The request body or a parameter is invalid; `param` names the field.',
  context_length_exceeded: "The prompt and the output cap exceed the model's context length.",
  invalid_api_key: 'The key is missing, malformed, unknown or expired.',
  insufficient_balance: "The account's balance cannot cover the request's maximum cost; top up.",
  key_disabled: 'The key has been disabled.',
  account_disabled: 'The account has been disabled.',
  model_not_allowed: "The key's model allow-list does not include the model.",
  model_not_found: 'No model by that id or alias.',
  unsupported_endpoint: 'The endpoint is not offered; the message names the alternative.',
  not_found: 'No such endpoint or object.',
  method_not_allowed: 'The endpoint exists but not with this method.',
  request_too_large: 'The request body is larger than the server accepts.',
  request_timeout: 'The request took too long to arrive.',
  unsupported_media_type: 'The body is not JSON (or multipart where a file is uploaded).',
  rate_limit_exceeded: "A limit of the account's tier or of the key is reached; wait for Retry-After.",
  upstream_error: 'The backend failed and no retry or fallback could answer.',
  model_unavailable: 'No backend of the model can serve right now (or the server is shutting down); retry shortly.',
  limits_unavailable: 'The shared limits cannot be checked right now; retry shortly.',
  store_unavailable: 'The database cannot be reached; retry shortly.',
  upstream_timeout: 'The backend did not answer in time.',
  internal_error: 'An unexpected error on the server.',
};

export function docsView(config: Config, catalog: Catalog, origin: string) {
  const capabilities = new Set(catalog.models.flatMap((m) => [...m.capabilities]));
  const errors = Object.entries(ERROR_WHEN).map(([name, when]) => {
    return { ...config.errors.describe(name as ErrorName), when };
  });
  return {
    base_url: shownBaseUrl(config, origin),
    key_prefix: config.auth.keyPrefix,
    endpoints: ENDPOINTS.filter((e) => e.capability === undefined || capabilities.has(e.capability as never)).map((e) => ({
      method: e.method,
      path: `${config.server.basePath}${e.path}`,
      description: e.description,
    })),
    unsupported: unsupportedEndpoints(config.errors.unsupportedMessages),
    errors,
    tiers: tiersView(config),
    streaming:
      'Send "stream": true for server-sent events (data: {...} lines, ending with data: [DONE]); send "stream_options": {"include_usage": true} for a last chunk with the usage. Errors before the first byte are plain JSON; a stream that fails midway ends with an error event.',
    usage:
      'Every answer carries usage (prompt_tokens, completion_tokens, cached tokens in prompt_tokens_details); each request is billed from it at the model\'s prices, and the x-ratelimit-* headers show the remaining requests and tokens of the minute.',
  };
}
