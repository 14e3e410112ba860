// The limiter interface (SPEC §9): requests per minute and tokens per minute as token buckets
// (continuous refill, burst = the per-minute figure) and concurrent requests as leased slots. A request
// is limited by every scope it belongs to (its account, and its key when the key has limits of its own);
// each call decides for all of them at once, all or nothing, so an implementation backed by a remote
// store (Redis, one Lua script per call) keeps the same semantics as the in-memory one.

/** Per-minute figures and a slot count; an absent figure is no limit of that kind. */
export interface LimitValues {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  concurrentRequests?: number;
}

/** One set of buckets: `acct:<id>` or `key:<id>`. */
export interface LimitScope {
  id: string;
  limits: LimitValues;
}

export type LimitKind = 'requests' | 'tokens' | 'concurrency';

/** What the `x-ratelimit-*` headers report: the tightest scope for each bucket. */
export interface RateLimitSnapshot {
  requests?: BucketReading;
  tokens?: BucketReading;
}

export interface BucketReading {
  limit: number;
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
}

export interface Refusal {
  ok: false;
  kind: LimitKind;
  scope: string;
  limit: number;
  /** When a retry can succeed, from the bucket; undefined when no wait can (a request larger than the bucket). */
  retryAfterMs: number | undefined;
  snapshot: RateLimitSnapshot;
}

/** Tokens and a slot held by an admitted request until `finish`. */
export interface Lease {
  scopes: readonly LimitScope[];
  /** Tokens taken at admission (the request's upper bound). */
  tokens: number;
  /** Whether a concurrency slot is held (some scope limits concurrency). */
  slot: boolean;
  /** Expiry-renewal handle for remote implementations; unused in memory. */
  token?: string;
  finished: boolean;
}

export type RequestAdmission = { ok: true; snapshot: RateLimitSnapshot } | Refusal;
export type WorkAdmission = { ok: true; lease: Lease; snapshot: RateLimitSnapshot } | Refusal;

export interface Limiter {
  /** Takes one request from every scope's requests-per-minute bucket, or none when one is empty. */
  takeRequest(scopes: readonly LimitScope[]): Promise<RequestAdmission>;
  /** Takes `tokens` from every tokens bucket and a slot in every concurrency limit, or nothing. */
  admitWork(scopes: readonly LimitScope[], tokens: number): Promise<WorkAdmission>;
  /**
   * Ends a lease however the request ended: gives the slot back, and reconciles the tokens bucket to the
   * tokens actually used (returns what was taken beyond them; takes more if the estimate fell short).
   * Idempotent.
   */
  finish(lease: Lease, usedTokens: number): Promise<void>;
  /** The buckets as they stand, for responses that were not admitted through this limiter. */
  peek(scopes: readonly LimitScope[]): Promise<RateLimitSnapshot>;
  close(): Promise<void>;
}
