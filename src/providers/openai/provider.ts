// The `openai` provider (SPEC §8): any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI,
// and the clouds' OpenAI-compatible endpoints: Azure OpenAI, Gemini, Bedrock, Groq, Together, DeepSeek,
// Mistral). One kept-alive undici pool per provider, field renames/drops, the URL, query and key header
// of ./endpoint.ts, and the backend's errors mapped to ours; media endpoints (images, speech,
// transcriptions, video jobs) through ../media-http.ts.
// Calls go through the shared dispatch exchange (../exchange.ts); what is OpenAI's own is its wire
// format: `data:` JSON objects as they are, until `[DONE]`.
import type { Dispatcher } from 'undici';
import type { OpenAIProviderConfig } from '../../config/schema.js';
import { GatewayError } from '../../openai/errors.js';
import { addSecretValues } from '../../observability/redact.js';
import { backendPool, connectCheck, connectTimeoutMs, dispatchExchange, type WireFormat } from '../exchange.js';
import type { Endpoint, JsonObject, MediaCall, MediaResult, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { httpMedia } from '../media-http.js';
import { mapStreamErrorEvent, mapUpstreamStatus } from '../upstream-errors.js';
import { basePathFor, openAIEndpoint } from './endpoint.js';

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

/** A call whose base URL needs a model name (`{model}`) that the call does not carry (a video job's retrieval). */
function noModelForPath(): GatewayError {
  return new GatewayError('upstream_error', "This backend's base_url holds {model}, and this call names no model to put there.");
}

export function createOpenAIProvider(cfg: OpenAIProviderConfig): Provider {
  const endpoint = openAIEndpoint(cfg);
  // The configured credentials are masked wherever they show up (a backend echoing them in an error).
  addSecretValues(endpoint.secrets);
  const pool = backendPool(endpoint.origin, cfg);
  const fixedHeaders = endpoint.headers;
  const { search } = endpoint;
  // Without `{model}` in the base URL, each endpoint's path is the same on every call: made once.
  const fixedBase = endpoint.pathParts.length === 1 ? endpoint.pathParts[0] : undefined;
  const fixedPaths = fixedBase === undefined ? undefined : (Object.fromEntries(Object.entries(PATHS).map(([e, p]) => [e, fixedBase + p + search])) as Record<Endpoint, string>);
  // Media calls go through ../media-http.ts, which appends its path to the base path: the query is added
  // to whatever path it sends.
  const mediaPool: Dispatcher =
    search === ''
      ? pool
      : pool.compose((dispatch) => (opts, handler) => dispatch({ ...opts, path: opts.path + (opts.path.includes('?') ? `&${search.slice(1)}` : search) }, handler));
  // Media answers are audio, video, text or JSON: no Accept header pinning them to JSON.
  const { accept: _accept, ...mediaHeaders } = fixedHeaders;
  const renames = cfg.rename_fields ?? {};
  const drops = cfg.drop_fields ?? [];

  return {
    call(call: UpstreamCall): Promise<UpstreamResult> {
      if (call.signal.aborted) return Promise.reject(call.signal.reason);
      let path = fixedPaths?.[call.endpoint];
      if (path === undefined) {
        const base = basePathFor(endpoint, call.body.model);
        if (base === undefined) return Promise.reject(noModelForPath());
        path = base + PATHS[call.endpoint] + search;
      }
      return dispatchExchange(pool, OPENAI_WIRE, call, path, fixedHeaders, JSON.stringify(prepareBody(call.body, renames, drops)));
    },
    async media(call: MediaCall): Promise<MediaResult> {
      const basePath = fixedBase ?? basePathFor(endpoint, call.body?.model ?? call.form?.fields.model);
      if (basePath === undefined) throw noModelForPath();
      return httpMedia(mediaPool, basePath, mediaHeaders, call.body === undefined ? call : { ...call, body: prepareBody(call.body, renames, drops) });
    },
    reachable: connectCheck(endpoint.origin, connectTimeoutMs(cfg)),
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
