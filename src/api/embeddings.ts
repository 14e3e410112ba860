// POST /v1/embeddings: float or base64 vectors, passed through as the backend made them.
import { invalidRequest } from '../openai/errors.js';
import type { EmbeddingRequest } from '../openai/schemas/embeddings.js';
import { validateEmbeddingRequest } from '../openai/validate.js';
import type { JsonObject } from '../providers/types.js';
import type { InferenceEndpoint } from './inference.js';
import { countPromptTokens } from './completions.js';

export const embeddings: InferenceEndpoint<EmbeddingRequest> = {
  endpoint: 'embeddings',
  capability: 'embeddings',
  validate: validateEmbeddingRequest,
  checkRequest(req, model) {
    if (req.dimensions !== undefined && !model.capabilities.has('dimensions')) {
      throw invalidRequest('dimensions', `dimensions: the model "${model.id}" has a fixed number of dimensions; omit the field.`);
    }
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
  // Each input is held against the context by the backend, input by input.
  contextParam: () => undefined,
};
