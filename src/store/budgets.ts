// Budgets (SPEC §10): a cap in money per period on an account or on one key, and what has been spent in
// each period. The spend of a period is a row the usage writer adds to in the same transaction that
// stores the records it sums (store/usage.ts), so records and spend never disagree; admission reserves
// against `limit − spent` the way it reserves against a balance (accounting/budgets.ts).
import { sql, type ColumnType, type Kysely, type Selectable } from 'kysely';
import { toNumber, type Database } from './database.js';
import { BUDGET_PERIODS, type BudgetPeriod } from '../accounting/budget-period.js';

export type BudgetScope = 'account' | 'key';

export interface BudgetRecord {
  /** The account's id (`acct_…`) or the key's (`key_…`): one budget per owner. */
  ownerId: string;
  scope: BudgetScope;
  /** The account the budget's owner belongs to (itself for an account's budget). */
  accountId: string;
  /** The cap, in micro-units of the currency. */
  limitMicros: number;
  /** Spend at which `budget.threshold_reached` fires; null: none. */
  softLimitMicros: number | null;
  period: BudgetPeriod;
  /** Minutes past local midnight at which a period starts. */
  resetMinutes: number;
  /** IANA zone of the reset time. */
  timeZone: string;
  createdAt: number;
  updatedAt: number;
}

export type NewBudget = Omit<BudgetRecord, 'createdAt' | 'updatedAt'>;

/** The tables of migration 008. */
export interface BudgetsTable {
  owner_id: string;
  scope: BudgetScope;
  account_id: string;
  limit_micros: ColumnType<number | string, number, number>;
  soft_limit_micros: ColumnType<number | string | null, number | null, number | null>;
  period: BudgetPeriod;
  reset_minutes: ColumnType<number | string, number, number>;
  time_zone: string;
  created_at: ColumnType<number | string, number, never>;
  updated_at: ColumnType<number | string, number, number>;
}

export interface BudgetSpendTable {
  owner_id: string;
  period: BudgetPeriod;
  /** The period's first instant, ms since the epoch (0 for `none`). */
  period_start: ColumnType<number | string, number, never>;
  spent_micros: ColumnType<number | string, number, number>;
}

export interface BudgetTables {
  budgets: BudgetsTable;
  budget_spend: BudgetSpendTable;
}

/** One period of one owner's spend: what the usage writer adds to and admission reserves against. */
export interface SpendPeriod {
  ownerId: string;
  period: BudgetPeriod;
  start: number;
}

/** A budget's cap and what its period has spent, as the store has them. */
export interface BudgetStanding {
  limitMicros: number;
  spentMicros: number;
}

export interface BudgetRepository {
  get(ownerId: string): Promise<BudgetRecord | undefined>;
  /** The account's own budget and its keys' budgets. */
  listForAccount(accountId: string): Promise<BudgetRecord[]>;
  /**
   * Creates or replaces the owner's budget. The period it is in at `now` starts from what the owner's
   * usage records already spent in it, unless the period already has a spend row.
   */
  set(budget: NewBudget, periodStart: number, now?: number): Promise<BudgetRecord>;
  /** False when there was none. Spend rows stay (the history of what was spent). */
  delete(ownerId: string): Promise<boolean>;
  /** What was spent in each period asked for (0 where nothing was). */
  spent(periods: readonly SpendPeriod[]): Promise<number[]>;
  /** Per period asked for: the owner's current cap and the period's spend; absent when the owner has no budget. */
  standings(periods: readonly SpendPeriod[]): Promise<(BudgetStanding | undefined)[]>;
}

const PERIODS = new Set<string>(BUDGET_PERIODS);

/** A budget period's id as an entry of the balance book and on a usage record: `b:<owner>:<period>:<start>`. */
export function spendKey(ownerId: string, period: BudgetPeriod, start: number): string {
  return `b:${ownerId}:${period}:${start}`;
}

/** The period a book entry's id names, or undefined for an account's id. */
export function parseSpendKey(id: string): SpendPeriod | undefined {
  if (!id.startsWith('b:')) return undefined;
  const parts = id.split(':');
  if (parts.length !== 4 || !PERIODS.has(parts[2])) return undefined;
  const start = Number(parts[3]);
  return Number.isSafeInteger(start) ? { ownerId: parts[1], period: parts[2] as BudgetPeriod, start } : undefined;
}

