// Settlement, the pipeline's last stage (SPEC §10): when a response has ended, however it ended, the
// request's actual cost is computed from its usage, its reservation is settled, its tokens and slot go
// back to the limiter, and its one usage record is queued for the writer.
import type { RequestState, SettleReason } from '../api/request-state.js';
import type { Lease, Limiter } from '../limits/limiter.js';
import { randomBase62 } from '../openai/ids.js';
import { tokenCount } from '../openai/normalize.js';
import type { BalanceBook, Reservation } from './balance-book.js';
import { costMicros, type ModelPrices } from './pricing.js';
import type { UsageWriter } from './usage-writer.js';
import type { AdmitAndReserve } from '../redis/admission.js';
import type { BudgetRule, HoldPlan } from './budgets.js';
import type { PeriodSpan } from './budget-period.js';

/** Limits, balances and usage records: what admission and settlement work with. */
export interface Accounting {
  limiter: Limiter;
  book: BalanceBook;
  usage: UsageWriter;
  /** Tokens, slot and reservation decided together in one call, where the stores allow it (Redis). */
  admit?: AdmitAndReserve;
  /** A request was refused by a budget (the `budget.exhausted` alert). */
  budgetRefused?: (budget: BudgetRule, span: PeriodSpan, accountId: string, availableMicros: number) => void;
}

/** What an admitted request holds until it is settled. */
export interface Admission {
  endpoint: string;
  /** Catalog id of the model that served (usage is recorded per model, not per alias; a fallback's own). */
  modelId: string;
  prices: ModelPrices | null;
  lease: Lease | undefined;
  /** The maximum cost held against each entry of the plan (balance, budgets): settled at the actual cost. */
  reservations: readonly Reservation[];
  /** The entries held (undefined: nothing held, a free request or a postpaid account without budgets). */
  holds: HoldPlan | undefined;
  /** The amount each entry holds (the request's maximum cost at admission). */
  heldMicros: number;
  /** The budget periods the cost counts against (book entry ids), for the usage record. */
  budgets: string[] | undefined;
  /** What a pricier fallback model reserved on top, released at settlement. */
  extra: Reservation[] | undefined;
  /** The prompt's tokens as the gateway counted them (o200k): the base of the prompt's billing bound. */
  promptTokens: number;
  /** Every output token the serving model may produce (`n` × its output cap): the completion's billing bound. */
  maxCompletionTokens: number;
  /** Each fallback model's own `n` × output cap, by catalog id: the bound once that model serves. */
  fallbackCaps: Map<string, number> | undefined;
  settled: boolean;
}

/**
 * Reported prompt tokens are billed up to PROMPT_MARGIN_FACTOR × the gateway's own count plus
 * PROMPT_MARGIN_TOKENS. The margin is wide because the gateway's o200k count is only an estimate of a
 * backend's: other models' tokenizers need more tokens for the same text (up to about twice for code and
 * non-Latin scripts), images are counted at their low-detail price, and tool definitions and chat
 * templates are not counted at all. A backend that bills beyond it is broken or lying: the excess is
 * cut, counted and kept on the usage record.
 */
export const PROMPT_MARGIN_FACTOR = 2;
export const PROMPT_MARGIN_TOKENS = 4096;

export function promptTokenBound(countedTokens: number): number {
  return countedTokens * PROMPT_MARGIN_FACTOR + PROMPT_MARGIN_TOKENS;
}

export interface BilledUsage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  /** What the backend reported, when it was more than the request could legitimately use. */
  reported: { promptTokens: number; completionTokens: number } | undefined;
}

/**
 * The usage a request is billed for (SPEC §10): completion tokens up to what it allowed, prompt tokens up
 * to the margin over the gateway's count, so a settled cost stays within a known distance of the
 * reservation (SPEC §16). Cached and reasoning tokens are parts of the prompt and the completion, and are
 * cut with them.
 */
