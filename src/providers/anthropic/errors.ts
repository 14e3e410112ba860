// Anthropic's errors mapped to ours (SPEC §6). Its statuses mostly mean what OpenAI's do, so the shared
// mapping does the work; what is Anthropic's own: 529 (overloaded) is a 503, a billing refusal is our
// account's problem (502, message withheld), and an `error` event inside a stream carries only a type.
import { GatewayError } from '../../openai/errors.js';
import type { JsonObject } from '../types.js';
import { mapUpstreamStatus } from '../upstream-errors.js';

/** The HTTP status each of Anthropic's error types is sent with. */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

const TYPE_BY_STATUS = new Map(Object.entries(STATUS_BY_TYPE).map(([type, status]) => [status, type]));

/**
 * Anthropic's error type for an HTTP status (the inverse of the table above): what the Messages door
 * answers with and the simulator injects. A 503 is "overloaded" too; other statuses go by their class.
 */
export function anthropicErrorType(status: number): string {
  const exact = TYPE_BY_STATUS.get(status);
  if (exact !== undefined) return exact;
  if (status === 503) return 'overloaded_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** The GatewayError for a non-2xx answer of the Messages API; `body` is its parsed JSON (or text). */
export function mapAnthropicStatus(status: number, body: unknown, retryAfterMs?: number): GatewayError {
  if (status === 529) {
    return new GatewayError('model_unavailable', 'The backend is overloaded (HTTP 529); retry shortly.', { retryAfterMs: retryAfterMs ?? 1000 });
  }
  if (status === 402) {
    return new GatewayError('upstream_error', "The backend refused the gateway's account (HTTP 402); this is a gateway configuration problem.");
  }
  return mapUpstreamStatus(status, body, retryAfterMs);
}

/** An `error` event inside a stream (`{type: "error", error: {type, message}}`), by its error type. */
export function mapAnthropicStreamError(event: JsonObject): GatewayError {
  const error = event.error;
  const type = error !== null && typeof error === 'object' ? (error as JsonObject).type : undefined;
  const status = typeof type === 'string' ? (STATUS_BY_TYPE[type] ?? 500) : 500;
  return mapAnthropicStatus(status, event);
}
