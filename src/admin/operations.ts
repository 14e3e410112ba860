// The admin operations (SPEC §13), shared by the admin API and the CLI: accounts, ledger entries, API keys
// and usage queries, acting on the store. Each input is checked first by a pure `check…` function (schema,
// then the rules a schema cannot say), so the CLI can refuse bad flags before it opens the store; the
// operation then acts on the checked spec and tells the running gateway what changed.
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import { AlreadyExistsError } from '../store/store.js';
import type { AccountRecord, AccountStatus, BillingMode } from '../store/accounts.js';
import type { ApiKeyRecord } from '../store/api-keys.js';
import { BalanceTooHighError, BalanceTooLowError, MAX_BALANCE_MICROS, type LedgerEntry, type LedgerKind } from '../store/ledger.js';
import type { UsageBucket, UsageFilter, UsageRecord, UsageTotals } from '../store/usage.js';
import { issueApiKey } from '../auth/bootstrap.js';
import { accountLimitFigures } from '../limits/scopes.js';
import { AdminConflictError, AdminInputError, AdminNotFoundError, inputError } from './errors.js';
import { AmountError, formatMicros, parseAmountMicros } from './money.js';
import { parseDuration, parseTimestamp, TimeFormatError } from './time.js';
import type { UsageBucketName } from './schemas.js';
import type { LimitValuesConfig } from '../config/schema.js';
import {
  checkCreateAccountBody,
  checkCreateKeyBody,
  checkLedgerEntryBody,
  checkLedgerQuery,
  checkUpdateAccountBody,
  checkUsageQuery,
  checkUsageRecordsQuery,
} from './validate.js';

/** What the running gateway must hear when the admin surface changes something it caches. */
export interface AdminEvents {
  /** A key or account changed (disabled, deleted, new tier or limits): cached identities must go now. */
  identitiesChanged(): void;
  /** An account's balance changed outside usage (a ledger entry). */
  balanceChanged(accountId: string): void;
}

export interface AdminContext {
  store: Store;
  config: Config;
  pepper: string;
  /** The gateway's, when the operation runs inside it; the CLI has none (instances see it within key_cache_ms). */
  events?: AdminEvents;
}

const LIMIT_FIELDS = ['requests_per_minute', 'tokens_per_minute', 'concurrent_requests'] as const;
const TIER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** 9999-12-31T23:59:59Z. */
const LAST_TIME_MS = 253_402_300_799_000;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
export const BUCKET_MS: Record<UsageBucketName, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

// ---------------------------------------------------------------------------------------------------
// Shared field rules

function checkLabel(param: string, value: string): string {
  if (value.trim() !== value) throw inputError(param, 'must not start or end with whitespace');
  if (CONTROL_CHARS.test(value)) throw inputError(param, 'must not contain control characters');
  return value;
}

function checkAccountName(name: string): string {
  checkLabel('name', name);
  // Accounts are found by id or name: a name shaped like an id would shadow one.
  if (name.startsWith('acct_')) throw inputError('name', 'must not start with "acct_" (account ids do)');
  return name;
}

/** A tier the config defines; with no tiers configured, any well-formed name (none of them limits anything). */
export function checkTier(config: Config, tier: string, param = 'tier'): string {
  const tiers = Object.keys(config.limits.tiers);
  if (tiers.length === 0) {
    if (!TIER_NAME.test(tier)) throw inputError(param, `must be 1–64 letters, digits, ".", "_" or "-"; got ${JSON.stringify(tier)}`);
    return tier;
  }
  if (!Object.hasOwn(config.limits.tiers, tier)) throw inputError(param, `unknown tier ${JSON.stringify(tier)} (configured: ${tiers.join(', ')})`);
  return tier;
}

/** An empty override object is no override. */
function normalizeLimits(limits: LimitValuesConfig | null | undefined): LimitValuesConfig | null {
  if (limits === null || limits === undefined) return null;
  const out: LimitValuesConfig = {};
  for (const field of LIMIT_FIELDS) if (limits[field] !== undefined) out[field] = limits[field];
  return Object.keys(out).length === 0 ? null : out;
}

