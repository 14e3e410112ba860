// POST /v1/embeddings: float or base64 vectors, passed through as the backend made them.
import { countTokens } from '../accounting/tokenizer.js';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import type { EmbeddingRequest } from '../openai/schemas/embeddings.js';
import { validateEmbeddingRequest } from '../openai/validate.js';
import type { JsonObject } from '../providers/types.js';
import type { InferenceEndpoint } from './inference.js';
import type { CatalogModel } from '../routing/catalog.js';
import { countPromptTokens } from './completions.js';

/**
 * Each input is held against the model's context before forwarding (a backend refuses a longer one): a
 * 400 `context_length_exceeded` naming it. A text of at most context/3 characters cannot be longer than
 * the context (no token is shorter than a byte, no UTF-16 unit longer than three), so only longer ones
 * are counted.
 */
function checkInputsFit(input: unknown, model: CatalogModel): void {
  const context = model.config.context_length;
  if (context === undefined) return;
  const batch = Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number';
  const items: unknown[] = batch ? (input as unknown[]) : [input];
  items.forEach((item, i) => {
    const tokens = typeof item === 'string' ? (item.length * 3 <= context ? 0 : countTokens(item)) : Array.isArray(item) ? item.length : 0;
    if (tokens <= context) return;
    const param = batch ? `input[${i}]` : 'input';
    throw new GatewayError('context_length_exceeded', `${param}: this input is ${tokens} tokens long; the model "${model.id}" embeds at most ${context} tokens per input. Shorten it or split it into several inputs.`, { param });
  });
}

export const embeddings: InferenceEndpoint<EmbeddingRequest> = {
  endpoint: 'embeddings',
  capability: 'embeddings',
  validate: validateEmbeddingRequest,
  checkRequest(req, model) {
    if (req.dimensions !== undefined && !model.capabilities.has('dimensions')) {
      throw invalidRequest('dimensions', `dimensions: the model "${model.id}" has a fixed number of dimensions; omit the field.`);
    }
    checkInputsFit(req.input, model);
  },
  applyDefaults(req, upstream) {
    // Some backends need the format spelled out (OpenAI's default is float).
    if (req.encoding_format === undefined) upstream.encoding_format = 'float';
  },
  buildResponse(upstream, who, usage) {
    const data = Array.isArray(upstream.data) ? (upstream.data as JsonObject[]) : [];
    return {
      object: 'list',
      data: data.map((d, i) => ({ object: 'embedding', index: typeof d.index === 'number' ? d.index : i, embedding: d.embedding })),
      model: who.model,
      usage: { prompt_tokens: usage.prompt_tokens, total_tokens: usage.prompt_tokens },
    };
  },
  countPromptTokens: (req) => countPromptTokens(req.input),
  outputText: () => '',
  // Each input is held against the context on its own (checkInputsFit), not their sum.
  contextParam: () => undefined,
};
