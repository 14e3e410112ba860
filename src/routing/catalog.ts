// The model catalog (SPEC §7): client-facing model ids and aliases, each with its capabilities, prices,
// defaults, retry policy, fallbacks and deployments (a provider instance + the backend's model name +
// weight + timeouts + the live health it shares with every model served by the same backend model).
import type { Config } from '../config/load.js';
import type { Capability, Category, ModelConfig, RetryConfig } from '../config/schema.js';
import { GatewayError } from '../openai/errors.js';
import { createProvider } from '../providers/registry.js';
import type { JsonObject, Provider } from '../providers/types.js';
import { resolveTimeouts, type ResolvedTimeouts } from './timeouts.js';
import { modelPrices, type ModelPrices } from '../accounting/pricing.js';
import { HealthRegistry, type DeploymentHealth } from './health.js';
import { deploymentProbe } from './probe.js';

export interface CatalogDeployment {
  /** `provider/upstream-model`, as it appears in logs. */
  name: string;
  provider: Provider;
  upstreamModel: string;
  weight: number;
  timeouts: ResolvedTimeouts;
  health: DeploymentHealth;
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
  /** Attempts, time budget and backoff for this model's retries. */
  retry: Required<RetryConfig>;
  /** Models tried in order when every deployment of this one has failed. */
  fallbacks: CatalogModel[];
}

/** Provider types that serve chat completions only (no legacy completions, no embeddings). */
const CHAT_ONLY_PROVIDERS: ReadonlySet<string> = new Set(['anthropic']);

/** Categories whose models do not produce tokens: no output cap, no chat. */
const MEDIA_CAPABILITIES: Partial<Record<Category, Capability[]>> = {
  embeddings: ['embeddings'],
  image: ['images'],
  audio: ['speech', 'transcriptions'],
  video: ['video'],
};

function defaultCapabilities(model: ModelConfig, config: Config): Capability[] {
  const media = MEDIA_CAPABILITIES[model.category];
  if (media) return media;
  // A model whose every deployment speaks chat only cannot serve legacy completions.
  if (model.deployments.every((d) => CHAT_ONLY_PROVIDERS.has(config.providers[d.provider].type))) return ['chat'];
  return ['chat', 'completions'];
}

export class Catalog {
  private readonly byName = new Map<string, CatalogModel>();

  constructor(
    readonly models: CatalogModel[],
    private readonly providers: Map<string, Provider>,
    readonly health: HealthRegistry,
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
    this.health.stop();
    await Promise.all([...this.providers.values()].map((p) => p.close()));
  }
}

export function buildCatalog(config: Config): Catalog {
  const providers = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(config.providers)) providers.set(name, createProvider(cfg));
  const created = Math.floor(Date.now() / 1000);
  const health = new HealthRegistry(config.routing.breaker, config.routing.probes);
  const models = config.models.map((model): CatalogModel => {
    const defaults: JsonObject = { ...(model.defaults ?? {}) };
    if (MEDIA_CAPABILITIES[model.category] === undefined && defaults.max_tokens === undefined && defaults.max_completion_tokens === undefined) {
      // Every text request has an output cap, so its maximum cost is known (SPEC §7).
      defaults.max_tokens = Math.min(model.max_output_tokens ?? 4096, 4096);
    }
    const capabilities = new Set(model.capabilities ?? defaultCapabilities(model, config));
    return {
      id: model.id,
      config: model,
      capabilities,
      prices: modelPrices(model.pricing),
      created,
      defaults,
      retry: { ...config.routing.retry, ...model.retry },
      fallbacks: [],
      deployments: model.deployments.map((d) => {
        const name = `${d.provider}/${d.model ?? model.id}`;
        const deployment: CatalogDeployment = {
          name,
          provider: providers.get(d.provider)!,
          upstreamModel: d.model ?? model.id,
          weight: d.weight ?? 1,
          timeouts: resolveTimeouts(config.providers[d.provider].timeouts, d.timeouts),
          health: health.get(name),
        };
        // The first model that uses a backend model says what a probe of it sends.
        deployment.health.probe ??= deploymentProbe(deployment, capabilities, config.routing.probes.timeout_ms);
        const { provider } = deployment;
        if (provider.reachable !== undefined) deployment.health.liveness ??= () => provider.reachable!();
        return deployment;
      }),
    };
  });
  const catalog = new Catalog(models, providers, health);
  for (const model of models) model.fallbacks = (model.config.fallbacks ?? []).map((name) => catalog.resolve(name));
  return catalog;
}