/** Beyond it no balance could take the amount (or give it back), so it is refused outright. */
function checkAmountSize(amount: { micros: number; param: string }): { micros: number; param: string } {
  if (Math.abs(amount.micros) > MAX_BALANCE_MICROS) {
    throw inputError(amount.param, `must be at most ${formatMicros(MAX_BALANCE_MICROS)} (${MAX_BALANCE_MICROS} micro-units), the largest balance an account may hold`);
  }
  return amount;
}

/**
 * `amount` (currency units) or `amount_micros`, at most one of them; undefined when neither is given, or
 * when the one given is null (a field that may be cleared, such as a budget's soft limit).
 */
export function amountFrom(decimal: string | number | null | undefined, micros: number | null | undefined, decimalParam: string, microsParam: string): { micros: number; param: string } | undefined {
  if (decimal !== undefined && micros !== undefined) throw inputError(microsParam, `give ${decimalParam} or ${microsParam}, not both`);
  if (micros !== undefined) return micros === null ? undefined : checkAmountSize({ micros, param: microsParam });
  if (decimal === undefined || decimal === null) return undefined;
  try {
    return checkAmountSize({ micros: parseAmountMicros(decimal), param: decimalParam });
  } catch (err) {
    if (err instanceof AmountError) throw inputError(decimalParam, err.message);
    throw err;
  }
}

/** A timestamp query parameter (ISO 8601 or ms), or a 400 naming it. */
export function timeParam(param: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTimestamp(text);
  } catch (err) {
    if (err instanceof TimeFormatError) throw inputError(param, err.message);
    throw err;
  }
}

function pageLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE_LIMIT;
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE_LIMIT)) throw inputError('limit', `must be an integer from 1 to ${MAX_PAGE_LIMIT}; got ${JSON.stringify(text)}`);
  return n;
}

export async function findAccount(ctx: AdminContext, ref: string, param: string | null = null): Promise<AccountRecord> {
  const account = await ctx.store.accounts.findByIdOrName(ref);
  if (!account) throw new AdminNotFoundError(`No account ${JSON.stringify(ref)} (by id or name).`, param);
  return account;
}

export interface TimePage<T> {
  items: T[];
  hasMore: boolean;
  /** Milliseconds: pass as `before` for the next page; null on the last page. */
  nextBefore: number | null;
}

/**
 * Pages newest-first records by time. The store pages with `created_at < before`, so a page must not end
 * in the middle of a millisecond: the rest of it would be skipped. A page that would is cut before that
 * millisecond, or, when the whole page is one millisecond, grown to hold all of it.
 */
async function pageByTime<T extends { createdAt: number }>(
  fetch: (limit: number, before: number | undefined) => Promise<T[]>,
  limit: number,
  before: number | undefined,
): Promise<TimePage<T>> {
  const rows = await fetch(limit + 1, before);
  if (rows.length <= limit) return { items: rows, hasMore: false, nextBefore: null };
  const items = rows.slice(0, limit);
  const boundary = items[limit - 1].createdAt;
  if (rows[limit].createdAt !== boundary) return { items, hasMore: true, nextBefore: boundary };
  const whole = items.filter((r) => r.createdAt !== boundary);
  if (whole.length > 0) return { items: whole, hasMore: true, nextBefore: boundary + 1 };
  for (let size = limit * 4; ; size *= 4) {
    const all = await fetch(size + 1, boundary + 1);
    const cut = all.findIndex((r) => r.createdAt !== boundary);
    if (cut >= 0) return { items: all.slice(0, cut), hasMore: true, nextBefore: boundary };
    if (all.length <= size) return { items: all, hasMore: false, nextBefore: null };
  }
}

// ---------------------------------------------------------------------------------------------------
// Accounts

export interface NewAccountSpec {
  name: string;
  tier: string;
  limits: LimitValuesConfig | null;
  initialCreditMicros: number | null;
}

