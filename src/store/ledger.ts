// The ledger (SPEC §10): every balance change other than usage — top-ups, refunds, adjustments — as an
// entry with its reason and who made it, applied to the account's balance in the same transaction.
import { sql, type Kysely, type Selectable } from 'kysely';
import { randomBase62 } from '../auth/key-material.js';
import { toNumber, type Database, type LedgerEntriesTable, type LedgerKind } from './database.js';

export type { LedgerKind };
export const LEDGER_KINDS: readonly LedgerKind[] = ['credit', 'refund', 'adjustment'];

export interface LedgerEntry {
  id: string;
  accountId: string;
  kind: LedgerKind;
  /** Signed micro-units: positive adds to the balance. */
  amountMicros: number;
  balanceAfterMicros: number;
  reason: string;
  actor: string;
  createdAt: number;
}

export interface NewLedgerEntry {
  accountId: string;
  kind: LedgerKind;
  amountMicros: number;
  reason: string;
  actor: string;
}

/**
 * The largest balance an account may hold: 10^15 micro-units (1,000,000,000 currency units). A credit
 * that would go past it is refused, so a balance plus any credit stays far inside the safe integers
 * (2^53 ≈ 9.007 × 10^15) and the balance and the ledger's running figures always agree (SPEC §16).
 */
export const MAX_BALANCE_MICROS = 1_000_000_000_000_000;

/** A credit would take the balance past MAX_BALANCE_MICROS. */
export class BalanceTooHighError extends Error {
  override name = 'BalanceTooHighError';
  constructor(readonly balanceMicros: number) {
    super(`the balance (${balanceMicros} micro-units) cannot go above ${MAX_BALANCE_MICROS}`);
  }
}

/** A debit would take the balance below zero. */
export class BalanceTooLowError extends Error {
  override name = 'BalanceTooLowError';
  constructor(readonly balanceMicros: number) {
    super(`the balance (${balanceMicros} micro-units) cannot go below zero`);
  }
}

export interface LedgerRepository {
  /**
   * Adds the entry and applies it to the balance in one transaction. Undefined when there is no such
   * account; BalanceTooLowError when a debit would take the balance below zero, BalanceTooHighError when a
   * credit would take it past MAX_BALANCE_MICROS.
   */
  record(entry: NewLedgerEntry, now?: number): Promise<LedgerEntry | undefined>;
  /** Newest first; `before` (ms) pages back. */
  list(accountId: string, page?: { limit?: number; before?: number }): Promise<LedgerEntry[]>;
}

export const LEDGER_ID_PREFIX = 'led_';

function toLedgerEntry(row: Selectable<LedgerEntriesTable>): LedgerEntry {
  return {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    amountMicros: toNumber(row.amount_micros),
    balanceAfterMicros: toNumber(row.balance_after_micros),
    reason: row.reason,
    actor: row.actor,
    createdAt: toNumber(row.created_at),
  };
}

/**
 * Applies the entry to the balance and adds it, inside the caller's transaction (`record`, and a
 * redemption that must credit in the same transaction as its conditional update). Same outcomes as `record`.
 */
export async function recordLedgerEntryIn(trx: Kysely<Database>, entry: NewLedgerEntry, now: number): Promise<LedgerEntry | undefined> {
  if (!Number.isSafeInteger(entry.amountMicros) || Math.abs(entry.amountMicros) > MAX_BALANCE_MICROS) throw new RangeError(`amountMicros must be an integer within ±${MAX_BALANCE_MICROS}`);
  const updated = await trx
    .updateTable('accounts')
    .set({ balance_micros: sql<number>`balance_micros + ${entry.amountMicros}` })
    .where('id', '=', entry.accountId)
    .returning('balance_micros')
    .executeTakeFirst();
  if (updated === undefined) return undefined;
  const balanceAfter = toNumber(updated.balance_micros);
  // Checked after the update, inside the transaction: a concurrent debit cannot slip between.
  if (entry.amountMicros < 0 && balanceAfter < 0) throw new BalanceTooLowError(balanceAfter - entry.amountMicros);
  // The store adds in 64-bit integers, so the sum is exact there even when it is past the cap.
  if (entry.amountMicros > 0 && balanceAfter > MAX_BALANCE_MICROS) throw new BalanceTooHighError(balanceAfter - entry.amountMicros);
  const row = {
    id: LEDGER_ID_PREFIX + randomBase62(20),
    account_id: entry.accountId,
    kind: entry.kind,
    amount_micros: entry.amountMicros,
    balance_after_micros: balanceAfter,
    reason: entry.reason,
    actor: entry.actor,
    created_at: now,
  };
  await trx.insertInto('ledger_entries').values(row).execute();
  return toLedgerEntry(row);
}

export function ledgerRepository(db: Kysely<Database>): LedgerRepository {
  return {
    async record(entry, now = Date.now()) {
      if (!Number.isSafeInteger(entry.amountMicros) || Math.abs(entry.amountMicros) > MAX_BALANCE_MICROS) throw new RangeError(`amountMicros must be an integer within ±${MAX_BALANCE_MICROS}`);
      return db.transaction().execute((trx) => recordLedgerEntryIn(trx, entry, now));
    },
    async list(accountId, page = {}) {
      let query = db.selectFrom('ledger_entries').selectAll().where('account_id', '=', accountId);
      if (page.before !== undefined) query = query.where('created_at', '<', page.before);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit ?? 100)
        .execute();
      return rows.map(toLedgerEntry);
    },
  };
}
