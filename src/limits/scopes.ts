// Which limits apply to a caller (SPEC §9): the account's tier from the config, overridden figure by
// figure by the account's own limits; a key with limits of its own adds a second scope, never looser
// than its account's (each figure is the smaller of the two).
import type { LimitValuesConfig } from '../config/schema.js';
import type { LimitScope, LimitValues } from './limiter.js';

export interface LimitsConfig {
  defaultTier: string;
  tiers: Record<string, LimitValuesConfig>;
}

/** Overrides as stored (JSON in the accounts / api_keys rows): only known, positive integer figures count. */
function fromConfig(values: Record<string, unknown> | null | undefined): LimitValues {
  const out: LimitValues = {};
  if (!values) return out;
  const figure = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
  const rpm = figure(values.requests_per_minute);
  const tpm = figure(values.tokens_per_minute);
  const slots = figure(values.concurrent_requests);
  if (rpm !== undefined) out.requestsPerMinute = rpm;
  if (tpm !== undefined) out.tokensPerMinute = tpm;
  if (slots !== undefined) out.concurrentRequests = slots;
  return out;
}

function tighterOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The account's limits: its tier (the default tier when the config no longer has it), then its overrides. */
export function accountLimits(config: LimitsConfig, tier: string, overrides: Record<string, unknown> | null): LimitValues {
  const base = fromConfig(config.tiers[tier] ?? config.tiers[config.defaultTier]);
  return { ...base, ...fromConfig(overrides) };
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
  const own = fromConfig(owner.keyOverrides);
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
