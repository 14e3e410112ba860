// The `openai` provider (SPEC §8): any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI…).
// One kept-alive undici pool per provider, field renames/drops, and the backend's errors mapped to ours.
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { OpenAIProviderConfig } from '../../config/schema.js';
import { GatewayError } from '../../openai/errors.js';
import type { Endpoint, JsonObject, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { mapStreamErrorEvent, mapUpstreamStatus, parseRetryAfter } from '../upstream-errors.js';

const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

const MAX_ERROR_BODY = 64 * 1024;

/** The error a failed backend call becomes: our own abort reason when we aborted, else a network failure. */
export function transportError(err: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new GatewayError('upstream_error', 'The backend call was aborted.');
  if (err instanceof GatewayError) return err;
  if (err instanceof undiciErrors.ConnectTimeoutError) return new GatewayError('upstream_timeout', 'Connecting to the backend timed out.', { cause: err });
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return new GatewayError('upstream_error', `The backend connection failed (${code}).`, { cause: err });
  }
  return new GatewayError('upstream_error', 'The backend connection failed.', { cause: err });
}

async function readErrorBody(body: Dispatcher.ResponseData['body']): Promise<unknown> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < MAX_ERROR_BODY) text += (chunk as Buffer).toString('utf8');
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Parsed `data:` events of an SSE body, stopping at `[DONE]`. */
async function* readEvents(body: Dispatcher.ResponseData['body'], signal: AbortSignal): AsyncGenerator<JsonObject> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => queue.push(event) });
  // Chunks may split a UTF-8 character; the streaming decoder carries the partial bytes over.
  const decoder = new TextDecoder();
  try {
    for await (const bytes of body) {
      parser.feed(decoder.decode(bytes as Buffer, { stream: true }));
      while (queue.length > 0) {
        const event = queue.shift()!;
        if (event.data === '[DONE]') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(event.data);
        } catch {
          throw new GatewayError('upstream_error', 'The backend sent an event that is not JSON.');
        }
        if (parsed === null || typeof parsed !== 'object') throw new GatewayError('upstream_error', 'The backend sent an event that is not a JSON object.');
        const obj = parsed as JsonObject;
        if (obj.error !== undefined && obj.error !== null) throw mapStreamErrorEvent(obj);
        yield obj;
      }
    }
  } catch (err) {
    throw err instanceof GatewayError ? err : transportError(err, signal);
  } finally {
    // Returning early (client gone, [DONE], error) must not leave the socket half-read.
    if (!body.destroyed) body.destroy();
  }
}

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

export function createOpenAIProvider(cfg: OpenAIProviderConfig): Provider {
  const base = new URL(cfg.base_url);
  const basePath = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: cfg.connections ?? 128,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: cfg.timeouts?.connect_ms ?? 5_000 },
    // Our own timers (routing/timeouts) bound first byte, idle and total time for every provider alike.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fixedHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...(cfg.headers ?? {}) };
  if (cfg.api_key) fixedHeaders.authorization = `Bearer ${cfg.api_key}`;
  const renames = cfg.rename_fields ?? {};
  const drops = cfg.drop_fields ?? [];

  return {
    async call(call: UpstreamCall): Promise<UpstreamResult> {
      const payload = JSON.stringify(prepareBody(call.body, renames, drops));
      let res: Dispatcher.ResponseData;
      try {
        res = await pool.request({
          method: 'POST',
          path: basePath + PATHS[call.endpoint],
          headers: { ...fixedHeaders, 'x-request-id': call.requestId },
          body: payload,
          signal: call.signal,
        });
      } catch (err) {
        throw transportError(err, call.signal);
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        const body = await readErrorBody(res.body).catch(() => undefined);
        throw mapUpstreamStatus(res.statusCode, body, parseRetryAfter(res.headers['retry-after']));
      }
      const contentType = String(res.headers['content-type'] ?? '');
      if (call.stream && contentType.includes('text/event-stream')) {
        return { kind: 'stream', events: readEvents(res.body, call.signal) };
      }
      let parsed: unknown;
      try {
        parsed = await res.body.json();
      } catch (err) {
        if (call.signal.aborted) throw transportError(err, call.signal);
        throw new GatewayError('upstream_error', 'The backend answered with invalid JSON.', { cause: err });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new GatewayError('upstream_error', 'The backend answered with something other than a JSON object.');
      }
      if (call.stream) throw new GatewayError('upstream_error', 'The backend answered a streaming request without streaming.');
      return { kind: 'json', body: parsed as JsonObject };
    },
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
