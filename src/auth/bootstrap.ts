// First start and credentials: the pepper and the store's fingerprint of it, issuing keys (shown once), the
// default account and key of an empty store, and the generated admin token, whose HMAC alone is kept in the
// store's meta table.
import { join } from 'node:path';
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
/** Meta key under which the store keeps the fingerprint of the pepper its keys were made under. */
export const PEPPER_FINGERPRINT_META = 'pepper_fingerprint';
// What the fingerprint HMACs: a fixed label, so the stored value identifies the pepper without revealing it
// and cannot be mistaken for any key's hash.
const PEPPER_FINGERPRINT_LABEL = 'floodgate:pepper-fingerprint:v1';
export const DEFAULT_ACCOUNT_NAME = 'default';
export const DEFAULT_KEY_NAME = 'default';

/**
 * The HMAC pepper: `auth.pepper` from the config (or read from `auth.pepper_file`), else one generated into
 * the data directory (0600).
 * Instances sharing a PostgreSQL store must share the pepper, so they set it in the config.
 */
export function resolvePepper(config: Config): string {
  return config.auth.pepper ?? loadOrCreateSecret(config.dataDir, PEPPER_FILE);
}

/** Where this start's pepper comes from, in the words an operator would look for. */
export function describePepperSource(config: Config): string {
  if (config.auth.pepperFile !== undefined) return `auth.pepper_file ${config.auth.pepperFile}`;
  return config.auth.pepper !== undefined ? 'auth.pepper in the config' : `the generated file ${join(config.dataDir, PEPPER_FILE)}`;
}

export function pepperFingerprint(pepper: string): string {
  return hashApiKey(pepper, PEPPER_FINGERPRINT_LABEL);
}

/**
 * The store was prepared under another pepper: serving would reject every key and the generated admin
 * token without saying why, so the start is refused (exit 2) with the way back.
 */
export class PepperMismatchError extends Error {
  override name = 'PepperMismatchError';
  constructor(config: Config) {
    super(
      `the store was prepared with a different key pepper than this start's (${describePepperSource(config)}). ` +
        'Every API key and the generated admin token are HMACs under the pepper the store was made with, so none of them would verify: refusing to serve. ' +
        'To recover, start again with the pepper used before (the same auth.pepper value, auth.pepper_file content, or data_dir/pepper file). ' +
        'If that pepper is lost, so are the keys made under it: `floodgate admin-token --rotate --adopt-pepper` (same --config and --data-dir) makes the store take this pepper and prints a new admin token; then issue new keys.',
    );
  }
}

/**
 * What `checkPepper` found: the fingerprint `matched`; was `recorded` on a new store; or was recorded on a
 * store that already held credentials (`recorded-existing`: made before stores kept the fingerprint).
 */
export type PepperCheck = 'matched' | 'recorded' | 'recorded-existing';

/**
 * Compares this start's pepper with the fingerprint in the store, recording it when the store has none.
 * Throws PepperMismatchError when they differ. Safe under races: of two starts recording at once, the
 * second compares against the first's.
 */
export async function checkPepper(store: Store, config: Config, pepper: string): Promise<PepperCheck> {
  const fingerprint = pepperFingerprint(pepper);
  const stored = await store.meta.get(PEPPER_FINGERPRINT_META);
  if (stored !== undefined) {
    if (!safeEqual(stored, fingerprint)) throw new PepperMismatchError(config);
    return 'matched';
  }
  // Asked before recording: whether credentials exist that the fingerprint now vouches for.
  const existing = (await store.accounts.count()) > 0 || (await store.meta.get(ADMIN_TOKEN_HASH_META)) !== undefined;
  if (!(await store.meta.setIfAbsent(PEPPER_FINGERPRINT_META, fingerprint))) return checkPepper(store, config, pepper);
  return existing ? 'recorded-existing' : 'recorded';
}

/**
 * Makes the store take `pepper` for good (the operator lost the old one): records its fingerprint. Keys
 * made under the old pepper stay listed but never verify again.
 */
export async function adoptPepper(store: Store, pepper: string): Promise<void> {
  await store.meta.set(PEPPER_FINGERPRINT_META, pepperFingerprint(pepper));
}

/** Replaces the generated admin token: the old one stops working; the new one is returned, to print once. */
export async function rotateAdminToken(store: Store, pepper: string): Promise<string> {
  const token = generateAdminToken();
  await store.meta.set(ADMIN_TOKEN_HASH_META, hashApiKey(pepper, token));
  return token;
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
 * Prepares a store for its use: checks the pepper against the store's fingerprint (PepperMismatchError when
 * it differs; `notice` hears of a fingerprint first recorded on an existing store). On a store with no
 * accounts it creates account `default` with one key `default`; without a configured admin token it
 * generates one. Each credential is returned only by the call that created it, for the caller to print once.
 */
export async function bootstrapStore(
  store: Store,
  config: Config,
  pepper: string,
  notice: (message: string) => void = () => {},
): Promise<{ apiKey?: string; adminToken?: string }> {
  const result: { apiKey?: string; adminToken?: string } = {};
  if ((await checkPepper(store, config, pepper)) === 'recorded-existing') {
    notice(`this store had no fingerprint of its key pepper yet: recorded the fingerprint of ${describePepperSource(config)}; a later start with another pepper is refused`);
  }

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
