// The Messages door's error envelope (SPEC §17): Anthropic's `{"type": "error", "error": {type, message}}`
// with Anthropic's error types, from the same catalog errors (and the operator's wording of them) that the
// OpenAI door renders as OpenAI's envelope. The status stays the catalog's: Anthropic's clients retry 429
// and 5xx alike.
import type { ErrorRendering, GatewayError } from '../../openai/errors.js';
import { anthropicErrorType } from '../../providers/anthropic/errors.js';

/** The error as Anthropic's SDKs read it; `request_id` as Anthropic sends it. */
export function anthropicErrorBody(err: GatewayError, errors: ErrorRendering, requestId: string): { type: 'error'; error: { type: string; message: string }; request_id: string } {
  const { message } = errors.body(err).error;
  return { type: 'error', error: { type: anthropicErrorType(err.status), message }, request_id: requestId };
}