export function checkNewAccount(config: Config, body: unknown): NewAccountSpec {
  const b = checkCreateAccountBody(body);
  const credit = amountFrom(b.initial_credit, b.initial_credit_micros, 'initial_credit', 'initial_credit_micros');
  if (credit !== undefined && credit.micros < 0) throw inputError(credit.param, 'must not be negative');
  return {
    name: checkAccountName(b.name),
    tier: checkTier(config, b.tier ?? config.limits.defaultTier),
    limits: normalizeLimits(b.limits),
    initialCreditMicros: credit === undefined || credit.micros === 0 ? null : credit.micros,
  };
}

/** Creates the account, then records its initial credit (if any) as a `credit` ledger entry by `actor`. */
export async function createAccount(ctx: AdminContext, spec: NewAccountSpec, actor: string): Promise<{ account: AccountRecord; entry?: LedgerEntry }> {
  let account: AccountRecord;
  try {
    account = await ctx.store.accounts.create({ name: spec.name, tier: spec.tier, limits: spec.limits });
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw new AdminConflictError('name', `An account named ${JSON.stringify(spec.name)} already exists.`);
    throw err;
  }
  if (spec.initialCreditMicros === null) return { account };
  const entry = await ctx.store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: spec.initialCreditMicros, reason: 'initial credit', actor });
  ctx.events?.balanceChanged(account.id);
  return { account: { ...account, balanceMicros: entry?.balanceAfterMicros ?? account.balanceMicros }, entry };
}

/** Oldest first. */
export async function listAccounts(ctx: AdminContext): Promise<AccountRecord[]> {
  return ctx.store.accounts.list();
}

export interface AccountPatch {
  tier?: string;
  /** null clears the overrides. */
  limits?: LimitValuesConfig | null;
  status?: AccountStatus;
  /** null: follow the tier's mode. */
  billing?: BillingMode | null;
}

export function checkAccountPatch(config: Config, body: unknown): AccountPatch {
  const b = checkUpdateAccountBody(body);
  if (b.tier === undefined && b.limits === undefined && b.status === undefined && b.billing === undefined) throw new AdminInputError(null, 'Nothing to change: give tier, limits, status or billing.');
  const patch: AccountPatch = {};
  if (b.tier !== undefined) patch.tier = checkTier(config, b.tier);
  if (b.limits !== undefined) patch.limits = normalizeLimits(b.limits);
  if (b.status !== undefined) patch.status = b.status;
  if (b.billing !== undefined) patch.billing = b.billing;
  return patch;
}

/** Applies the patch; `before` is the account as it was. Cached identities are dropped at once. */
export async function updateAccount(ctx: AdminContext, ref: string, patch: AccountPatch): Promise<{ before: AccountRecord; after: AccountRecord }> {
  const before = await findAccount(ctx, ref);
  let after: AccountRecord | undefined = before;
  if (patch.tier !== undefined) after = await ctx.store.accounts.setTier(before.id, patch.tier);
  if (patch.limits !== undefined) after = await ctx.store.accounts.setLimits(before.id, patch.limits);
  if (patch.status !== undefined) after = await ctx.store.accounts.setStatus(before.id, patch.status);
  if (patch.billing !== undefined) after = await ctx.store.accounts.setBilling(before.id, patch.billing);
  ctx.events?.identitiesChanged();
  // Accounts are never deleted, so the account found a moment ago is still there.
  if (!after) throw new AdminNotFoundError(`No account ${JSON.stringify(ref)} (by id or name).`);
  return { before, after };
}

// ---------------------------------------------------------------------------------------------------
// Ledger

export interface LedgerEntrySpec {
  kind: LedgerKind;
  amountMicros: number;
  reason: string;
  actor: string;
  /** The field the amount came in (`amount` or `amount_micros`), for errors about it. */
  amountParam: string;
}

