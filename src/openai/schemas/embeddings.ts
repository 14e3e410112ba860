// The request body of POST /v1/embeddings, as openai-python 1.109.1 types it
// (`EmbeddingCreateParams`; shared/reference/openai/other_params.md §1). No field accepts null.
import { Type, type Static } from '@sinclair/typebox';
import { ModelId, StringEnum, TokenIds } from './common.js';

const Opt = Type.Optional;
const MAX_INPUTS = 2048;

/** A non-empty string, 1–2048 strings, one token array of 1–2048 ids, or 1–2048 non-empty token arrays. */
export const EmbeddingInputSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Array(Type.String(), { minItems: 1, maxItems: MAX_INPUTS }),
  Type.Array(Type.Integer(), { minItems: 1, maxItems: MAX_INPUTS }),
  Type.Array(TokenIds, { minItems: 1, maxItems: MAX_INPUTS }),
]);
export type EmbeddingInput = Static<typeof EmbeddingInputSchema>;

/** Top-level keys not listed here are not errors (the spec closes this object; the gateway forwards them). */
export const EmbeddingRequestSchema = Type.Object({
  input: EmbeddingInputSchema,
  model: ModelId,
  dimensions: Opt(Type.Integer({ minimum: 1 })),
  encoding_format: Opt(StringEnum(['float', 'base64'])),
  user: Opt(Type.String()),
});

export type EmbeddingRequest = Static<typeof EmbeddingRequestSchema>;
