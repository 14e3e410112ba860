// The in-process limiter (embedded default, one instance): token buckets and slot counters in a Map.
// Everything a call decides happens synchronously, so it is atomic by construction. Idle scopes (full
// buckets, no slot held) are swept so the map holds only recent callers.
import type { BucketReading, Lease, LimitScope, LimitValues, Limiter, RateLimitSnapshot, Refusal, RequestAdmission, WorkAdmission } from './limiter.js';

const MINUTE_MS = 60_000;
const SWEEP_MS = 30_000;

interface Bucket {
  /** Tokens in the bucket at `at` (may go below zero when usage exceeded its estimate). */
  level: number;
  at: number;
}

interface ScopeState {
  requests: Bucket;
  tokens: Bucket;
  inFlight: number;
  /** The limits last seen for the scope: a changed capacity applies from now on. */
  limits: LimitValues;
}

/** A bucket of `perMinute` refilled continuously, read at `now`. */
function levelAt(bucket: Bucket, perMinute: number, now: number): number {
  const refilled = bucket.level + ((now - bucket.at) * perMinute) / MINUTE_MS;
  return refilled >= perMinute ? perMinute : refilled;
}

function refill(bucket: Bucket, perMinute: number, now: number): void {
  bucket.level = levelAt(bucket, perMinute, now);
  bucket.at = now;
}

export function msToRefill(level: number, target: number, perMinute: number): number {
  return level >= target ? 0 : Math.ceil(((target - level) * MINUTE_MS) / perMinute);
}

/** What the headers say of a bucket holding `level` of `perMinute`. */
export function readingOf(level: number, perMinute: number): BucketReading {
  return { limit: perMinute, remaining: Math.max(0, Math.floor(level)), resetMs: msToRefill(level, perMinute, perMinute) };
}

function reading(bucket: Bucket, perMinute: number, now: number): BucketReading {
  return readingOf(levelAt(bucket, perMinute, now), perMinute);
}

/** The tighter of two readings: fewer remaining, then the longer reset. */
export function tighter(a: BucketReading | undefined, b: BucketReading): BucketReading {
  if (a === undefined) return b;
  if (b.remaining !== a.remaining) return b.remaining < a.remaining ? b : a;
  return b.resetMs > a.resetMs ? b : a;
}

export class MemoryLimiter implements Limiter {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  private state(scope: LimitScope, now: number): ScopeState {
    let s = this.scopes.get(scope.id);
    if (s === undefined) {
      // A new scope starts with full buckets.
      s = {
        requests: { level: scope.limits.requestsPerMinute ?? 0, at: now },
        tokens: { level: scope.limits.tokensPerMinute ?? 0, at: now },
        inFlight: 0,
        limits: scope.limits,
      };
      this.scopes.set(scope.id, s);
    } else s.limits = scope.limits;
    return s;
  }

  private snapshot(scopes: readonly LimitScope[], now: number): RateLimitSnapshot {
    const snap: RateLimitSnapshot = {};
    for (const scope of scopes) {
      const s = this.scopes.get(scope.id);
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = scope.limits;
      if (rpm !== undefined) snap.requests = tighter(snap.requests, s ? reading(s.requests, rpm, now) : { limit: rpm, remaining: rpm, resetMs: 0 });
      if (tpm !== undefined) snap.tokens = tighter(snap.tokens, s ? reading(s.tokens, tpm, now) : { limit: tpm, remaining: tpm, resetMs: 0 });
    }
    return snap;
  }