/**
 * A balance change other than usage. `credit` and `refund` add to the balance (the amount must be
 * positive); an `adjustment` may go either way (not zero), and cannot take the balance below zero.
 */
export function checkLedgerEntry(body: unknown, defaultActor: string): LedgerEntrySpec {
  const b = checkLedgerEntryBody(body);
  const amount = amountFrom(b.amount, b.amount_micros, 'amount', 'amount_micros');
  if (amount === undefined) throw new AdminInputError('amount', 'amount: is required (or amount_micros)');
  const kind = b.kind ?? 'credit';
  if (kind !== 'adjustment' && amount.micros <= 0) throw inputError(amount.param, `must be positive for a ${kind}; use kind "adjustment" to take money off`);
  if (amount.micros === 0) throw inputError(amount.param, 'must not be zero');
  const reason = b.reason.trim();
  if (reason === '') throw inputError('reason', 'must not be blank');
  const actor = (b.actor ?? defaultActor).trim();
  if (actor === '') throw inputError('actor', 'must not be blank');
  if (CONTROL_CHARS.test(actor)) throw inputError('actor', 'must not contain control characters');
  return { kind, amountMicros: amount.micros, reason, actor, amountParam: amount.param };
}

export async function recordLedgerEntry(ctx: AdminContext, ref: string, spec: LedgerEntrySpec): Promise<{ account: AccountRecord; entry: LedgerEntry }> {
  const account = await findAccount(ctx, ref);
  let entry: LedgerEntry | undefined;
  try {
    entry = await ctx.store.ledger.record({ accountId: account.id, kind: spec.kind, amountMicros: spec.amountMicros, reason: spec.reason, actor: spec.actor });
  } catch (err) {
    if (err instanceof BalanceTooLowError) {
      throw inputError(spec.amountParam, `would take the balance below zero (the balance is ${formatMicros(err.balanceMicros)})`);
    }
    if (err instanceof BalanceTooHighError) {
      throw inputError(spec.amountParam, `would take the balance past ${formatMicros(MAX_BALANCE_MICROS)}, the largest an account may hold (the balance is ${formatMicros(err.balanceMicros)})`);
    }
    throw err;
  }
  if (!entry) throw new AdminNotFoundError(`No account ${JSON.stringify(ref)} (by id or name).`);
  ctx.events?.balanceChanged(account.id);
  return { account: { ...account, balanceMicros: entry.balanceAfterMicros }, entry };
}

export interface TimePageSpec {
  limit: number;
  /** Exclusive, ms. */
  before?: number;
}

export function checkLedgerPage(query: unknown): TimePageSpec {
  const q = checkLedgerQuery(query);
  return { limit: pageLimit(q.limit), before: timeParam('before', q.before) };
}

/** Newest first. */
export async function listLedger(ctx: AdminContext, ref: string, page: TimePageSpec): Promise<{ account: AccountRecord } & TimePage<LedgerEntry>> {
  const account = await findAccount(ctx, ref);
  const result = await pageByTime((limit, before) => ctx.store.ledger.list(account.id, { limit, before }), page.limit, page.before);
  return { account, ...result };
}

// ---------------------------------------------------------------------------------------------------
// API keys

export interface NewKeySpec {
  name: string | null;
  /** ms; null = never. */
  expiresAt: number | null;
  allowedModels: string[] | null;
  limits: LimitValuesConfig | null;
}

