// The model catalog (SPEC §7): client-facing model ids and aliases, each with its capabilities, prices,
// defaults and deployments (a provider instance + the backend's model name + weight + timeouts).
import type { Config } from '../config/load.js';
import type { Capability, ModelConfig } from '../config/schema.js';
import { GatewayError } from '../openai/errors.js';
import { createProvider } from '../providers/registry.js';
import type { JsonObject, Provider } from '../providers/types.js';
import { resolveTimeouts, type ResolvedTimeouts } from './timeouts.js';
import { modelPrices, type ModelPrices } from '../accounting/pricing.js';

export interface CatalogDeployment {
  /** `provider/upstream-model`, as it appears in logs. */
  name: string;
  provider: Provider;
  upstreamModel: string;
  weight: number;
  timeouts: ResolvedTimeouts;
}

export interface CatalogModel {
  id: string;
  config: ModelConfig;
  capabilities: ReadonlySet<Capability>;
  deployments: CatalogDeployment[];
  /** Unix seconds: when this catalog was loaded. */
  created: number;
  /** Defaults applied to a request that omits the field; holds the output cap for text models. */
  defaults: JsonObject;
  /** `pricing` as integer pico-units per token (null: the model costs nothing). */
  prices: ModelPrices | null;
}

/** Provider types that serve chat completions only (no legacy completions, no embeddings). */
const CHAT_ONLY_PROVIDERS: ReadonlySet<string> = new Set(['anthropic']);

function defaultCapabilities(model: ModelConfig, config: Config): Capability[] {
  if (model.category === 'embeddings') return ['embeddings'];
  // A model whose every deployment speaks chat only cannot serve legacy completions.
  if (model.deployments.every((d) => CHAT_ONLY_PROVIDERS.has(config.providers[d.provider].type))) return ['chat'];
  return ['chat', 'completions'];
}

export class Catalog {
  private readonly byName = new Map<string, CatalogModel>();

  constructor(
    readonly models: CatalogModel[],
    private readonly providers: Map<string, Provider>,
  ) {
    for (const model of models) {
      this.byName.set(model.id, model);
      for (const alias of model.config.aliases ?? []) this.byName.set(alias, model);
    }
  }

  /** The model a client's name (id or alias) refers to; 404 `model_not_found` otherwise. */
  resolve(name: string): CatalogModel {
    const model = this.byName.get(name);
    if (model === undefined) {
      throw new GatewayError('model_not_found', `The model "${name}" does not exist or you do not have access to it. GET /v1/models lists the models you can use.`, {
        param: 'model',
      });
    }
    return model;
  }

  async close(): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.close()));
  }
}

export function buildCatalog(config: Config): Catalog {
  const providers = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(config.providers)) providers.set(name, createProvider(cfg));
  const created = Math.floor(Date.now() / 1000);
  const models = config.models.map((model): CatalogModel => {
    const defaults: JsonObject = { ...(model.defaults ?? {}) };
    if (model.category !== 'embeddings' && defaults.max_tokens === undefined && defaults.max_completion_tokens === undefined) {
      // Every text request has an output cap, so its maximum cost is known (SPEC §7).
      defaults.max_tokens = Math.min(model.max_output_tokens ?? 4096, 4096);
    }
    return {
      id: model.id,
      config: model,
      capabilities: new Set(model.capabilities ?? defaultCapabilities(model, config)),
      prices: modelPrices(model.pricing),
      created,
      defaults,
      deployments: model.deployments.map((d) => ({
        name: `${d.provider}/${d.model ?? model.id}`,
        provider: providers.get(d.provider)!,
        upstreamModel: d.model ?? model.id,
        weight: d.weight ?? 1,
        timeouts: resolveTimeouts(config.providers[d.provider].timeouts, d.timeouts),
      })),
    };
  });
  return new Catalog(models, providers);
}

/** A deployment chosen by weight. (Health-aware balancing arrives with the routing issue.) */
export function pickDeployment(model: CatalogModel): CatalogDeployment {
  const list = model.deployments;
  if (list.length === 1) return list[0];
  let total = 0;
  for (const d of list) total += d.weight;
  let r = Math.random() * total;
  for (const d of list) {
    r -= d.weight;
    if (r < 0) return d;
  }
  return list[list.length - 1];
}
