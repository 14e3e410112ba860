// Authentication (SPEC §3): `Authorization: Bearer <key>` only; the key is HMAC'd under the pepper and
// looked up by that hash. Lookups (found or not) are cached in process for at most `key_cache_ms` (≤ 1 s),
// so disabling a key takes effect within a second. Every 401 reads the same, whatever was wrong.
import { hashApiKey, looksLikeApiKey } from '../auth/key-material.js';
import { GatewayError } from '../openai/errors.js';
import type { LimitScope } from '../limits/limiter.js';
import type { BillingMode } from '../store/accounts.js';
import type { BudgetRule } from '../accounting/budgets.js';

export interface KeyIdentity {
  keyId: string;
  accountId: string;
  expiresAt: number | null;
  disabled: boolean;
  accountDisabled: boolean;
  allowedModels: readonly string[] | null;
  tier: string;
  accountLimits: Record<string, unknown> | null;
  keyLimits: Record<string, unknown> | null;
  /** The account's own billing mode (null: its tier's, then the config's). */
  billing: BillingMode | null;
  /** The account's budget and the key's, those that exist. */
  budgets: BudgetRule[];
}

/** Finds a key (and its account) by the key's HMAC; undefined when there is none. */
export type KeyLookup = (hash: string) => Promise<KeyIdentity | undefined>;

export interface Principal {
  keyId: string;
  accountId: string;
  allowedModels: ReadonlySet<string> | null;
  /** The limit scopes this caller's requests count against (account, and key when it has its own). */
  limits: readonly LimitScope[];
  billing: BillingMode;
  /** Budgets a priced request reserves against besides (prepaid) the balance. */
  budgets: readonly BudgetRule[];
}

/** The limit scopes of a key, from its account's tier and both overrides. */
export type ScopesOf = (identity: KeyIdentity) => LimitScope[];

const INVALID_KEY_MESSAGE = 'Invalid API key. Send a valid key as "Authorization: Bearer <key>".';
const MAX_CACHE_ENTRIES = 50_000;

interface CacheEntry {
  identity: KeyIdentity | undefined;
  principal: Principal | undefined;
  expiresAt: number;
}

/** The key of a well-formed `Bearer <key>` header, or undefined. */
function bearerKey(header: string, prefix: string): string | undefined {
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const key = header.slice(space + 1).trim();
  return looksLikeApiKey(key, prefix) ? key : undefined;
}

export function invalidKey(): GatewayError {
  return new GatewayError('invalid_api_key', INVALID_KEY_MESSAGE);
}

export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly pepper: string,
    private readonly keyPrefix: string,
    private readonly lookup: KeyLookup,
    private readonly cacheMs: number,
    private readonly scopesOf: ScopesOf = () => [],
    /** The billing mode of a key's account, from its own setting, its tier's and the config's. */
    private readonly billingOf: (identity: KeyIdentity) => BillingMode = (identity) => identity.billing ?? 'prepaid',
  ) {
    // Entries are keyed by the header, so they hold keys in the clear: expired ones are swept, not kept.
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [header, entry] of this.cache) if (entry.expiresAt <= now) this.cache.delete(header);
    }, 5_000);
    this.sweeper.unref();
  }

  /** The principal for an `Authorization` header, or a 401/403 GatewayError. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.length < 8 || header.length > 512) throw invalidKey();
    const now = Date.now();
    // Cached by the header itself (for at most key_cache_ms), so a repeat caller costs no HMAC.
    let entry = this.cache.get(header);
    if (entry === undefined || entry.expiresAt <= now) {
      const key = bearerKey(header, this.keyPrefix);
      if (key === undefined) throw invalidKey();
      entry = await this.lookupKey(key, now);
      if (this.cacheMs > 0) this.remember(header, entry);
    }
    const { identity, principal } = entry;
    if (identity === undefined || principal === undefined) throw invalidKey();
    if (identity.expiresAt !== null && identity.expiresAt <= now) throw invalidKey();
    if (identity.disabled) throw new GatewayError('key_disabled', 'This API key has been disabled.');
    if (identity.accountDisabled) throw new GatewayError('account_disabled', 'The account this API key belongs to has been disabled.');
    return principal;
  }

  private async lookupKey(key: string, now: number): Promise<CacheEntry> {
    let identity: KeyIdentity | undefined;
    try {
      identity = await this.lookup(hashApiKey(this.pepper, key));
    } catch (err) {
      // Not the caller's fault, and not a 401: the key may well be valid.
      throw new GatewayError('store_unavailable', 'Your API key cannot be checked right now (the gateway\'s database is unreachable); retry shortly.', { retryAfterMs: 1000, cause: err });
    }
    return {
      identity,
      principal: identity && {
        keyId: identity.keyId,
        accountId: identity.accountId,
        allowedModels: identity.allowedModels ? new Set(identity.allowedModels) : null,
        limits: this.scopesOf(identity),
        billing: this.billingOf(identity),
        budgets: identity.budgets,
      },
      expiresAt: now + this.cacheMs,
    };
  }

  /** Drops every cached identity: an admin change (key disabled, account disabled, new limits) applies now. */
  forgetAll(): void {
    this.cache.clear();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.cache.clear();
  }

  private remember(header: string, entry: CacheEntry): void {
    if (this.cache.size >= MAX_CACHE_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest tenth.
      let n = MAX_CACHE_ENTRIES / 10;
      for (const k of this.cache.keys()) {
        this.cache.delete(k);
        if (--n <= 0) break;
      }
    }
    this.cache.delete(header);
    this.cache.set(header, entry);
  }
}

/** 403 unless the key's allow-list (if any) names the model. */
export function authorizeModel(principal: Principal, modelId: string): void {
  if (principal.allowedModels !== null && !principal.allowedModels.has(modelId)) {
    throw new GatewayError('model_not_allowed', `This API key is not allowed to use the model "${modelId}".`, { param: 'model' });
  }
}