export function checkNewKey(body: unknown, now = Date.now()): NewKeySpec {
  const b = checkCreateKeyBody(body);
  const name = b.name === undefined || b.name === null ? null : checkLabel('name', b.name);
  if (b.expires_in !== undefined && b.expires_at !== undefined) throw inputError('expires_at', 'give expires_in or expires_at, not both');
  let expiresAt: number | null = null;
  if (b.expires_in !== undefined) {
    try {
      expiresAt = now + parseDuration(b.expires_in);
    } catch (err) {
      if (err instanceof TimeFormatError) throw inputError('expires_in', err.message);
      throw err;
    }
  } else if (typeof b.expires_at === 'number') {
    expiresAt = b.expires_at * 1000;
  } else if (b.expires_at !== undefined) {
    expiresAt = timeParam('expires_at', b.expires_at) ?? null;
  }
  const expiryParam = b.expires_in !== undefined ? 'expires_in' : 'expires_at';
  if (expiresAt !== null && expiresAt <= now) throw inputError(expiryParam, 'is in the past');
  if (expiresAt !== null && expiresAt > LAST_TIME_MS) throw inputError(expiryParam, 'is too far in the future (after the year 9999)');
  let allowedModels: string[] | null = null;
  if (b.allowed_models) {
    b.allowed_models.forEach((m, i) => checkLabel(`allowed_models[${i}]`, m));
    allowedModels = [...new Set(b.allowed_models)];
  }
  return { name, expiresAt, allowedModels, limits: normalizeLimits(b.limits) };
}

/** The account's limits as they apply (limits/scopes.ts: its tier, overridden figure by figure by its own). */
export function effectiveAccountLimits(config: Config, account: AccountRecord): LimitValuesConfig {
  return accountLimitFigures(config.limits, account.tier, account.limits);
}

export interface IssuedKey {
  /** The key itself: shown once, never stored. */
  apiKey: string;
  record: ApiKeyRecord;
  account: AccountRecord;
  /** Allowed, but probably not what was meant (a disabled account, models not in the catalog). */
  warnings: string[];
}

/** Issues a key for the account. Its limits may not be looser than the account's (SPEC §3). */
export async function createKey(ctx: AdminContext, ref: string, spec: NewKeySpec, now = Date.now()): Promise<IssuedKey> {
  const account = await findAccount(ctx, ref);
  if (spec.limits) {
    const ceiling = effectiveAccountLimits(ctx.config, account);
    for (const field of LIMIT_FIELDS) {
      const own = spec.limits[field];
      const max = ceiling[field];
      if (own !== undefined && max !== undefined && own > max) {
        throw inputError(`limits.${field}`, `must not be looser than the account's ${max} (a key's limits can only narrow its account's)`);
      }
    }
  }
  const warnings: string[] = [];
  if (account.status === 'disabled') warnings.push(`account ${account.name} is disabled: the key gets 403 until the account is enabled`);
  if (spec.allowedModels) {
    const known = new Set(ctx.config.models.flatMap((m) => [m.id, ...(m.aliases ?? [])]));
    const unknown = spec.allowedModels.filter((m) => !known.has(m));
    if (unknown.length > 0) warnings.push(`not in the model catalog of ${ctx.config.source}: ${unknown.join(', ')}`);
  }
  const { apiKey, record } = await issueApiKey(
    ctx.store.keys,
    ctx.config.auth.keyPrefix,
    ctx.pepper,
    { accountId: account.id, name: spec.name, expiresAt: spec.expiresAt, allowedModels: spec.allowedModels, limits: spec.limits },
    now,
  );
  return { apiKey, record, account, warnings };
}

export async function listKeys(ctx: AdminContext, filter: { account?: string } = {}): Promise<ApiKeyRecord[]> {
  const account = filter.account === undefined ? undefined : await findAccount(ctx, filter.account, 'account_id');
  return ctx.store.keys.list({ accountId: account?.id });
}

export async function getKey(ctx: AdminContext, id: string): Promise<ApiKeyRecord> {
  const key = await ctx.store.keys.getById(id);
  if (!key) throw new AdminNotFoundError(`No API key ${JSON.stringify(id)}.`);
  return key;
}

/** Disables the key (the first time only: `before.disabledAt` tells); it is refused at once. */
export async function disableKey(ctx: AdminContext, id: string, now = Date.now()): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord }> {
  const before = await getKey(ctx, id);
  const after = await ctx.store.keys.disable(id, now);
  ctx.events?.identitiesChanged();
  if (!after) throw new AdminNotFoundError(`No API key ${JSON.stringify(id)}.`);
  return { before, after };
}

