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

/** Limits, balances and usage records: what admission and settlement work with. */
export interface Accounting {
  limiter: Limiter;
  book: BalanceBook;
  usage: UsageWriter;
  /** Tokens, slot and reservation decided together in one call, where the stores allow it (Redis). */
  admit?: AdmitAndReserve;
}

/** What an admitted request holds until it is settled. */
export interface Admission {
  endpoint: string;
  /** Catalog id of the model that served (usage is recorded per model, not per alias; a fallback's own). */
  modelId: string;
  prices: ModelPrices | null;
  lease: Lease | undefined;
  reservation: Reservation;
  /** What a pricier fallback model reserved on top, released at settlement. */
  extra: Reservation[] | undefined;
  settled: boolean;
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
  const promptTokens = usage?.prompt_tokens ?? 0;
  const cachedTokens = usage?.cache_read_input_tokens ?? 0;
  const completionTokens = usage?.completion_tokens ?? 0;
  const media = state.media;
  const cost = costMicros(admission.prices, { promptTokens, cachedTokens, completionTokens, media });
  state.costMicros = cost;
  accounting.book.settle(admission.reservation, cost);
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
    reasoningTokens: tokenCount(usage?.completion_tokens_details?.reasoning_tokens),
    costMicros: cost,
    status,
    latencyMs: performance.now() - state.start,
    ttftMs: state.ttftMs ?? null,
    settle,
    errorCode: state.errorCode ?? null,
    mediaUnit: media?.unit ?? null,
    mediaUnits: media?.count ?? 0,
  });
}
