// The admin API (SPEC §13) under /admin/v1, authenticated by the admin token — never by an API key. Thin:
// each route checks its input and runs one admin operation (admin/operations.ts, shared with the CLI);
// the operations' errors become catalog errors (400 with the field, 404, 409), sent by the app's one
// error handler. JSON shapes are in admin/views.ts.
import { billingModeOf, budgetView, checkBudget, deleteBudget, getBudget, listBudgets, setBudget } from './budgets.js';
import type { BudgetScope } from '../store/budgets.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import type { AccountRecord } from '../store/accounts.js';
import { verifyAdminToken } from '../auth/bootstrap.js';
import { looksLikeApiKey } from '../auth/key-material.js';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import { AdminConflictError, AdminInputError, AdminNotFoundError } from './errors.js';
import {
  checkAccountPatch,
  checkLedgerEntry,
  checkLedgerPage,
  checkNewAccount,
  checkNewKey,
  checkUsageQuerySpec,
  checkUsageRecordsSpec,
  createAccount,
  createKey,
  deleteKey,
  disableKey,
  effectiveAccountLimits,
  findAccount,
  getKey,
  listAccounts,
  listKeys,
  listLedger,
  listUsageRecords,
  queryUsage,
  recordLedgerEntry,
  updateAccount,
  type AdminContext,
  type AdminEvents,
} from './operations.js';
import { checkKeysQuery } from './validate.js';
import { accountView, deploymentViews, keyView, ledgerEntryView, listView, usageRecordView, usageReportView } from './views.js';
import type { Catalog } from '../routing/catalog.js';
import { formatMicros } from './money.js';
import { parseJsonBody } from '../http/json-body.js';
import { findInexactNumber } from './exact-numbers.js';

export type { AdminEvents };

export interface AdminDeps {
  store: Store;
  config: Config;
  /** The live catalog: its deployments' health. */
  catalog: Catalog;
  pepper: string;
  events: AdminEvents;
}

/** Who made a ledger entry through the API when the body names nobody. */
export const ADMIN_API_ACTOR = 'admin-api';
const MAX_AUTH_HEADER = 512;

function invalidAdminToken(message = 'Invalid admin token. Send the admin token as "Authorization: Bearer <token>".'): GatewayError {
  return new GatewayError('invalid_admin_token', message);
}

async function authenticateAdmin(deps: AdminDeps, header: string | undefined): Promise<void> {
  if (header === undefined || header.length > MAX_AUTH_HEADER) throw invalidAdminToken();
  const match = /^bearer +(\S+) *$/i.exec(header);
  if (!match) throw invalidAdminToken();
  const token = match[1];
  if (await verifyAdminToken(deps.store, deps.config, deps.pepper, token)) return;
  if (looksLikeApiKey(token, deps.config.auth.keyPrefix)) throw invalidAdminToken('API keys do not work on the admin API: send the admin token as "Authorization: Bearer <token>".');
  throw invalidAdminToken();
}

