// The admin console, one page: accounts (search, status, tier, limits, credit, billing mode, budgets of
// the account and its keys), keys across accounts, redemption and invite codes, usage across accounts and
// the deployments' health.
import { useState } from 'preact/hooks';
import { api, type AdminAccount, type BudgetView, type BudgetsView, type Deployment, type KeyView, type Limits } from '../api';
import { BudgetForm, BudgetMeter, billingModeText } from '../budgets';
import { CopyButton, Field, LoadState, SelectField, StatusLine, TableWrap, errorStatus, formatMicros, formatNumber, formatTime, useLoad, type Status } from '../components';
import { useShared } from '../state';
import { StatusBadge } from './keys';
import { UsageCharts } from './usage';

const inputValue = (e: Event) => (e.currentTarget as HTMLInputElement).value;

export function Console() {
  return (
    <>
      <h1>Console</h1>
      <nav aria-label="Console sections" class="jump">
        <a href="#accounts">Accounts</a><a href="#keys">Keys</a><a href="#codes">Codes</a><a href="#usage">Usage</a><a href="#deployments">Deployments</a>
      </nav>
      <Accounts />
      <AllKeys />
      <Codes />
      <section id="usage"><UsageCharts path="/admin/usage" title="Usage across accounts" groups={[{ value: 'model', label: 'Model' }, { value: 'account', label: 'Account' }]} /></section>
      <Deployments />
    </>
  );
}

