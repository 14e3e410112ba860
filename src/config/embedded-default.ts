// The embedded default (SPEC §1): what `npm start` serves with no config file. Kept identical to
// examples/embedded-default.yaml (a test compares them).
import type { RawConfig } from './schema.js';

export const EMBEDDED_DEFAULT: RawConfig = {
  server: { host: '127.0.0.1', port: 8080 },
  data_dir: './data',
  auth: { key_prefix: 'fk-' },
  logging: { level: 'info' },
  limits: {
    default_tier: 'default',
    tiers: {
      default: { requests_per_minute: 600, tokens_per_minute: 2_000_000, concurrent_requests: 50 },
      standard: { requests_per_minute: 60, tokens_per_minute: 100_000, concurrent_requests: 5 },
      enterprise: { requests_per_minute: 10_000, tokens_per_minute: 50_000_000, concurrent_requests: 500 },
    },
  },
  billing: { initial_credit: 100 },
  usage: { flush_ms: 100, max_batch: 500 },
  providers: {
    sim: { type: 'simulator', ttft_ms: 50, tokens_per_second: 200, embedding_dimensions: 1024, reasoning_models: ['sim-reasoner'] },
  },
  models: [
    {
      id: 'sim-chat',
      aliases: ['simulator-chat'],
      category: 'text',
      owned_by: 'floodgate-simulator',
      description: 'Built-in simulator (not a model): deterministic text, tool calls and JSON.',
      context_length: 32768,
      max_output_tokens: 4096,
      defaults: { max_tokens: 1024 },
      capabilities: ['chat', 'completions', 'tools', 'vision', 'json_object', 'json_schema', 'n'],
      pricing: { input: 0.5, cached_input: 0.05, output: 1.5 },
      deployments: [{ provider: 'sim' }],
    },
    {
      id: 'sim-reasoner',
      category: 'reasoning',
      owned_by: 'floodgate-simulator',
      description: 'Built-in simulator (not a model): answers with reasoning_content before the text.',
      context_length: 65536,
      max_output_tokens: 16384,
      defaults: { max_tokens: 4096 },
      capabilities: ['chat', 'tools', 'json_object', 'json_schema'],
      pricing: { input: 1, cached_input: 0.1, output: 4 },
      deployments: [{ provider: 'sim' }],
    },
    {
      id: 'sim-embed',
      category: 'embeddings',
      owned_by: 'floodgate-simulator',
      description: 'Built-in simulator (not a model): deterministic unit vectors, 1024 dimensions.',
      context_length: 8192,
      capabilities: ['embeddings', 'dimensions'],
      pricing: { input: 0.02 },
      deployments: [{ provider: 'sim' }],
    },
  ],
};