  takeRequest(scopes: readonly LimitScope[]): Promise<RequestAdmission> {
    const now = this.clock();
    let refusal: Refusal | undefined;
    for (const scope of scopes) {
      const rpm = scope.limits.requestsPerMinute;
      if (rpm === undefined) continue;
      const s = this.state(scope, now);
      refill(s.requests, rpm, now);
      if (s.requests.level < 1) {
        const wait = msToRefill(s.requests.level, 1, rpm);
        if (refusal === undefined || wait > (refusal.retryAfterMs ?? 0)) refusal = { ok: false, kind: 'requests', scope: scope.id, limit: rpm, retryAfterMs: wait, snapshot: {} };
      }
    }
    if (refusal !== undefined) {
      refusal.snapshot = this.snapshot(scopes, now);
      return Promise.resolve(refusal);
    }
    for (const scope of scopes) if (scope.limits.requestsPerMinute !== undefined) this.scopes.get(scope.id)!.requests.level -= 1;
    return Promise.resolve({ ok: true, snapshot: this.snapshot(scopes, now) });
  }

  admitWork(scopes: readonly LimitScope[], tokens: number): Promise<WorkAdmission> {
    const now = this.clock();
    let refusal: Refusal | undefined;
    let slot = false;
    for (const scope of scopes) {
      const { tokensPerMinute: tpm, concurrentRequests: max } = scope.limits;
      if (tpm === undefined && max === undefined) continue;
      const s = this.state(scope, now);
      if (max !== undefined) {
        slot = true;
        // No bucket says when a slot frees: a second is the honest minimum to wait.
        if (s.inFlight >= max && refusal === undefined) refusal = { ok: false, kind: 'concurrency', scope: scope.id, limit: max, retryAfterMs: 1000, snapshot: {} };
      }
      if (tpm !== undefined) {
        refill(s.tokens, tpm, now);
        if (s.tokens.level < tokens) {
          // A request larger than the whole bucket can never pass: no wait helps.
          const wait = tokens > tpm ? undefined : msToRefill(s.tokens.level, tokens, tpm);
          if (refusal === undefined || refusal.kind === 'concurrency' || (wait ?? Infinity) > (refusal.retryAfterMs ?? Infinity)) {
            refusal = { ok: false, kind: 'tokens', scope: scope.id, limit: tpm, retryAfterMs: wait, snapshot: {} };
          }
        }
      }
    }
    if (refusal !== undefined) {
      refusal.snapshot = this.snapshot(scopes, now);
      return Promise.resolve(refusal);
    }
    for (const scope of scopes) {
      const s = this.scopes.get(scope.id);
      if (s === undefined) continue;
      if (scope.limits.tokensPerMinute !== undefined) s.tokens.level -= tokens;
      if (scope.limits.concurrentRequests !== undefined) s.inFlight += 1;
    }
    const lease: Lease = { scopes, tokens, slot, finished: false };
    return Promise.resolve({ ok: true, lease, snapshot: this.snapshot(scopes, now) });
  }

  finish(lease: Lease, usedTokens: number): Promise<void> {
    if (lease.finished) return Promise.resolve();
    lease.finished = true;
    const now = this.clock();
    const unused = lease.tokens - usedTokens;
    for (const scope of lease.scopes) {
      const s = this.scopes.get(scope.id);
      if (s === undefined) continue;
      if (scope.limits.concurrentRequests !== undefined && s.inFlight > 0) s.inFlight -= 1;
      const tpm = scope.limits.tokensPerMinute;
      if (tpm !== undefined && unused !== 0) {
        refill(s.tokens, tpm, now);
        s.tokens.level = Math.min(tpm, s.tokens.level + unused);
      }
    }
    return Promise.resolve();
  }

  peek(scopes: readonly LimitScope[]): Promise<RateLimitSnapshot> {
    return Promise.resolve(this.snapshot(scopes, this.clock()));
  }

  private sweep(): void {
    const now = this.clock();
    for (const [id, s] of this.scopes) {
      if (s.inFlight > 0) continue;
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = s.limits;
      const full = (rpm === undefined || levelAt(s.requests, rpm, now) >= rpm) && (tpm === undefined || levelAt(s.tokens, tpm, now) >= tpm);
      if (full) this.scopes.delete(id);
    }
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.scopes.clear();
    return Promise.resolve();
  }
}
