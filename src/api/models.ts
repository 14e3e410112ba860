// GET /v1/models and /v1/models/{id}: OpenAI's Model shape plus category, family, context length, prices
// and capabilities; a key with an allow-list sees only its models, and a model none of whose deployments can
// serve right now (every circuit breaker open) is left out of the list until one can.
import type { PricingConfig } from '../config/schema.js';
import type { Principal } from '../http/auth.js';
import { authorizeModel } from '../http/auth.js';
import type { JsonObject } from '../providers/types.js';
import type { Catalog, CatalogModel } from '../routing/catalog.js';
import { modelAvailable } from '../routing/router.js';

const MEDIA_PRICES = ['per_image', 'per_character', 'per_audio_second', 'per_video_second'] as const;

/** Token prices per million tokens for text models; media models show their per-unit prices instead. */
function pricingView(pricing: PricingConfig): JsonObject {
  const media = MEDIA_PRICES.filter((field) => pricing[field] !== undefined);
  if (media.length > 0 && pricing.input === undefined) return { currency: 'USD', ...Object.fromEntries(media.map((field) => [field, pricing[field]])) };
  const input = pricing.input ?? 0;
  const out: JsonObject = { currency: 'USD', unit: 'per_million_tokens', input, cached_input: pricing.cached_input ?? input, output: pricing.output ?? 0 };
  for (const field of media) out[field] = pricing[field];
  return out;
}

export function modelObject(model: CatalogModel): JsonObject {
  const cfg = model.config;
  const out: JsonObject = {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: cfg.owned_by ?? 'floodgate',
    category: cfg.category,
    context_length: cfg.context_length ?? null,
    max_output_tokens: cfg.max_output_tokens ?? null,
    capabilities: [...model.capabilities],
    pricing: cfg.pricing ? pricingView(cfg.pricing) : null,
  };
  if (cfg.voices) out.voices = cfg.voices;
  if (cfg.audio_formats) out.audio_formats = cfg.audio_formats;
  if (cfg.sizes) out.sizes = cfg.sizes;
  if (cfg.family !== undefined) out.family = cfg.family;
  if (cfg.aliases && cfg.aliases.length > 0) out.aliases = cfg.aliases;
  if (cfg.description) out.description = cfg.description;
  return out;
}

function visible(model: CatalogModel, principal: Principal | undefined): boolean {
  return principal === undefined || principal.allowedModels === null || principal.allowedModels.has(model.id);
}

export function listModels(catalog: Catalog, principal: Principal | undefined): JsonObject {
  const now = Date.now();
  // An unlisted model (`listed: false`) is still served and still answers GET /v1/models/{id}.
  const listed = catalog.models.filter((m) => m.config.listed !== false && visible(m, principal) && modelAvailable(m, now));
  return { object: 'list', data: listed.map(modelObject) };
}

export function getModel(catalog: Catalog, principal: Principal | undefined, name: string): JsonObject {
  const model = catalog.resolve(name);
  if (principal) authorizeModel(principal, model.id);
  return modelObject(model);
}
