// Every portal page in light and dark, at desktop and phone width (issue 14). With UPDATE_SCREENSHOTS=1
// the pictures are written to docs/screenshots/<page>-<light|dark>-<desktop|phone>.png; without it the
// test still visits every page in every form and checks the theme follows the system and nothing
// overflows a phone's width, so CI never rewrites the tree.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { apiSession, DESKTOP, PHONE, startPortal, type Portal, type PortalPage } from '../helpers/browser.js';
import { REPO_ROOT } from '../helpers/gateway.js';
import { usageRecordFixture } from '../helpers/usage.js';

const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';
const OUT = join(REPO_ROOT, 'docs', 'screenshots');
const FORMS = [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const;
const HOUR = 3_600_000;
const MAX_HEIGHT = 1800;

let portal: Portal;
const written: string[] = [];

/** Shows `page` (already loaded) in each scheme and width; `ready` waits for what must be on it. */
async function capture(page: Page, name: string, ready: () => Promise<unknown>): Promise<void> {
  const backgrounds: Record<string, string> = {};
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [form, viewport] of FORMS) {
      await page.setViewportSize(viewport);
      await ready();
      // Charts redraw on resize; fonts and transitions settle.
      await page.waitForTimeout(120);
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, `${name} scrolls sideways at ${form} width`).toBeLessThanOrEqual(1);
      if (UPDATE) {
        const file = `${name}-${scheme}-${form}.png`;
        // The whole page, cut at MAX_HEIGHT: the end of a long table says nothing more and weighs much.
        const height = Math.min(MAX_HEIGHT, await page.evaluate<number>('document.documentElement.scrollHeight'));
        writeFileSync(join(OUT, file), await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height }, animations: 'disabled' }));
        written.push(file);
      }
    }
    backgrounds[scheme] = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
  }
  expect(backgrounds.dark, `${name}'s background follows prefers-color-scheme`).not.toBe(backgrounds.light);
}

async function visit(p: PortalPage, path: string, name: string, hook: string | null): Promise<void> {
  await p.page.goto(path);
  await p.page.waitForLoadState('networkidle');
  const ready = hook === null ? () => p.page.locator('main').first().waitFor() : () => p.page.getByTestId(hook).first().waitFor();
  await capture(p.page, name, ready);
}

beforeAll(async () => {
  if (UPDATE) mkdirSync(OUT, { recursive: true });
  portal = await startPortal();
}, 60_000);

afterAll(async () => {
  await portal?.close();
  if (UPDATE) console.log(`wrote ${written.length} screenshots to docs/screenshots/`);
});

