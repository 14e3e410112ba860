// Billing modes and budgets in the portal, end to end in headless Chromium (issue 18 item 1): the admin
// makes an account postpaid and sets budgets on it and on a key in the console; the member sees the mode
// (no top-up asked for) and the meters; priced requests move the spent figure; the admin clears them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { apiSession, startPortal, type Portal } from '../helpers/browser.js';

let portal: Portal;

beforeAll(async () => {
  portal = await startPortal();
}, 60_000);

afterAll(async () => {
  await portal?.close();
});

/** The console, signed in with the admin token, with the account's panel open. */
async function openAccountInConsole(page: Page, accountId: string, email: string): Promise<void> {
  await page.goto('/console/signin');
  await page.getByTestId('console-token').fill(portal.gw.adminToken!);
  await page.getByTestId('console-signin').click();
  await expect.poll(async () => (await page.request.get('/api/session')).status()).toBe(200);
  if (!page.url().endsWith('/console')) await page.goto('/console');
  await page.getByTestId('console-search').fill(email);
  await page.getByTestId('console-search-submit').click();
  const row = page.locator(`[data-testid="console-account-row"][data-account-id="${accountId}"]`);
  await expect.poll(() => row.count()).toBe(1);
  await row.click();
  await page.getByTestId('console-budgets').waitFor();
}

const spentOf = async (page: Page, selector: string) => Number(await page.locator(selector).getAttribute('data-spent-micros'));

