// The provider registry: one line per backend type. Adding a provider touches its folder and this map.
import type { ProviderConfig } from '../config/schema.js';
import { createAnthropicProvider } from './anthropic/provider.js';
import { createOpenAIProvider } from './openai/provider.js';
import { createSimulatorProvider } from './simulator/provider.js';
import type { Provider } from './types.js';

export function createProvider(cfg: ProviderConfig): Provider {
  switch (cfg.type) {
    case 'openai':
      return createOpenAIProvider(cfg);
    case 'anthropic':
      return createAnthropicProvider(cfg);
    case 'simulator':
      return createSimulatorProvider(cfg);
  }
}
