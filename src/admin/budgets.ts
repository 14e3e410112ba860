// Budget operations (SPEC §10, §13), shared by the admin API, the CLI and the portal: set, show and remove
// the budget of an account or a key, with what its current period has spent. Setting one tells the
// running gateway at once: cached identities carry budgets, and the book re-reads the period's cap.
import type { Config } from '../config/load.js';
import type { AccountRecord, BillingMode } from '../store/accounts.js';
import { spendKey, type BudgetRecord, type BudgetScope } from '../store/budgets.js';
import { formatResetTime, isTimeZone, parseResetTime, periodSpan, type BudgetPeriod } from '../accounting/budget-period.js';
import { AdminInputError, AdminNotFoundError, inputError } from './errors.js';
import { formatMicros } from './money.js';
import { checkBudgetBody } from './validate.js';
import { amountFrom, findAccount, getKey, type AdminContext } from './operations.js';

export interface BudgetSpec {
  limitMicros: number;
  softLimitMicros: number | null;
  period: BudgetPeriod;
  resetMinutes: number;
  timeZone: string;
}

/** The account's billing mode as requests see it: its own, else its tier's, else the config's. */
export function billingModeOf(config: Config, account: Pick<AccountRecord, 'billing' | 'tier'>): BillingMode {
  return account.billing ?? config.billing.tiers[account.tier] ?? config.billing.mode;
}

/** A budget's amount in micro-units (`name` in currency units, or `name_micros`), not negative; undefined when none. */
function budgetAmount(decimal: string | number | null | undefined, micros: number | null | undefined, name: string): number | undefined {
  const amount = amountFrom(decimal, micros, name, `${name}_micros`);
  if (amount !== undefined && amount.micros < 0) throw inputError(amount.param, 'must not be negative');
  return amount?.micros;
}

/** A budget body (`limit`, `period`, optional `soft_limit`, `reset_time`, `time_zone`), checked. */
export function checkBudget(body: unknown): BudgetSpec {
  const b = checkBudgetBody(body);
  const limitMicros = budgetAmount(b.limit, b.limit_micros, 'limit');
  if (limitMicros === undefined) throw new AdminInputError('limit', 'limit: is required (or limit_micros)');
  const softLimitMicros = budgetAmount(b.soft_limit, b.soft_limit_micros, 'soft_limit') ?? null;
  if (softLimitMicros !== null && softLimitMicros > limitMicros) throw inputError(b.soft_limit_micros !== undefined ? 'soft_limit_micros' : 'soft_limit', `must not exceed the limit (${formatMicros(limitMicros)})`);
  const resetMinutes = parseResetTime(b.reset_time ?? '00:00');
  if (resetMinutes === undefined) throw inputError('reset_time', `must be a time of day as HH:MM (00:00–23:59); got ${JSON.stringify(b.reset_time)}`);
  const timeZone = b.time_zone ?? 'UTC';
  if (!isTimeZone(timeZone)) throw inputError('time_zone', `must be an IANA time zone like "UTC" or "Europe/Berlin"; got ${JSON.stringify(timeZone)}`);
  return { limitMicros, softLimitMicros, period: b.period, resetMinutes, timeZone };
}

/** Whose budget: an account (by id or name) or a key (by id). */
export interface BudgetOwnerRef {
  scope: BudgetScope;
  ref: string;
}

async function ownerOf(ctx: AdminContext, owner: BudgetOwnerRef): Promise<{ ownerId: string; accountId: string }> {
  if (owner.scope === 'account') {
    const account = await findAccount(ctx, owner.ref);
    return { ownerId: account.id, accountId: account.id };
  }
  const key = await getKey(ctx, owner.ref);
  return { ownerId: key.id, accountId: key.accountId };
}

/** Sets (creates or replaces) the budget. The current period starts from what its owner already spent in it. */
export async function setBudget(ctx: AdminContext, owner: BudgetOwnerRef, spec: BudgetSpec, now = Date.now()): Promise<BudgetStatus> {
  const { ownerId, accountId } = await ownerOf(ctx, owner);
  const span = periodSpan(spec.period, spec.resetMinutes, spec.timeZone, now);
  const budget = await ctx.store.budgets.set({ ownerId, scope: owner.scope, accountId, ...spec }, span.start, now);
  ctx.events?.identitiesChanged();
  ctx.events?.balanceChanged(spendKey(ownerId, spec.period, span.start));
  return budgetStatus(ctx, budget, now);
}

