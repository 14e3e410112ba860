// The portal's JSON API (SPEC §14; docs/portal-contract.md) under `portal.apiPrefix`: public config,
// models and docs; sessions; a person's own account (keys, ledger, redemption, usage, members); the admin
// console. Accounts and keys change only through the admin operations (admin/operations.ts), so the
// gateway hears of every change the way it hears of the admin API's. Nothing here runs on /v1 requests.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminDeps } from '../admin/routes.js';
import type { Limiter } from '../limits/limiter.js';
import type { AccountRecord } from '../store/accounts.js';
import type { ApiKeyRecord } from '../store/api-keys.js';
import { newUserId, portalRepositories, type Membership, type PortalSession, type PortalUser } from '../store/portal.js';
import type { UsageBucketSize, UsageGroupBy } from '../store/usage-rollup.js';
import { AlreadyExistsError } from '../store/store.js';
import { BalanceTooHighError } from '../store/ledger.js';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import { verifyAdminToken } from '../auth/bootstrap.js';
import { hashApiKey } from '../auth/key-material.js';
import { AdminConflictError, AdminInputError, AdminNotFoundError } from '../admin/errors.js';
import {
  checkAccountPatch,
  checkLedgerEntry,
  checkLedgerPage,
  checkNewKey,
  checkUsageRecordsSpec,
  createAccount,
  createKey,
  deleteKey,
  disableKey,
  enableKey,
  findAccount,
  listAccounts,
  listKeys,
  listLedger,
  listUsageRecords,
  recordLedgerEntry,
  timeParam,
  updateAccount,
  type AdminContext,
} from '../admin/operations.js';
import { deploymentViews, listView } from '../admin/views.js';
import { billingModeOf, budgetView, checkBudget, deleteBudget, listBudgets, setBudget, type BudgetStatus } from '../admin/budgets.js';
import type { BudgetScope } from '../store/budgets.js';
import { AmountError, formatMicros, parseAmountMicros } from '../admin/money.js';
import { parseDuration, TimeFormatError } from '../admin/time.js';
import { docsView, modelView, modelViews, shownBaseUrl, tiersView } from './catalog-view.js';
import { checkCsrf, hashPassword, newSessionSecrets, sessionCookie, sessionIdFromRequest, sessionIdHash, takeSigninAttempt, takeSignupAttempt, verifyPassword } from './sessions.js';
import { accountView, isoTime, keyView, ledgerView, sessionView, usageCsv, usageRecordView, userView } from './views.js';
import * as S from './schemas.js';
import { registerPortalPages, type PortalPages } from './static.js';

export interface PortalDeps extends AdminDeps {
  /** The gateway's limiter: sign-in attempts are counted in it (in Redis when the gateway shares limits). */
  limiter: Limiter;
  /** The built front end (default dist/web). */
  webRoot?: string;
}

