// A tiny History API router: the current route (relative to the portal path), navigation, and links
// that stay in the page for plain clicks and behave as ordinary links otherwise (new tab, copy).
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { portalPath } from './api';

const listeners = new Set<() => void>();

/** The route under the portal path, always starting with "/" and without a trailing one. */
export function currentRoute(): string {
  let path = location.pathname;
  if (path.startsWith(portalPath)) path = `/${path.slice(portalPath.length)}`;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

export function href(route: string): string {
  return portalPath + route.replace(/^\//, '');
}

export function navigate(route: string, replace = false): void {
  const target = href(route);
  if (target === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => { for (const listener of listeners) listener(); });

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    return () => { listeners.delete(update); };
  }, []);
  return route;
}

/** Matches "/models/:id" against a route; the params, or null. */
export function match(pattern: string, route: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = route.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

type LinkProps = Omit<JSX.AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ComponentChildren };

export function Link({ to, children, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={href(to)} onClick={onClick}>{children}</a>;
}
