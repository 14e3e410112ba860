// Browser-test helpers (issue 14): headless Debian Chromium through playwright-core, driving a gateway
// started in this process that serves the built portal (dist/web), plus the console's JSON API over fetch.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RawConfig } from '../../src/config/schema.js';
import { startTestGateway, testConfig, REPO_ROOT, type TestGateway } from './gateway.js';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium without anything that reaches the network by itself: the portal must work offline. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export interface PortalPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors, console errors and failed requests seen so far on this page. */
  problems: string[];
}

export interface Portal {
  gw: TestGateway;
  browser: Browser;
  url: string;
  /** A fresh context (no cookies, no storage) with one page, its base URL the portal's. */
  newPage(opts?: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } }): Promise<PortalPage>;
  close(): Promise<void>;
}

/** The gateway with its portal at `/` (open sign-up unless `portal` says otherwise), and a browser. */
export async function startPortal(overrides: Partial<RawConfig> & { portal?: Record<string, unknown> } = {}): Promise<Portal> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html'))) throw new Error('dist/web/index.html is missing: run `npm run build` first (npm test does)');
  const raw = { ...testConfig(), ...overrides } as RawConfig;
  const [gw, browser] = await Promise.all([startTestGateway(raw), launchBrowser()]);
  const contexts: BrowserContext[] = [];
  return {
    gw,
    browser,
    url: gw.url,
    async newPage(opts = {}) {
      const context = await browser.newContext({
        baseURL: gw.url,
        colorScheme: opts.colorScheme ?? 'light',
        viewport: opts.viewport ?? DESKTOP,
        reducedMotion: 'reduce',
        permissions: ['clipboard-read', 'clipboard-write'],
      });
      context.setDefaultTimeout(10_000);
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        // A 4xx the page asked for on purpose (a wrong password, a session check) logs a console error
        // in Chromium; only script errors count here.
        if (msg.type() === 'error' && !/the server responded with a status of 4\d\d/.test(msg.text())) problems.push(`console: ${msg.text()}`);
      });
      page.on('requestfailed', (req) => {
        // Navigations away abort the previous page's pending requests: not the portal's fault.
        if (req.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ''}`);
      });
      page.on('request', (req) => {
        // Nothing from a CDN, no web fonts from outside (issue 14): every request stays on the gateway.
        if (!req.url().startsWith(gw.url) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) problems.push(`external request: ${req.url()}`);
      });
      return { context, page, problems };
    },
    async close() {
      await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
      await browser.close();
      await gw.close();
    },
  };
}

/** The first decimal number in a text (`$1,234.50 / 1M` → 1234.5); NaN when there is none. */
export function firstNumber(text: string | null): number {
  const m = /-?\d[\d,]*(?:\.\d+)?/.exec(text ?? '');
  return m ? Number(m[0].replace(/,/g, '')) : Number.NaN;
}

export interface ApiSession {
  csrfToken: string;
  session: any;
  request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/**
 * A portal session over fetch, for the parts a test sets up rather than tries: signs in (or up) at
 * `route` with `body`, then sends the cookie and the CSRF header on every request.
 */
export async function apiSession(url: string, route: '/api/session/admin' | '/api/session/signup' | '/api/session/signin', body: Record<string, string>): Promise<ApiSession> {
  const res = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200 && res.status !== 201) throw new Error(`${route} answered ${res.status}: ${await res.text()}`);
  const session = (await res.json()) as { csrf_token: string };
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('floodgate_session='));
  if (!cookie) throw new Error(`${route} set no floodgate_session cookie`);
  return {
    csrfToken: session.csrf_token,
    session,
    async request(method, path, reqBody) {
      const headers: Record<string, string> = { cookie, 'x-csrf-token': session.csrf_token };
      if (reqBody !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(`${url}${path}`, { method, headers, body: reqBody === undefined ? undefined : JSON.stringify(reqBody) });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : null };
    },
  };
}
