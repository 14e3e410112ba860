// What one request has learned on its way through the pipeline: who called, which model and deployment
// served it, how long each part took, the usage and how it settled. The request's log line is made from it.
import type { Principal } from '../http/auth.js';
import type { Usage } from '../openai/normalize.js';
import type { MediaUsage } from '../accounting/pricing.js';
import type { Admission } from '../accounting/settlement.js';
import type { RateLimitSnapshot } from '../limits/limiter.js';
import type { AttemptRecord } from '../routing/router.js';

export type SettleReason = 'complete' | 'client_disconnected' | 'upstream_error' | 'estimated';

export interface RequestState {
  id: string;
  /** performance.now() when the request arrived. */
  start: number;
  /** Date.now() when the request arrived (the usage record's time). */
  startedAt: number;
  principal?: Principal;
  /** The model name the client sent. */
  model?: string;
  /** The catalog id of the model that name resolved to. */
  modelId?: string;
  /** The door a request came in by when not OpenAI's chat-shaped API (SPEC §17): its errors' envelope. */
  door?: 'responses' | 'messages';
  /** The API route's path (metrics' `endpoint` label); set on /v1 requests when metrics are on. */
  endpoint?: string;
  /** Why admission refused the request: a limit (429) or the balance (402). */
  rejected?: 'requests' | 'tokens' | 'concurrency' | 'balance' | 'budget';
  /** `x-floodgate-budget-remaining`, in micro-units: set when a budget applies to the request. */
  budgetRemainingMicros?: number;
  deployment?: string;
  /** The catalog id of the fallback model that served, when not the one asked for. */
  servedModel?: string;
  /** Every backend attempt, in order (retries and fallbacks included). */
  attempts?: AttemptRecord[];
  stream?: boolean;
  /** Time from forwarding to the backend's answer (or first stream event), ms. */
  upstreamMs?: number;
  /** Time from arrival to the first byte sent to the client on a stream, ms. */
  ttftMs?: number;
  usage?: Usage;
  /** A media request's billed units (images, characters, audio milliseconds, video seconds). */
  media?: MediaUsage;
  settle?: SettleReason;
  /** The caller's rate-limit buckets as of admission: sent as the x-ratelimit-* headers. */
  rateLimit?: RateLimitSnapshot;
  /**
   * Its request from the requests-per-minute buckets is still to take: with Redis it goes with the
   * admission's tokens, slot and reservation (one round trip), or at settlement if it never got there.
   */
  requestDeferred?: boolean;
  /** Limits and reservation held from admission to settlement. */
  admission?: Admission;
  /**
   * The usage the backend reported, when settlement billed less (more than the request could use: SPEC
   * §10); `usage` then holds the billed figures.
   */
  clamped?: { promptTokens: number; completionTokens: number };
  /** The settled cost, micro-units. */
  costMicros?: number;
  errorCode?: string | null;
  errorMessage?: string;
  /** The response is over (sent or abandoned). */
  closed?: boolean;
  /** The pipeline is still running (settling a stream, say). */
  busy?: boolean;
  logged?: boolean;
}

export function newRequestState(id: string): RequestState {
  return { id, start: performance.now(), startedAt: Date.now() };
}
