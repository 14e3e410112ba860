// The `openai` provider (SPEC §8): any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI…).
// One kept-alive undici pool per provider, field renames/drops, and the backend's errors mapped to ours;
// media endpoints (images, speech, transcriptions, video jobs) through ../media-http.ts.
// Calls go through the shared dispatch exchange (../exchange.ts); what is OpenAI's own is its wire
// format: `data:` JSON objects as they are, until `[DONE]`.
import type { OpenAIProviderConfig } from '../../config/schema.js';
import { backendPool, connectCheck, connectTimeoutMs, dispatchExchange, type WireFormat } from '../exchange.js';
import type { Endpoint, JsonObject, MediaCall, MediaResult, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { httpMedia } from '../media-http.js';
import { mapStreamErrorEvent, mapUpstreamStatus } from '../upstream-errors.js';

const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  // Never asked of this provider: the Messages door sends its requests as they are to `anthropic` backends only.
  messages: '/messages',
};

function prepareBody(body: JsonObject, renames: Record<string, string>, drops: string[]): JsonObject {
  if (drops.length === 0 && Object.keys(renames).length === 0) return body;
  const out: JsonObject = { ...body };
  for (const [from, to] of Object.entries(renames)) {
    if (from in out) {
      if (!(to in out)) out[to] = out[from];
      delete out[from];
    }
  }
  for (const field of drops) delete out[field];
  return out;
}

/** OpenAI's wire format: events are the chunks, `[DONE]` ends the stream, an event with `error` fails it. */
const OPENAI_WIRE: WireFormat = {
  statusError: mapUpstreamStatus,
  doneData: '[DONE]',
  event(_state, event, out) {
    if (event.error !== undefined && event.error !== null) return mapStreamErrorEvent(event);
    out.push(event);
    return false;
  },
};

export function createOpenAIProvider(cfg: OpenAIProviderConfig): Provider {
  const base = new URL(cfg.base_url);
  const basePath = base.pathname.replace(/\/+$/, '');
  const pool = backendPool(base.origin, cfg);
  const fixedHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...(cfg.headers ?? {}) };
  if (cfg.api_key) fixedHeaders.authorization = `Bearer ${cfg.api_key}`;
  // Media answers are audio, video, text or JSON: no Accept header pinning them to JSON.
  const { accept: _accept, ...mediaHeaders } = fixedHeaders;
  const renames = cfg.rename_fields ?? {};
  const drops = cfg.drop_fields ?? [];

  return {
    call(call: UpstreamCall): Promise<UpstreamResult> {
      if (call.signal.aborted) return Promise.reject(call.signal.reason);
      return dispatchExchange(pool, OPENAI_WIRE, call, basePath + PATHS[call.endpoint], fixedHeaders, JSON.stringify(prepareBody(call.body, renames, drops)));
    },
    media(call: MediaCall): Promise<MediaResult> {
      return httpMedia(pool, basePath, mediaHeaders, call.body === undefined ? call : { ...call, body: prepareBody(call.body, renames, drops) });
    },
    reachable: connectCheck(base.origin, connectTimeoutMs(cfg)),
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
