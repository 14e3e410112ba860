// The rate-limit headers of SPEC §9, OpenAI's names and formats: counts as integers, resets as
// durations (`20ms`, `1s`, `6m0s`, `1h2m3.5s`).
import type { RateLimitSnapshot } from './limiter.js';
import { formatMicros } from '../admin/money.js';

/**
 * What the tightest budget on the request (the account's or the key's) has left once its maximum cost is
 * held, in currency units (`0.954000`); absent when no budget applies or the request is free.
 */
export function budgetHeaders(remainingMicros: number | undefined): Record<string, string> | undefined {
  return remainingMicros === undefined ? undefined : { 'x-floodgate-budget-remaining': formatMicros(Math.max(0, remainingMicros)) };
}

/** A duration the way OpenAI (and Go) write it. */
export function formatResetDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const s = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, '')}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

export function rateLimitHeaders(snapshot: RateLimitSnapshot): Record<string, string> {
  const headers: Record<string, string> = {};
  const { requests, tokens } = snapshot;
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit);
    headers['x-ratelimit-remaining-requests'] = String(requests.remaining);
    headers['x-ratelimit-reset-requests'] = formatResetDuration(requests.resetMs);
  }
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit);
    headers['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    headers['x-ratelimit-reset-tokens'] = formatResetDuration(tokens.resetMs);
  }
  return headers;
}
