// Admission (SPEC §9, §10): a request passes its limits and has its maximum cost reserved before any
// backend sees it. Requests per minute are taken as soon as the caller is known (an invalid request
// counts too); tokens — the prompt's estimate plus every output token it may produce — and a
// concurrency slot are taken with the model known, all or nothing; then the maximum cost is reserved
// against the balance. A refusal is a 429 naming the limit, or a 402. With Redis all of it is one
// script (one round trip): the request per minute waits for it, and is taken at settlement by a request
// that never reaches it.
import { maxCostMicros, type MediaUsage } from '../accounting/pricing.js';
import type { Accounting, Admission } from '../accounting/settlement.js';
import type { Reservation, ReserveAllResult } from '../accounting/balance-book.js';
import { budgetExceeded, planHolds, type HoldPlan } from '../accounting/budgets.js';
import type { Lease, Refusal } from '../limits/limiter.js';
import { GatewayError } from '../openai/errors.js';
import type { CatalogModel } from '../routing/catalog.js';
import type { RequestState } from './request-state.js';

const KIND_NAMES = { requests: 'requests per minute', tokens: 'tokens per minute', concurrency: 'concurrent requests' } as const;

function scopeName(scope: string): string {
  return scope.startsWith('key:') ? 'this API key' : 'this account';
}

function seconds(ms: number): string {
  return `${(Math.ceil(ms / 100) / 10).toFixed(1)}s`;
}

/** The 429 for a refusal, with the limit named and the wait computed from the bucket. */
export function rateLimitError(refusal: Refusal, tokens = 0): GatewayError {
  const who = scopeName(refusal.scope);
  if (refusal.kind === 'concurrency') {
    return new GatewayError('rate_limit_exceeded', `Rate limit reached for concurrent requests: ${who} may have ${refusal.limit} requests in progress at once. Retry when one of them has finished.`, {
      retryAfterMs: refusal.retryAfterMs,
    });
  }
  if (refusal.retryAfterMs === undefined) {
    return new GatewayError(
      'rate_limit_exceeded',
      `Request too large for the tokens per minute limit: it may use up to ${tokens} tokens (prompt plus output cap), and ${who} is limited to ${refusal.limit} tokens per minute. Lower max_tokens or shorten the prompt.`,
      { retryAfterMs: 60_000, noRetry: true },
    );
  }
  return new GatewayError('rate_limit_exceeded', `Rate limit reached for ${KIND_NAMES[refusal.kind]}: ${who} is limited to ${refusal.limit} ${KIND_NAMES[refusal.kind]}. Retry in ${seconds(refusal.retryAfterMs)}.`, {
    retryAfterMs: refusal.retryAfterMs,
  });
}

/** Takes one request from the caller's requests-per-minute buckets (every POST to /v1 counts). */
export async function takeRequest(accounting: Accounting, state: RequestState): Promise<void> {
  const principal = state.principal!;
  if (principal.limits.length === 0) return;
  if (accounting.admit !== undefined) {
    // Taken with the admission (one round trip to Redis instead of two), or at settlement.
    state.requestDeferred = true;
    return;
  }
  await takeRequestNow(accounting, state);
}

async function takeRequestNow(accounting: Accounting, state: RequestState): Promise<void> {
  state.requestDeferred = false;
  const principal = state.principal!;
  const result = await accounting.limiter.takeRequest(principal.limits);
  state.rateLimit = result.snapshot;
  if (!result.ok) {
    state.rejected = result.kind;
    throw rateLimitError(result);
  }
}

/** The caller's buckets as they stand, without taking from them (GET /v1/models). */
export async function showLimits(accounting: Accounting, state: RequestState): Promise<void> {
  const principal = state.principal!;
  if (principal.limits.length === 0) return;
  state.rateLimit = await accounting.limiter.peek(principal.limits);
}

function formatMoney(micros: number): string {
  return `$${(micros / 1_000_000).toFixed(6)}`;
}

/** No holds: a free model, or a postpaid account without budgets. */
const NO_HOLDS: HoldPlan = { holds: [], budgets: [], spans: [], budgetIds: undefined };

/**
 * Admits a request that will call `model`: tokens and a slot from the limiter, then its maximum cost
 * reserved against each entry that caps it — the balance (prepaid accounts), the account's budget and the
 * key's — all or none. On success the admission is on `state` (settled when the response ends);
 * otherwise a 429 or 402 is thrown with nothing held.
 */
