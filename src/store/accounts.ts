// Accounts: who owns keys, which tier's limits apply, whether they may use the API, and their balance.
import type { Kysely, Selectable } from 'kysely';
import { randomBase62 } from '../auth/key-material.js';
import { isUniqueViolation, toNumber, type AccountsTable, type Database } from './database.js';
import { AlreadyExistsError, parseJsonObject, type JsonObject } from './store.js';

export type AccountStatus = 'active' | 'disabled';

/** Prepaid: requests reserve against the balance, costs are debited. Postpaid: costs are recorded only (SPEC §10). */
export type BillingMode = 'prepaid' | 'postpaid';
export const BILLING_MODES: readonly BillingMode[] = ['prepaid', 'postpaid'];

export interface AccountRecord {
  id: string;
  name: string;
  tier: string;
  status: AccountStatus;
  /** Integer micro-units of the account's currency (1 USD = 1,000,000). */
  balanceMicros: number;
  limits: JsonObject | null;
  /** The account's own billing mode; null follows its tier's, then the config's. */
  billing: BillingMode | null;
  createdAt: number;
}

export interface NewAccount {
  name: string;
  tier?: string;
  limits?: JsonObject | null;
}

export interface AccountRepository {
  /** Throws AlreadyExistsError when the name is taken. */
  create(input: NewAccount, now?: number): Promise<AccountRecord>;
  /** Oldest first. */
  list(): Promise<AccountRecord[]>;
  count(): Promise<number>;
  getById(id: string): Promise<AccountRecord | undefined>;
  getByName(name: string): Promise<AccountRecord | undefined>;
  /** By id first, then by name: what a CLI or admin caller typed. */
  findByIdOrName(idOrName: string): Promise<AccountRecord | undefined>;
  /** The updated account, or undefined when there is no such account. */
  setStatus(id: string, status: AccountStatus): Promise<AccountRecord | undefined>;
  setTier(id: string, tier: string): Promise<AccountRecord | undefined>;
  /** Replaces the account's limit overrides (null clears them). */
  setLimits(id: string, limits: JsonObject | null): Promise<AccountRecord | undefined>;
  /** Sets the account's own billing mode (null: follow its tier's). */
  setBilling(id: string, billing: BillingMode | null): Promise<AccountRecord | undefined>;
  /** Current balances (micro-units) of the accounts that exist among `ids`. */
  balances(ids: readonly string[]): Promise<Map<string, number>>;
  /**
   * Balance and the running total debited by usage records, of the accounts that exist among `ids`: one
   * query, each pair read from one row, so a pair is never torn by a usage batch committing in between.
   */
  credits(ids: readonly string[]): Promise<Map<string, AccountCredit>>;
}

export interface AccountCredit {
  balanceMicros: number;
  /** Usage costs ever debited from the balance (ledger entries not included). */
  debitedMicros: number;
}

export const ACCOUNT_ID_PREFIX = 'acct_';

export function newAccountId(): string {
  return ACCOUNT_ID_PREFIX + randomBase62(20);
}

export function toAccountRecord(row: Selectable<AccountsTable>): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    tier: row.tier,
    status: row.status,
    balanceMicros: toNumber(row.balance_micros),
    limits: parseJsonObject(row.limits),
    billing: row.billing ?? null,
    createdAt: toNumber(row.created_at),
  };
}

export function accountsRepository(db: Kysely<Database>): AccountRepository {
  const getById = async (id: string) => {
    const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAccountRecord(row);
  };
  const getByName = async (name: string) => {
    const row = await db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toAccountRecord(row);
  };
  const update = async (id: string, values: { status?: AccountStatus; tier?: string; limits?: string | null; billing?: BillingMode | null }) => {
    const result = await db.updateTable('accounts').set(values).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n ? getById(id) : undefined;
  };

  return {
    async create(input, now = Date.now()) {
      const row = {
        id: newAccountId(),
        name: input.name,
        tier: input.tier ?? 'default',
        status: 'active' as const,
        balance_micros: 0,
        debited_micros: 0,
        limits: input.limits ? JSON.stringify(input.limits) : null,
        billing: null,
        created_at: now,
      };
      try {
        await db.insertInto('accounts').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new AlreadyExistsError(`an account named ${JSON.stringify(input.name)} already exists`, { cause: err });
        throw err;
      }
      return toAccountRecord(row);
    },
    async list() {
      const rows = await db.selectFrom('accounts').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toAccountRecord);
    },
    async count() {
      const row = await db
        .selectFrom('accounts')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    getById,
    getByName,
    async findByIdOrName(idOrName) {
      return (await getById(idOrName)) ?? (await getByName(idOrName));
    },
    setStatus: (id, status) => update(id, { status }),
    setTier: (id, tier) => update(id, { tier }),
    setLimits: (id, limits) => update(id, { limits: limits === null ? null : JSON.stringify(limits) }),
    setBilling: (id, billing) => update(id, { billing }),
    async balances(ids) {
      const out = new Map<string, number>();
      if (ids.length === 0) return out;
      const rows = await db.selectFrom('accounts').select(['id', 'balance_micros']).where('id', 'in', [...ids]).execute();
      for (const row of rows) out.set(row.id, toNumber(row.balance_micros));
      return out;
    },
    async credits(ids) {
      const out = new Map<string, AccountCredit>();
      if (ids.length === 0) return out;
      const rows = await db
        .selectFrom('accounts')
        .select(['id', 'balance_micros', 'debited_micros'])
        .where('id', 'in', [...new Set(ids)])
        .execute();
      for (const row of rows) out.set(row.id, { balanceMicros: toNumber(row.balance_micros), debitedMicros: toNumber(row.debited_micros) });
      return out;
    },
  };
}