function Accounts() {
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const accounts = useLoad(() => api<{ data: AdminAccount[] }>('/admin/accounts', { query: { q: search } }), [search]);
  return (
    <section id="accounts" aria-labelledby="accounts-title">
      <h2 id="accounts-title">Accounts</h2>
      <form class="row-form" role="search" onSubmit={(e) => { e.preventDefault(); setSearch(q.trim()); }}>
        <Field label="Search by email, name or id" type="search" value={q} onInput={(e) => setQ(inputValue(e))} data-testid="console-search" />
        <button type="submit" data-testid="console-search-submit">Search</button>
      </form>
      <LoadState loaded={accounts}>
        <TableWrap label="Accounts">
          <table>
            <thead><tr><th scope="col">Account</th><th scope="col">Members</th><th scope="col">Tier</th><th scope="col">Status</th><th scope="col" class="num">Balance</th><th scope="col">Created</th></tr></thead>
            <tbody>
              {accounts.data?.data.length === 0 && <tr><td colSpan={6} class="muted">No account matches.</td></tr>}
              {accounts.data?.data.map((a) => (
                <tr key={a.id} data-testid="console-account-row" data-account-id={a.id} class={`clickable ${open === a.id ? 'selected' : ''}`} onClick={() => setOpen(a.id)}>
                  <th scope="row"><button type="button" class="linklike" aria-expanded={open === a.id} onClick={(e) => { e.stopPropagation(); setOpen(a.id); }}>{a.name}</button><br /><code class="small">{a.id}</code></th>
                  <td>{a.members.join(', ') || '—'}</td>
                  <td>{a.tier}</td>
                  <td><StatusBadge status={a.status} /></td>
                  <td class="num">{formatMicros(a.balance_micros)}</td>
                  <td>{formatTime(a.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>
      {open && <AccountPanel id={open} onChanged={accounts.reload} onClose={() => setOpen(null)} />}
    </section>
  );
}

function AccountPanel({ id, onChanged, onClose }: { id: string; onChanged: () => void; onClose: () => void }) {
  const { config } = useShared();
  const account = useLoad(() => api<AdminAccount>(`/admin/accounts/${encodeURIComponent(id)}`), [id]);
  const [tier, setTier] = useState<string | null>(null);
  const [limits, setLimits] = useState<Record<keyof Limits, string> | null>(null);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [billing, setBilling] = useState<string | null>(null);
  const [status, setStatus] = useState<Status>(null);
  const a = account.data;

  const patch = async (body: Record<string, unknown>, done: string) => {
    setStatus(null);
    try {
      await api(`/admin/accounts/${encodeURIComponent(id)}`, { method: 'PATCH', body });
      setStatus({ kind: 'ok', text: done });
      account.reload();
      onChanged();
    } catch (error) {
      setStatus(errorStatus(error));
    }
  };
  const limitFields: { name: keyof Limits; label: string }[] = [
    { name: 'requests_per_minute', label: 'Requests per minute' },
    { name: 'tokens_per_minute', label: 'Tokens per minute' },
    { name: 'concurrent_requests', label: 'Concurrent requests' },
  ];
  // Fields start empty (the effective value as placeholder): saving never pins a tier's figure as an override.
  const shownLimits = limits ?? { requests_per_minute: '', tokens_per_minute: '', concurrent_requests: '' };
  const saveLimits = (event: Event) => {
    event.preventDefault();
    const body: Record<string, number> = {};
    for (const f of limitFields) if (shownLimits[f.name].trim() !== '') body[f.name] = Number(shownLimits[f.name]);
    void patch({ limits: Object.keys(body).length ? body : null }, 'Limits saved.').then(() => setLimits(null));
  };
  const credit = async (event: Event) => {
    event.preventDefault();
    setStatus(null);
    try {
      await api(`/admin/accounts/${encodeURIComponent(id)}/credits`, { method: 'POST', body: { amount: amount.trim(), reason: reason.trim() || 'console credit' } });
      setStatus({ kind: 'ok', text: `Credited ${amount.trim()}.` });
      setAmount('');
      setReason('');
      account.reload();
      onChanged();
    } catch (error) {
      setStatus(errorStatus(error));
    }
  };
  const tiers = (config?.tiers ?? []).map((t) => ({ value: t.name, label: `${t.name} (${t.requests_per_minute ?? '∞'} req/min)` }));
  if (a && !tiers.some((t) => t.value === a.tier)) tiers.unshift({ value: a.tier, label: a.tier });

  return (
    <section class="panel" aria-labelledby="panel-title">
      <div class="panel-head">
        <h3 id="panel-title">{a?.name ?? 'Account'}</h3>
        <button type="button" class="secondary small" onClick={onClose}>Close</button>
      </div>
      <LoadState loaded={account}>
        {a && (
          <>
            <dl class="facts">
              <dt>Id</dt><dd><code>{a.id}</code></dd>
              <dt>Members</dt><dd>{a.members.join(', ') || '—'}</dd>
              <dt>Balance</dt><dd data-testid="console-balance">{formatMicros(a.balance_micros)}</dd>
              <dt>Status</dt><dd><StatusBadge status={a.status} />{' '}
                {a.status === 'active'
                  ? <button type="button" class="danger small" data-testid="console-disable" onClick={() => patch({ status: 'disabled' }, 'Account disabled: its keys are refused.')}>Disable</button>
                  : <button type="button" class="secondary small" data-testid="console-enable" onClick={() => patch({ status: 'active' }, 'Account enabled.')}>Enable</button>}
              </dd>
            </dl>
            <form class="row-form" onSubmit={(e) => { e.preventDefault(); void patch({ tier: tier ?? a.tier }, `Tier set to ${tier ?? a.tier}.`); }}>
              <SelectField label="Tier" options={tiers} value={tier ?? a.tier} onChange={(e) => setTier((e.currentTarget as HTMLSelectElement).value)} data-testid="console-tier" />
              <button type="submit" data-testid="console-tier-save">Save tier</button>
            </form>
            <form class="row-form" onSubmit={saveLimits}>
              {limitFields.map((f) => (
                <Field key={f.name} label={f.label} type="number" min={0} step={1} placeholder={a.limits[f.name] === null ? 'unlimited' : String(a.limits[f.name])} value={shownLimits[f.name]}
                  onInput={(e) => setLimits({ ...shownLimits, [f.name]: inputValue(e) })} />
              ))}
              <button type="submit">Save limits</button>
            </form>
            <p class="hint">The placeholders are the limits in force. Fields left empty follow the tier; saving with all empty clears the overrides.</p>
            <form class="row-form" onSubmit={credit}>
              <Field label="Credit amount (USD)" inputMode="decimal" required placeholder="10.00" value={amount} onInput={(e) => setAmount(inputValue(e))} data-testid="console-credit-amount" />
              <Field label="Reason" required maxLength={500} value={reason} onInput={(e) => setReason(inputValue(e))} />
              <button type="submit" data-testid="console-credit">Credit</button>
            </form>
            <div class="subpanel">
              <h4>Billing mode</h4>
              <p class="small" data-testid="console-billing-mode" data-mode={a.billing_mode}>In force: <strong>{a.billing_mode}</strong>{a.billing === null ? ' (the tier’s)' : ' (set on this account)'}. {billingModeText(a.billing_mode)}</p>
              <form class="row-form" onSubmit={(e) => {
                e.preventDefault();
                const value = billing ?? a.billing ?? '';
                void patch({ billing: value === '' ? null : value }, value === '' ? 'Billing mode follows the tier.' : `Billing mode set to ${value}.`).then(() => setBilling(null));
              }}>
                <SelectField label="Mode" value={billing ?? a.billing ?? ''} onChange={(e) => setBilling((e.currentTarget as HTMLSelectElement).value)} data-testid="console-billing"
                  options={[{ value: '', label: 'Follow the tier' }, { value: 'prepaid', label: 'Prepaid (pays from the balance)' }, { value: 'postpaid', label: 'Postpaid (tracked, invoiced)' }]} />
                <button type="submit" data-testid="console-billing-save">Save billing mode</button>
              </form>
            </div>
            <AccountBudgets id={a.id} onStatus={setStatus} />
          </>
        )}
      </LoadState>
      <StatusLine status={status} />
    </section>
  );
}

/** The account's budget and its keys' budgets: each shown with its period's spend, set, changed or cleared. */
function AccountBudgets({ id, onStatus }: { id: string; onStatus: (s: Status) => void }) {
  const budgets = useLoad(() => api<BudgetsView>(`/admin/accounts/${encodeURIComponent(id)}/budgets`), [id]);
  const keys = useLoad(() => api<{ data: KeyView[] }>('/admin/keys', { query: { account_id: id } }), [id]);
  const [editing, setEditing] = useState<string | null>(null);
  const accountBudget = budgets.data?.data.find((b) => b.scope === 'account') ?? null;
  const keyBudgets = new Map((budgets.data?.data ?? []).filter((b) => b.scope === 'key').map((b) => [b.key_id, b]));
  const path = (scope: 'account' | 'key', ref: string) => `/admin/${scope === 'account' ? 'accounts' : 'keys'}/${encodeURIComponent(ref)}/budget`;
  const done = (text: string) => {
    onStatus({ kind: 'ok', text });
    setEditing(null);
    budgets.reload();
  };
  // Remounted after each change (the key changes), so the form starts from what was saved.
  const version = (b: BudgetView | null | undefined) => (b ? `${b.updated_at}` : 'none');
  return (
    <div class="subpanel" data-testid="console-budgets">
      <h4>Account budget</h4>
      <LoadState loaded={budgets}>
        {accountBudget ? <BudgetMeter budget={accountBudget} titled={false} /> : <p class="muted small" data-testid="console-no-budget">No budget: the account’s spending is not capped{budgets.data?.billing_mode === 'prepaid' ? ' beyond its balance' : ''}.</p>}
        <BudgetForm key={`account-${version(accountBudget)}`} budget={accountBudget} testid="console-budget" onDone={done}
          save={(body) => api(path('account', id), { method: 'PUT', body })} clear={() => api(path('account', id), { method: 'DELETE' })} />
      </LoadState>
      <h4>Key budgets</h4>
      <LoadState loaded={keys}>
        {keys.data?.data.length === 0
          ? <p class="muted small">The account has no keys.</p>
          : (
            <TableWrap label="Key budgets">
              <table>
                <thead><tr><th scope="col">Key</th><th scope="col">Budget</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {keys.data?.data.map((k) => {
                    const b = keyBudgets.get(k.id) ?? null;
                    const label = k.name ?? k.hint;
                    return [
                      <tr key={k.id} data-testid="console-key-budget-row" data-key-id={k.id}>
                        <th scope="row">{k.name ?? <span class="muted">unnamed</span>}<br /><code class="small">{k.hint}</code></th>
                        <td>{b ? <BudgetMeter budget={b} compact /> : <span class="muted">none</span>}</td>
                        <td class="actions">
                          <button type="button" class="secondary small" aria-expanded={editing === k.id} data-testid="console-key-budget-edit" aria-label={`${b ? 'Change' : 'Set'} the budget of ${label}`}
                            onClick={() => setEditing(editing === k.id ? null : k.id)}>{b ? 'Change' : 'Set budget'}</button>{' '}
                          {b && <button type="button" class="danger small" data-testid="console-key-budget-clear" aria-label={`Clear the budget of ${label}`}
                            onClick={() => { api(path('key', k.id), { method: 'DELETE' }).then(() => done(`Budget of key ${label} cleared.`), (error: unknown) => onStatus(errorStatus(error))); }}>Clear</button>}
                        </td>
                      </tr>,
                      editing === k.id && (
                        <tr key={`${k.id}-form`}>
                          <td colSpan={3} class="formcell">
                            <BudgetForm key={`key-${k.id}-${version(b)}`} budget={b} testid="console-key-budget" onDone={(text) => done(`Key ${label}: ${text}`)}
                              save={(body) => api(path('key', k.id), { method: 'PUT', body })} clear={() => api(path('key', k.id), { method: 'DELETE' })} />
                          </td>
                        </tr>
                      ),
                    ];
                  })}
                </tbody>
              </table>
            </TableWrap>
          )}
      </LoadState>
    </div>
  );
}

function AllKeys() {
  const [accountId, setAccountId] = useState('');
  const [filter, setFilter] = useState('');
  const keys = useLoad(() => api<{ data: (KeyView & { account_id: string })[] }>('/admin/keys', { query: { account_id: filter } }), [filter]);
  return (
    <section id="keys" aria-labelledby="allkeys-title">
      <h2 id="allkeys-title">Keys across accounts</h2>
      <form class="row-form" onSubmit={(e) => { e.preventDefault(); setFilter(accountId.trim()); }}>
        <Field label="Account id" placeholder="every account" value={accountId} onInput={(e) => setAccountId(inputValue(e))} />
        <button type="submit">Filter</button>
      </form>
      <LoadState loaded={keys}>
        <TableWrap label="Keys across accounts">
          <table>
            <thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Account</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {keys.data?.data.length === 0 && <tr><td colSpan={6} class="muted">No keys.</td></tr>}
              {keys.data?.data.map((k) => (
                <tr key={k.id}>
                  <th scope="row"><code>{k.hint}</code></th><td>{k.name ?? '—'}</td><td><code class="small">{k.account_id}</code></td>
                  <td>{formatTime(k.created_at)}</td><td>{k.last_used_at ? formatTime(k.last_used_at) : 'never'}</td><td><StatusBadge status={k.status} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>
    </section>
  );
}

interface RedemptionCode { hint: string; amount_micros: number; created_at: string; expires_at: string | null; redeemed_at: string | null; account_id: string | null; batch?: string | null }
interface InviteCode { hint: string; created_at: string; expires_at: string | null; used_at: string | null; used_by: string | null }

const EXPIRY_OPTIONS = [
  { value: '', label: 'Never' }, { value: '1d', label: '1 day' }, { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' }, { value: '90d', label: '90 days' }, { value: '365d', label: '1 year' },
];

function NewCodes({ codes }: { codes: string[] }) {
  return (
    <div class="newkey">
      <p class="warning" role="note"><strong>Copy these now.</strong> Codes are shown only once.</p>
      <ul class="codes" data-testid="new-codes">{codes.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
      <CopyButton text={codes.join('\n')} label={`Copy ${codes.length === 1 ? 'code' : `${codes.length} codes`}`} />
    </div>
  );
}

function Codes() {
  const [amount, setAmount] = useState('10.00');
  const [count, setCount] = useState('1');
  const [expiry, setExpiry] = useState('');
  const [created, setCreated] = useState<string[] | null>(null);
  const [status, setStatus] = useState<Status>(null);
  const [inviteCount, setInviteCount] = useState('1');
  const [inviteExpiry, setInviteExpiry] = useState('7d');
  const [invites, setInvites] = useState<string[] | null>(null);
  const [inviteStatus, setInviteStatus] = useState<Status>(null);
  const redemption = useLoad(() => api<{ data: RedemptionCode[] }>('/admin/redemption-codes'), []);
  const invite = useLoad(() => api<{ data: InviteCode[] }>('/admin/invite-codes'), []);

  const createCodes = async (event: Event) => {
    event.preventDefault();
    setStatus(null);
    try {
      const body: Record<string, unknown> = { amount: amount.trim(), count: Number(count) };
      if (expiry) body.expires_in = expiry;
      const result = await api<{ codes: string[] }>('/admin/redemption-codes', { method: 'POST', body });
      setCreated(result.codes);
      setStatus({ kind: 'ok', text: `${result.codes.length} code${result.codes.length === 1 ? '' : 's'} of ${amount.trim()} made.` });
      redemption.reload();
    } catch (error) {
      setStatus(errorStatus(error));
    }
  };
  const createInvites = async (event: Event) => {
    event.preventDefault();
    setInviteStatus(null);
    try {
      const body: Record<string, unknown> = { count: Number(inviteCount) };
      if (inviteExpiry) body.expires_in = inviteExpiry;
      const result = await api<{ codes: string[] }>('/admin/invite-codes', { method: 'POST', body });
      setInvites(result.codes);
      setInviteStatus({ kind: 'ok', text: `${result.codes.length} invite code${result.codes.length === 1 ? '' : 's'} made.` });
      invite.reload();
    } catch (error) {
      setInviteStatus(errorStatus(error));
    }
  };

  return (
    <section id="codes" aria-labelledby="codes-title">
      <h2 id="codes-title">Redemption codes</h2>
      <form class="row-form" onSubmit={createCodes}>
        <Field label="Amount (USD)" inputMode="decimal" required value={amount} onInput={(e) => setAmount(inputValue(e))} data-testid="code-amount" />
        <Field label="How many" type="number" min={1} max={1000} required value={count} onInput={(e) => setCount(inputValue(e))} data-testid="code-count" />
        <SelectField label="Expires" options={EXPIRY_OPTIONS} value={expiry} onChange={(e) => setExpiry((e.currentTarget as HTMLSelectElement).value)} />
        <button type="submit" data-testid="code-create">Make codes</button>
      </form>
      <StatusLine status={status} />
      {created && <NewCodes codes={created} />}
      <LoadState loaded={redemption}>
        <TableWrap label="Redemption codes">
          <table>
            <thead><tr><th scope="col">Code</th><th scope="col" class="num">Amount</th><th scope="col">Made</th><th scope="col">Expires</th><th scope="col">Redeemed</th><th scope="col">By account</th></tr></thead>
            <tbody>
              {redemption.data?.data.length === 0 && <tr><td colSpan={6} class="muted">No codes yet.</td></tr>}
              {redemption.data?.data.map((c) => (
                <tr key={c.hint + c.created_at}>
                  <th scope="row"><code>{c.hint}</code></th><td class="num">{formatMicros(c.amount_micros)}</td><td>{formatTime(c.created_at)}</td>
                  <td>{c.expires_at ? formatTime(c.expires_at) : 'never'}</td><td>{c.redeemed_at ? formatTime(c.redeemed_at) : 'not yet'}</td>
                  <td>{c.account_id ? <code class="small">{c.account_id}</code> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>

      <h2>Invite codes</h2>
      <form class="row-form" onSubmit={createInvites}>
        <Field label="How many invites" type="number" min={1} max={1000} required value={inviteCount} onInput={(e) => setInviteCount(inputValue(e))} data-testid="invite-count" />
        <SelectField label="Invites expire" options={EXPIRY_OPTIONS} value={inviteExpiry} onChange={(e) => setInviteExpiry((e.currentTarget as HTMLSelectElement).value)} />
        <button type="submit" data-testid="invite-create">Make invite codes</button>
      </form>
      <StatusLine status={inviteStatus} />
      {invites && (
        <div class="newkey">
          <p class="warning" role="note"><strong>Copy these now.</strong> Codes are shown only once.</p>
          <ul class="codes" data-testid="new-invites">{invites.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
          <CopyButton text={invites.join('\n')} label="Copy invite codes" />
        </div>
      )}
      <LoadState loaded={invite}>
        <TableWrap label="Invite codes">
          <table>
            <thead><tr><th scope="col">Code</th><th scope="col">Made</th><th scope="col">Expires</th><th scope="col">Used</th></tr></thead>
            <tbody>
              {invite.data?.data.length === 0 && <tr><td colSpan={4} class="muted">No invite codes yet.</td></tr>}
              {invite.data?.data.map((c) => (
                <tr key={c.hint + c.created_at}>
                  <th scope="row"><code>{c.hint}</code></th><td>{formatTime(c.created_at)}</td><td>{c.expires_at ? formatTime(c.expires_at) : 'never'}</td>
                  <td>{c.used_at ? `${formatTime(c.used_at)}${c.used_by ? ` by ${c.used_by}` : ''}` : 'not yet'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>
    </section>
  );
}

/** A deployment's health as a sentence a person can act on. */
function describeHealth(d: Deployment): { tone: 'ok' | 'warn' | 'bad'; text: string } {
  const rate = d.window.requests > 0 ? d.window.failures / d.window.requests : 0;
  const pct = `${Math.round(rate * 100)}%`;
  if (d.state === 'open') {
    const retry = d.retry_at ? ` Next trial at ${formatTime(d.retry_at)}.` : '';
    const why =
      d.open_reason === 'unreachable'
        ? 'Taken out of rotation: the backend cannot be connected to; it comes back as soon as it answers.'
        : d.open_reason === 'peer'
          ? 'Taken out of rotation: another gateway instance saw it fail.'
          : 'Taken out of rotation after repeated failures.';
    return { tone: 'bad', text: `${why}${retry}` };
  }
  if (d.state === 'half_open' || d.state === 'half-open') return { tone: 'warn', text: 'On trial: a few requests test whether it has recovered.' };
  if (d.window.requests === 0) return { tone: 'ok', text: 'Healthy; no recent traffic.' };
  if (rate >= 0.2) return { tone: 'warn', text: `Serving, but ${pct} of recent requests failed.` };
  const failed = d.window.failures === 0 ? 'none failed' : `${pct} failed`;
  return { tone: 'ok', text: `Healthy: ${formatNumber(d.window.requests)} recent request${d.window.requests === 1 ? '' : 's'}, ${failed}.` };
}

function Deployments() {
  const deployments = useLoad(() => api<{ data: Deployment[] }>('/admin/deployments'), []);
  return (
    <section id="deployments" aria-labelledby="deployments-title">
      <h2 id="deployments-title">Deployments</h2>
      <button type="button" class="secondary small" onClick={deployments.reload}>Refresh</button>
      <LoadState loaded={deployments}>
        <TableWrap label="Deployments">
          <table>
            <thead><tr><th scope="col">Deployment</th><th scope="col">Serves</th><th scope="col">Health</th><th scope="col" class="num">In flight</th><th scope="col" class="num">Recent failures</th></tr></thead>
            <tbody>
              {deployments.data?.data.map((d) => {
                const health = describeHealth(d);
                return (
                  <tr key={d.id}>
                    <th scope="row">{d.id}<br /><span class="muted small">{d.upstream_model}</span></th>
                    <td>{d.models.join(', ')}</td>
                    <td><span class={`health ${health.tone}`}>{d.state === 'closed' ? 'up' : d.state.replace('_', ' ')}</span> {health.text}</td>
                    <td class="num">{formatNumber(d.in_flight)}</td>
                    <td class="num">{formatNumber(d.window.failures)} / {formatNumber(d.window.requests)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      </LoadState>
    </section>
  );
}
