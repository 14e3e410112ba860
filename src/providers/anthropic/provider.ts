// The `anthropic` provider (SPEC §8): Anthropic's Messages API behind the OpenAI chat API. One kept-alive
// undici pool per provider; each call goes through dispatch with a handler of our own (as the openai
// provider does): the request translated on the way out, the `message` or the stream's events
// translated as they arrive, in the batches they came in, the socket paused while the client is slower
// than the backend, and Anthropic's errors mapped to ours.
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { TextDecoder } from 'node:util';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_VERSION, type AnthropicProviderConfig } from '../../config/schema.js';
import { GatewayError, invalidRequest } from '../../openai/errors.js';
import type { CallSignal } from '../call-signal.js';
import type { JsonObject, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { parseRetryAfter } from '../upstream-errors.js';
import { mapAnthropicStatus } from './errors.js';
import { buildAnthropicRequest } from './request.js';
import { chatCompletionFromMessage } from './response.js';
import { AnthropicStreamTranslator } from './stream.js';

const MAX_ERROR_BODY = 64 * 1024;
/** Chunks (or bytes) held for a slow consumer before the backend's socket is paused. */
const PAUSE_AT_CHUNKS = 256;
const PAUSE_AT_BYTES = 1024 * 1024;

/** The error a failed backend call becomes: our own abort reason when we aborted, else a network failure. */
function transportError(err: unknown, signal: CallSignal): Error {
  if (signal.aborted && signal.reason) return signal.reason;
  if (err instanceof GatewayError) return err;
  if (err instanceof undiciErrors.ConnectTimeoutError) return new GatewayError('upstream_timeout', 'Connecting to the backend timed out.', { cause: err });
  const code = (err as { code?: string }).code;
  return new GatewayError('upstream_error', `The backend connection failed${code ? ` (${code})` : ''}.`, { cause: err });
}

function parseJson(buffers: Buffer[]): unknown {
  const text = buffers.length === 1 ? buffers[0].toString('utf8') : Buffer.concat(buffers).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * One Messages API exchange, as an undici dispatch handler. It settles `result` once the answer is
 * known (a translated chat.completion, the start of a stream, or an error) and, for streams, is the
 * async iterator of translated chunk batches the relay reads.
 */
class MessagesExchange implements Dispatcher.DispatchHandler, AsyncIterator<JsonObject[]> {
  readonly result: Promise<UpstreamResult>;
  private resolveResult!: (value: UpstreamResult) => void;
  private rejectResult!: (err: Error) => void;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private retryAfter: string | undefined;
  private streaming = false;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  // Stream state.
  private parser: EventSourceParser | undefined;
  private decoder: TextDecoder | undefined;
  private translator: AnthropicStreamTranslator | undefined;
  private pending: JsonObject[] = [];
  private pendingBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly wantsStream: boolean,
    private readonly signal: CallSignal,
  ) {
    this.result = new Promise<UpstreamResult>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.unsubscribe = signal.onAbort(() => this.abortNow(signal.reason!));
  }

  private abortNow(reason: Error): void {
    this.controller?.abort(reason);
    this.fail(reason);
  }

  private succeed(value: UpstreamResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveResult(value);
  }

  private fail(err: Error): void {
    if (!this.settled) {
      this.settled = true;
      this.unsubscribe();
      this.rejectResult(err);
      return;
    }
    if (this.streaming && !this.ended && this.failure === undefined) {
      this.failure = err;
      this.notify();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  // ── undici handler ──

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason!);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    const retryAfter = headers['retry-after'];
    this.retryAfter = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
    if (statusCode < 200 || statusCode > 299) return;
    const contentType = String(headers['content-type'] ?? '');
    if (this.wantsStream && contentType.includes('text/event-stream')) {
      this.streaming = true;
      this.decoder = new TextDecoder();
      this.translator = new AnthropicStreamTranslator();
      this.parser = createParser({ onEvent: (event) => this.onEvent(event.data) });
      this.succeed({ kind: 'stream', events: { [Symbol.asyncIterator]: () => this } });
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.streaming) {
      if (this.ended || this.failure) return;
      // A chunk may split a UTF-8 character; the streaming decoder carries the partial bytes over.
      this.parser!.feed(this.decoder!.decode(chunk, { stream: true }));
      this.pendingBytes += chunk.length;
      if (this.pending.length > 0 || this.failure) this.notify();
      if (this.pending.length >= PAUSE_AT_CHUNKS || this.pendingBytes >= PAUSE_AT_BYTES) controller.pause();
      return;
    }
    if (this.status >= 200 && this.status <= 299) this.body.push(chunk);
    else if (this.bodyBytes < MAX_ERROR_BODY) this.body.push(chunk);
    this.bodyBytes += chunk.length;
  }

  onResponseEnd(): void {
    this.unsubscribe();
    if (this.streaming) {
      if (!this.ended && this.failure === undefined) {
        this.failure = new GatewayError('upstream_error', 'The backend ended the stream before message_stop.');
      }
      this.notify();
      return;
    }
    if (this.status < 200 || this.status > 299) {
      this.fail(mapAnthropicStatus(this.status, parseJson(this.body), parseRetryAfter(this.retryAfter)));
      return;
    }
    const parsed = parseJson(this.body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.fail(new GatewayError('upstream_error', typeof parsed === 'string' ? 'The backend answered with invalid JSON.' : 'The backend answered with something other than a JSON object.'));
    } else if (this.wantsStream) {
      this.fail(new GatewayError('upstream_error', 'The backend answered a streaming request without streaming.'));
    } else {
      try {
        this.succeed({ kind: 'json', body: chatCompletionFromMessage(parsed as JsonObject) });
      } catch (err) {
        this.fail(err as Error);
      }
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.unsubscribe();
    this.fail(transportError(err, this.signal));
  }

  private onEvent(data: string): void {
    if (this.ended || this.failure) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.failure = new GatewayError('upstream_error', 'The backend sent an event that is not JSON.');
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.failure = new GatewayError('upstream_error', 'The backend sent an event that is not a JSON object.');
      return;
    }
    try {
      this.translator!.translate(parsed as JsonObject, this.pending);
    } catch (err) {
      this.failure = err as Error;
      return;
    }
    if (this.translator!.finished) this.ended = true;
  }

  // ── the relay's iterator ──

  async next(): Promise<IteratorResult<JsonObject[]>> {
    for (;;) {
      if (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        if (this.controller?.paused) this.controller.resume();
        return { done: false, value: batch };
      }
      if (this.failure) throw this.failure;
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The consumer stopped early (client gone, error): drop the backend request now. */
  async return(): Promise<IteratorResult<JsonObject[]>> {
    if (!this.ended) {
      this.ended = true;
      this.controller?.abort(this.signal.reason ?? new GatewayError('upstream_error', 'The stream was closed.'));
    }
    this.unsubscribe();
    return { done: true, value: undefined };
  }
}

/** `/v1/messages` under the configured base URL, whether or not it already ends in `/v1`. */
function messagesPath(base: URL): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  return basePath.endsWith('/v1') ? `${basePath}/messages` : `${basePath}/v1/messages`;
}

export function createAnthropicProvider(cfg: AnthropicProviderConfig): Provider {
  const base = new URL(cfg.base_url ?? ANTHROPIC_DEFAULT_BASE_URL);
  const path = messagesPath(base);
  const pool = new Pool(base.origin, {
    // Unbounded unless configured: every open stream holds one backend connection.
    connections: cfg.connections ?? null,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: cfg.timeouts?.connect_ms ?? 5_000 },
    // Our own timers (routing/timeouts) bound first byte, idle and total time for every provider alike.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fixedHeaders: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'anthropic-version': cfg.anthropic_version ?? ANTHROPIC_DEFAULT_VERSION,
    ...(cfg.headers ?? {}),
  };
  if (cfg.api_key) fixedHeaders['x-api-key'] = cfg.api_key;
  const options = { promptCaching: cfg.prompt_caching === true };

  return {
    call(call: UpstreamCall): Promise<UpstreamResult> {
      if (call.signal.aborted) return Promise.reject(call.signal.reason);
      if (call.endpoint !== 'chat') {
        // The catalog lets a text model serve legacy completions by default; this backend cannot.
        return Promise.reject(invalidRequest('model', "model: this model's backend (Anthropic's Messages API) serves chat completions only; use POST /v1/chat/completions."));
      }
      let body: JsonObject;
      try {
        body = buildAnthropicRequest(call.body, options);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      if (call.stream) body.stream = true;
      else delete body.stream;
      const exchange = new MessagesExchange(call.stream, call.signal);
      pool.dispatch(
        {
          method: 'POST',
          path,
          headers: { ...fixedHeaders, 'x-request-id': call.requestId },
          body: JSON.stringify(body),
        },
        exchange,
      );
      return exchange.result;
    },
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
