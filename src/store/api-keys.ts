// API keys: only the HMAC of a key is stored (SPEC §3), with its hint, owner, expiry, allow-list and
// limits. `findKeyByHash` is the authentication hot path: one indexed, joined query.
import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import { randomBase62 } from '../auth/key-material.js';
import { isUniqueViolation, toNumber, type ApiKeysTable, type Database } from './database.js';
import type { AccountRecord, AccountStatus, BillingMode } from './accounts.js';
import type { BudgetRecord } from './budgets.js';
import type { BudgetPeriod } from '../accounting/budget-period.js';
import { AlreadyExistsError, parseJsonObject, parseStringArray, type JsonObject } from './store.js';

export interface ApiKeyRecord {
  id: string;
  accountId: string;
  name: string | null;
  /** `fk-ab12…9xYz`: enough to recognise a key, not to use it. */
  hint: string;
  createdAt: number;
  /** Milliseconds since the epoch; the key stops working at this instant. */
  expiresAt: number | null;
  disabledAt: number | null;
  /** Model ids the key may call; null = every model. */
  allowedModels: string[] | null;
  limits: JsonObject | null;
  lastUsedAt: number | null;
}

export interface NewApiKey {
  accountId: string;
  /** `hashApiKey(pepper, key)`: the caller generates the key and shows it once. */
  keyHash: string;
  hint: string;
  name?: string | null;
  expiresAt?: number | null;
  allowedModels?: string[] | null;
  limits?: JsonObject | null;
}

export interface KeyWithAccount {
  key: ApiKeyRecord;
  account: AccountRecord;
  /** The account's budget and the key's, those that exist (account first). */
  budgets: BudgetRecord[];
}

export type ApiKeyStatus = 'active' | 'disabled' | 'expired';

export interface ApiKeyRepository {
  /** Throws AlreadyExistsError on a duplicate hash; the account must exist. */
  create(input: NewApiKey, now?: number): Promise<ApiKeyRecord>;
  /** Oldest first; every key, or one account's. */
  list(filter?: { accountId?: string }): Promise<ApiKeyRecord[]>;
  getById(id: string): Promise<ApiKeyRecord | undefined>;
  /** Sets `disabled_at` (the first time only); undefined when there is no such key. */
  disable(id: string, now?: number): Promise<ApiKeyRecord | undefined>;
  /** Clears `disabled_at`; undefined when there is no such key. */
  enable(id: string): Promise<ApiKeyRecord | undefined>;
  /** False when there was no such key. */
  delete(id: string): Promise<boolean>;
  /** The key with this hash and its account, in one query; undefined when unknown. */
  findKeyByHash(keyHash: string): Promise<KeyWithAccount | undefined>;
  /** Records use off the hot path (batched by the caller). */
  touchLastUsed(ids: readonly string[], at: number): Promise<void>;
}

export const API_KEY_ID_PREFIX = 'key_';

export function newApiKeyId(): string {
  return API_KEY_ID_PREFIX + randomBase62(20);
}

/** Disabled wins over expired: it is the deliberate act. A key is expired from `expiresAt` on. */
export function apiKeyStatus(key: Pick<ApiKeyRecord, 'disabledAt' | 'expiresAt'>, now = Date.now()): ApiKeyStatus {
  if (key.disabledAt !== null) return 'disabled';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  return 'active';
}

export function toApiKeyRecord(row: Omit<Selectable<ApiKeysTable>, 'key_hash'>): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    hint: row.hint,
    createdAt: toNumber(row.created_at),
    expiresAt: toNumber(row.expires_at),
    disabledAt: toNumber(row.disabled_at),
    allowedModels: parseStringArray(row.allowed_models),
    limits: parseJsonObject(row.limits),
    lastUsedAt: toNumber(row.last_used_at),
  };
}

/** Every column but the hash: nothing outside authentication needs it. */
const KEY_COLUMNS = [
  'id',
  'account_id',
  'name',
  'hint',
  'created_at',
  'expires_at',
  'disabled_at',
  'allowed_models',
  'limits',
  'last_used_at',
] as const;

/** The row `findKeyByHash` reads: key columns as is, account columns prefixed `a_`. */
interface KeyAccountRow extends Omit<Selectable<ApiKeysTable>, 'key_hash'> {
  a_name: string;
  a_tier: string;
  a_status: AccountStatus;
  a_balance_micros: number | string;
  a_limits: string | null;
  a_billing: BillingMode | null;
  a_created_at: number | string;
  // The account's budget (`ba_`) and the key's (`bk_`), null where there is none.
  ba_limit: number | string | null;
  ba_soft: number | string | null;
  ba_period: BudgetPeriod | null;
  ba_reset: number | string | null;
  ba_zone: string | null;
  ba_created: number | string | null;
  ba_updated: number | string | null;
  bk_limit: number | string | null;
  bk_soft: number | string | null;
  bk_period: BudgetPeriod | null;
  bk_reset: number | string | null;
  bk_zone: string | null;
  bk_created: number | string | null;
  bk_updated: number | string | null;
}

