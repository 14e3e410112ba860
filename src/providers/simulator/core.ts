// The simulator's core, shared by the in-process provider and the standalone server: settings with
// their defaults, the per-instance state (request counter for faults, prefix cache, models seen), and
// the dispatch from an endpoint's request body to its answer.
import { warmTokenizer } from '../../accounting/tokenizer.js';
import type { SimulatorSettings } from '../../config/schema.js';
import type { Endpoint, JsonObject } from '../types.js';
import type { Answer, GenerationEnv } from './answer.js';
import { answerChat } from './chat.js';
import { answerCompletions } from './completions.js';
import { answerEmbeddings } from './embeddings.js';
import { answerMessages } from './messages.js';
import { PrefixCache, blockHashes } from './prefix-cache.js';
import { mix32 } from './random.js';

export const DEFAULT_OUTPUT_TOKENS: readonly [number, number] = [16, 64];
export const DEFAULT_EMBEDDING_DIMENSIONS = 1024;
export const DEFAULT_ERROR_STATUS = 500;
/** Listed by `GET /v1/models` beside the names requests have used. */
export const DEFAULT_MODEL_NAMES: readonly string[] = ['sim-chat', 'sim-reasoner', 'sim-embed'];
export const SIMULATOR_OWNER = 'floodgate-simulator';

const MAX_MODELS_SEEN = 256;
const PROMPT_MEMO_ENTRIES = 512;
const PROMPT_MEMO_MAX_KEY = 8 * 1024;

export interface SimulatorRuntime {
  ttftMs: number;
  /** Milliseconds between decoding steps; 0 = no pacing. */
  intervalMs: number;
  outputTokens: readonly [number, number];
  embeddingDimensions: number;
  faults: {
    errorRate: number;
    errorStatus: number;
    latencyMs: number;
    hang: boolean;
    /** null: never break. */
    breakAfterTokens: number | null;
  };
}

/** What the fault settings decide for one request. */
export interface Fault {
  latencyMs: number;
  hang: boolean;
  /** An HTTP status to answer with instead of the answer, or null. */
  errorStatus: number | null;
}

export interface SimulatorCore {
  readonly runtime: SimulatorRuntime;
  /** Draws the faults for the next request (each call is one request: it advances the request counter). */
  nextFault(): Fault;
  /** The answer to a request; throws SimulatorRequestError for a request it cannot serve. */
  answer(endpoint: Endpoint, body: JsonObject): Answer;
  /** The answer to an Anthropic Messages API request; throws MessagesRequestError for one it refuses. */
  answerMessages(body: JsonObject): Answer;
  /** When decoding step `step` is due, in milliseconds after the answer started. */
  stepDueMs(step: number): number;
  /** Whether an answer of `pieces` output pieces is cut by `break_after_tokens`. */
  breaks(pieces: number): boolean;
  modelNames(): string[];
}

export function resolveSimulatorSettings(settings: SimulatorSettings): SimulatorRuntime {
  const [a, b] = settings.output_tokens ?? DEFAULT_OUTPUT_TOKENS;
  const tps = settings.tokens_per_second ?? 0;
  const faults = settings.faults ?? {};
  return {
    ttftMs: settings.ttft_ms ?? 0,
    intervalMs: tps > 0 ? 1000 / tps : 0,
    outputTokens: [Math.min(a, b), Math.max(a, b)],
    embeddingDimensions: settings.embedding_dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS,
    faults: {
      errorRate: faults.error_rate ?? 0,
      errorStatus: faults.error_status ?? DEFAULT_ERROR_STATUS,
      latencyMs: faults.latency_ms ?? 0,
      hang: faults.hang ?? false,
      breakAfterTokens: faults.break_after_tokens ?? null,
    },
  };
}

/** `*` matches any run of characters; everything else literally. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

function errorTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The body of an injected error: OpenAI's envelope, saying it is simulated. */
export function faultErrorBody(status: number): { error: { message: string; type: string; param: null; code: string } } {
  return {
    error: { message: `Simulated failure (HTTP ${status}) injected by the simulator's fault settings.`, type: errorTypeFor(status), param: null, code: 'simulated_fault' },
  };
}

export function createSimulatorCore(settings: SimulatorSettings): SimulatorCore {
  const runtime = resolveSimulatorSettings(settings);
  // Every answer counts its prompt: load the tokenizer now rather than on the first request.
  warmTokenizer();
  const reasoningPatterns = (settings.reasoning_models ?? []).map(globToRegExp);
  const reasoningByModel = new Map<string, boolean>();
  const prefixCache = new PrefixCache();
  // Prompts repeat (benchmarks, retries, multi-turn prefixes): remember their token counts and block hashes.
  const promptMemo = new Map<string, { tokens: number; hashes: number[] }>();
  const modelsSeen = new Set<string>(DEFAULT_MODEL_NAMES);
  const idTag = Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  let idCounter = 0;
  let requestCounter = 0;

  const env: GenerationEnv = {
    outputTokens: runtime.outputTokens,
    embeddingDimensions: runtime.embeddingDimensions,
    isReasoningModel(model) {
      let hit = reasoningByModel.get(model);
      if (hit === undefined) {
        hit = reasoningPatterns.some((re) => re.test(model));
        if (reasoningByModel.size < 1024) reasoningByModel.set(model, hit);
      }
      return hit;
    },
    observePrompt(key, encode) {
      let entry = promptMemo.get(key);
      if (entry === undefined) {
        const tokens = encode();
        entry = { tokens: tokens.length, hashes: blockHashes(tokens) };
        if (key.length <= PROMPT_MEMO_MAX_KEY) {
          promptMemo.set(key, entry);
          if (promptMemo.size > PROMPT_MEMO_ENTRIES) promptMemo.delete(promptMemo.keys().next().value as string);
        }
      }
      return { promptTokens: entry.tokens, cachedTokens: prefixCache.observe(entry.hashes) };
    },
    newId(prefix) {
      idCounter++;
      return `${prefix}sim${idTag}${idCounter.toString(36).padStart(10, '0')}`;
    },
  };

  const noteModel = (model: unknown): void => {
    if (typeof model === 'string' && model.length > 0 && model.length <= 256 && modelsSeen.size < MAX_MODELS_SEEN + DEFAULT_MODEL_NAMES.length) {
      modelsSeen.add(model);
    }
  };

  return {
    runtime,
    nextFault() {
      requestCounter++;
      const { errorRate, errorStatus, latencyMs, hang } = runtime.faults;
      // Hashing the request counter makes the failures look random but repeat exactly in a fresh instance.
      const failed = errorRate > 0 && mix32(requestCounter ^ 0x5f3759df) / 4294967296 < errorRate;
      return { latencyMs, hang, errorStatus: failed ? errorStatus : null };
    },
    answer(endpoint, body) {
      noteModel(body.model);
      switch (endpoint) {
        case 'chat':
          return answerChat(body, env);
        case 'completions':
          return answerCompletions(body, env);
        case 'embeddings':
          return answerEmbeddings(body, env);
        case 'messages':
          return answerMessages(body, env);
      }
    },
    answerMessages(body) {
      noteModel(body.model);
      return answerMessages(body, env);
    },
    stepDueMs(step) {
      return runtime.ttftMs + step * runtime.intervalMs;
    },
    breaks(pieces) {
      const limit = runtime.faults.breakAfterTokens;
      return limit !== null && pieces > limit;
    },
    modelNames() {
      return [...modelsSeen];
    },
  };
}
