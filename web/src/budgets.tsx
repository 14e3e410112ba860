// Billing modes and budgets as the pages show them: a budget's meter (spent of its limit this period, the
// soft threshold marked, when it resets) and the form that sets one, shared by the billing, keys and
// console pages.
import { useState } from 'preact/hooks';
import type { BillingMode, BudgetPeriod, BudgetView } from './api';
import { Field, SelectField, StatusLine, errorStatus, formatMicros, formatTime, toMillis, type Status } from './components';

export const PERIOD_OPTIONS: { value: BudgetPeriod; label: string }[] = [
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'none', label: 'None (never resets)' },
];

const PERIOD_WORDS: Record<BudgetPeriod, string> = { day: 'today', week: 'this week', month: 'this month', none: 'in total' };
const RESET_WORDS: Record<BudgetPeriod, string> = { day: 'daily', week: 'every Monday', month: 'on the 1st of each month', none: '' };

/** A sentence on what the mode means for the people who use the account. */
export function billingModeText(mode: BillingMode): string {
  return mode === 'postpaid'
    ? 'Postpaid: usage is tracked and invoiced afterwards. No balance is needed; requests are not refused for lack of credit.'
    : 'Prepaid: each request is paid from the balance; when it runs out, requests are refused until it is topped up.';
}

/** Whose budget, in words: the account's, or the key's name (its hint when unnamed). */
export function budgetOwnerName(b: BudgetView): string {
  if (b.scope === 'account') return 'Account budget';
  return b.key_name ? `Key “${b.key_name}”` : `Key ${b.key_hint ?? b.key_id ?? ''}`.trim();
}

/** When the period resets, in the reader's local time, with the budget's own rule beside it. */
export function resetText(b: BudgetView): string {
  if (b.period === 'none' || b.current_period.resets_at === null) return 'Never resets';
  const at = toMillis(b.current_period.resets_at);
  return `Resets at ${formatTime(at)} (${RESET_WORDS[b.period]} at ${b.reset_time} ${b.time_zone})`;
}

/** The budget as a bar: spent of limit in the current period, the soft limit as a tick. `titled`: its owner's name above it. */
export function BudgetMeter({ budget, compact = false, titled = true }: { budget: BudgetView; compact?: boolean; titled?: boolean }) {
  const { limit_micros: limit, soft_limit_micros: soft } = budget;
  const spent = budget.current_period.spent_micros;
  const share = (micros: number) => (limit <= 0 ? 100 : Math.min(100, (micros / limit) * 100));
  const tone = spent >= limit ? 'bad' : soft !== null && spent >= soft ? 'warn' : 'ok';
  const name = budgetOwnerName(budget);
  const summary = `${formatMicros(spent)} of ${formatMicros(limit)} spent ${PERIOD_WORDS[budget.period]}`;
  return (
    <div class={`budget ${compact ? 'compact' : ''}`} data-testid="budget-meter" data-scope={budget.scope} data-key-id={budget.key_id ?? ''}
      data-spent-micros={spent} data-limit-micros={limit}>
      {!compact && <div class="budget-head"><strong>{titled ? name : ''}</strong><span class="muted small">{budget.period === 'none' ? 'no period' : `per ${budget.period}`}</span></div>}
      <div class={`meter ${tone}`} role="meter" aria-label={name} aria-valuemin={0} aria-valuemax={limit} aria-valuenow={Math.min(spent, limit)}
        aria-valuetext={`${summary}${soft !== null ? `; soft limit ${formatMicros(soft)}` : ''}`}>
        <div class="meter-fill" style={{ width: `${share(spent)}%` }} />
        {soft !== null && <div class="meter-soft" style={{ left: `${share(soft)}%` }} title={`Soft limit ${formatMicros(soft)}`} />}
      </div>
      <p class="budget-text">
        <span data-testid="budget-spent">{summary}</span>
        {soft !== null && <span class="muted"> · soft limit {formatMicros(soft)}</span>}
        {!compact && <span class="muted"> · {formatMicros(budget.current_period.remaining_micros)} left</span>}
      </p>
      <p class="budget-text muted small" data-testid="budget-resets">{resetText(budget)}</p>
    </div>
  );
}

const inputValue = (e: Event) => (e.currentTarget as HTMLInputElement).value;
/** Micro-units as a plain decimal for an input: `2500000` → `2.50`. */
const decimal = (micros: number | null | undefined) => (micros === null || micros === undefined ? '' : formatMicros(micros, '').replace(/,/g, ''));
const localZone = (() => {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { return 'UTC'; }
})();

/**
 * Sets (PUT) or clears (DELETE) a budget through `save`/`clear`; the server checks every field and names
 * the one at fault. `testid` prefixes the fields' hooks (`<testid>-limit`, …).
 */
export function BudgetForm({ budget, save, clear, testid, onDone }: {
  budget: BudgetView | null;
  save: (body: Record<string, unknown>) => Promise<unknown>;
  clear: () => Promise<unknown>;
  testid: string;
  onDone: (text: string) => void;
}) {
  const [limit, setLimit] = useState(decimal(budget?.limit_micros));
  const [soft, setSoft] = useState(decimal(budget?.soft_limit_micros));
  const [period, setPeriod] = useState<BudgetPeriod>(budget?.period ?? 'month');
  const [reset, setReset] = useState(budget?.reset_time ?? '00:00');
  const [zone, setZone] = useState(budget?.time_zone ?? 'UTC');
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);

  const run = async (action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setStatus(null);
    try {
      await action();
      // The parent shows the result: it reloads, and this form starts again from what was saved.
      onDone(done);
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };
  const onSubmit = (event: Event) => {
    event.preventDefault();
    const body: Record<string, unknown> = { limit: limit.trim(), period, reset_time: reset || '00:00', time_zone: zone.trim() || 'UTC' };
    if (soft.trim() !== '') body.soft_limit = soft.trim();
    void run(() => save(body), `Budget of ${limit.trim()} per ${period === 'none' ? 'lifetime' : period} saved.`);
  };
  return (
    <>
      <form class="row-form budget-form" onSubmit={onSubmit} data-testid={`${testid}-form`}>
        <Field label="Limit (USD)" inputMode="decimal" required placeholder="100.00" value={limit} onInput={(e) => setLimit(inputValue(e))} data-testid={`${testid}-limit`} />
        <Field label="Soft limit (USD)" inputMode="decimal" placeholder="none" hint="Alert when spend reaches it." value={soft} onInput={(e) => setSoft(inputValue(e))} data-testid={`${testid}-soft`} />
        <SelectField label="Period" options={PERIOD_OPTIONS} value={period} onChange={(e) => setPeriod((e.currentTarget as HTMLSelectElement).value as BudgetPeriod)} data-testid={`${testid}-period`} />
        <Field label="Resets at" type="time" value={reset} disabled={period === 'none'} onInput={(e) => setReset(inputValue(e))} data-testid={`${testid}-reset`} />
        <Field label="Time zone" placeholder="UTC" hint={`IANA name; yours is ${localZone}.`} value={zone} onInput={(e) => setZone(inputValue(e))} data-testid={`${testid}-zone`} />
        <button type="submit" disabled={busy} data-testid={`${testid}-save`}>{budget ? 'Save budget' : 'Set budget'}</button>
        {budget && <button type="button" class="danger" disabled={busy} data-testid={`${testid}-clear`} onClick={() => run(clear, 'Budget cleared.')}>Clear budget</button>}
      </form>
      <StatusLine status={status} />
    </>
  );
}
