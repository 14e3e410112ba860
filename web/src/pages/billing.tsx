// The billing page: the billing mode, the balance and top-up by redemption code (prepaid accounts), the
// budgets with this period's spend, the ledger and the usage debits by day.
import { useState } from 'preact/hooks';
import { api, type BudgetsView, type LedgerEntry, type LedgerPage, type SessionView } from '../api';
import { BudgetMeter, billingModeText } from '../budgets';
import { Field, LoadState, StatusLine, TableWrap, errorStatus, formatMicros, formatNumber, formatTime, useLoad, type Status } from '../components';
import { setSession, useShared } from '../state';

export function Billing() {
  const { session } = useShared();
  const account = session?.account ?? null;
  const ledger = useLoad(() => api<LedgerPage>('/ledger', { query: { limit: 50 } }), [account?.id]);
  const budgets = useLoad(() => api<BudgetsView>('/budgets'), [account?.id]);
  const mode = account?.billing_mode ?? budgets.data?.billing_mode ?? 'prepaid';
  const [older, setOlder] = useState<LedgerEntry[]>([]);
  const [hasMore, setHasMore] = useState<boolean | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);

  const refreshAccount = async () => {
    try { setSession(await api<SessionView>('/session')); } catch { /* the 401 handler takes over */ }
  };

  const onRedeem = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      const result = await api<{ amount_micros: number; balance_micros: number }>('/redeem', { method: 'POST', body: { code: code.trim() } });
      setStatus({ kind: 'ok', text: `${formatMicros(result.amount_micros)} added. Your balance is now ${formatMicros(result.balance_micros)}.` });
      setCode('');
      setOlder([]);
      setHasMore(null);
      setCursor(null);
      ledger.reload();
      await refreshAccount();
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };

  const entries = [...(ledger.data?.data ?? []), ...older];
  const more = hasMore ?? ledger.data?.has_more ?? false;
  const loadMore = async () => {
    const before = cursor ?? ledger.data?.next_before ?? entries[entries.length - 1]?.created_at;
    if (!before) return;
    try {
      const page = await api<LedgerPage>('/ledger', { query: { limit: 50, before } });
      setOlder((o) => [...o, ...page.data]);
      setHasMore(page.has_more);
      setCursor(page.next_before ?? page.data[page.data.length - 1]?.created_at ?? null);
    } catch (error) {
      setStatus(errorStatus(error));
    }
  };

  return (
    <>
      <h1>Billing</h1>
      <section class="cards">
        {mode === 'postpaid'
          ? (
            <div class="card" data-testid="billing-mode" data-mode="postpaid">
              <h2>Billing</h2>
              <p class="big">Postpaid</p>
              <p>{billingModeText('postpaid')}</p>
              {account && <p class="muted">Account {account.name} · tier {account.tier}{account.status !== 'active' ? ` · ${account.status}` : ''}</p>}
            </div>
          )
          : (
            <>
              <div class="card">
                <h2>Balance</h2>
                <p class="big" data-testid="balance" data-balance-micros={account?.balance_micros ?? ''}>{account ? formatMicros(account.balance_micros) : '—'}</p>
                {account && <p class="muted">Account {account.name} · tier {account.tier}{account.status !== 'active' ? ` · ${account.status}` : ''}</p>}
                <p class="muted small" data-testid="billing-mode" data-mode="prepaid">{billingModeText('prepaid')}</p>
              </div>
              <div class="card">
                <h2>Top up</h2>
                <form onSubmit={onRedeem} class="stack">
                  <Field label="Redemption code" autocomplete="off" placeholder="RC-…" required value={code}
                    onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)} data-testid="redeem-code" />
                  <button type="submit" disabled={busy} data-testid="redeem-submit">{busy ? 'Redeeming…' : 'Redeem'}</button>
                </form>
                <StatusLine status={status} />
              </div>
            </>
          )}
      </section>
      <section aria-labelledby="budgets-title">
        <h2 id="budgets-title">Budgets</h2>
        <LoadState loaded={budgets}>
          {budgets.data && budgets.data.data.length === 0
            ? <p class="muted" data-testid="no-budgets">No budget caps this account's spending{mode === 'prepaid' ? ' beyond its balance' : ''}. An admin can set one for the account or for a key.</p>
            : (
              <div class="budgets">
                {budgets.data?.data.map((b) => <div class="card" key={b.key_id ?? b.account_id}><BudgetMeter budget={b} /></div>)}
              </div>
            )}
          {budgets.data && budgets.data.data.length > 0 && <p class="hint">Requests that would go past a budget are refused until it resets. Spend shows here a moment after each request.</p>}
        </LoadState>
      </section>
      <LoadState loaded={ledger}>
        <section>
          <h2>Usage by day (last 30 days)</h2>
          {ledger.data && ledger.data.usage_by_day.length === 0
            ? <p class="muted">No usage yet.</p>
            : (
              <TableWrap label="Usage by day">
                <table>
                  <thead><tr><th scope="col">Day</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Cost</th></tr></thead>
                  <tbody>
                    {ledger.data?.usage_by_day.map((d) => (
                      <tr key={d.day}><th scope="row">{d.day}</th><td class="num">{formatNumber(d.requests)}</td><td class="num">{formatMicros(mode === 'postpaid' ? d.cost_micros : -d.cost_micros)}</td></tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
        </section>
        <section>
          <h2>Ledger</h2>
          {entries.length === 0
            ? <p class="muted">No entries yet.</p>
            : (
              <TableWrap label="Ledger">
                <table>
                  <thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col" class="num">Amount</th><th scope="col">Reason</th><th scope="col">By</th><th scope="col" class="num">Balance after</th></tr></thead>
                  <tbody>
                    {entries.map((e) => (
                      <tr key={e.id}>
                        <td>{formatTime(e.created_at)}</td>
                        <td>{e.kind}</td>
                        <td class={`num ${e.amount_micros < 0 ? 'neg' : 'pos'}`}>{e.amount_micros > 0 ? '+' : ''}{formatMicros(e.amount_micros)}</td>
                        <td>{e.reason ?? '—'}</td>
                        <td>{e.actor ?? '—'}</td>
                        <td class="num">{e.balance_after_micros === null ? '—' : formatMicros(e.balance_after_micros)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
          {more && <button type="button" class="secondary" onClick={loadMore}>Older entries</button>}
        </section>
      </LoadState>
    </>
  );
}
