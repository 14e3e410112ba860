// The output cap (max_tokens / max_completion_tokens): the model's default when the client sends none, so
// every request's maximum cost is known, and a 400 when the client asks for more than the model allows.
import { invalidRequest } from '../openai/errors.js';
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

/** The output cap in force: the client's, else the model's default (text models always have one). */
export function effectiveOutputCap(req: JsonObject, model: CatalogModel): number {
  const cap = requestedOutputCap(req)?.value ?? model.defaults.max_tokens ?? model.defaults.max_completion_tokens;
  return typeof cap === 'number' ? cap : 0;
}

/** Output cap × the choices the backend generates (`n`, and legacy `best_of`, which is generated in full). */
export function maxOutputTokens(req: JsonObject, model: CatalogModel): number {
  const n = typeof req.n === 'number' && req.n > 1 ? req.n : 1;
  const bestOf = typeof req.best_of === 'number' && req.best_of > n ? req.best_of : n;
  return effectiveOutputCap(req, model) * bestOf;
}
