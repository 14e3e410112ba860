// Spend alerts (SPEC §12): after each usage batch is committed, the budgets it counted against and the
// prepaid balances it debited are read back from the store, and a crossing — a budget's soft threshold
// or cap reached, a balance fallen below `alerts.balance_low` — becomes an event for the webhooks. The
// store is the one place every instance writes to, so what it says after a commit is the cluster's
// figure; each event's id names its crossing, and the sink delivers an id once (alerts/).
import type { AlertSink } from '../alerts/events.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/store.js';
import { parseSpendKey, type BudgetRecord, type SpendPeriod } from '../store/budgets.js';
import type { UsageRecord } from '../store/usage.js';
import { formatMicros } from '../admin/money.js';
import { formatResetTime, periodSpan, type PeriodSpan } from './budget-period.js';
import type { BudgetRule } from './budgets.js';

/** Crossings already emitted by this instance: the sink de-duplicates too, this saves it the work. */
const REMEMBERED = 10_000;

export class SpendAlerts {
  private readonly sent = new Set<string>();
  private readonly checking = new Set<Promise<void>>();

  constructor(
    private readonly alerts: AlertSink,
    private readonly store: Pick<Store, 'budgets' | 'accounts'>,
    private readonly balanceLowMicros: number | null,
    private readonly logger: Logger,
  ) {}

  /** Whether any webhook wants spend events: without one, nothing is read after commits. */
  get active(): boolean {
    return this.alerts.wants('budget.threshold_reached') || this.alerts.wants('budget.exhausted') || (this.balanceLowMicros !== null && this.alerts.wants('balance.low'));
  }

  /** A request was refused by a budget: it is exhausted for this request's size, at least. */
  budgetRefused(budget: BudgetRule, span: PeriodSpan, accountId: string, availableMicros: number): void {
    if (!this.alerts.wants('budget.exhausted')) return;
    const entry = { ...budget, accountId };
    this.emitBudget('budget.exhausted', entry, span, { remaining: formatMicros(Math.max(0, availableMicros)), refused_request: true });
  }

  /** A usage batch was committed: look at what it moved (off the request path; failures are logged). */
  committed(records: readonly UsageRecord[]): void {
    if (!this.active) return;
    const p = this.check(records)
      .catch((err: unknown) => this.logger.warn({ err }, 'spend alerts: the store could not be read after a usage batch'))
      .finally(() => this.checking.delete(p));
    this.checking.add(p);
  }

  /** Waits for the checks under way (at shutdown, before the webhooks close). */
  async idle(): Promise<void> {
    while (this.checking.size > 0) await Promise.all([...this.checking]);
  }

  private async check(records: readonly UsageRecord[]): Promise<void> {
    const periods = new Map<string, SpendPeriod>();
    const accounts = new Set<string>();
    for (const r of records) {
      if (r.costMicros <= 0) continue;
      if (r.postpaid !== true) accounts.add(r.accountId);
      for (const id of r.budgets ?? []) {
        const period = parseSpendKey(id);
        if (period !== undefined) periods.set(id, period);
      }
    }
    await Promise.all([this.checkBudgets([...periods.values()]), this.checkBalances([...accounts])]);
  }

  private async checkBudgets(periods: SpendPeriod[]): Promise<void> {
    if (periods.length === 0) return;
    const spent = await this.store.budgets.spent(periods);
    for (let i = 0; i < periods.length; i++) {
      const period = periods[i];
      const budget = await this.store.budgets.get(period.ownerId);
      // Gone, or changed to another period since the request was admitted: nothing to say about this one.
      if (budget === undefined || budget.period !== period.period) continue;
      const span = periodSpan(budget.period, budget.resetMinutes, budget.timeZone, period.start);
      if (span.start !== period.start) continue;
      const facts = { spent: formatMicros(spent[i]), remaining: formatMicros(Math.max(0, budget.limitMicros - spent[i])) };
      if (spent[i] >= budget.limitMicros) this.emitBudget('budget.exhausted', budget, span, facts);
      if (budget.softLimitMicros !== null && spent[i] >= budget.softLimitMicros) this.emitBudget('budget.threshold_reached', budget, span, facts);
    }
  }

  private async checkBalances(accountIds: string[]): Promise<void> {
    const threshold = this.balanceLowMicros;
    if (threshold === null || accountIds.length === 0 || !this.alerts.wants('balance.low')) return;
    const credits = await this.store.accounts.credits(accountIds);
    for (const [accountId, { balanceMicros, debitedMicros }] of credits) {
      if (balanceMicros >= threshold) continue;
      // Balance + debited moves only with ledger entries: a top-up arms the alert again.
      this.emit({
        id: `balance.low:${accountId}:${balanceMicros + debitedMicros}`,
        type: 'balance.low',
        data: { account_id: accountId, balance: formatMicros(balanceMicros), threshold: formatMicros(threshold) },
      });
    }
  }

  private emitBudget(type: 'budget.exhausted' | 'budget.threshold_reached', budget: BudgetRule & Pick<BudgetRecord, 'accountId'>, span: PeriodSpan, facts: Record<string, unknown>): void {
    const level = type === 'budget.exhausted' ? budget.limitMicros : budget.softLimitMicros;
    this.emit({
      id: `${type}:${budget.ownerId}:${budget.period}:${span.start}:${level}`,
      type,
      data: {
        budget: {
          scope: budget.scope,
          account_id: budget.accountId,
          ...(budget.scope === 'key' && { key_id: budget.ownerId }),
          limit: formatMicros(budget.limitMicros),
          soft_limit: budget.softLimitMicros === null ? null : formatMicros(budget.softLimitMicros),
          period: budget.period,
          reset_time: formatResetTime(budget.resetMinutes),
          time_zone: budget.timeZone,
        },
        period_start: new Date(span.start).toISOString(),
        resets_at: Number.isFinite(span.end) ? new Date(span.end).toISOString() : null,
        ...facts,
      },
    });
  }

  private emit(event: Parameters<AlertSink['emit']>[0]): void {
    if (this.sent.has(event.id)) return;
    if (this.sent.size >= REMEMBERED) this.sent.clear();
    this.sent.add(event.id);
    this.alerts.emit(event);
  }
}