export async function admitRequest(
  accounting: Accounting,
  state: RequestState,
  endpoint: string,
  model: CatalogModel,
  promptTokens: number,
  maxOutputTokens: number,
  /** A media request's most units (images, characters, audio ms, video seconds): billed, not token-limited. */
  maxMedia?: MediaUsage,
): Promise<void> {
  const principal = state.principal!;
  const tokens = promptTokens + maxOutputTokens;
  const prices = model.prices;
  const maxCost = maxCostMicros(prices, promptTokens, maxOutputTokens, maxMedia);
  // A priced model holds its entries even when its maximum comes to zero (an input-only price and a prompt
  // counted as nothing): the backend's usage can still cost something, and the book must see it settle.
  const plan = prices !== null ? planHolds(principal.accountId, principal.billing, principal.budgets, maxCost, Date.now()) : NO_HOLDS;
  // Limits and one hold at once where the stores can (Redis: one round trip); undefined goes the separate way.
  const combined =
    accounting.admit !== undefined && principal.limits.length > 0 && plan.holds.length === 1 && maxCost > 0
      ? await accounting.admit(principal.limits, tokens, plan.holds[0].id, maxCost, state.requestDeferred === true)
      : undefined;
  if (combined !== undefined) {
    if (combined.kind === 'limited') {
      state.rateLimit = combined.refusal.snapshot;
      state.rejected = combined.refusal.kind;
      throw rateLimitError(combined.refusal, tokens);
    }
    if (combined.kind === 'short') {
      state.rateLimit = combined.snapshot;
      throw refusal(accounting, state, plan, 0, maxCost, combined.availableMicros);
    }
    state.requestDeferred = false;
    state.rateLimit = combined.snapshot;
    state.admission = newAdmission(endpoint, model, promptTokens, maxOutputTokens, combined.lease, [combined.reservation], plan);
    showBudget(state, plan, [combined.remainingMicros]);
    return;
  }
  if (state.requestDeferred === true) await takeRequestNow(accounting, state);
  let lease;
  if (principal.limits.length > 0) {
    const result = await accounting.limiter.admitWork(principal.limits, tokens);
    state.rateLimit = result.snapshot;
    if (!result.ok) {
      state.rejected = result.kind;
      throw rateLimitError(result, tokens);
    }
    lease = result.lease;
  }
  let reserved: ReserveAllResult;
  try {
    reserved = await reserveHolds(accounting, plan);
  } catch (err) {
    // Reservations fail closed (the shared store is unreachable): give the tokens and slot back.
    if (lease) await accounting.limiter.finish(lease, 0);
    throw err;
  }
  if (!reserved.ok) {
    if (lease) {
      await accounting.limiter.finish(lease, 0);
      // The headers show the tokens given back, not the ones taken a moment ago.
      state.rateLimit = await accounting.limiter.peek(principal.limits);
    }
    throw refusal(accounting, state, plan, reserved.index, maxCost, reserved.availableMicros);
  }
  state.admission = newAdmission(endpoint, model, promptTokens, maxOutputTokens, lease, reserved.reservations, plan);
  showBudget(state, plan, reserved.remainingMicros);
}

const NOTHING_RESERVED: ReserveAllResult = { ok: true, reservations: [], remainingMicros: [] };

/** One hold (a prepaid balance, the common case) through the book's plain reserve; several all or none. */
async function reserveHolds(accounting: Accounting, plan: HoldPlan): Promise<ReserveAllResult> {
  if (plan.holds.length === 0) return NOTHING_RESERVED;
  if (plan.holds.length > 1) return accounting.book.reserveAll(plan.holds);
  const one = await accounting.book.reserve(plan.holds[0].id, plan.holds[0].amountMicros);
  return one.ok ? { ok: true, reservations: [one.reservation], remainingMicros: [one.remainingMicros ?? Number.NaN] } : { ok: false, index: 0, availableMicros: one.availableMicros };
}

