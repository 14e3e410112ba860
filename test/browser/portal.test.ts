// The portal end to end in headless Chromium (issue 14's Acceptance): a new person's first minute and
// first top-up, the admin's console, and the catalog's prices — through the pages' data-testid hooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { apiSession, firstNumber, startPortal, type Portal, type PortalPage } from '../helpers/browser.js';
import { testConfig } from '../helpers/gateway.js';

const CONFIG = testConfig();
const DEFAULT_RPM = CONFIG.limits!.tiers!.default!.requests_per_minute;
const STANDARD_RPM = CONFIG.limits!.tiers!.standard!.requests_per_minute;

let portal: Portal;
let seq = 0;
const uniqueEmail = (who: string) => `${who}-${process.pid}-${++seq}@example.com`;

function sdk(apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${portal.url}/v1`, apiKey, maxRetries: 0 });
}

async function signUpInBrowser(p: PortalPage, email: string, password: string): Promise<void> {
  await p.page.goto('/signup');
  await p.page.getByTestId('signup-email').fill(email);
  await p.page.getByTestId('signup-password').fill(password);
  await p.page.getByTestId('signup-submit').click();
  // Signed in: the session answers for this person.
  await expect.poll(async () => (await p.page.request.get('/api/session')).status()).toBe(200);
}

beforeAll(async () => {
  portal = await startPortal();
}, 60_000);

afterAll(async () => {
  await portal?.close();
});

describe('portal in a real browser', () => {
  it('a new person: sign up, a key shown once and copied, a call with it, usage, a redeemed code, the key disabled, sign out', async () => {
    const p = await portal.newPage();
    const { page } = p;
    const email = uniqueEmail('first');
    await signUpInBrowser(p, email, 'correct horse battery');

    // A key, shown once, copied to the clipboard.
    await page.goto('/keys');
    await page.getByTestId('key-name').fill('e2e key');
    await page.getByTestId('key-create').click();
    const shown = page.getByTestId('new-key');
    await expect.poll(async () => (await shown.textContent())?.trim() ?? '').toMatch(/^fk-/);
    const apiKey = (await shown.textContent())!.trim();
    await page.getByTestId('key-copy').click();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(apiKey);
    const row = page.getByTestId('key-row').filter({ hasText: 'e2e key' });
    await expect.poll(() => row.count()).toBe(1);
    // The list shows the hint, never the key.
    expect(await page.getByTestId('key-row').first().textContent()).not.toContain(apiKey);

    // The key works with the official SDK, and the call shows in the table and the chart.
    const client = sdk(apiKey);
    const { data: completion, response } = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello portal' }], max_tokens: 8 }).withResponse();
    expect(completion.choices[0].message.content).toBeTruthy();
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    await portal.gw.flushUsage();
    await page.goto('/usage');
    const usageRow = page.locator(`[data-testid="usage-row"][data-request-id="${requestId}"]`);
    await expect.poll(() => usageRow.count()).toBe(1);
    expect(await usageRow.textContent()).toContain('sim-chat');
    await expect.poll(async () => Number(await page.getByTestId('usage-chart').getAttribute('data-requests'))).toBe(1);
    expect(await page.getByTestId('usage-chart').locator('canvas').count()).toBeGreaterThan(0);

    // A code made through the console's API, redeemed on the billing page: the balance grows by it.
    const admin = await apiSession(portal.url, '/api/session/admin', { token: portal.gw.adminToken! });
    const made = await admin.request('POST', '/api/admin/redemption-codes', { amount: 25, count: 1 });
    expect(made.status).toBe(201);
    const code = made.json.codes[0] as string;
    await page.goto('/billing');
    const balance = page.getByTestId('balance');
    await expect.poll(() => balance.getAttribute('data-balance-micros')).not.toBeNull();
    const before = Number(await balance.getAttribute('data-balance-micros'));
    expect(before).toBeGreaterThan(0);
    // The call above was billed: the sign-up's credit minus its cost.
    expect(before).toBeLessThan(CONFIG.billing!.initial_credit! * 1_000_000);
    await page.getByTestId('redeem-code').fill(code);
    await page.getByTestId('redeem-submit').click();
    await expect.poll(async () => Number(await balance.getAttribute('data-balance-micros'))).toBe(before + 25_000_000);
    expect(firstNumber(await balance.textContent())).toBeCloseTo((before + 25_000_000) / 1_000_000, 2);
    // A code credits once: the same code again is refused and the balance stays.
    await page.getByTestId('redeem-code').fill(code);
    await page.getByTestId('redeem-submit').click();
    await page.waitForTimeout(300);
    expect(Number(await balance.getAttribute('data-balance-micros'))).toBe(before + 25_000_000);

    // Disabled on the keys page: the SDK is refused with 403 within the key cache's bound.
    await page.goto('/keys');
    await row.getByTestId('key-disable').click();
    await expect.poll(() => row.getByTestId('key-enable').count()).toBe(1);
    const disabledAt = performance.now();
    let status = 0;
    while (performance.now() - disabledAt < 4_000) {
      try {
        await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 });
      } catch (err) {
        status = err instanceof OpenAI.APIError ? (err.status ?? 0) : -1;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(403);
    // The bound is the key cache's second; the rest is slack for a loaded CI machine.
    expect(performance.now() - disabledAt).toBeLessThan(2_500);

    // Signed out: the session is gone and the keys page asks to sign in.
    await page.getByTestId('signout').click();
    await expect.poll(async () => (await page.request.get('/api/session')).status()).toBe(401);
    await page.goto('/keys');
    await expect.poll(() => page.getByTestId('signin-email').isVisible()).toBe(true);
    expect(p.problems).toEqual([]);
  }, 45_000);

  it('the admin: console sign-in with the token, codes made, an account found and its tier changed, the new limit in the headers', async () => {
    // A person with a key, set up over the JSON API (the first test tried these pages).
    const email = uniqueEmail('tiered');
    const person = await apiSession(portal.url, '/api/session/signup', { email, password: 'a long enough password' });
    const accountId = person.session.account.id as string;
    const created = await person.request('POST', '/api/keys', { name: 'tier probe' });
    expect(created.status).toBe(201);
    const client = sdk(created.json.key);
    const limitHeader = async () => (await client.models.list().withResponse()).response.headers.get('x-ratelimit-limit-requests');
    expect(await limitHeader()).toBe(String(DEFAULT_RPM));

    const p = await portal.newPage();
    const { page } = p;
    await page.goto('/console/signin');
    await page.getByTestId('console-token').fill(portal.gw.adminToken!);
    await page.getByTestId('console-signin').click();
    await expect.poll(async () => (await page.request.get('/api/session')).status()).toBe(200);
    if (!page.url().endsWith('/console')) await page.goto('/console');

    // Two codes, shown once, and real: one redeems for its amount.
    await page.getByTestId('code-amount').fill('5');
    await page.getByTestId('code-count').fill('2');
    await page.getByTestId('code-create').click();
    const codes = page.getByTestId('new-codes').locator('li');
    await expect.poll(() => codes.count()).toBe(2);
    const first = (await codes.first().textContent())!.trim();
    expect(first).toMatch(/^RC-/);
    const redeemed = await person.request('POST', '/api/redeem', { code: first });
    expect(redeemed.status).toBe(200);
    expect(redeemed.json.amount_micros).toBe(5_000_000);

    // The account, found in the list, moved to the standard tier.
    const accountRow = page.locator(`[data-testid="console-account-row"][data-account-id="${accountId}"]`);
    await expect.poll(() => accountRow.count()).toBe(1);
    await accountRow.click();
    await page.getByTestId('console-tier').selectOption('standard');
    await page.getByTestId('console-tier-save').click();
    const start = performance.now();
    await expect.poll(limitHeader, { timeout: 4_000 }).toBe(String(STANDARD_RPM));
    expect(performance.now() - start).toBeLessThan(3_000);
    const account = await person.request('GET', '/api/session');
    expect(account.json.account.tier).toBe('standard');
    expect(account.json.account.limits.requests_per_minute).toBe(STANDARD_RPM);
    expect(p.problems).toEqual([]);
  }, 30_000);

  it("each model's page shows the config's prices, and the catalog lists every listed model", async () => {
    const listed = (await (await fetch(`${portal.url}/api/models`)).json()) as { data: { id: string; pricing: Record<string, number | undefined> }[] };
    const configured = new Map(CONFIG.models!.map((m) => [m.id, m.pricing ?? {}]));
    expect(listed.data.length).toBeGreaterThan(0);

    const p = await portal.newPage();
    const { page } = p;
    await page.goto('/models');
    await expect.poll(() => page.getByTestId('model-row').count()).toBe(listed.data.length);
    const ids = await page.getByTestId('model-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model-id')));
    expect(ids.sort()).toEqual(listed.data.map((m) => m.id).sort());

    let tokenPriced = 0;
    for (const model of listed.data) {
      const pricing = configured.get(model.id) as Record<string, number | undefined> | undefined;
      expect(pricing, `${model.id} is in the config`).toBeDefined();
      // The catalog's API says what the config says.
      // The config's per_audio_second is the view's per_second (the contract's ModelView).
      const fields = [['input', 'input'], ['cached_input', 'cached_input'], ['output', 'output'], ['per_image', 'per_image'], ['per_audio_second', 'per_second'], ['per_character', 'per_character'], ['per_video_second', 'per_video_second']];
      for (const [inConfig, inView] of fields) expect(model.pricing[inView], `${model.id} ${inView}`).toBe(pricing![inConfig]);
      await page.goto(`/models/${encodeURIComponent(model.id)}`);
      await expect.poll(() => page.getByRole('heading', { name: model.id }).count(), { message: `${model.id}'s page` }).toBeGreaterThan(0);
      for (const [field, hook] of [['input', 'model-price-input'], ['output', 'model-price-output']] as const) {
        const shown = page.getByTestId(hook);
        if (pricing![field] === undefined) expect(await shown.count(), `${model.id} has no ${field} price`).toBe(0);
        else expect(firstNumber(await shown.first().textContent()), `${model.id} ${field}`).toBe(pricing![field]);
      }
      // Every other price the config has is on the page too (per character as per million characters).
      const numbers = ((await page.locator('main').first().textContent()) ?? '').match(/\d[\d,]*(?:\.\d+)?/g)?.map((n) => Number(n.replace(/,/g, ''))) ?? [];
      for (const [inConfig] of fields) {
        const price = pricing![inConfig];
        if (price === undefined) continue;
        const shownAs = inConfig === 'per_character' ? [price, price * 1_000_000] : [price];
        expect(numbers.some((n) => shownAs.some((want) => Math.abs(n - want) <= want * 1e-9)), `${model.id}'s page shows its ${inConfig} price ${price}`).toBe(true);
      }
      if (pricing!.input !== undefined) tokenPriced++;
    }
    expect(tokenPriced).toBeGreaterThan(1);
    expect(p.problems).toEqual([]);
  }, 30_000);
});