/** A budget from the joined row's `ba_` or `bk_` columns, or undefined when the join found none. */
function joinedBudget(row: KeyAccountRow, prefix: 'ba' | 'bk'): BudgetRecord | undefined {
  const limit = row[`${prefix}_limit`];
  if (limit === null) return undefined;
  const account = prefix === 'ba';
  return {
    ownerId: account ? row.account_id : row.id,
    scope: account ? 'account' : 'key',
    accountId: row.account_id,
    limitMicros: toNumber(limit),
    softLimitMicros: toNumber(row[`${prefix}_soft`]),
    period: row[`${prefix}_period`]!,
    resetMinutes: toNumber(row[`${prefix}_reset`]!),
    timeZone: row[`${prefix}_zone`]!,
    createdAt: toNumber(row[`${prefix}_created`]!),
    updatedAt: toNumber(row[`${prefix}_updated`]!),
  };
}


function compileFindKeyByHash(db: Kysely<Database>): CompiledQuery<KeyAccountRow> {
  const compiled = db
    .selectFrom('api_keys as k')
    .innerJoin('accounts as a', 'a.id', 'k.account_id')
    .leftJoin('budgets as ba', 'ba.owner_id', 'k.account_id')
    .leftJoin('budgets as bk', 'bk.owner_id', 'k.id')
    .select([
      'k.id',
      'k.account_id',
      'k.name',
      'k.hint',
      'k.created_at',
      'k.expires_at',
      'k.disabled_at',
      'k.allowed_models',
      'k.limits',
      'k.last_used_at',
      'a.name as a_name',
      'a.tier as a_tier',
      'a.status as a_status',
      'a.balance_micros as a_balance_micros',
      'a.limits as a_limits',
      'a.billing as a_billing',
      'a.created_at as a_created_at',
      'ba.limit_micros as ba_limit',
      'ba.soft_limit_micros as ba_soft',
      'ba.period as ba_period',
      'ba.reset_minutes as ba_reset',
      'ba.time_zone as ba_zone',
      'ba.created_at as ba_created',
      'ba.updated_at as ba_updated',
      'bk.limit_micros as bk_limit',
      'bk.soft_limit_micros as bk_soft',
      'bk.period as bk_period',
      'bk.reset_minutes as bk_reset',
      'bk.time_zone as bk_zone',
      'bk.created_at as bk_created',
      'bk.updated_at as bk_updated',
    ])
    .where('k.key_hash', '=', '')
    .compile();
  // The hash must be the query's only parameter: findKeyByHash swaps it in.
  if (compiled.parameters.length !== 1) throw new Error('findKeyByHash: expected exactly one query parameter');
  return compiled;
}

export function apiKeysRepository(db: Kysely<Database>): ApiKeyRepository {
  // Built once: per call only the parameter changes, so the hot path skips query building and
  // compilation (about half its cost on SQLite).
  const findByHash = compileFindKeyByHash(db);

  const getById = async (id: string) => {
    const row = await db.selectFrom('api_keys').select(KEY_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toApiKeyRecord(row);
  };

  return {
    async create(input, now = Date.now()) {
      const row = {
        id: newApiKeyId(),
        account_id: input.accountId,
        name: input.name ?? null,
        key_hash: input.keyHash,
        hint: input.hint,
        created_at: now,
        expires_at: input.expiresAt ?? null,
        disabled_at: null,
        allowed_models: input.allowedModels ? JSON.stringify(input.allowedModels) : null,
        limits: input.limits ? JSON.stringify(input.limits) : null,
        last_used_at: null,
      };
      try {
        await db.insertInto('api_keys').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new AlreadyExistsError('an API key with this hash already exists', { cause: err });
        throw err;
      }
      return toApiKeyRecord(row);
    },
    async list(filter = {}) {
      let query = db.selectFrom('api_keys').select(KEY_COLUMNS);
      if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toApiKeyRecord);
    },
    getById,
    async disable(id, now = Date.now()) {
      await db.updateTable('api_keys').set({ disabled_at: now }).where('id', '=', id).where('disabled_at', 'is', null).execute();
      return getById(id);
    },
    async enable(id) {
      await db.updateTable('api_keys').set({ disabled_at: null }).where('id', '=', id).execute();
      return getById(id);
    },
    async delete(id) {
      const result = await db.deleteFrom('api_keys').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async findKeyByHash(keyHash) {
      const { rows } = await db.executeQuery<KeyAccountRow>({ ...findByHash, parameters: [keyHash] });
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        key: toApiKeyRecord(row),
        account: {
          id: row.account_id,
          name: row.a_name,
          tier: row.a_tier,
          status: row.a_status,
          balanceMicros: toNumber(row.a_balance_micros),
          limits: parseJsonObject(row.a_limits),
          billing: row.a_billing ?? null,
          createdAt: toNumber(row.a_created_at),
        },
        budgets: [joinedBudget(row, 'ba'), joinedBudget(row, 'bk')].filter((b) => b !== undefined),
      };
    },
    async touchLastUsed(ids, at) {
      if (ids.length === 0) return;
      await db.updateTable('api_keys').set({ last_used_at: at }).where('id', 'in', [...ids]).execute();
    },
  };
}
