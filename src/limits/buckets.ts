// The bucket arithmetic both limiters decide by (SPEC §9): given what each scope's buckets and slots hold
// now — read from memory or returned by a Redis script — which refusal applies, and what the
// `x-ratelimit-*` headers say. One set of rules, so a refusal reads the same on one instance or many.
import type { BucketReading, LimitScope, RateLimitSnapshot, Refusal } from './limiter.js';

export const MINUTE_MS = 60_000;

/** One scope's buckets and slots as a decision reads them; absent: that kind is not limited (or not read). */
export interface ScopeLevels {
  requests?: number;
  tokens?: number;
  inFlight?: number;
}

export function msToRefill(level: number, target: number, perMinute: number): number {
  return level >= target ? 0 : Math.ceil(((target - level) * MINUTE_MS) / perMinute);
}

/** What the headers say of a bucket holding `level` of `perMinute`. */
export function readingOf(level: number, perMinute: number): BucketReading {
  return { limit: perMinute, remaining: Math.max(0, Math.floor(level)), resetMs: msToRefill(level, perMinute, perMinute) };
}

/** The tighter of two readings: fewer remaining, then the longer reset. */
export function tighter(a: BucketReading | undefined, b: BucketReading): BucketReading {
  if (a === undefined) return b;
  if (b.remaining !== a.remaining) return b.remaining < a.remaining ? b : a;
  return b.resetMs > a.resetMs ? b : a;
}

/** The tightest requests and tokens buckets of the scopes. */
export function snapshotOf(scopes: readonly LimitScope[], levels: readonly ScopeLevels[]): RateLimitSnapshot {
  const snap: RateLimitSnapshot = {};
  scopes.forEach((scope, i) => {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = scope.limits;
    const { requests, tokens } = levels[i];
    if (rpm !== undefined && requests !== undefined) snap.requests = tighter(snap.requests, readingOf(requests, rpm));
    if (tpm !== undefined && tokens !== undefined) snap.tokens = tighter(snap.tokens, readingOf(tokens, tpm));
  });
  return snap;
}

/** When a requests bucket cannot give one request: the refusal naming the longest wait (its snapshot for the caller to fill). */
export function requestsRefusal(scopes: readonly LimitScope[], levels: readonly ScopeLevels[]): Refusal | undefined {
  let refusal: Refusal | undefined;
  scopes.forEach((scope, i) => {
    const rpm = scope.limits.requestsPerMinute;
    const level = levels[i].requests;
    if (rpm === undefined || level === undefined || level >= 1) return;
    const wait = msToRefill(level, 1, rpm);
    if (refusal === undefined || wait > (refusal.retryAfterMs ?? 0)) refusal = { ok: false, kind: 'requests', scope: scope.id, limit: rpm, retryAfterMs: wait, snapshot: {} };
  });
  return refusal;
}

/**
 * When `tokens` or a slot cannot be had: a tokens refusal (the one naming the longest wait) over a slot
 * refusal, since a slot may free at any moment (its snapshot for the caller to fill).
 */
export function workRefusal(scopes: readonly LimitScope[], levels: readonly ScopeLevels[], tokens: number): Refusal | undefined {
  let refusal: Refusal | undefined;
  scopes.forEach((scope, i) => {
    const { tokensPerMinute: tpm, concurrentRequests: max } = scope.limits;
    const { tokens: level, inFlight } = levels[i];
    // No bucket says when a slot frees: a second is the honest minimum to wait.
    if (max !== undefined && inFlight !== undefined && inFlight >= max && refusal === undefined) {
      refusal = { ok: false, kind: 'concurrency', scope: scope.id, limit: max, retryAfterMs: 1000, snapshot: {} };
    }
    if (tpm !== undefined && level !== undefined && level < tokens) {
      // A request larger than the whole bucket can never pass: no wait helps.
      const wait = tokens > tpm ? undefined : msToRefill(level, tokens, tpm);
      if (refusal === undefined || refusal.kind === 'concurrency' || (wait ?? Infinity) > (refusal.retryAfterMs ?? Infinity)) {
        refusal = { ok: false, kind: 'tokens', scope: scope.id, limit: tpm, retryAfterMs: wait, snapshot: {} };
      }
    }
  });
  return refusal;
}