describe('screenshots of every page', () => {
  it('public pages', async () => {
    const p = await portal.newPage();
    await visit(p, '/', 'landing', null);
    await visit(p, '/models', 'models', 'model-row');
    await visit(p, '/models/sim-chat', 'model', 'model-price-input');
    await visit(p, '/docs', 'docs', null);
    await visit(p, '/signup', 'signup', 'signup-email');
    await visit(p, '/signin', 'signin', 'signin-email');
    expect(p.problems).toEqual([]);
  }, 60_000);

  it("a person's pages, with a key just made and a day of usage", async () => {
    const email = `screens-${process.pid}@example.com`;
    const password = 'screenshots password';
    const person = await apiSession(portal.url, '/api/session/signup', { email, password });
    const accountId = person.session.account.id as string;
    const keys = [];
    for (const name of ['production', 'staging']) {
      const made = await person.request('POST', '/api/keys', { name });
      expect(made.status).toBe(201);
      keys.push(made.json as { id: string; key: string });
    }
    // A day of history, as the usage writer would have recorded it, then a few live calls.
    const now = Date.now();
    const history = [];
    for (let h = 23; h >= 1; h--) {
      for (const [j, model] of ['sim-chat', 'sim-reasoner', 'sim-embed'].entries()) {
        // A working day's curve: busiest in the afternoon, a few calls at night.
        const n = Math.round((3 - j) * (1.2 + Math.sin(((24 - h) / 24) * 2 * Math.PI - 1.2)));
        for (let i = 0; i < n; i++) {
          history.push(
            usageRecordFixture(accountId, 150 + 40 * j + i * 11, h * 100 + j * 10 + i, {
              createdAt: now - h * HOUR + i * 60_000,
              keyId: keys[(h + i) % 2].id,
              model,
              deployment: `sim/${model}`,
              endpoint: model === 'sim-embed' ? 'embeddings' : 'chat',
              promptTokens: 200 + 37 * i + 11 * h,
              cachedTokens: j === 0 ? 64 : 0,
              completionTokens: model === 'sim-embed' ? 0 : 80 + 13 * h,
              latencyMs: 120 + 9 * i + 3 * h,
              ttftMs: model === 'sim-embed' ? null : 40 + i,
              status: (h + i) % 17 === 0 ? 429 : 200,
            }),
          );
        }
      }
    }
    await portal.gw.gateway.store.usage.insertBatch(history);
    for (const key of keys) {
      const client = new OpenAI({ baseURL: `${portal.url}/v1`, apiKey: key.key, maxRetries: 0 });
      await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Hello from the screenshots' }], max_tokens: 16 });
      await client.embeddings.create({ model: 'sim-embed', input: 'a picture of the usage page' });
    }
    await portal.gw.flushUsage();
    // Budgets on the account and on one key (issue 18): set after the history, so its spend counts.
    const admin = await apiSession(portal.url, '/api/session/admin', { token: portal.gw.adminToken! });
    // apiSession's request passes any method through to fetch; its type lists the ones other tests use.
    expect((await admin.request('PUT', `/api/admin/accounts/${accountId}/budget`, { limit: '0.05', soft_limit: '0.04', period: 'month' })).status).toBe(200);
    expect((await admin.request('PUT', `/api/admin/keys/${keys[0].id}/budget`, { limit: '0.02', soft_limit: '0.015', period: 'week', reset_time: '09:00', time_zone: 'Europe/Berlin' })).status).toBe(200);

    const p = await portal.newPage();
    const { page } = p;
    await page.goto('/signin');
    await page.getByTestId('signin-email').fill(email);
    await page.getByTestId('signin-password').fill(password);
    await page.getByTestId('signin-submit').click();
    await expect.poll(async () => (await page.request.get('/api/session')).status()).toBe(200);

    await page.goto('/keys');
    await page.getByTestId('key-name').fill('laptop');
    await page.getByTestId('key-create').click();
    await page.getByTestId('new-key').waitFor();
    await capture(page, 'keys', () => page.getByTestId('new-key').waitFor());
    await visit(p, '/billing', 'billing', 'budget-meter');
    // The same account postpaid: no balance, no top-up; the budgets stay.
    expect((await admin.request('PATCH', `/api/admin/accounts/${accountId}`, { billing: 'postpaid' })).status).toBe(200);
    await visit(p, '/billing', 'billing-postpaid', 'budget-meter');
    expect((await admin.request('PATCH', `/api/admin/accounts/${accountId}`, { billing: null })).status).toBe(200);
    // The day of history fills the last 24 hours' chart.
    await page.goto('/usage');
    await page.getByLabel('Range', { exact: true }).selectOption('24h');
    await page.getByTestId('usage-row').first().waitFor();
    await page.waitForLoadState('networkidle');
    await expect.poll(async () => Number(await page.getByTestId('usage-chart').getAttribute('data-requests'))).toBeGreaterThan(history.length);
    await capture(page, 'usage', () => page.getByTestId('usage-row').first().waitFor());
    await visit(p, '/settings', 'settings', null);
    expect(p.problems).toEqual([]);
  }, 60_000);

  it('the admin console', async () => {
    const admin = await apiSession(portal.url, '/api/session/admin', { token: portal.gw.adminToken! });
    expect((await admin.request('POST', '/api/admin/invite-codes', { count: 3 })).status).toBe(201);
    const p = await portal.newPage();
    const { page } = p;
    await visit(p, '/console/signin', 'console-signin', 'console-token');
    await page.getByTestId('console-token').fill(portal.gw.adminToken!);
    await page.getByTestId('console-signin').click();
    await expect.poll(async () => (await page.request.get('/api/session')).status()).toBe(200);
    await page.goto('/console');
    await page.getByTestId('code-amount').fill('20');
    await page.getByTestId('code-count').fill('3');
    await page.getByTestId('code-create').click();
    await page.getByTestId('new-codes').waitFor();
    await page.getByTestId('console-account-row').first().waitFor();
    await page.waitForLoadState('networkidle');
    await capture(page, 'console', () => page.getByTestId('console-account-row').first().waitFor());
    // An account's panel: billing mode and budgets, a key's budget form open.
    await page.getByTestId('console-search').fill(`screens-${process.pid}@example.com`);
    await page.getByTestId('console-search-submit').click();
    await expect.poll(() => page.getByTestId('console-account-row').count()).toBe(1);
    await page.getByTestId('console-account-row').click();
    await page.getByTestId('console-key-budget-row').first().waitFor();
    await page.getByTestId('console-key-budget-edit').first().click();
    await page.waitForLoadState('networkidle');
    await capture(page, 'console-account', () => page.getByTestId('console-key-budget-form').waitFor());
    expect(p.problems).toEqual([]);
  }, 60_000);
});