/** A signed-in request: its session, its person (null for the admin token's session), their accounts. */
interface SignedIn {
  idHash: string;
  session: PortalSession;
  user: PortalUser | null;
  memberships: Membership[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const RANGES: Record<string, number> = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS };
const MAX_RANGE_MS = 400 * DAY_MS;
/** Methods that change something: they need the session's CSRF token (sign-up and sign-in excepted). */
const STATE_CHANGING = new Set(['POST', 'PATCH', 'DELETE', 'PUT']);

const check = {
  signup: S.checker(S.SignupBody, 'request body'),
  signin: S.checker(S.SigninBody, 'request body'),
  adminSignin: S.checker(S.AdminSigninBody, 'request body'),
  password: S.checker(S.PasswordBody, 'request body'),
  newKey: S.checker(S.NewKeyBody, 'request body'),
  redeem: S.checker(S.RedeemBody, 'request body'),
  member: S.checker(S.MemberBody, 'request body'),
  accountPatch: S.checker(S.AccountPatchBody, 'request body'),
  credit: S.checker(S.CreditBody, 'request body'),
  redemptionCodes: S.checker(S.RedemptionCodesBody, 'request body'),
  inviteCodes: S.checker(S.InviteCodesBody, 'request body'),
  ledgerQuery: S.checker(S.LedgerQuery, 'query string'),
  seriesQuery: S.checker(S.SeriesQuery, 'query string'),
  adminSeriesQuery: S.checker(S.AdminSeriesQuery, 'query string'),
  recordsQuery: S.checker(S.RecordsQuery, 'query string'),
  accountsQuery: S.checker(S.AccountsQuery, 'query string'),
  keysQuery: S.checker(S.KeysQuery, 'query string'),
};

/** The admin operations' errors as catalog errors (as the admin API maps them). */
function asCatalogError(err: unknown): unknown {
  if (err instanceof AdminInputError) return invalidRequest(err.param, err.message);
  if (err instanceof AdminNotFoundError) return new GatewayError('not_found', err.message, { param: err.param });
  if (err instanceof AdminConflictError) return new GatewayError('conflict', err.message, { param: err.param });
  return err;
}

function forbidden(message: string): GatewayError {
  return new GatewayError('forbidden', message);
}

function noKey(id: string): GatewayError {
  return new GatewayError('not_found', `No API key ${JSON.stringify(id)}.`);
}

function amountMicros(value: string | number, param: string): number {
  try {
    const micros = parseAmountMicros(value);
    if (micros <= 0) throw invalidRequest(param, `${param}: must be positive`);
    return micros;
  } catch (err) {
    if (err instanceof AmountError) throw invalidRequest(param, `${param}: ${err.message}`);
    throw err;
  }
}

function expiresAtFrom(expiresIn: string | undefined, now: number): number | null {
  if (expiresIn === undefined) return null;
  try {
    return now + parseDuration(expiresIn);
  } catch (err) {
    if (err instanceof TimeFormatError) throw invalidRequest('expires_in', `expires_in: ${err.message}`);
    throw err;
  }
}


/** The window and bucket of a usage chart: a named range up to now, or `custom` with from and to. */
function seriesWindow(q: { range?: string; from?: string; to?: string; bucket?: UsageBucketSize }, now: number): { from: number; to: number; bucket: UsageBucketSize } {
  const range = q.range ?? '24h';
  let from: number;
  let to: number;
  if (range === 'custom') {
    from = timeParam('from', q.from) ?? Number.NaN;
    to = timeParam('to', q.to) ?? now;
    if (Number.isNaN(from)) throw invalidRequest('from', 'from: is required with range=custom');
    if (to <= from) throw invalidRequest('to', 'to: must be after from');
    if (to - from > MAX_RANGE_MS) throw invalidRequest('from', 'from: the range may span at most 400 days');
  } else {
    to = now;
    from = now - RANGES[range];
  }
  const bucket = q.bucket ?? (to - from > 7 * DAY_MS ? 'day' : 'hour');
  // Whole buckets: the first one holds `from`, the last one holds the instant before `to`.
  const size = bucket === 'day' ? DAY_MS : HOUR_MS;
  return { from: Math.floor(from / size) * size, to, bucket };
}

function seriesView(window: { from: number; to: number; bucket: UsageBucketSize }, series: Awaited<ReturnType<AdminDeps['store']['usageRollup']['series']>>) {
  return {
    bucket: window.bucket,
    from: isoTime(window.from),
    to: isoTime(window.to),
    series: series.map((s) => ({
      name: s.name,
      points: s.points.map((p) => ({
        t: p.t,
        requests: p.requests,
        errors: p.errors,
        prompt_tokens: p.promptTokens,
        cached_tokens: p.cachedTokens,
        completion_tokens: p.completionTokens,
        cost_micros: p.costMicros,
      })),
    })),
  };
}

/** The request's own origin, for the docs' base URL when the config names none. */
function originOf(request: FastifyRequest): string {
  const forwarded = request.headers['x-forwarded-proto'];
  const proto = (typeof forwarded === 'string' ? forwarded.split(',')[0].trim() : '') || request.protocol;
  return `${proto === 'https' ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}`;
}

export function registerPortal(app: FastifyInstance, deps: PortalDeps): PortalPages {
  const { config, store, catalog, pepper } = deps;
  const portal = config.portal;
  const ctx: AdminContext = deps;
  const hashCode = (code: string) => hashApiKey(pepper, code);
  const signedInCache = new WeakMap<FastifyRequest, SignedIn | null>();
  let lastPurge = 0;

  async function loadSession(request: FastifyRequest): Promise<SignedIn | null> {
    const cached = signedInCache.get(request);
    if (cached !== undefined) return cached;
    let result: SignedIn | null = null;
    const id = sessionIdFromRequest(request);
    if (id !== undefined) {
      const idHash = sessionIdHash(pepper, id);
      const session = await store.sessions.findValid(idHash);
      if (session !== undefined) {
        const user = session.userId === null ? null : ((await store.users.get(session.userId)) ?? null);
        if (session.userId === null ? session.admin : user !== null) {
          const memberships = user === null ? [] : await store.members.listForUser(user.id);
          void store.sessions.touch(idHash).catch(() => undefined);
          result = { idHash, session, user, memberships };
        }
      }
    }
    signedInCache.set(request, result);
    return result;
  }

  /** The session, or 401; a change (POST, PATCH, DELETE) must also carry the session's CSRF token. */
  async function signedIn(request: FastifyRequest): Promise<SignedIn> {
    const s = await loadSession(request);
    if (s === null) throw new GatewayError('not_signed_in', 'Sign in first: this needs a session.');
    if (STATE_CHANGING.has(request.method)) checkCsrf(request, s.session.csrfToken);
    return s;
  }

  function isAdmin(s: SignedIn): boolean {
    return s.session.admin || s.user?.role === 'admin';
  }

  async function adminSession(request: FastifyRequest): Promise<SignedIn> {
    const s = await signedIn(request);
    if (!isAdmin(s)) throw forbidden('The admin console needs an admin session: sign in with the admin token, or as a person with the admin role.');
    return s;
  }

  /** The account the request acts on: the `x-floodgate-account` header's, else the person's first. */
  function chosenMembership(request: FastifyRequest, s: SignedIn): Membership | undefined {
    const header = request.headers['x-floodgate-account'];
    if (typeof header === 'string' && header !== '') {
      const m = s.memberships.find((x) => x.accountId === header);
      if (m === undefined) throw forbidden('x-floodgate-account names an account you are not a member of.');
      return m;
    }
    return s.memberships[0];
  }

  /** The person's chosen account, or 403; `write` needs its owner. */
  async function ownAccount(request: FastifyRequest, write: boolean): Promise<{ s: SignedIn; account: AccountRecord; membership: Membership }> {
    const s = await signedIn(request);
    const membership = chosenMembership(request, s);
    if (membership === undefined) throw forbidden('This session has no account: sign in as a person to use it.');
    if (write && membership.role !== 'owner') throw forbidden("Only the account's owner can change this; members can read it.");
    const account = await findAccount(ctx, membership.accountId);
    return { s, account, membership };
  }

  /** One of the account's keys, or the same 404 as an unknown key: another account's keys do not exist here. */
  async function ownKey(account: AccountRecord, id: string): Promise<ApiKeyRecord> {
    const key = await store.keys.getById(id);
    if (key === undefined || key.accountId !== account.id) throw noKey(id);
    return key;
  }

  /** A budget as the admin API shows it, with the key's name and hint for a key's (the portal shows names, not ids). */
  function portalBudgetView(status: BudgetStatus, keys: ReadonlyMap<string, ApiKeyRecord>) {
    const key = status.budget.scope === 'key' ? keys.get(status.budget.ownerId) : undefined;
    return { ...budgetView(status), key_name: key?.name ?? null, key_hint: key?.hint ?? null };
  }

  /** The account's billing mode and its budgets (its own and its keys'), each with the current period's spend. */
  async function budgetsView(account: AccountRecord) {
    const [budgets, keys] = await Promise.all([listBudgets(ctx, account.id), listKeys(ctx, { account: account.id })]);
    const byId = new Map(keys.map((k) => [k.id, k]));
    return { account_id: account.id, billing_mode: billingModeOf(config, account), billing: account.billing, data: budgets.map((b) => portalBudgetView(b, byId)) };
  }

  async function startSession(request: FastifyRequest, reply: FastifyReply, user: PortalUser | null, admin: boolean): Promise<SignedIn> {
    // A new id at every sign-in (no fixation); the old session, if any, ends.
    const previous = sessionIdFromRequest(request);
    if (previous !== undefined) await store.sessions.delete(sessionIdHash(pepper, previous));
    // Expired sessions are swept now and then, by whichever instance signs someone in.
    if (Date.now() - lastPurge > HOUR_MS) {
      lastPurge = Date.now();
      void store.sessions.purgeExpired().catch(() => undefined);
    }
    const { id, csrfToken } = newSessionSecrets();
    const idHash = sessionIdHash(pepper, id);
    const session = await store.sessions.create({ idHash, userId: user?.id ?? null, admin, csrfToken, expiresAt: Date.now() + portal.sessionTtlMs });
    reply.header('set-cookie', sessionCookie(portal, request, id));
    const memberships = user === null ? [] : await store.members.listForUser(user.id);
    const s: SignedIn = { idHash, session, user, memberships };
    signedInCache.set(request, s);
    return s;
  }

  async function showSession(request: FastifyRequest, s: SignedIn) {
    const membership = chosenMembership(request, s);
    const account = membership === undefined ? null : accountView(config, await findAccount(ctx, membership.accountId));
    return sessionView({ user: s.user, admin: isAdmin(s), account, memberships: s.memberships, csrfToken: s.session.csrfToken });
  }

  /** A new person's account: the default tier and `billing.initial_credit`, by the admin operation. */
  async function accountFor(user: PortalUser): Promise<AccountRecord> {
    const spec = { tier: config.limits.defaultTier, limits: null, initialCreditMicros: config.billing.initialCreditMicros || null };
    try {
      return (await createAccount(ctx, { ...spec, name: user.email }, 'signup')).account;
    } catch (err) {
      // An account an admin named after this email already: the person's gets its own name.
      if (!(err instanceof AdminConflictError)) throw err;
      return (await createAccount(ctx, { ...spec, name: `${user.email} (${user.id})` }, 'signup')).account;
    }
  }

  void app.register(
    async (api) => {
      // The app's one handler makes the envelope; the operations' own errors are mapped on the way to it.
      api.setErrorHandler((err) => {
        throw asCatalogError(err);
      });
      api.setNotFoundHandler(async (request) => {
        throw new GatewayError('not_found', `Unknown endpoint: ${request.method} ${request.url.split('?')[0]}.`);
      });
      // Every answer of the portal's API is about one person: never cached by a shared cache.
      api.addHook('onSend', async (_request, reply, payload) => {
        if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
        return payload;
      });

      // ---- public ----------------------------------------------------------------------------------

      api.get('/config', async (request) => ({
        title: portal.title,
        base_url: shownBaseUrl(config, originOf(request)),
        key_prefix: config.auth.keyPrefix,
        signup: portal.signup,
        support: portal.support,
        currency: 'USD',
        tiers: tiersView(config),
      }));
      api.get('/models', async () => ({ data: modelViews(catalog) }));
      api.get('/models/*', async (request) => modelView(catalog.resolve(decodeURIComponent((request.params as { '*': string })['*']))));
      api.get('/docs', async (request) => docsView(config, catalog, originOf(request)));

      // ---- sessions --------------------------------------------------------------------------------

      api.post('/session/signup', async (request, reply) => {
        const body = check.signup(request.body);
        if (portal.signup === 'closed') throw new GatewayError('signup_closed', 'Sign-up is closed on this server; ask its operator for an account.');
        await takeSignupAttempt(deps.limiter, request.ip, portal.signupsPerMinute);
        const email = body.email.trim().toLowerCase();
        if (!EMAIL.test(email)) throw invalidRequest('email', 'email: must be an email address');
        if (portal.signup === 'invite' && body.invite_code === undefined) throw invalidRequest('invite_code', 'invite_code: sign-up needs an invite code on this server');
        if (await store.users.findByEmail(email)) throw new GatewayError('conflict', 'A person with this email has already signed up; sign in instead.', { param: 'email' });
        const passwordHash = await hashPassword(body.password);
        let user: PortalUser;
        try {
          // The invite is used and the person made together: a refused invite leaves no person behind.
          user = await store.db.transaction().execute(async (trx) => {
            const repos = portalRepositories(trx);
            const id = newUserId();
            if (portal.signup === 'invite' && !(await repos.inviteCodes.use(hashCode(body.invite_code!.trim()), id))) {
              throw invalidRequest('invite_code', 'invite_code: unknown, used or expired');
            }
            return repos.users.create({ id, email, passwordHash, role: 'user' });
          });
        } catch (err) {
          if (err instanceof AlreadyExistsError) throw new GatewayError('conflict', 'A person with this email has already signed up; sign in instead.', { param: 'email' });
          throw err;
        }
        try {
          const account = await accountFor(user);
          await store.members.add(account.id, user.id, 'owner');
        } catch (err) {
          await store.users.delete(user.id).catch(() => undefined);
          throw err;
        }
        const s = await startSession(request, reply, user, false);
        return reply.code(201).send(await showSession(request, s));
      });

      api.post('/session/signin', async (request, reply) => {
        const body = check.signin(request.body);
        const email = body.email.trim().toLowerCase();
        await takeSigninAttempt(deps.limiter, request.ip, email);
        const user = await store.users.findByEmail(email);
        // Unknown email or wrong password: the same answer after the same work.
        if (!(await verifyPassword(body.password, user?.passwordHash)) || user === undefined) {
          throw new GatewayError('invalid_credentials', 'Wrong email or password.');
        }
        const s = await startSession(request, reply, user, false);
        return reply.send(await showSession(request, s));
      });

      api.post('/session/admin', async (request, reply) => {
        const body = check.adminSignin(request.body);
        await takeSigninAttempt(deps.limiter, request.ip, undefined);
        if (!(await verifyAdminToken(store, config, pepper, body.token.trim()))) throw new GatewayError('invalid_credentials', 'Wrong admin token.');
        const s = await startSession(request, reply, null, true);
        return reply.send(await showSession(request, s));
      });

      api.get('/session', async (request) => showSession(request, await signedIn(request)));

      api.post('/session/signout', async (request, reply) => {
        const s = await signedIn(request);
        await store.sessions.delete(s.idHash);
        return reply.code(204).header('set-cookie', sessionCookie(portal, request, undefined)).send();
      });

      api.post('/session/password', async (request, reply) => {
        const s = await signedIn(request);
        const body = check.password(request.body);
        if (s.user === null) throw forbidden('The admin token has no password to change.');
        if (!(await verifyPassword(body.current_password, s.user.passwordHash))) throw new GatewayError('invalid_credentials', 'The current password is wrong.', { param: 'current_password' });
        await store.users.updatePassword(s.user.id, await hashPassword(body.new_password));
        await store.sessions.deleteForUser(s.user.id, s.idHash);
        return reply.code(204).send();
      });

      // ---- a person's own account ------------------------------------------------------------------

      api.get('/keys', async (request) => {
        const { account } = await ownAccount(request, false);
        const now = Date.now();
        return { data: (await listKeys(ctx, { account: account.id })).map((k) => keyView(k, now)) };
      });

      api.post('/keys', async (request, reply) => {
        const { account } = await ownAccount(request, true);
        const body = check.newKey(request.body);
        const now = Date.now();
        const issued = await createKey(ctx, account.id, checkNewKey(body, now), now);
        return reply.code(201).send({ ...keyView(issued.record, now), key: issued.apiKey });
      });

      api.post('/keys/:id/disable', async (request) => {
        const { account } = await ownAccount(request, true);
        const key = await ownKey(account, (request.params as { id: string }).id);
        return keyView((await disableKey(ctx, key.id)).after);
      });

      api.post('/keys/:id/enable', async (request) => {
        const { account } = await ownAccount(request, true);
        const key = await ownKey(account, (request.params as { id: string }).id);
        return keyView((await enableKey(ctx, key.id)).after);
      });

      api.delete('/keys/:id', async (request) => {
        const { account } = await ownAccount(request, true);
        const key = await ownKey(account, (request.params as { id: string }).id);
        await deleteKey(ctx, key.id);
        return { id: key.id, deleted: true };
      });

      api.get('/ledger', async (request) => {
        const { account } = await ownAccount(request, false);
        const page = checkLedgerPage(check.ledgerQuery(request.query));
        const now = Date.now();
        const [result, days] = await Promise.all([
          listLedger(ctx, account.id, page),
          store.usageRollup.usageByDay(account.id, Math.floor(now / DAY_MS) * DAY_MS - 29 * DAY_MS, now),
        ]);
        return {
          data: result.items.map(ledgerView),
          has_more: result.hasMore,
          next_before: isoTime(result.nextBefore),
          usage_by_day: days.map((d) => ({ day: new Date(d.day).toISOString().slice(0, 10), cost_micros: d.costMicros, requests: d.requests })),
        };
      });

      api.post('/redeem', async (request) => {
        // Any member may top up the shared balance: it only adds money.
        const { s, account } = await ownAccount(request, false);
        const body = check.redeem(request.body);
        let entry;
        try {
          entry = await store.redemptionCodes.redeem(hashCode(body.code.trim()), account.id, `user:${s.user!.id}`);
        } catch (err) {
          if (err instanceof BalanceTooHighError) throw invalidRequest('code', 'code: the credit would take the balance past the largest an account may hold');
          throw err;
        }
        if (entry === undefined) throw new GatewayError('not_found', 'This code is unknown, already used or expired.', { param: 'code' });
        deps.events.balanceChanged(account.id);
        return { amount_micros: entry.amountMicros, amount: formatMicros(entry.amountMicros), balance_micros: entry.balanceAfterMicros, balance: formatMicros(entry.balanceAfterMicros) };
      });

      api.get('/usage/series', async (request) => {
        const { account } = await ownAccount(request, false);
        const q = check.seriesQuery(request.query);
        const window = seriesWindow(q, Date.now());
        const series = await store.usageRollup.series({ accountId: account.id, ...window, groupBy: (q.group_by ?? 'none') as UsageGroupBy });
        return seriesView(window, series);
      });

      api.get('/usage/records', async (request, reply) => {
        const { account } = await ownAccount(request, false);
        const q = check.recordsQuery(request.query);
        const spec = { ...checkUsageRecordsSpec({ limit: q.limit, before: q.before, model: q.model, key_id: q.key_id }), account: account.id, outcome: q.status };
        const { items, hasMore, nextBefore } = await listUsageRecords(ctx, spec);
        const hints = new Map((await listKeys(ctx, { account: account.id })).map((k) => [k.id, k.hint]));
        const rows = items.map((r) => usageRecordView(r, hints));
        if (q.format === 'csv') {
          return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="usage.csv"').send(usageCsv(rows));
        }
        return { data: rows, has_more: hasMore, next_before: isoTime(nextBefore) };
      });

      api.get('/budgets', async (request) => {
        const { account } = await ownAccount(request, false);
        return budgetsView(account);
      });

      api.get('/members', async (request) => {
        const { account } = await ownAccount(request, false);
        const members = await store.members.listForAccount(account.id);
        return { data: members.map((m) => ({ user_id: m.userId, email: m.email, role: m.role, created_at: isoTime(m.createdAt) })) };
      });

      api.post('/members', async (request, reply) => {
        const { account } = await ownAccount(request, true);
        const body = check.member(request.body);
        const user = await store.users.findByEmail(body.email.trim().toLowerCase());
        if (user === undefined) throw new GatewayError('not_found', 'No person has signed up with this email; they sign up first, then you add them.', { param: 'email' });
        try {
          await store.members.add(account.id, user.id, 'member');
        } catch (err) {
          if (err instanceof AlreadyExistsError) throw new GatewayError('conflict', 'This person is already a member of the account.', { param: 'email' });
          throw err;
        }
        return reply.code(201).send({ user_id: user.id, email: user.email, role: 'member' });
      });

      api.delete('/members/:user_id', async (request) => {
        const userId = (request.params as { user_id: string }).user_id;
        const { s, account, membership } = await ownAccount(request, false);
        // The owner removes members; a member may only leave.
        if (membership.role !== 'owner' && userId !== s.user?.id) throw forbidden("Only the account's owner can remove members.");
        const role = await store.members.role(account.id, userId);
        if (role === undefined) throw new GatewayError('not_found', 'No such member of this account.');
        if (role === 'owner') throw forbidden("The account's owner cannot be removed.");
        await store.members.remove(account.id, userId);
        return { user_id: userId, deleted: true };
      });

      // ---- the admin console -----------------------------------------------------------------------

      async function adminAccountView(account: AccountRecord, emails?: Map<string, string[]>) {
        const members = emails ?? (await store.members.emailsForAccounts([account.id]));
        return { ...accountView(config, account), created_at: isoTime(account.createdAt), members: members.get(account.id) ?? [] };
      }

      api.get('/admin/accounts', async (request) => {
        await adminSession(request);
        const q = check.accountsQuery(request.query).q?.trim().toLowerCase() ?? '';
        const accounts = await listAccounts(ctx);
        const emails = await store.members.emailsForAccounts(accounts.map((a) => a.id));
        const matches = accounts.filter(
          (a) => q === '' || a.id.toLowerCase().includes(q) || a.name.toLowerCase().includes(q) || (emails.get(a.id) ?? []).some((e) => e.includes(q)),
        );
        return { data: await Promise.all(matches.map((a) => adminAccountView(a, emails))) };
      });

      api.get('/admin/accounts/:id', async (request) => {
        await adminSession(request);
        return adminAccountView(await findAccount(ctx, (request.params as { id: string }).id));
      });

      api.patch('/admin/accounts/:id', async (request) => {
        await adminSession(request);
        const patch = checkAccountPatch(config, check.accountPatch(request.body));
        return adminAccountView((await updateAccount(ctx, (request.params as { id: string }).id, patch)).after);
      });

      api.post('/admin/accounts/:id/credits', async (request, reply) => {
        const s = await adminSession(request);
        const body = check.credit(request.body);
        const spec = checkLedgerEntry({ amount: body.amount, reason: body.reason, actor: s.user ? `user:${s.user.id}` : 'admin' }, 'admin');
        const { account, entry } = await recordLedgerEntry(ctx, (request.params as { id: string }).id, spec);
        return reply.code(201).send({ entry: ledgerView(entry), account: await adminAccountView(account) });
      });

      api.get('/admin/accounts/:id/budgets', async (request) => {
        await adminSession(request);
        return budgetsView(await findAccount(ctx, (request.params as { id: string }).id));
      });

      // Budgets through the admin API's operations (admin/budgets.ts): the same checks, the same shapes.
      for (const [scope, base] of [['account', '/admin/accounts/:id/budget'], ['key', '/admin/keys/:id/budget']] as const) {
        const owner = (request: FastifyRequest) => ({ scope: scope as BudgetScope, ref: (request.params as { id: string }).id });
        api.put(base, async (request) => {
          await adminSession(request);
          const status = await setBudget(ctx, owner(request), checkBudget(request.body ?? null));
          const key = scope === 'key' ? await store.keys.getById(status.budget.ownerId) : undefined;
          return portalBudgetView(status, new Map(key ? [[key.id, key]] : []));
        });
        api.delete(base, async (request) => {
          await adminSession(request);
          const budget = await deleteBudget(ctx, owner(request));
          return { object: 'budget', scope, account_id: budget.accountId, key_id: scope === 'key' ? budget.ownerId : null, deleted: true };
        });
      }

      api.get('/admin/keys', async (request) => {
        await adminSession(request);
        const q = check.keysQuery(request.query);
        const now = Date.now();
        return { data: (await listKeys(ctx, { account: q.account_id || undefined })).map((k) => ({ ...keyView(k, now), account_id: k.accountId })) };
      });

      api.get('/admin/redemption-codes', async (request) => {
        await adminSession(request);
        const codes = await store.redemptionCodes.list();
        return {
          data: codes.map((c) => ({
            hint: c.hint,
            amount_micros: c.amountMicros,
            amount: formatMicros(c.amountMicros),
            created_at: isoTime(c.createdAt),
            expires_at: isoTime(c.expiresAt),
            redeemed_at: isoTime(c.redeemedAt),
            account_id: c.accountId,
            batch: c.batch,
            created_by: c.createdBy,
          })),
        };
      });

      api.post('/admin/redemption-codes', async (request, reply) => {
        const s = await adminSession(request);
        const body = check.redemptionCodes(request.body);
        const now = Date.now();
        const created = await store.redemptionCodes.createBatch(
          { count: body.count, amountMicros: amountMicros(body.amount, 'amount'), expiresAt: expiresAtFrom(body.expires_in, now), createdBy: s.user ? `user:${s.user.id}` : 'admin' },
          hashCode,
          now,
        );
        return reply.code(201).send({ codes: created.codes, batch: created.batch });
      });

      api.get('/admin/invite-codes', async (request) => {
        await adminSession(request);
        const codes = await store.inviteCodes.list();
        return {
          data: codes.map((c) => ({ hint: c.hint, created_at: isoTime(c.createdAt), expires_at: isoTime(c.expiresAt), used_at: isoTime(c.usedAt), used_by: c.usedBy, created_by: c.createdBy })),
        };
      });

      api.post('/admin/invite-codes', async (request, reply) => {
        const s = await adminSession(request);
        const body = check.inviteCodes(request.body);
        const now = Date.now();
        const created = await store.inviteCodes.createBatch({ count: body.count, expiresAt: expiresAtFrom(body.expires_in, now), createdBy: s.user ? `user:${s.user.id}` : 'admin' }, hashCode, now);
        return reply.code(201).send({ codes: created.codes, batch: created.batch });
      });

      api.get('/admin/usage', async (request) => {
        await adminSession(request);
        const q = check.adminSeriesQuery(request.query);
        const window = seriesWindow(q, Date.now());
        const series = await store.usageRollup.series({ ...window, groupBy: (q.group_by ?? 'none') as UsageGroupBy });
        return seriesView(window, series);
      });

      api.get('/admin/deployments', async (request) => {
        await adminSession(request);
        return listView(deploymentViews(catalog, Date.now()));
      });

      api.get('/admin/users', async (request) => {
        await adminSession(request);
        const q = check.accountsQuery(request.query).q?.trim();
        return { data: (await store.users.list({ q: q || undefined })).map(userView) };
      });
    },
    { prefix: portal.apiPrefix },
  );

  return registerPortalPages(app, config, deps.webRoot);
}
