// Budgets at admission and in the balance book (SPEC §10). A budget's current period is an entry of the
// book like an account's balance, under its own id `b:<owner>:<period>:<start>`: what the store allows is
// `limit − spent` (Redis: credits = limit, debited = spent), so the book's reserve, settle and commit hold
// a budget exactly as they hold a balance, on one instance or across many. A new period is a new entry:
// the budget is fresh the moment its period turns, with nothing to reset.
import { parseSpendKey, spendKey, type BudgetRecord, type BudgetRepository, type SpendPeriod } from '../store/budgets.js';
import type { AccountRepository, BillingMode } from '../store/accounts.js';
import { MAX_BALANCE_MICROS } from '../store/ledger.js';
import { GatewayError } from '../openai/errors.js';
import { formatMicros } from '../admin/money.js';
import { currentSpan, formatResetTime, type BudgetPeriod, type PeriodSpan } from './budget-period.js';
import type { Hold } from './balance-book.js';

/** The budget the principal carries (from the key lookup, cached with it for at most a second). */
export { parseSpendKey, spendKey };

export type BudgetRule = Pick<BudgetRecord, 'ownerId' | 'scope' | 'limitMicros' | 'softLimitMicros' | 'period' | 'resetMinutes' | 'timeZone'>;

/** The entries a request reserves against, in order: the balance (prepaid), the account's budget, the key's. */
export interface HoldPlan {
  holds: Hold[];
  /** Per hold: the budget it is, or undefined for the balance. */
  budgets: (BudgetRule | undefined)[];
  spans: (PeriodSpan | undefined)[];
  /** The budget periods' entry ids (what the usage record adds its cost to); undefined when none applies. */
  budgetIds: string[] | undefined;
}

export function planHolds(accountId: string, billing: BillingMode, budgets: readonly BudgetRule[], amountMicros: number, now: number): HoldPlan {
  const plan: HoldPlan = { holds: [], budgets: [], spans: [], budgetIds: undefined };
  if (billing === 'prepaid') {
    plan.holds.push({ id: accountId, amountMicros });
    plan.budgets.push(undefined);
    plan.spans.push(undefined);
  }
  for (const budget of budgets) {
    const span = currentSpan(budget.period, budget.resetMinutes, budget.timeZone, now);
    const id = spendKey(budget.ownerId, budget.period, span.start);
    plan.holds.push({ id, amountMicros });
    plan.budgets.push(budget);
    plan.spans.push(span);
    (plan.budgetIds ??= []).push(id);
  }
  return plan;
}

const PERIOD_WORDS: Record<BudgetPeriod, string> = { day: 'daily', week: 'weekly', month: 'monthly', none: 'total' };

/** "this API key's daily budget of $1.000000" */
export function budgetName(budget: BudgetRule): string {
  return `${budget.scope === 'key' ? "this API key's" : "this account's"} ${PERIOD_WORDS[budget.period]} budget of $${formatMicros(budget.limitMicros)}`;
}

/** The 402 for a request whose maximum cost a budget's remainder cannot cover: names the budget and its reset. */
export function budgetExceeded(budget: BudgetRule, span: PeriodSpan, maxCostMicros: number, availableMicros: number): GatewayError {
  const resets = Number.isFinite(span.end) ? `It resets at ${new Date(span.end).toISOString()} (${budget.timeZone === 'UTC' ? 'UTC' : `${budget.timeZone} ${formatResetTime(budget.resetMinutes)} local`}).` : 'It does not reset: ask your administrator to raise it.';
  return new GatewayError(
    'budget_exceeded',
    `Budget exceeded: ${budgetName(budget)} has $${formatMicros(availableMicros)} left, and this request may cost up to $${formatMicros(maxCostMicros)} (prompt plus output cap). ${resets} Lower max_tokens, or ask your administrator to raise the budget.`,
  );
}


/**
 * The book's loader: balances for account ids, `limit − spent` for budget periods. A period whose budget
 * is gone (deleted a moment ago; principals cached up to a second still name it) allows anything.
 */
export function bookLoader(accounts: Pick<AccountRepository, 'balances'>, budgets: Pick<BudgetRepository, 'standings'>) {
  return async (ids: readonly string[]): Promise<Map<string, number>> => {
    const { accountIds, periods, periodIds } = split(ids);
    const [balances, standings] = await Promise.all([accounts.balances(accountIds), budgets.standings(periods)]);
    periodIds.forEach((id, i) => {
      const s = standings[i];
      balances.set(id, s === undefined ? MAX_BALANCE_MICROS : s.limitMicros - s.spentMicros);
    });
    return balances;
  };
}

/** The Redis book's loader: per entry, what the store allows and what usage has taken from it. */
export function creditsLoader(accounts: Pick<AccountRepository, 'credits'>, budgets: Pick<BudgetRepository, 'standings'>) {
  return async (ids: readonly string[]): Promise<Map<string, { balanceMicros: number; debitedMicros: number }>> => {
    const { accountIds, periods, periodIds } = split(ids);
    const [credits, standings] = await Promise.all([accounts.credits(accountIds), budgets.standings(periods)]);
    periodIds.forEach((id, i) => {
      const s = standings[i] ?? { limitMicros: MAX_BALANCE_MICROS, spentMicros: 0 };
      credits.set(id, { balanceMicros: s.limitMicros - s.spentMicros, debitedMicros: s.spentMicros });
    });
    return credits;
  };
}

function split(ids: readonly string[]): { accountIds: string[]; periods: SpendPeriod[]; periodIds: string[] } {
  const accountIds: string[] = [];
  const periods: SpendPeriod[] = [];
  const periodIds: string[] = [];
  for (const id of ids) {
    const period = parseSpendKey(id);
    if (period === undefined) accountIds.push(id);
    else {
      periods.push(period);
      periodIds.push(id);
    }
  }
  return { accountIds, periods, periodIds };
}
