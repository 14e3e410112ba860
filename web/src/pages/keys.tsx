// The keys page: create a key (shown once, with a copy button), list (with each key's budget, if it has
// one), disable, enable and delete.
import { useState } from 'preact/hooks';
import { api, type BudgetView, type BudgetsView, type KeyView } from '../api';
import { BudgetMeter } from '../budgets';
import { CopyButton, Field, LoadState, SelectField, StatusLine, TableWrap, errorStatus, formatTime, useLoad, type Status } from '../components';
import { useShared } from '../state';

const EXPIRIES = [
  { value: '', label: 'Never' },
  { value: '1d', label: '1 day' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: '365d', label: '1 year' },
];

export function Keys() {
  const { session } = useShared();
  const keys = useLoad(() => api<{ data: KeyView[] }>('/keys'), [session?.account?.id]);
  const budgets = useLoad(() => api<BudgetsView>('/budgets'), [session?.account?.id]);
  const keyBudgets = new Map((budgets.data?.data ?? []).filter((b) => b.scope === 'key').map((b) => [b.key_id, b]));
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('');
  const [allowed, setAllowed] = useState('');
  const [created, setCreated] = useState<(KeyView & { key: string }) | null>(null);
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  const role = session?.accounts.find((a) => a.id === session.account?.id)?.role;
  const canWrite = role !== 'member';

  const onCreate = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      const models = allowed.split(/[,\s]+/).map((m) => m.trim()).filter(Boolean);
      const body: Record<string, unknown> = {};
      if (name.trim()) body.name = name.trim();
      if (expiry) body.expires_in = expiry;
      if (models.length > 0) body.allowed_models = models;
      const key = await api<KeyView & { key: string }>('/keys', { method: 'POST', body });
      setCreated(key);
      setName('');
      setAllowed('');
      setStatus({ kind: 'ok', text: `Key ${key.name ?? key.hint} created.` });
      keys.reload();
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>API keys</h1>
      {created && (
        <section class="newkey" aria-labelledby="newkey-title">
          <h2 id="newkey-title">Your new key</h2>
          <p class="warning" role="note"><strong>Copy it now.</strong> This is the only time it is shown; it cannot be recovered, only replaced.</p>
          <div class="keybox">
            <code data-testid="new-key">{created.key}</code>
            <CopyButton text={created.key} label="Copy key" testid="key-copy" />
          </div>
          <button type="button" class="secondary small" onClick={() => setCreated(null)}>I have saved it</button>
        </section>
      )}
      {canWrite && (
        <section>
          <h2>Create a key</h2>
          <form onSubmit={onCreate} class="row-form">
            <Field label="Name" placeholder="e.g. laptop, CI" maxLength={128} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} data-testid="key-name" />
            <SelectField label="Expires" options={EXPIRIES} value={expiry} onChange={(e) => setExpiry((e.currentTarget as HTMLSelectElement).value)} data-testid="key-expiry" />
            <Field label="Allowed models" placeholder="all models" hint="Comma-separated model ids; empty allows every model."
              value={allowed} onInput={(e) => setAllowed((e.currentTarget as HTMLInputElement).value)} data-testid="key-models" />
            <button type="submit" disabled={busy} data-testid="key-create">{busy ? 'Creating…' : 'Create key'}</button>
          </form>
          <StatusLine status={status} />
        </section>
      )}
      <section>
        <h2>Your keys</h2>
        <LoadState loaded={keys}>
          {keys.data && keys.data.data.length === 0
            ? <p class="muted">No keys yet.</p>
            : (
              <TableWrap label="Keys">
                <table>
                  <thead>
                    <tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Models</th><th scope="col">Status</th>{keyBudgets.size > 0 && <th scope="col">Budget</th>}{canWrite && <th scope="col"><span class="sr-only">Actions</span></th>}</tr>
                  </thead>
                  <tbody>
                    {keys.data?.data.map((k) => (
                      <KeyRow key={k.id} k={k} budget={keyBudgets.size > 0 ? (keyBudgets.get(k.id) ?? null) : undefined} canWrite={canWrite} onChanged={keys.reload} onStatus={setStatus} />
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )}
        </LoadState>
      </section>
    </>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge ${status}`}>{status}</span>;
}

/** `budget`: the key's (null: it has none); undefined when no key has one and the column is left out. */
function KeyRow({ k, budget, canWrite, onChanged, onStatus }: { k: KeyView; budget?: BudgetView | null; canWrite: boolean; onChanged: () => void; onStatus: (s: Status) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const label = k.name ?? k.hint;
  const act = async (path: string, method: 'POST' | 'DELETE', done: string) => {
    setBusy(true);
    try {
      await api(path, { method });
      onStatus({ kind: 'ok', text: done });
      onChanged();
    } catch (error) {
      onStatus(errorStatus(error));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const id = encodeURIComponent(k.id);
  return (
    <tr data-testid="key-row" data-key-id={k.id}>
      <th scope="row">{k.name ?? <span class="muted">unnamed</span>}</th>
      <td><code>{k.hint}</code></td>
      <td>{formatTime(k.created_at)}</td>
      <td>{k.last_used_at ? formatTime(k.last_used_at) : 'never'}</td>
      <td>{k.expires_at ? formatTime(k.expires_at) : 'never'}</td>
      <td>{k.allowed_models?.join(', ') ?? 'all'}</td>
      <td><StatusBadge status={k.status} /></td>
      {budget !== undefined && <td>{budget ? <BudgetMeter budget={budget} compact /> : <span class="muted">none</span>}</td>}
      {canWrite && (
        <td class="actions">
          {confirming
            ? (
              <span role="group" aria-label={`Delete ${label}?`}>
                <span>Delete for good?</span>{' '}
                <button type="button" class="danger small" disabled={busy} data-testid="key-delete-confirm"
                  onClick={() => act(`/keys/${id}`, 'DELETE', `Key ${label} deleted.`)}>Delete</button>{' '}
                <button type="button" class="secondary small" onClick={() => setConfirming(false)}>Cancel</button>
              </span>
            )
            : (
              <>
                {k.status === 'disabled'
                  ? <button type="button" class="secondary small" disabled={busy} data-testid="key-enable" aria-label={`Enable ${label}`}
                    onClick={() => act(`/keys/${id}/enable`, 'POST', `Key ${label} enabled.`)}>Enable</button>
                  : <button type="button" class="secondary small" disabled={busy || k.status === 'expired'} data-testid="key-disable" aria-label={`Disable ${label}`}
                    onClick={() => act(`/keys/${id}/disable`, 'POST', `Key ${label} disabled.`)}>Disable</button>}{' '}
                <button type="button" class="danger small" disabled={busy} data-testid="key-delete" aria-label={`Delete ${label}`} onClick={() => setConfirming(true)}>Delete</button>
              </>
            )}
        </td>
      )}
    </tr>
  );
}