function newAdmission(endpoint: string, model: CatalogModel, promptTokens: number, maxOutputTokens: number, lease: Lease | undefined, reservations: Reservation[], plan: HoldPlan): Admission {
  return {
    endpoint,
    modelId: model.id,
    prices: model.prices,
    lease,
    reservations,
    budgets: plan.budgetIds,
    holds: plan.holds.length > 0 ? plan : undefined,
    heldMicros: plan.holds.length > 0 ? plan.holds[0].amountMicros : 0,
    extra: undefined,
    promptTokens,
    maxCompletionTokens: maxOutputTokens,
    fallbackCaps: undefined,
    settled: false,
  };
}

/** `x-floodgate-budget-remaining`: the least any budget has left once this request's maximum is held. */
function showBudget(state: RequestState, plan: HoldPlan, remainingMicros: readonly number[]): void {
  if (plan.budgetIds === undefined) return;
  let least: number | undefined;
  for (let i = 0; i < plan.holds.length; i++) {
    if (plan.budgets[i] === undefined || !Number.isFinite(remainingMicros[i])) continue;
    if (least === undefined || remainingMicros[i] < least) least = remainingMicros[i];
  }
  state.budgetRemainingMicros = least;
}

/** The 402 for the hold that did not fit: the balance's, or the budget's naming it and its reset. */
function refusal(accounting: Accounting, state: RequestState, plan: HoldPlan, index: number, maxCost: number, availableMicros: number): GatewayError {
  const budget = plan.budgets[index];
  if (budget === undefined) return insufficientBalance(state, maxCost, availableMicros);
  state.rejected = 'budget';
  state.budgetRemainingMicros = availableMicros;
  accounting.budgetRefused?.(budget, plan.spans[index]!, state.principal!.accountId, availableMicros);
  return budgetExceeded(budget, plan.spans[index]!, maxCost, availableMicros);
}

/** The 402 for a request whose maximum cost the balance cannot cover. */
function insufficientBalance(state: RequestState, maxCost: number, availableMicros: number): GatewayError {
  state.rejected = 'balance';
  return new GatewayError(
    'insufficient_balance',
    `Your balance cannot cover this request: it may cost up to ${formatMoney(maxCost)} (prompt plus output cap) and ${formatMoney(availableMicros)} is available. Add credit to the account (in the dashboard, or ask your administrator), or lower max_tokens.`,
  );
}

/**
 * Readies an admitted request for a fallback model, which bills at its own prices: what its maximum cost
 * exceeds the amount already reserved is reserved too, against the same entries. False (nothing
 * reserved) when one of them cannot cover it. The admission names the fallback only once it has served
 * (`servedBy`).
 */
export async function admitFallback(accounting: Accounting, state: RequestState, model: CatalogModel, promptTokens: number, maxOutputTokens: number): Promise<boolean> {
  const admission = state.admission!;
  const maxCost = maxCostMicros(model.prices, promptTokens, maxOutputTokens);
  // The fallback's own output cap bounds what it may bill, should it be the one that serves.
  (admission.fallbackCaps ??= new Map()).set(model.id, maxOutputTokens);
  let held = admission.heldMicros;
  for (const r of admission.extra ?? []) held += r.amountMicros;
  if (maxCost <= held) return true;
  if (admission.holds === undefined) {
    // Nothing was held (the first model was free): the entries are planned now, and what is reserved for
    // them is what settles the cost, as if it had been reserved at admission.
    const principal = state.principal!;
    const plan = planHolds(principal.accountId, principal.billing, principal.budgets, maxCost, Date.now());
    if (plan.holds.length === 0) return true;
    const reserved = await accounting.book.reserveAll(plan.holds);
    if (!reserved.ok) return false;
    admission.holds = plan;
    admission.budgets = plan.budgetIds;
    admission.reservations = reserved.reservations;
    admission.heldMicros = maxCost;
    return true;
  }
  const reserved = await accounting.book.reserveAll(admission.holds.holds.map((h) => ({ id: h.id, amountMicros: maxCost - held })));
  if (!reserved.ok) return false;
  (admission.extra ??= []).push(...reserved.reservations);
  return true;
}

/** The request was served by `model` (a fallback): its usage is recorded and billed as that model's. */
export function servedBy(state: RequestState, model: CatalogModel): void {
  const admission = state.admission!;
  admission.modelId = model.id;
  admission.prices = model.prices;
  admission.maxCompletionTokens = admission.fallbackCaps?.get(model.id) ?? admission.maxCompletionTokens;
  state.servedModel = model.id;
}
