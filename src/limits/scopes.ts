// Which limits apply to a caller (SPEC §9): the account's tier from the config, overridden figure by
// figure by the account's own limits; a key with limits of its own adds a second scope, never looser
// than its account's (each figure is the smaller of the two).
import type { LimitValuesConfig } from '../config/schema.js';
import type { LimitScope, LimitValues } from './limiter.js';

export interface LimitsConfig {
  defaultTier: string;
  tiers: Record<string, LimitValuesConfig>;
}

const FIGURES = ['requests_per_minute', 'tokens_per_minute', 'concurrent_requests'] as const;

/** Only known, positive integer figures count (overrides are stored as JSON in the accounts / api_keys rows). */
function figuresOf(values: Record<string, unknown> | null | undefined): LimitValuesConfig {
  const out: LimitValuesConfig = {};
  if (!values) return out;
  for (const field of FIGURES) {
    const v = values[field];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) out[field] = v;
  }
  return out;
}

function toLimitValues(values: LimitValuesConfig): LimitValues {
  const out: LimitValues = {};
  if (values.requests_per_minute !== undefined) out.requestsPerMinute = values.requests_per_minute;
  if (values.tokens_per_minute !== undefined) out.tokensPerMinute = values.tokens_per_minute;
  if (values.concurrent_requests !== undefined) out.concurrentRequests = values.concurrent_requests;
  return out;
}

function tighterOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * The account's limits in the config's terms: its tier (the default tier when the config no longer has
 * it), then its overrides, figure by figure. The admin surface shows these; the limiter gets `accountLimits`.
 */
export function accountLimitFigures(config: LimitsConfig, tier: string, overrides: Record<string, unknown> | null): LimitValuesConfig {
  return { ...figuresOf(config.tiers[tier] ?? config.tiers[config.defaultTier]), ...figuresOf(overrides) };
}

export function accountLimits(config: LimitsConfig, tier: string, overrides: Record<string, unknown> | null): LimitValues {
  return toLimitValues(accountLimitFigures(config, tier, overrides));
}

export interface ScopeOwner {
  accountId: string;
  tier: string;
  accountOverrides: Record<string, unknown> | null;
  keyId: string;
  keyOverrides: Record<string, unknown> | null;
}

export function limitScopes(config: LimitsConfig, owner: ScopeOwner): LimitScope[] {
  const account = accountLimits(config, owner.tier, owner.accountOverrides);
  const scopes: LimitScope[] = [];
  if (Object.keys(account).length > 0) scopes.push({ id: `acct:${owner.accountId}`, limits: account });
  const own = toLimitValues(figuresOf(owner.keyOverrides));
  if (Object.keys(own).length > 0) {
    scopes.push({
      id: `key:${owner.keyId}`,
      limits: {
        requestsPerMinute: tighterOf(own.requestsPerMinute, account.requestsPerMinute),
        tokensPerMinute: tighterOf(own.tokensPerMinute, account.tokensPerMinute),
        concurrentRequests: tighterOf(own.concurrentRequests, account.concurrentRequests),
      },
    });
  }
  return scopes;
}