export function billedUsage(reported: { promptTokens: number; cachedTokens: number; completionTokens: number; reasoningTokens: number }, bounds: { promptTokens: number; maxCompletionTokens: number }): BilledUsage {
  const promptTokens = Math.min(reported.promptTokens, promptTokenBound(bounds.promptTokens));
  const completionTokens = Math.min(reported.completionTokens, bounds.maxCompletionTokens);
  const clamped = promptTokens < reported.promptTokens || completionTokens < reported.completionTokens;
  return {
    promptTokens,
    cachedTokens: Math.min(reported.cachedTokens, promptTokens),
    completionTokens,
    reasoningTokens: Math.min(reported.reasoningTokens, completionTokens),
    reported: clamped ? { promptTokens: reported.promptTokens, completionTokens: reported.completionTokens } : undefined,
  };
}

/**
 * `usg_` + the time in base 36 + 12 random characters: ids sort by time, so each batch appends at the end
 * of the primary-key index instead of touching pages all over it (a third of the write's cost, measured).
 */
export function usageRecordId(at: number): string {
  return `usg_${at.toString(36).padStart(9, '0')}${randomBase62(12)}`;
}

/** Settles an admitted request once; a request that was never admitted has nothing to settle. */
export function settleRequest(accounting: Accounting, state: RequestState, status: number): void {
  if (state.requestDeferred === true) {
    // A request that never reached admission (invalid, refused) still counts against requests per minute.
    state.requestDeferred = false;
    void accounting.limiter.takeRequest(state.principal!.limits).catch(() => undefined);
  }
  const admission = state.admission;
  if (admission === undefined || admission.settled) return;
  admission.settled = true;
  const usage = state.usage;
  const billed = billedUsage(
    {
      promptTokens: usage?.prompt_tokens ?? 0,
      cachedTokens: usage?.cache_read_input_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
      reasoningTokens: tokenCount(usage?.completion_tokens_details?.reasoning_tokens),
    },
    admission,
  );
  const { promptTokens, cachedTokens, completionTokens } = billed;
  if (usage !== undefined && billed.reported !== undefined) {
    // The client was sent what the backend reported; the log line and the metrics show what was billed.
    state.clamped = billed.reported;
    state.usage = { ...usage, prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, cache_read_input_tokens: cachedTokens };
    const details = usage.completion_tokens_details;
    if (details !== undefined) state.usage.completion_tokens_details = { ...details, reasoning_tokens: billed.reasoningTokens };
  }
  const media = state.media;
  const cost = costMicros(admission.prices, { promptTokens, cachedTokens, completionTokens, media });
  state.costMicros = cost;
  for (const r of admission.reservations) accounting.book.settle(r, cost);
  if (admission.extra) for (const r of admission.extra) accounting.book.settle(r, 0);
  if (admission.lease) void accounting.limiter.finish(admission.lease, promptTokens + completionTokens);
  const settle: SettleReason = state.settle ?? (status >= 400 ? 'upstream_error' : 'complete');
  state.settle = settle;
  const principal = state.principal!;
  accounting.usage.add({
    id: usageRecordId(state.startedAt),
    createdAt: state.startedAt,
    requestId: state.id,
    accountId: principal.accountId,
    keyId: principal.keyId,
    endpoint: admission.endpoint,
    model: admission.modelId,
    deployment: state.deployment ?? null,
    stream: state.stream === true,
    promptTokens,
    cachedTokens,
    completionTokens,
    reasoningTokens: billed.reasoningTokens,
    reportedPromptTokens: billed.reported?.promptTokens ?? null,
    reportedCompletionTokens: billed.reported?.completionTokens ?? null,
    costMicros: cost,
    status,
    latencyMs: performance.now() - state.start,
    ttftMs: state.ttftMs ?? null,
    settle,
    errorCode: state.errorCode ?? null,
    mediaUnit: media?.unit ?? null,
    mediaUnits: media?.count ?? 0,
    postpaid: principal.billing === 'postpaid' ? true : undefined,
    budgets: admission.budgets,
  });
}
