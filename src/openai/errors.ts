// The error catalog (SPEC §6): every error Floodgate sends has an entry here with its status, type and
// code; code throws errors by name, and one handler turns any of them into OpenAI's envelope.

export interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
  doc_url?: string;
}

/** Which page of the operator's docs an error points at (`doc_urls` in config). */
export type DocKind = 'keys' | 'billing' | 'limits';
export const DOC_KINDS: readonly DocKind[] = ['keys', 'billing', 'limits'];

interface CatalogEntry {
  status: number;
  type: string;
  code: string | null;
  /** Key, quota and limit errors carry the configured `doc_url` of their kind. */
  docKind?: DocKind;
  /** Retrying cannot help (quota): sends `x-should-retry: false`. */
  noRetry?: boolean;
}

export const ERRORS = {
  invalid_request: { status: 400, type: 'invalid_request_error', code: null },
  context_length_exceeded: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  invalid_api_key: { status: 401, type: 'authentication_error', code: 'invalid_api_key', docKind: 'keys' },
  insufficient_balance: { status: 402, type: 'insufficient_quota', code: 'insufficient_balance', docKind: 'billing', noRetry: true },
  key_disabled: { status: 403, type: 'permission_error', code: 'key_disabled', docKind: 'keys' },
  account_disabled: { status: 403, type: 'permission_error', code: 'account_disabled', docKind: 'keys' },
  model_not_allowed: { status: 403, type: 'permission_error', code: 'model_not_allowed', docKind: 'keys' },
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
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', docKind: 'limits' },
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
  invalid_admin_token: { status: 401, type: 'authentication_error', code: 'invalid_admin_token', docKind: 'keys' },
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
    this.noRetry = entry.noRetry === true || options.noRetry === true;
    this.detail = options.detail;
  }

  /** The catalog's own wording, without any operator's: see ErrorRendering for what a client is sent. */
  toBody(): { error: ErrorBody } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
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

/** How an operator words one error (`errors.<name>` in config): unset fields keep the catalog's. */
export interface ErrorPresentation {
  /** `{message}` in it stands for the gateway's own message (which limit, which field, which amount). */
  message?: string;
  type?: string;
  code?: string;
  doc_url?: string;
}

export interface ErrorRenderingConfig {
  errors?: Partial<Record<string, ErrorPresentation>>;
  /** Per kind of error; `fallback` (auth.doc_url) stands for any kind not set. */
  docUrls?: Partial<Record<DocKind, string>>;
  fallbackDocUrl?: string;
  /** Unsupported endpoints' messages by their name (`/v1/fine_tuning`), replacing the built-in ones. */
  unsupportedMessages?: Partial<Record<string, string>>;
}

interface ResolvedPresentation {
  message: string | undefined;
  type: string | undefined;
  code: string | null | undefined;
  docUrl: string | undefined;
}

const MESSAGE_PLACEHOLDER = '{message}';

/**
 * The catalog as this deployment words it, resolved once at start-up: rendering an error is one map
 * lookup, and an error nobody configured is the catalog's own body. Everything that writes the envelope
 * (the app's handler, in-band stream errors, answers on the bare socket) renders through one of these.
 */
export class ErrorRendering {
  private readonly byName = new Map<ErrorName, ResolvedPresentation>();
  readonly unsupportedMessages: ReadonlyMap<string, string>;

  constructor(config: ErrorRenderingConfig = {}) {
    for (const name of Object.keys(ERRORS) as ErrorName[]) {
      const entry: CatalogEntry = ERRORS[name];
      const own = config.errors?.[name];
      const docUrl = own?.doc_url ?? (entry.docKind === undefined ? undefined : (config.docUrls?.[entry.docKind] ?? config.fallbackDocUrl));
      if (own === undefined && docUrl === undefined) continue;
      this.byName.set(name, { message: own?.message, type: own?.type, code: own?.code, docUrl });
    }
    const unsupported = new Map<string, string>();
    for (const [name, message] of Object.entries(config.unsupportedMessages ?? {})) if (message !== undefined) unsupported.set(name, message);
    this.unsupportedMessages = unsupported;
  }

  body(err: GatewayError): { error: ErrorBody } {
    const own = this.byName.get(err.errorName);
    if (own === undefined) return err.toBody();
    const error: ErrorBody = {
      message: own.message === undefined ? err.message : own.message.replaceAll(MESSAGE_PLACEHOLDER, err.message),
      type: own.type ?? err.type,
      param: err.param,
      code: own.code !== undefined ? own.code : err.code,
    };
    if (own.docUrl !== undefined) error.doc_url = own.docUrl;
    return { error };
  }

  /** An error's status, type, code and doc_url as clients of this deployment see them (the portal's docs). */
  describe(name: ErrorName): { status: number; type: string; code: string | null; doc_url?: string } {
    const entry: CatalogEntry = ERRORS[name];
    const own = this.byName.get(name);
    const shown: { status: number; type: string; code: string | null; doc_url?: string } = { status: entry.status, type: own?.type ?? entry.type, code: own?.code !== undefined ? own.code : entry.code };
    if (own?.docUrl !== undefined) shown.doc_url = own.docUrl;
    return shown;
  }

  /** The body as sent: JSON text. */
  json(err: GatewayError): string {
    return JSON.stringify(this.body(err));
  }
}

/** The catalog's own wording: for tools and tests that run without a config. */
export const CATALOG_RENDERING = new ErrorRendering();

/** Problems in an `errors:` block, each with its field path: unknown names, and templates the catalog cannot fill. */
export function checkErrorPresentations(errors: Partial<Record<string, ErrorPresentation>> | undefined): string[] {
  const problems: string[] = [];
  for (const [name, own] of Object.entries(errors ?? {})) {
    if (!(name in ERRORS)) {
      problems.push(`errors.${name}: unknown error name (known: ${Object.keys(ERRORS).join(', ')})`);
      continue;
    }
    if (own?.message !== undefined && own.message.trim() === '') problems.push(`errors.${name}.message: must not be empty`);
  }
  return problems;
}
