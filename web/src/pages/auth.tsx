// Signing up, signing in (people and the admin token) and signing out.
import { useState } from 'preact/hooks';
import { api, type SessionView } from '../api';
import { Field, StatusLine, errorStatus, type Status } from '../components';
import { Link, navigate } from '../router';
import { setSession, useShared } from '../state';

const value = (event: Event) => (event.currentTarget as HTMLInputElement).value;

/** Where to go after signing in: the page that sent the person here, if it was one of ours. */
function nextRoute(fallback: string): string {
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : fallback;
}

export function SignUp() {
  const { config } = useShared();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [invite, setInvite] = useState('');
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  if (config?.signup === 'closed') {
    return (
      <section class="narrow">
        <h1>Sign up</h1>
        <p class="notice" role="status">Sign-up is closed on this server. Ask its operator for an account{config.support ? ` (${config.support})` : ''}.</p>
        <p>Already have an account? <Link to="/signin">Sign in</Link></p>
      </section>
    );
  }
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      const body: Record<string, string> = { email, password };
      if (config?.signup === 'invite') body.invite_code = invite.trim();
      setSession(await api<SessionView>('/session/signup', { method: 'POST', body }));
      navigate('/keys');
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Create your account</h1>
      <form onSubmit={onSubmit} class="stack">
        <Field label="Email" type="email" autocomplete="email" required value={email} onInput={(e) => setEmail(value(e))} data-testid="signup-email" />
        <Field label="Password" type="password" autocomplete="new-password" required minLength={8} hint="At least 8 characters."
          value={password} onInput={(e) => setPassword(value(e))} data-testid="signup-password" />
        {config?.signup === 'invite' && (
          <Field label="Invite code" required autocomplete="off" value={invite} onInput={(e) => setInvite(value(e))} data-testid="signup-invite" hint="Sign-up on this server is by invitation." />
        )}
        <button type="submit" disabled={busy} data-testid="signup-submit">{busy ? 'Creating…' : 'Sign up'}</button>
        <StatusLine status={status} />
      </form>
      <p>Already have an account? <Link to="/signin">Sign in</Link></p>
    </section>
  );
}

export function SignIn() {
  const { config } = useShared();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      setSession(await api<SessionView>('/session/signin', { method: 'POST', body: { email, password }, quiet401: true }));
      navigate(nextRoute('/keys'));
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <form onSubmit={onSubmit} class="stack">
        <Field label="Email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(value(e))} data-testid="signin-email" />
        <Field label="Password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(value(e))} data-testid="signin-password" />
        <button type="submit" disabled={busy} data-testid="signin-submit">{busy ? 'Signing in…' : 'Sign in'}</button>
        <StatusLine status={status} />
      </form>
      {config?.signup !== 'closed' && <p>New here? <Link to="/signup">Create an account</Link></p>}
    </section>
  );
}

export function ConsoleSignIn() {
  const [token, setToken] = useState('');
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      setSession(await api<SessionView>('/session/admin', { method: 'POST', body: { token }, quiet401: true }));
      navigate('/console');
    } catch (error) {
      setStatus(errorStatus(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Admin console</h1>
      <p class="muted">Sign in with the gateway's admin token. People with the admin role can also use their own sign-in.</p>
      <form onSubmit={onSubmit} class="stack">
        <Field label="Admin token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(value(e))} data-testid="console-token" />
        <button type="submit" disabled={busy} data-testid="console-signin">{busy ? 'Signing in…' : 'Sign in to the console'}</button>
        <StatusLine status={status} />
      </form>
    </section>
  );
}

export async function signOut(): Promise<void> {
  try {
    await api('/session/signout', { method: 'POST', quiet401: true });
  } catch { /* the session is gone either way */ }
  setSession(null);
  navigate('/');
}