/** The budget and its current period; undefined when the owner (which must exist) has none. */
export async function findBudget(ctx: AdminContext, owner: BudgetOwnerRef, now = Date.now()): Promise<BudgetStatus | undefined> {
  const { ownerId } = await ownerOf(ctx, owner);
  const budget = await ctx.store.budgets.get(ownerId);
  return budget === undefined ? undefined : budgetStatus(ctx, budget, now);
}

/** The budget and its current period, or a 404 when the owner has none. */
export async function getBudget(ctx: AdminContext, owner: BudgetOwnerRef, now = Date.now()): Promise<BudgetStatus> {
  const found = await findBudget(ctx, owner, now);
  if (found === undefined) throw new AdminNotFoundError(`${owner.scope === 'account' ? 'The account' : 'The API key'} ${JSON.stringify(owner.ref)} has no budget.`);
  return found;
}

/** Removes the budget (its spend history stays); a 404 when there is none. */
export async function deleteBudget(ctx: AdminContext, owner: BudgetOwnerRef): Promise<BudgetRecord> {
  const { ownerId } = await ownerOf(ctx, owner);
  const budget = await ctx.store.budgets.get(ownerId);
  if (budget === undefined || !(await ctx.store.budgets.delete(ownerId))) throw new AdminNotFoundError(`${owner.scope === 'account' ? 'The account' : 'The API key'} ${JSON.stringify(owner.ref)} has no budget.`);
  ctx.events?.identitiesChanged();
  return budget;
}

/** The account's budget and its keys' budgets, each with its current period. */
export async function listBudgets(ctx: AdminContext, accountRef: string, now = Date.now()): Promise<BudgetStatus[]> {
  const account = await findAccount(ctx, accountRef);
  const budgets = await ctx.store.budgets.listForAccount(account.id);
  return withSpend(ctx, budgets, now);
}

export interface BudgetStatus {
  budget: BudgetRecord;
  periodStart: number;
  /** Infinity for `none`. */
  periodEnd: number;
  /** Committed spend in the period (a request settles into it within `usage.flush_ms`). */
  spentMicros: number;
}

async function budgetStatus(ctx: AdminContext, budget: BudgetRecord, now: number): Promise<BudgetStatus> {
  return (await withSpend(ctx, [budget], now))[0];
}

/** Each budget with its period at `now` and what that period has spent (one read for all). */
async function withSpend(ctx: AdminContext, budgets: readonly BudgetRecord[], now: number): Promise<BudgetStatus[]> {
  const spans = budgets.map((b) => periodSpan(b.period, b.resetMinutes, b.timeZone, now));
  const spent = await ctx.store.budgets.spent(budgets.map((b, i) => ({ ownerId: b.ownerId, period: b.period, start: spans[i].start })));
  return budgets.map((budget, i) => ({ budget, periodStart: spans[i].start, periodEnd: spans[i].end, spentMicros: spent[i] }));
}

/** The wire form: money as decimal strings and micro-units, times as unix seconds (null: never). */
export function budgetView(s: BudgetStatus) {
  const b = s.budget;
  return {
    object: 'budget' as const,
    scope: b.scope,
    account_id: b.accountId,
    key_id: b.scope === 'key' ? b.ownerId : null,
    limit: formatMicros(b.limitMicros),
    limit_micros: b.limitMicros,
    soft_limit: b.softLimitMicros === null ? null : formatMicros(b.softLimitMicros),
    soft_limit_micros: b.softLimitMicros,
    period: b.period,
    reset_time: formatResetTime(b.resetMinutes),
    time_zone: b.timeZone,
    current_period: {
      start: Math.floor(s.periodStart / 1000),
      resets_at: Number.isFinite(s.periodEnd) ? Math.floor(s.periodEnd / 1000) : null,
      spent: formatMicros(s.spentMicros),
      spent_micros: s.spentMicros,
      remaining: formatMicros(Math.max(0, b.limitMicros - s.spentMicros)),
      remaining_micros: Math.max(0, b.limitMicros - s.spentMicros),
    },
    created_at: Math.floor(b.createdAt / 1000),
    updated_at: Math.floor(b.updatedAt / 1000),
  };
}
