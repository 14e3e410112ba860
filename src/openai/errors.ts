// The error catalog (SPEC §6): every error Floodgate sends has an entry here with its status, type and
// code; code throws errors by name, and one handler turns any of them into OpenAI's envelope.

export interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
  doc_url?: string;
}

interface CatalogEntry {
  status: number;
  type: string;
  code: string | null;
  /** Auth and quota errors carry the configured `doc_url`. */
  docUrl?: boolean;
  /** Retrying cannot help (quota): sends `x-should-retry: false`. */
  noRetry?: boolean;
}

export const ERRORS = {
  invalid_request: { status: 400, type: 'invalid_request_error', code: null },
  context_length_exceeded: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  invalid_api_key: { status: 401, type: 'authentication_error', code: 'invalid_api_key', docUrl: true },
  insufficient_balance: { status: 402, type: 'insufficient_quota', code: 'insufficient_balance', docUrl: true, noRetry: true },
  key_disabled: { status: 403, type: 'permission_error', code: 'key_disabled', docUrl: true },
  account_disabled: { status: 403, type: 'permission_error', code: 'account_disabled', docUrl: true },
  model_not_allowed: { status: 403, type: 'permission_error', code: 'model_not_allowed', docUrl: true },
  model_not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  unsupported_endpoint: { status: 404, type: 'invalid_request_error', code: 'unsupported_endpoint' },
  not_found: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed' },
  request_too_large: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  // The connection's own limits (SPEC §16): a request that arrives too slowly, a path or headers too long.
  request_timeout: { status: 408, type: 'invalid_request_error', code: 'request_timeout' },
  uri_too_long: { status: 414, type: 'invalid_request_error', code: 'uri_too_long' },
  headers_too_large: { status: 431, type: 'invalid_request_error', code: 'headers_too_large' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  upstream_error: { status: 502, type: 'api_error', code: 'upstream_error' },
  model_unavailable: { status: 503, type: 'service_unavailable', code: 'model_unavailable' },
  /** Redis (shared limits, balance reservations) is unreachable and the policy is to refuse. */
  limits_unavailable: { status: 503, type: 'service_unavailable', code: 'limits_unavailable' },
  /** The database cannot be reached (a key cannot be looked up, a balance cannot be read). */
  store_unavailable: { status: 503, type: 'service_unavailable', code: 'store_unavailable' },
  upstream_timeout: { status: 504, type: 'api_error', code: 'upstream_timeout' },
  /**
   * The gateway is shutting down (SPEC §6: a 503 `model_unavailable`); its own name so that routing does
   * not take it for a backend's failure and try another deployment.
   */
  shutting_down: { status: 503, type: 'service_unavailable', code: 'model_unavailable' },
  internal_error: { status: 500, type: 'api_error', code: 'internal_error' },
  // The admin API (SPEC §13).
  invalid_admin_token: { status: 401, type: 'authentication_error', code: 'invalid_admin_token', docUrl: true },
  conflict: { status: 409, type: 'invalid_request_error', code: 'conflict' },
  // The portal (SPEC §14): its sessions, CSRF check and sign-in limits.
  not_signed_in: { status: 401, type: 'authentication_error', code: 'not_signed_in' },
  invalid_credentials: { status: 401, type: 'authentication_error', code: 'invalid_credentials' },
  csrf_failed: { status: 403, type: 'permission_error', code: 'csrf_failed' },
  signup_closed: { status: 403, type: 'permission_error', code: 'signup_closed' },
  forbidden: { status: 403, type: 'permission_error', code: 'forbidden' },
  too_many_attempts: { status: 429, type: 'rate_limit_error', code: 'too_many_attempts' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorName = keyof typeof ERRORS;

export interface GatewayErrorOptions {
  param?: string | null;
  /** Seconds until a retry can succeed: sets `Retry-After` and `retry-after-ms`. */
  retryAfterMs?: number;
  /** Overrides the catalog's code (a backend's own 400 code, for instance). */
  code?: string | null;
  cause?: unknown;
  /** Retrying cannot help (a request larger than a limit): sends `x-should-retry: false`. */
  noRetry?: boolean;
  /** For the log line only, never sent: what a backend said (already redacted). */
  detail?: string;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterMs: number | undefined;
  readonly docUrl: boolean;
  readonly noRetry: boolean;
  /** The backend's HTTP status, when this error is a backend's answer (for the request's log line). */
  upstreamStatus: number | undefined;
  /** For the log line only, never sent to the client: a redacted excerpt of what the backend said. */
  readonly detail: string | undefined;

  constructor(readonly errorName: ErrorName, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry: CatalogEntry = ERRORS[errorName];
    this.name = 'GatewayError';
    this.status = entry.status;
    this.type = entry.type;
    this.code = options.code !== undefined ? options.code : entry.code;
    this.param = options.param ?? null;
    this.retryAfterMs = options.retryAfterMs;
    this.docUrl = entry.docUrl === true;
    this.noRetry = entry.noRetry === true || options.noRetry === true;
    this.detail = options.detail;
  }

  toBody(docUrl?: string): { error: ErrorBody } {
    const error: ErrorBody = { message: this.message, type: this.type, param: this.param, code: this.code };
    if (this.docUrl && docUrl) error.doc_url = docUrl;
    return { error };
  }
}

/** A 400 naming the offending field. */
export function invalidRequest(param: string | null, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

/** Whatever was thrown, as a GatewayError: unknown failures become a 500 with no detail leaked. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'The server had an error while processing your request.', { cause: err });
}

/** Headers that go with an error response (§6: Retry-After on 429/503, x-should-retry on quota errors). */
export function errorHeaders(err: GatewayError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err.retryAfterMs !== undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    headers['retry-after-ms'] = String(Math.max(0, Math.round(err.retryAfterMs)));
  }
  if (err.noRetry) headers['x-should-retry'] = 'false';
  return headers;
}
