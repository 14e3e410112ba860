// What every page shares: the portal's public config and the signed-in session, with a small
// subscribe-and-read store so the header and the pages update together.
import { useEffect, useState } from 'preact/hooks';
import { api, chooseAccount, chosenAccount, setCsrfToken, type PortalConfig, type SessionView } from './api';

export interface Shared { config: PortalConfig | null; session: SessionView | null; ready: boolean }

let shared: Shared = { config: null, session: null, ready: false };
const listeners = new Set<() => void>();

function publish(next: Partial<Shared>): void {
  shared = { ...shared, ...next };
  for (const listener of listeners) listener();
}

export function useShared(): Shared {
  const [value, setValue] = useState(shared);
  useEffect(() => {
    const update = () => setValue(shared);
    listeners.add(update);
    update();
    return () => { listeners.delete(update); };
  }, []);
  return value;
}

export function setSession(session: SessionView | null): void {
  setCsrfToken(session?.csrf_token ?? null);
  // A remembered account this person no longer belongs to is forgotten.
  const chosen = chosenAccount();
  if (session && chosen && !session.accounts.some((a) => a.id === chosen)) chooseAccount(null);
  publish({ session, ready: true });
}

export async function refreshSession(): Promise<SessionView | null> {
  try {
    const session = await api<SessionView>('/session', { quiet401: true });
    setSession(session);
    return session;
  } catch {
    setSession(null);
    return null;
  }
}

export async function loadConfig(): Promise<void> {
  try {
    const config = await api<PortalConfig>('/config');
    publish({ config });
    document.title = config.title;
  } catch {
    publish({ config: null });
  }
}
