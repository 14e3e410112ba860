// The portal's front end: the header (title, navigation, sign-in state, account switcher) and the
// routes, each a page; pages that need a session send the person to sign in first.
import { render, type ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { chooseAccount, chosenAccount, whenUnauthorized } from './api';
import { Link, currentRoute, match, navigate, useRoute } from './router';
import { loadConfig, refreshSession, setSession, useShared } from './state';
import { ConsoleSignIn, SignIn, SignUp, signOut } from './pages/auth';
import { Billing } from './pages/billing';
import { Console } from './pages/console';
import { Keys } from './pages/keys';
import { Docs, Landing, ModelPage, Models } from './pages/public';
import { Settings } from './pages/settings';
import { Usage } from './pages/usage';
import './styles.css';

whenUnauthorized(() => {
  const route = currentRoute();
  setSession(null);
  if (route.startsWith('/console')) navigate('/console/signin', true);
  else if (route !== '/signin' && route !== '/signup') navigate(`/signin?next=${encodeURIComponent(route)}`, true);
});

function NavLink({ to, children }: { to: string; children: ComponentChildren }) {
  const route = useRoute();
  const current = route === to || (to !== '/' && route.startsWith(`${to}/`));
  return <Link to={to} aria-current={current ? 'page' : undefined}>{children}</Link>;
}

function AccountSwitcher() {
  const { session } = useShared();
  if (!session || session.accounts.length < 2) return null;
  const onChange = async (event: Event) => {
    chooseAccount((event.currentTarget as HTMLSelectElement).value);
    await refreshSession();
  };
  return (
    <div class="switcher">
      <label for="account-switcher">Account</label>
      <select id="account-switcher" data-testid="account-switcher" value={session.account?.id ?? chosenAccount() ?? ''} onChange={onChange}>
        {session.accounts.map((a) => <option key={a.id} value={a.id}>{a.name} ({a.role})</option>)}
      </select>
    </div>
  );
}

function Header() {
  const { config, session } = useShared();
  const signedIn = Boolean(session?.user);
  const admin = Boolean(session?.admin);
  return (
    <header class="site">
      <div class="bar">
        <Link to="/" class="brand">{config?.title ?? 'Floodgate'}</Link>
        <nav aria-label="Main">
          <NavLink to="/models">Models</NavLink>
          <NavLink to="/docs">Docs</NavLink>
          {signedIn && <>
            <NavLink to="/keys">Keys</NavLink>
            <NavLink to="/usage">Usage</NavLink>
            <NavLink to="/billing">Billing</NavLink>
            <NavLink to="/settings">Settings</NavLink>
          </>}
          {admin && <NavLink to="/console">Console</NavLink>}
        </nav>
        <div class="who">
          <AccountSwitcher />
          {session
            ? <>
              <span class="muted small" data-testid="signed-in-as">{session.user?.email ?? 'admin'}</span>
              <button type="button" class="secondary small" data-testid="signout" onClick={() => { void signOut(); }}>Sign out</button>
            </>
            : <>
              <Link to="/signin" class="button secondary small">Sign in</Link>
              {config?.signup !== 'closed' && <Link to="/signup" class="button small">Sign up</Link>}
            </>}
        </div>
      </div>
    </header>
  );
}

/** A page that needs a session (or an admin one): until the session is known, a wait; without one, sign-in. */
function Guarded({ admin = false, children }: { admin?: boolean; children: ComponentChildren }) {
  const { session, ready } = useShared();
  const allowed = admin ? Boolean(session?.admin) : Boolean(session?.user && session.account);
  useEffect(() => {
    if (!ready || allowed) return;
    if (admin) navigate('/console/signin', true);
    else navigate(`/signin?next=${encodeURIComponent(currentRoute())}`, true);
  }, [ready, allowed, admin]);
  if (!ready) return <p class="muted" aria-live="polite">Loading…</p>;
  if (!allowed) return null;
  return <>{children}</>;
}

function Page() {
  const route = useRoute();
  if (route === '/') return <Landing />;
  if (route === '/models') return <Models />;
  const model = match('/models/:id', route);
  if (model) return <ModelPage id={model.id} />;
  if (route === '/docs') return <Docs />;
  if (route === '/signup') return <SignUp />;
  if (route === '/signin') return <SignIn />;
  if (route === '/console/signin') return <ConsoleSignIn />;
  if (route === '/keys') return <Guarded><Keys /></Guarded>;
  if (route === '/billing') return <Guarded><Billing /></Guarded>;
  if (route === '/usage') return <Guarded><Usage /></Guarded>;
  if (route === '/settings') return <Guarded><Settings /></Guarded>;
  if (route === '/console') return <Guarded admin><Console /></Guarded>;
  return (
    <section class="narrow">
      <h1>Page not found</h1>
      <p>There is no page at this address. <Link to="/">Go to the start</Link>.</p>
    </section>
  );
}

function App() {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, focus moves to the new page so keyboard and screen-reader users start at its top.
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    main.current?.focus();
  }, [route]);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <Header />
      <main id="main" ref={main} tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}

void loadConfig();
void refreshSession();
render(<App />, document.getElementById('app') as HTMLElement);