/** The admin operations' errors as catalog errors; anything else goes on as it is. */
function asCatalogError(err: unknown): unknown {
  if (err instanceof AdminInputError) return invalidRequest(err.param, err.message);
  if (err instanceof AdminNotFoundError) return new GatewayError('not_found', err.message, { param: err.param });
  if (err instanceof AdminConflictError) return new GatewayError('conflict', err.message, { param: err.param });
  return err;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

function adminRoute(handler: Handler): Handler {
  return async (request, reply) => {
    try {
      return await handler(request, reply);
    } catch (err) {
      throw asCatalogError(err);
    }
  };
}

function idParam(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

/** No body, or an empty one, is no options: the operation's defaults (or its 400 naming what is required). */
function bodyOf(request: FastifyRequest): unknown {
  return request.body ?? {};
}

/**
 * The app's JSON parser, except that an empty body is no body (`curl -X POST -H 'content-type:
 * application/json'`), and a number JSON.parse would round (a limit past 2^53, an amount with more digits
 * than a double holds) is a 400 naming its field rather than a silently different figure.
 */
function parseAdminJson(request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return done(null, undefined);
  parseJsonBody(request, text, (err, parsed) => {
    if (err) return done(err);
    const inexact = findInexactNumber(text);
    if (inexact === undefined) return done(null, parsed);
    const token = inexact.token.length > 40 ? `${inexact.token.slice(0, 40)}…` : inexact.token;
    const message = `${token} cannot be read exactly as a JSON number (exact up to ${Number.MAX_SAFE_INTEGER} for integers, about 15 significant digits otherwise); send amounts as decimal strings ("10.50")`;
    done(invalidRequest(inexact.path, inexact.path === null ? `The request body: ${message}.` : `${inexact.path}: ${message}.`));
  });
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const ctx: AdminContext = deps;
  const { config } = deps;
  const showAccount = (account: AccountRecord) => accountView(account, effectiveAccountLimits(config, account), billingModeOf(config, account));
  const budgetOwner = (request: FastifyRequest, scope: BudgetScope) => ({ scope, ref: idParam(request) });

  app.addHook('onRequest', async (request) => authenticateAdmin(deps, request.headers.authorization));
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseAdminJson);
  // Unknown admin paths answer 404 only to the admin: the auth hook above runs first.
  app.setNotFoundHandler(async (request) => {
    throw new GatewayError('not_found', `Unknown admin endpoint: ${request.method} ${request.url.split('?')[0]}.`);
  });

  // Accounts

  app.post(
    '/accounts',
    adminRoute(async (request, reply) => {
      const { account } = await createAccount(ctx, checkNewAccount(config, bodyOf(request)), ADMIN_API_ACTOR);
      return reply.code(201).send(showAccount(account));
    }),
  );

  app.get(
    '/accounts',
    adminRoute(async () => listView((await listAccounts(ctx)).map(showAccount))),
  );

  app.get(
    '/accounts/:id',
    adminRoute(async (request) => showAccount(await findAccount(ctx, idParam(request)))),
  );

  app.patch(
    '/accounts/:id',
    adminRoute(async (request) => {
      const patch = checkAccountPatch(config, bodyOf(request));
      return showAccount((await updateAccount(ctx, idParam(request), patch)).after);
    }),
  );

  app.post(
    '/accounts/:id/credits',
    adminRoute(async (request, reply) => {
      const spec = checkLedgerEntry(bodyOf(request), ADMIN_API_ACTOR);
      const { entry } = await recordLedgerEntry(ctx, idParam(request), spec);
      return reply.code(201).send({ entry: ledgerEntryView(entry), balance_micros: entry.balanceAfterMicros, balance: formatMicros(entry.balanceAfterMicros) });
    }),
  );

  app.get(
    '/accounts/:id/ledger',
    adminRoute(async (request) => {
      const page = checkLedgerPage(request.query);
      const result = await listLedger(ctx, idParam(request), page);
      return listView(result.items.map(ledgerEntryView), result);
    }),
  );

  // Budgets: one per account and one per key (SPEC §10).

  for (const [scope, base] of [['account', '/accounts/:id/budget'], ['key', '/keys/:id/budget']] as const) {
    app.put(
      base,
      adminRoute(async (request) => budgetView(await setBudget(ctx, budgetOwner(request, scope), checkBudget(bodyOf(request))))),
    );
    app.get(
      base,
      adminRoute(async (request) => budgetView(await getBudget(ctx, budgetOwner(request, scope)))),
    );
    app.delete(
      base,
      adminRoute(async (request) => {
        const budget = await deleteBudget(ctx, budgetOwner(request, scope));
        return { object: 'budget', scope, account_id: budget.accountId, key_id: scope === 'key' ? budget.ownerId : null, deleted: true };
      }),
    );
  }

  app.get(
    '/accounts/:id/budgets',
    adminRoute(async (request) => listView((await listBudgets(ctx, idParam(request))).map(budgetView))),
  );

  app.post(
    '/accounts/:id/keys',
    adminRoute(async (request, reply) => {
      const now = Date.now();
      const spec = checkNewKey(bodyOf(request), now);
      const issued = await createKey(ctx, idParam(request), spec, now);
      return reply.code(201).send({ ...keyView(issued.record, now), key: issued.apiKey, warnings: issued.warnings });
    }),
  );

  app.get(
    '/accounts/:id/keys',
    adminRoute(async (request) => {
      const now = Date.now();
      return listView((await listKeys(ctx, { account: idParam(request) })).map((k) => keyView(k, now)));
    }),
  );

  // Keys

  app.get(
    '/keys',
    adminRoute(async (request) => {
      const query = checkKeysQuery(request.query);
      const now = Date.now();
      return listView((await listKeys(ctx, { account: query.account_id })).map((k) => keyView(k, now)));
    }),
  );

  app.get(
    '/keys/:id',
    adminRoute(async (request) => keyView(await getKey(ctx, idParam(request)))),
  );

  app.post(
    '/keys/:id/disable',
    adminRoute(async (request) => keyView((await disableKey(ctx, idParam(request))).after)),
  );

  app.delete(
    '/keys/:id',
    adminRoute(async (request) => {
      const key = await deleteKey(ctx, idParam(request));
      return { object: 'api_key', id: key.id, deleted: true };
    }),
  );

  // Deployments: each backend model's live health (SPEC §7).

  app.get(
    '/deployments',
    adminRoute(async () => listView(deploymentViews(deps.catalog, Date.now()))),
  );

  // Usage

  app.get(
    '/usage',
    adminRoute(async (request) => {
      const spec = checkUsageQuerySpec(request.query);
      return usageReportView(await queryUsage(ctx, spec));
    }),
  );

  app.get(
    '/usage/records',
    adminRoute(async (request) => {
      const spec = checkUsageRecordsSpec(request.query);
      const page = await listUsageRecords(ctx, spec);
      return listView(page.items.map(usageRecordView), page);
    }),
  );
}
