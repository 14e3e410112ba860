// The request body of the legacy POST /v1/completions, as openai-python 1.109.1 types it
// (`CompletionCreateParamsBase` + `stream`; shared/reference/openai/other_params.md §2).
import { Type, type Static } from '@sinclair/typebox';
import { ChoiceCount, LogitBias, ModelId, Nullable, Penalty, Seed, Stop, Stream, StreamOptions, Temperature, TokenIds, TopP } from './common.js';

const Opt = Type.Optional;

/** A string, strings, one token array or token arrays — or null (required, but nullable). */
export const PromptSchema = Type.Union([
  Type.String(),
  Type.Array(Type.String()),
  TokenIds,
  Type.Array(TokenIds, { minItems: 1 }),
  Type.Null(),
]);
export type CompletionPrompt = Static<typeof PromptSchema>;

/** Top-level keys not listed here are not errors: they are forwarded to the backend untouched. */
export const CompletionRequestSchema = Type.Object({
  model: ModelId,
  prompt: PromptSchema,
  best_of: Opt(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  echo: Opt(Nullable(Type.Boolean())),
  frequency_penalty: Opt(Penalty),
  logit_bias: Opt(LogitBias),
  /** An int here (how many top tokens), not chat's bool. */
  logprobs: Opt(Nullable(Type.Integer({ minimum: 0, maximum: 5 }))),
  max_tokens: Opt(Nullable(Type.Integer({ minimum: 0 }))),
  n: Opt(ChoiceCount),
  presence_penalty: Opt(Penalty),
  seed: Opt(Seed),
  stop: Opt(Stop),
  /** Only with `stream: true`: checked in code. */
  stream_options: Opt(StreamOptions),
  suffix: Opt(Nullable(Type.String())),
  temperature: Opt(Temperature),
  top_p: Opt(TopP),
  user: Opt(Type.String()),
  stream: Opt(Stream),
});

export type CompletionRequest = Static<typeof CompletionRequestSchema>;
