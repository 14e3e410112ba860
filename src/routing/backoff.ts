// Waits that grow (SPEC §7): retries of a deployment and trials of an open breaker back off
// exponentially, with "equal jitter" — half the wait fixed, half random — so that many requests or many
// instances that failed together do not come back together.

/** `baseMs × 2^n`, capped at `maxMs`, then drawn from [half, all] of it. */
export function backoffMs(baseMs: number, n: number, maxMs = Number.POSITIVE_INFINITY): number {
  const full = Math.min(baseMs * 2 ** n, maxMs);
  return full / 2 + Math.random() * (full / 2);
}
