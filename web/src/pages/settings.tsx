// Settings: change the password, and the account's members (the owner adds and removes them).
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Field, LoadState, StatusLine, TableWrap, errorStatus, formatTime, useLoad, type Status } from '../components';
import { useShared } from '../state';

interface Member { user_id: string; email: string; role: string; created_at?: string | null }

export function Settings() {
  const { session } = useShared();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [pwStatus, setPwStatus] = useState<Status>(null);
  const [email, setEmail] = useState('');
  const [memberStatus, setMemberStatus] = useState<Status>(null);
  const members = useLoad(() => api<{ data: Member[] }>('/members'), [session?.account?.id]);
  const myRole = session?.accounts.find((a) => a.id === session.account?.id)?.role;
  const isOwner = myRole === 'owner';

  const onPassword = async (event: Event) => {
    event.preventDefault();
    setPwStatus(null);
    try {
      await api('/session/password', { method: 'POST', body: { current_password: current, new_password: next } });
      setCurrent('');
      setNext('');
      setPwStatus({ kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
    } catch (error) {
      setPwStatus(errorStatus(error));
    }
  };

  const onAdd = async (event: Event) => {
    event.preventDefault();
    setMemberStatus(null);
    try {
      await api('/members', { method: 'POST', body: { email: email.trim() } });
      setMemberStatus({ kind: 'ok', text: `${email.trim()} can now use this account.` });
      setEmail('');
      members.reload();
    } catch (error) {
      setMemberStatus(errorStatus(error));
    }
  };

  const onRemove = async (member: Member) => {
    try {
      await api(`/members/${encodeURIComponent(member.user_id)}`, { method: 'DELETE' });
      setMemberStatus({ kind: 'ok', text: `${member.email} removed.` });
      members.reload();
    } catch (error) {
      setMemberStatus(errorStatus(error));
    }
  };

  return (
    <>
      <h1>Settings</h1>
      {session?.user && (
        <section class="narrow">
          <h2>Password</h2>
          <p class="muted">Signed in as {session.user.email}.</p>
          <form onSubmit={onPassword} class="stack">
            <input type="text" autocomplete="username" value={session.user.email} hidden readOnly aria-hidden="true" tabIndex={-1} />
            <Field label="Current password" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent((e.currentTarget as HTMLInputElement).value)} />
            <Field label="New password" type="password" autocomplete="new-password" required minLength={8} hint="At least 8 characters."
              value={next} onInput={(e) => setNext((e.currentTarget as HTMLInputElement).value)} />
            <button type="submit">Change password</button>
            <StatusLine status={pwStatus} />
          </form>
        </section>
      )}
      <section>
        <h2>Members of {session?.account?.name ?? 'this account'}</h2>
        <p class="muted">Members share the account's balance, keys and usage. Members read; the owner also changes things.</p>
        <LoadState loaded={members}>
          <TableWrap label="Members">
            <table>
              <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Since</th>{isOwner && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
              <tbody>
                {members.data?.data.map((m) => (
                  <tr key={m.user_id}>
                    <th scope="row">{m.email}</th>
                    <td>{m.role}</td>
                    <td>{formatTime(m.created_at ?? null)}</td>
                    {isOwner && <td>{m.role !== 'owner' && <button type="button" class="danger small" aria-label={`Remove ${m.email}`} onClick={() => onRemove(m)}>Remove</button>}</td>}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </LoadState>
        {isOwner && (
          <form onSubmit={onAdd} class="row-form">
            <Field label="Add a member by email" type="email" required hint="They need an account on this portal already." value={email}
              onInput={(e) => setEmail((e.currentTarget as HTMLInputElement).value)} />
            <button type="submit">Add member</button>
          </form>
        )}
        <StatusLine status={memberStatus} />
      </section>
    </>
  );
}
