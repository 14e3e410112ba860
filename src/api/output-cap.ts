// The output cap (max_tokens / max_completion_tokens): the model's default when the client sends none, so
// every request's maximum cost is known, and a 400 when the client asks for more than the model allows.
import { GatewayError, invalidRequest } from '../openai/errors.js';
import type { JsonObject } from '../providers/types.js';
import type { CatalogModel } from '../routing/catalog.js';

const CAP_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;

/** The cap the client asked for, if any. */
export function requestedOutputCap(req: JsonObject): { field: string; value: number } | undefined {
  for (const field of CAP_FIELDS) {
    const value = req[field];
    if (typeof value === 'number') return { field, value };
  }
  return undefined;
}

export function checkOutputCap(req: JsonObject, model: CatalogModel): void {
  const cap = requestedOutputCap(req);
  const limit = model.config.max_output_tokens;
  if (cap !== undefined && limit !== undefined && cap.value > limit) {
    throw invalidRequest(cap.field, `${cap.field}: ${cap.value} is too large; the model "${model.id}" produces at most ${limit} output tokens.`);
  }
}

/** Fills the catalog defaults the client left out; the output cap counts as set if either field is. */
export function applyModelDefaults(req: JsonObject, upstream: JsonObject, model: CatalogModel): void {
  const hasCap = requestedOutputCap(req) !== undefined;
  for (const [field, value] of Object.entries(model.defaults)) {
    if (hasCap && (CAP_FIELDS as readonly string[]).includes(field)) continue;
    if (req[field] === undefined || req[field] === null) upstream[field] = value;
  }
}

/** The model's default cap field and value (text models always have one; embeddings none). */
function defaultOutputCap(model: CatalogModel): { field: string; value: number } | undefined {
  for (const field of CAP_FIELDS) {
    const value = model.defaults[field];
    if (typeof value === 'number') return { field, value };
  }
  return undefined;
}

function contextError(model: CatalogModel, promptTokens: number, cap: number, param: string): GatewayError {
  const context = model.config.context_length!;
  return new GatewayError(
    'context_length_exceeded',
    `This model's maximum context length is ${context} tokens. However, you requested ${promptTokens + cap} tokens (${promptTokens} in the prompt, ${cap} in the completion). Please reduce the length of the prompt or of ${cap > 0 ? 'max_tokens' : 'the input'}.`,
    { param },
  );
}

/**
 * The output cap in force, checked against the model's context before any backend is called: the
 * client's cap must fit beside the prompt (else 400 `context_length_exceeded`); the model's default is
 * lowered to what is left of the context, as a backend would refuse prompt + cap beyond it. The pipeline
 * forwards the cap it returns and admits the request at it.
 */
export function resolveOutputCap(req: JsonObject, model: CatalogModel, promptTokens: number, promptParam: string | undefined): number {
  // Without a single prompt to hold against the context (a batch of prompts is checked by the backend,
  // prompt by prompt), only the model's default is used as it is.
  const context = promptParam === undefined ? undefined : model.config.context_length;
  const requested = requestedOutputCap(req);
  if (requested !== undefined) {
    if (context !== undefined && promptTokens + requested.value > context) throw contextError(model, promptTokens, requested.value, promptParam!);
    return requested.value;
  }
  const fallback = defaultOutputCap(model);
  if (fallback === undefined) return 0;
  if (context === undefined) return fallback.value;
  // Not even one token of answer fits.
  if (promptTokens >= context) throw contextError(model, promptTokens, 1, promptParam!);
  return Math.min(fallback.value, context - promptTokens);
}

/** Sets the cap in force on the upstream body when it is the model's default (the client's goes as sent). */
export function forwardOutputCap(req: JsonObject, upstream: JsonObject, model: CatalogModel, cap: number): void {
  const fallback = defaultOutputCap(model);
  if (requestedOutputCap(req) === undefined && fallback !== undefined) upstream[fallback.field] = cap;
}

/** The choices the backend generates: `n`, and legacy `best_of`, which is generated in full. */
export function choicesGenerated(req: JsonObject): number {
  const n = typeof req.n === 'number' && req.n > 1 ? req.n : 1;
  return typeof req.best_of === 'number' && req.best_of > n ? req.best_of : n;
}
