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
  /** When it is sent, for the error catalog in docs/errors.md (never sent to a client). */
  when: string;
}

export const ERRORS = {
  invalid_request: { status: 400, type: 'invalid_request_error', code: null, when: 'A request body or field is invalid (`param` names it, or is `null` when no single field is at fault); invalid JSON; a capability the model lacks.' },
  context_length_exceeded: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded', when: "The prompt (plus the requested output cap) is longer than the model's `context_length`, or a backend says so." },
  invalid_api_key: { status: 401, type: 'authentication_error', code: 'invalid_api_key', docKind: 'keys', when: 'The API key is missing, malformed, unknown or expired (the same answer whatever is wrong with it).' },
  insufficient_balance: { status: 402, type: 'insufficient_quota', code: 'insufficient_balance', docKind: 'billing', noRetry: true, when: "The account's balance cannot cover the request's maximum cost (`x-should-retry: false`)." },
  budget_exceeded: { status: 402, type: 'insufficient_quota', code: 'budget_exceeded', docKind: 'billing', noRetry: true, when: "What is left of a budget on the account or the API key cannot cover the request's maximum cost; the message names the budget and when it resets (`x-should-retry: false`)." },
  key_disabled: { status: 403, type: 'permission_error', code: 'key_disabled', docKind: 'keys', when: 'The API key has been disabled.' },
  account_disabled: { status: 403, type: 'permission_error', code: 'account_disabled', docKind: 'keys', when: 'The account the API key belongs to has been disabled.' },
  model_not_allowed: { status: 403, type: 'permission_error', code: 'model_not_allowed', docKind: 'keys', when: "The model is not on the API key's allow-list." },
  model_not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found', when: 'No model (id or alias) of that name in the catalog.' },
  unsupported_endpoint: { status: 404, type: 'invalid_request_error', code: 'unsupported_endpoint', when: 'An endpoint Floodgate does not serve (`/v1/fine_tuning`, `/v1/batches`, …): the message names the alternative.' },
  not_found: { status: 404, type: 'invalid_request_error', code: 'not_found', when: 'An unknown path; in the admin API and the portal, an unknown account, key or other object.' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed', when: 'A method the path does not serve (the message lists those it does), or `CONNECT`.' },
  request_too_large: { status: 413, type: 'invalid_request_error', code: 'request_too_large', when: 'The body is larger than `server.body_limit_bytes` (a transcription upload: 25 MiB).' },
  // The connection's own limits (SPEC §16): a request that arrives too slowly, a path or headers too long.
  request_timeout: { status: 408, type: 'invalid_request_error', code: 'request_timeout', when: "The request's headers or body did not arrive in time (`server.headers_timeout_ms`, `request_timeout_ms`, `body_idle_timeout_ms`)." },
  uri_too_long: { status: 414, type: 'invalid_request_error', code: 'uri_too_long', when: 'The request path, or one of its segments, is too long.' },
  headers_too_large: { status: 431, type: 'invalid_request_error', code: 'headers_too_large', when: 'The request headers are too large.' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', when: 'The body is not JSON (`Content-Type: application/json`), or an upload is not `multipart/form-data`.' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', docKind: 'limits', when: 'A rate limit (requests, tokens or concurrency a minute) is reached: the message says which; `Retry-After` says when.' },
  upstream_error: { status: 502, type: 'api_error', code: 'upstream_error', when: "The backend answered with garbage, refused the gateway's credentials (its 401/403/404) or broke." },
  model_unavailable: { status: 503, type: 'service_unavailable', code: 'model_unavailable', when: 'No deployment of the model can serve (breakers open), or its backend is unreachable or overloaded (`Retry-After`).' },
  /** Redis (shared limits, balance reservations) is unreachable and the policy is to refuse. */
  limits_unavailable: { status: 503, type: 'service_unavailable', code: 'limits_unavailable', when: "Redis (shared limits, balance reservations) is unreachable and the limit's `failure_policy` is `closed`." },
  /** The database cannot be reached (a key cannot be looked up, a balance cannot be read). */
  store_unavailable: { status: 503, type: 'service_unavailable', code: 'store_unavailable', when: 'The database cannot be reached: a key cannot be looked up or a balance cannot be read.' },
  upstream_timeout: { status: 504, type: 'api_error', code: 'upstream_timeout', when: 'The backend timed out (first byte, idle between stream chunks, or total).' },
  /**
   * The gateway is shutting down (SPEC §6: a 503 `model_unavailable`); its own name so that routing does
   * not take it for a backend's failure and try another deployment.
   */
  shutting_down: { status: 503, type: 'service_unavailable', code: 'model_unavailable', when: "The gateway is shutting down: sent as `model_unavailable`, so that routing does not take it for a backend's failure." },
  internal_error: { status: 500, type: 'api_error', code: 'internal_error', when: 'Anything unexpected; never a stack trace.' },
  // The admin API (SPEC §13).
  invalid_admin_token: { status: 401, type: 'authentication_error', code: 'invalid_admin_token', docKind: 'keys', when: "The admin API's token is missing or wrong." },
  conflict: { status: 409, type: 'invalid_request_error', code: 'conflict', when: 'The admin API or portal cannot make the change (the name or email is taken); a video that is not completed yet cannot be downloaded.' },
  // The portal (SPEC §14): its sessions, CSRF check and sign-in limits.
  not_signed_in: { status: 401, type: 'authentication_error', code: 'not_signed_in', when: 'A portal request that needs a session has none.' },
  invalid_credentials: { status: 401, type: 'authentication_error', code: 'invalid_credentials', when: 'A portal sign-in with a wrong email, password or admin token.' },
  csrf_failed: { status: 403, type: 'permission_error', code: 'csrf_failed', when: "A portal change without the session's `x-csrf-token` header." },
  signup_closed: { status: 403, type: 'permission_error', code: 'signup_closed', when: 'A portal sign-up while `portal.signup` is `closed`.' },
  forbidden: { status: 403, type: 'permission_error', code: 'forbidden', when: 'A portal request the session may not make (the admin console without an admin session, an account the person is not a member of).' },
  too_many_attempts: { status: 429, type: 'rate_limit_error', code: 'too_many_attempts', when: 'Too many portal sign-ins or sign-ups from one address (`portal.signups_per_minute`).' },
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
