// First start and credentials: the pepper, issuing keys (shown once), the default account and key of an
// empty store, and the generated admin token, whose HMAC alone is kept in the store's meta table.
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import type { ApiKeyRecord, ApiKeyRepository, NewApiKey } from '../store/api-keys.js';
import { accountsRepository } from '../store/accounts.js';
import { apiKeysRepository } from '../store/api-keys.js';
import { isUniqueViolation } from '../store/database.js';
import { AlreadyExistsError } from '../store/store.js';
import { generateAdminToken, generateApiKey, hashApiKey, keyHint, loadOrCreateSecret, safeEqual } from './key-material.js';

/** File in the data directory holding the generated pepper when the config sets none. */
export const PEPPER_FILE = 'pepper';
/** Meta key under which the generated admin token's HMAC is stored. */
export const ADMIN_TOKEN_HASH_META = 'admin_token_hash';
export const DEFAULT_ACCOUNT_NAME = 'default';
export const DEFAULT_KEY_NAME = 'default';

/**
 * The HMAC pepper: `auth.pepper` from the config, else one generated into the data directory (0600).
 * Instances sharing a PostgreSQL store must share the pepper, so they set it in the config.
 */
export function resolvePepper(config: Config): string {
  return config.auth.pepper ?? loadOrCreateSecret(config.dataDir, PEPPER_FILE);
}

export interface IssuedApiKey {
  /** The key itself: shown to its owner once, never stored. */
  apiKey: string;
  record: ApiKeyRecord;
}

/** Generates a key for an account, stores its HMAC and hint, and returns the key (once). */
export async function issueApiKey(
  keys: ApiKeyRepository,
  prefix: string,
  pepper: string,
  input: Omit<NewApiKey, 'keyHash' | 'hint'>,
  now = Date.now(),
): Promise<IssuedApiKey> {
  const apiKey = generateApiKey(prefix);
  const record = await keys.create({ ...input, keyHash: hashApiKey(pepper, apiKey), hint: keyHint(apiKey, prefix) }, now);
  return { apiKey, record };
}

/**
 * Prepares a store for its first use. On a store with no accounts it creates account `default` with one
 * key `default`; without a configured admin token it generates one. Each credential is returned only by
 * the call that created it, for the caller to print once.
 */
export async function bootstrapStore(store: Store, config: Config, pepper: string): Promise<{ apiKey?: string; adminToken?: string }> {
  const result: { apiKey?: string; adminToken?: string } = {};

  if ((await store.accounts.count()) === 0) {
    try {
      // One transaction: a crash between account and key must not leave an account whose key nobody saw.
      const created = await store.db.transaction().execute(async (trx) => {
        const account = await accountsRepository(trx).create({ name: DEFAULT_ACCOUNT_NAME, tier: config.limits.defaultTier });
        const { apiKey } = await issueApiKey(apiKeysRepository(trx), config.auth.keyPrefix, pepper, {
          accountId: account.id,
          name: DEFAULT_KEY_NAME,
        });
        return { apiKey, accountId: account.id };
      });
      result.apiKey = created.apiKey;
      if (config.billing.initialCreditMicros > 0) {
        await store.ledger.record({
          accountId: created.accountId,
          kind: 'credit',
          amountMicros: config.billing.initialCreditMicros,
          reason: 'initial credit (billing.initial_credit)',
          actor: 'system:first-start',
        });
      }
    } catch (err) {
      // Another process bootstrapped the same store a moment ago: its key is the first one, not ours.
      if (!(err instanceof AlreadyExistsError) && !isUniqueViolation(err)) throw err;
    }
  }

  if (config.auth.adminToken === undefined) {
    if ((await store.meta.get(ADMIN_TOKEN_HASH_META)) === undefined) {
      const token = generateAdminToken();
      if (await store.meta.setIfAbsent(ADMIN_TOKEN_HASH_META, hashApiKey(pepper, token))) result.adminToken = token;
    }
  }
  return result;
}

/** Whether `token` is the admin token: the configured one (constant time), else the generated one's HMAC. */
export async function verifyAdminToken(store: Store, config: Config, pepper: string, token: string): Promise<boolean> {
  if (config.auth.adminToken !== undefined) return safeEqual(token, config.auth.adminToken);
  const stored = await store.meta.get(ADMIN_TOKEN_HASH_META);
  if (stored === undefined) return false;
  return safeEqual(hashApiKey(pepper, token), stored);
}