describe('budgets in the portal', () => {
  it('the admin sets postpaid and budgets, the member sees the meters move with priced requests, the admin clears them', async () => {
    const email = `budgets-${process.pid}@example.com`;
    const password = 'budget meter password';
    const person = await apiSession(portal.url, '/api/session/signup', { email, password });
    const accountId = person.session.account.id as string;
    const made = await person.request('POST', '/api/keys', { name: 'metered key' });
    expect(made.status).toBe(201);
    const key = made.json as { id: string; key: string };

    // The admin: postpaid, an account budget (a bad limit first: the field is named), a key budget.
    const a = await portal.newPage();
    const admin = a.page;
    await openAccountInConsole(admin, accountId, email);
    expect(await admin.getByTestId('console-billing-mode').getAttribute('data-mode')).toBe('prepaid');
    await admin.getByTestId('console-billing').selectOption('postpaid');
    await admin.getByTestId('console-billing-save').click();
    await expect.poll(() => admin.getByTestId('console-billing-mode').getAttribute('data-mode')).toBe('postpaid');

    await admin.getByTestId('console-budget-limit').fill('lots');
    await admin.getByTestId('console-budget-period').selectOption('day');
    await admin.getByTestId('console-budget-save').click();
    const formError = admin.getByTestId('console-budgets').locator('.status.error').first();
    await expect.poll(() => formError.textContent()).toContain('field: limit');
    await admin.getByTestId('console-budget-limit').fill('2.00');
    await admin.getByTestId('console-budget-soft').fill('1.50');
    await admin.getByTestId('console-budget-reset').fill('06:00');
    await admin.getByTestId('console-budget-zone').fill('Europe/Berlin');
    await admin.getByTestId('console-budget-save').click();
    const adminMeter = admin.locator('[data-testid="console-budgets"] [data-testid="budget-meter"][data-scope="account"]');
    await expect.poll(() => adminMeter.count()).toBe(1);
    expect(await adminMeter.getAttribute('data-limit-micros')).toBe('2000000');
    // The form now shows what was saved.
    expect(await admin.getByTestId('console-budget-limit').inputValue()).toBe('2.00');
    expect(await admin.getByTestId('console-budget-zone').inputValue()).toBe('Europe/Berlin');

    const keyRow = admin.locator(`[data-testid="console-key-budget-row"][data-key-id="${key.id}"]`);
    await keyRow.getByTestId('console-key-budget-edit').click();
    await admin.getByTestId('console-key-budget-limit').fill('1');
    await admin.getByTestId('console-key-budget-period').selectOption('month');
    await admin.getByTestId('console-key-budget-save').click();
    await expect.poll(() => keyRow.getByTestId('budget-meter').count()).toBe(1);
    expect(await keyRow.getByTestId('budget-meter').getAttribute('data-limit-micros')).toBe('1000000');

    // The member: postpaid said plainly, no top-up, the meters at zero with their reset time.
    const m = await portal.newPage({ colorScheme: 'dark' });
    const member = m.page;
    await member.goto('/signin');
    await member.getByTestId('signin-email').fill(email);
    await member.getByTestId('signin-password').fill(password);
    await member.getByTestId('signin-submit').click();
    await expect.poll(async () => (await member.request.get('/api/session')).status()).toBe(200);
    await member.goto('/billing');
    const mode = member.getByTestId('billing-mode');
    await expect.poll(() => mode.getAttribute('data-mode')).toBe('postpaid');
    expect(await mode.textContent()).toMatch(/no balance is needed/i);
    expect(await member.getByTestId('redeem-code').count()).toBe(0);
    expect(await member.getByTestId('balance').count()).toBe(0);
    const accountMeter = '[data-testid="budget-meter"][data-scope="account"]';
    const keyMeter = `[data-testid="budget-meter"][data-key-id="${key.id}"]`;
    await member.locator(accountMeter).waitFor();
    expect(await spentOf(member, accountMeter)).toBe(0);
    expect(await spentOf(member, keyMeter)).toBe(0);
    const meterText = (await member.locator(accountMeter).textContent()) ?? '';
    expect(meterText).toContain('$0.00 of $2.00 spent today');
    expect(meterText).toContain('soft limit $1.50');
    expect(meterText).toMatch(/Resets at .+ \(daily at 06:00 Europe\/Berlin\)/);
    expect(await member.locator(`${accountMeter} [role="meter"]`).getAttribute('aria-valuemax')).toBe('2000000');

    // Priced requests with the key: after the usage writer commits them, the spent figures move.
    const client = new OpenAI({ baseURL: `${portal.url}/v1`, apiKey: key.key, maxRetries: 0 });
    for (let i = 0; i < 4; i++) await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: `metered call ${i}` }], max_tokens: 32 });
    await portal.gw.flushUsage();
    await member.reload();
    await member.locator(accountMeter).waitFor();
    const spent = await spentOf(member, accountMeter);
    expect(spent).toBeGreaterThan(0);
    expect(await spentOf(member, keyMeter)).toBe(spent);
    expect(await member.locator(accountMeter).getByTestId('budget-spent').textContent()).not.toContain('$0.00 of');
    // The keys page shows the key's budget beside it.
    await member.goto('/keys');
    const memberKeyRow = member.locator(`[data-testid="key-row"][data-key-id="${key.id}"]`);
    await expect.poll(() => memberKeyRow.getByTestId('budget-meter').count()).toBe(1);
    expect(Number(await memberKeyRow.getByTestId('budget-meter').getAttribute('data-spent-micros'))).toBe(spent);

    // The admin sees the same spend, then clears both budgets.
    await openAccountInConsole(admin, accountId, email);
    await expect.poll(() => spentOf(admin, `[data-testid="console-budgets"] ${accountMeter}`)).toBe(spent);
    await admin.getByTestId('console-budget-clear').click();
    await admin.getByTestId('console-no-budget').waitFor();
    await keyRow.getByTestId('console-key-budget-clear').click();
    await expect.poll(() => keyRow.getByTestId('budget-meter').count()).toBe(0);

    await member.goto('/billing');
    await member.getByTestId('no-budgets').waitFor();
    expect(await member.getByTestId('budget-meter').count()).toBe(0);
    expect(a.problems).toEqual([]);
    expect(m.problems).toEqual([]);
  }, 60_000);
});