export function toBudgetRecord(row: Selectable<BudgetsTable>): BudgetRecord {
  return {
    ownerId: row.owner_id,
    scope: row.scope,
    accountId: row.account_id,
    limitMicros: toNumber(row.limit_micros),
    softLimitMicros: toNumber(row.soft_limit_micros),
    period: row.period,
    resetMinutes: toNumber(row.reset_minutes),
    timeZone: row.time_zone,
    createdAt: toNumber(row.created_at),
    updatedAt: toNumber(row.updated_at),
  };
}

/** Groups periods by owner: one query reads every period of a few owners. */
async function spendRows(db: Kysely<Database>, periods: readonly SpendPeriod[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (periods.length === 0) return out;
  const owners = [...new Set(periods.map((p) => p.ownerId))];
  const earliest = Math.min(...periods.map((p) => p.start));
  const rows = await db
    .selectFrom('budget_spend')
    .select(['owner_id', 'period', 'period_start', 'spent_micros'])
    .where('owner_id', 'in', owners)
    .where('period_start', '>=', earliest)
    .execute();
  for (const row of rows) out.set(`${row.owner_id}|${row.period}|${toNumber(row.period_start)}`, toNumber(row.spent_micros));
  return out;
}

export function budgetsRepository(db: Kysely<Database>): BudgetRepository {
  const get = async (ownerId: string) => {
    const row = await db.selectFrom('budgets').selectAll().where('owner_id', '=', ownerId).executeTakeFirst();
    return row && toBudgetRecord(row);
  };
  return {
    get,
    async listForAccount(accountId) {
      const rows = await db.selectFrom('budgets').selectAll().where('account_id', '=', accountId).orderBy('scope').orderBy('created_at').execute();
      return rows.map(toBudgetRecord);
    },
    async set(budget, periodStart, now = Date.now()) {
      const column = budget.scope === 'account' ? 'account_id' : 'key_id';
      await db.transaction().execute(async (trx) => {
        const values = {
          scope: budget.scope,
          account_id: budget.accountId,
          limit_micros: budget.limitMicros,
          soft_limit_micros: budget.softLimitMicros,
          period: budget.period,
          reset_minutes: budget.resetMinutes,
          time_zone: budget.timeZone,
          updated_at: now,
        };
        await trx
          .insertInto('budgets')
          .values({ owner_id: budget.ownerId, ...values, created_at: now })
          .onConflict((oc) => oc.column('owner_id').doUpdateSet(values))
          .execute();
        // What the owner's records already spent in this period counts (a budget set at noon caps the day).
        await trx
          .insertInto('budget_spend')
          .columns(['owner_id', 'period', 'period_start', 'spent_micros'])
          .expression(
            trx
              .selectFrom('usage_records')
              .select([
                sql.val(budget.ownerId).as('owner_id'),
                sql.val(budget.period).as('period'),
                sql.val(periodStart).as('period_start'),
                sql<number>`coalesce(sum(cost_micros), 0)`.as('spent_micros'),
              ])
              .where(column, '=', budget.ownerId)
              .where('created_at', '>=', periodStart),
          )
          .onConflict((oc) => oc.columns(['owner_id', 'period', 'period_start']).doNothing())
          .execute();
      });
      return (await get(budget.ownerId))!;
    },
    async delete(ownerId) {
      const result = await db.deleteFrom('budgets').where('owner_id', '=', ownerId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async spent(periods) {
      const rows = await spendRows(db, periods);
      return periods.map((p) => rows.get(`${p.ownerId}|${p.period}|${p.start}`) ?? 0);
    },
    async standings(periods) {
      if (periods.length === 0) return [];
      const owners = [...new Set(periods.map((p) => p.ownerId))];
      const [limits, spent] = await Promise.all([
        db.selectFrom('budgets').select(['owner_id', 'limit_micros']).where('owner_id', 'in', owners).execute(),
        spendRows(db, periods),
      ]);
      const limitOf = new Map(limits.map((row) => [row.owner_id, toNumber(row.limit_micros)]));
      return periods.map((p) => {
        const limitMicros = limitOf.get(p.ownerId);
        return limitMicros === undefined ? undefined : { limitMicros, spentMicros: spent.get(`${p.ownerId}|${p.period}|${p.start}`) ?? 0 };
      });
    },
  };
}
