// The Messages door's error envelope (SPEC §17): Anthropic's `{"type": "error", "error": {type, message}}`
// with Anthropic's error types, from the same catalog errors (and the operator's wording of them) that the
// OpenAI door renders as OpenAI's envelope. The status stays the catalog's: Anthropic's clients retry 429
// and 5xx alike.
import type { ErrorRendering, GatewayError } from '../../openai/errors.js';

/** Anthropic's error `type` for an HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 405:
    case 408:
    case 414:
    case 415:
    case 431:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 409:
      return 'invalid_request_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return 'api_error';
  }
}

/** The error as Anthropic's SDKs read it; `request_id` as Anthropic sends it. */
export function anthropicErrorBody(err: GatewayError, errors: ErrorRendering, requestId: string): { type: 'error'; error: { type: string; message: string }; request_id: string } {
  const { message } = errors.body(err).error;
  return { type: 'error', error: { type: anthropicErrorType(err.status), message }, request_id: requestId };
}
