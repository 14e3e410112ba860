// The in-process limiter (embedded default, one instance): token buckets and slot counters in a Map.
// Everything a call decides happens synchronously, so it is atomic by construction. Idle scopes (full
// buckets, no slot held) are swept so the map holds only recent callers.
import { MINUTE_MS, requestsRefusal, snapshotOf, workRefusal, type ScopeLevels } from './buckets.js';
import type { Lease, LimitScope, LimitValues, Limiter, RateLimitSnapshot, RequestAdmission, WorkAdmission } from './limiter.js';

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

  /** What each scope's buckets hold at `now` (full when the scope is new) and its slots in use. */
  private levels(scopes: readonly LimitScope[], now: number): ScopeLevels[] {
    return scopes.map((scope) => {
      const s = this.scopes.get(scope.id);
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = scope.limits;
      return {
        requests: rpm === undefined ? undefined : s ? levelAt(s.requests, rpm, now) : rpm,
        tokens: tpm === undefined ? undefined : s ? levelAt(s.tokens, tpm, now) : tpm,
        inFlight: s?.inFlight ?? 0,
      };
    });
  }

  private snapshot(scopes: readonly LimitScope[], now: number): RateLimitSnapshot {
    return snapshotOf(scopes, this.levels(scopes, now));
  }

  takeRequest(scopes: readonly LimitScope[]): Promise<RequestAdmission> {
    const now = this.clock();
    for (const scope of scopes) {
      const rpm = scope.limits.requestsPerMinute;
      if (rpm !== undefined) refill(this.state(scope, now).requests, rpm, now);
    }
    const refusal = requestsRefusal(scopes, this.levels(scopes, now));
    if (refusal !== undefined) {
      refusal.snapshot = this.snapshot(scopes, now);
      return Promise.resolve(refusal);
    }
    for (const scope of scopes) if (scope.limits.requestsPerMinute !== undefined) this.scopes.get(scope.id)!.requests.level -= 1;
    return Promise.resolve({ ok: true, snapshot: this.snapshot(scopes, now) });
  }

  admitWork(scopes: readonly LimitScope[], tokens: number): Promise<WorkAdmission> {
    const now = this.clock();
    let slot = false;
    for (const scope of scopes) {
      const { tokensPerMinute: tpm, concurrentRequests: max } = scope.limits;
      if (tpm === undefined && max === undefined) continue;
      const s = this.state(scope, now);
      if (max !== undefined) slot = true;
      if (tpm !== undefined) refill(s.tokens, tpm, now);
    }
    const refusal = workRefusal(scopes, this.levels(scopes, now), tokens);
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