/** Enables a disabled key again; cached identities are dropped, so it works at once. */
export async function enableKey(ctx: AdminContext, id: string): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord }> {
  const before = await getKey(ctx, id);
  const after = await ctx.store.keys.enable(id);
  ctx.events?.identitiesChanged();
  if (!after) throw new AdminNotFoundError(`No API key ${JSON.stringify(id)}.`);
  return { before, after };
}

/** Deletes the key for good; returns it as it was. Its usage records stay. */
export async function deleteKey(ctx: AdminContext, id: string): Promise<ApiKeyRecord> {
  const key = await getKey(ctx, id);
  if (!(await ctx.store.keys.delete(id))) throw new AdminNotFoundError(`No API key ${JSON.stringify(id)}.`);
  await ctx.store.budgets.delete(id);
  ctx.events?.identitiesChanged();
  return key;
}

// ---------------------------------------------------------------------------------------------------
// Usage

export interface UsageFilterSpec {
  /** Account id or name. */
  account?: string;
  keyId?: string;
  /** Catalog id or alias. */
  model?: string;
  /** Inclusive, ms. */
  from?: number;
  /** Exclusive, ms. */
  to?: number;
  /** Requests the client got a status below 400 for (`ok`), or 400 and above (`error`). */
  outcome?: 'ok' | 'error';
}

function checkUsageFilter(q: { account_id?: string; key_id?: string; model?: string; start?: string; end?: string }): UsageFilterSpec {
  const from = timeParam('start', q.start);
  const to = timeParam('end', q.end);
  if (from !== undefined && to !== undefined && to <= from) throw inputError('end', 'must be after start');
  for (const field of ['account_id', 'key_id', 'model'] as const) if (q[field] === '') throw inputError(field, 'must not be empty');
  return { account: q.account_id, keyId: q.key_id, model: q.model, from, to };
}

export interface UsageQuerySpec extends UsageFilterSpec {
  bucket: UsageBucketName;
}

export function checkUsageQuerySpec(query: unknown): UsageQuerySpec {
  const q = checkUsageQuery(query);
  return { ...checkUsageFilter(q), bucket: q.bucket ?? 'day' };
}

export function checkUsageRecordsSpec(query: unknown): UsageFilterSpec & TimePageSpec {
  const q = checkUsageRecordsQuery(query);
  return { ...checkUsageFilter(q), limit: pageLimit(q.limit), before: timeParam('before', q.before) };
}

async function storeFilter(ctx: AdminContext, spec: UsageFilterSpec): Promise<UsageFilter> {
  const account = spec.account === undefined ? undefined : await findAccount(ctx, spec.account, 'account_id');
  // Records name the catalog id; an alias finds the same records.
  const model = spec.model === undefined ? undefined : (ctx.config.models.find((m) => m.id === spec.model || m.aliases?.includes(spec.model!))?.id ?? spec.model);
  return { accountId: account?.id, keyId: spec.keyId, model, from: spec.from, to: spec.to, outcome: spec.outcome };
}

export interface UsageReport {
  filter: UsageFilter;
  bucket: UsageBucketName;
  totals: UsageTotals;
  /** Oldest first; buckets without requests are left out. */
  buckets: UsageBucket[];
}

export async function queryUsage(ctx: AdminContext, spec: UsageQuerySpec): Promise<UsageReport> {
  const filter = await storeFilter(ctx, spec);
  const [totals, buckets] = await Promise.all([ctx.store.usage.totals(filter), ctx.store.usage.buckets(filter, BUCKET_MS[spec.bucket])]);
  return { filter, bucket: spec.bucket, totals, buckets };
}

/** Newest first. */
export async function listUsageRecords(ctx: AdminContext, spec: UsageFilterSpec & TimePageSpec): Promise<TimePage<UsageRecord>> {
  const filter = await storeFilter(ctx, spec);
  return pageByTime((limit, before) => ctx.store.usage.list(filter, { limit, before }), spec.limit, spec.before);
}
