// One backend call over undici's dispatch API, shared by the HTTP providers (openai, anthropic). A handler
// of our own: no stream objects or async-hook resources per request, SSE parsed as bytes arrive, events
// handed over in the batches they came in, and the socket paused while the client is slower than the
// backend. What differs between backends is a WireFormat, one constant per provider: how a non-2xx body
// becomes our error, how a JSON body becomes the result, and how stream events become chunks.
import { Pool, buildConnector, errors as undiciErrors, type Dispatcher } from 'undici';
import { TextDecoder } from 'node:util';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { GatewayError } from '../openai/errors.js';
import type { CallSignal } from './call-signal.js';
import type { JsonObject, UpstreamCall, UpstreamResult } from './types.js';
import { parseRetryAfter } from './upstream-errors.js';

/** What one backend's answers look like on the wire. `S` is the state one stream is read with. */
export interface WireFormat<S = undefined> {
  /** The GatewayError for a non-2xx answer; `body` is its parsed JSON (or text). */
  statusError(status: number, body: unknown, retryAfterMs: number | undefined): GatewayError;
  /** A 2xx JSON object as the result's body (may throw a GatewayError); absent, the body as it is. */
  readonly completion?: (body: JsonObject) => JsonObject;
  /** The `data` that ends a stream without being an event (`[DONE]`), if the format has one. */
  readonly doneData?: string;
  /**
   * When a stream ends only with an event of its own (`event` returns true): the message of the
   * upstream_error a body ending before it is. Absent, the body's end ends the stream.
   */
  readonly unterminated?: string;
  /** The state a stream's events are read with (a translator), made when the stream starts. */
  readonly startStream?: () => S;
  /** One event (a JSON object): appends its chunks to `out`; returns true when it completes the stream, an error to fail it with, else false. */
  event(state: S, event: JsonObject, out: JsonObject[]): boolean | Error;
}

const MAX_ERROR_BODY = 64 * 1024;
/** Events (or bytes) held for a slow consumer before the backend's socket is paused. */
const PAUSE_AT_EVENTS = 256;
const PAUSE_AT_BYTES = 1024 * 1024;

/** A backend's connect timeout: its `timeouts.connect_ms`, 5 s unless configured. */
export function connectTimeoutMs(cfg: { timeouts?: { connect_ms?: number } }): number {
  return cfg.timeouts?.connect_ms ?? 5_000;
}

/** The kept-alive pool a provider calls its backend through. */
export function backendPool(origin: string, cfg: { connections?: number; timeouts?: { connect_ms?: number } }): Pool {
  return new Pool(origin, {
    // Unbounded unless configured: every open stream holds one backend connection, so a cap here would
    // queue streams behind each other; set `connections` to protect a small backend.
    connections: cfg.connections ?? null,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: connectTimeoutMs(cfg) },
    // Our own timers (routing/timeouts) bound first byte, idle and total time for every provider alike.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
}

/** POSTs `body` to `path` and reads the answer as `wire` says; settles once the answer is known. */
export function dispatchExchange<S>(pool: Dispatcher, wire: WireFormat<S>, call: UpstreamCall, path: string, headers: Record<string, string>, body: string): Promise<UpstreamResult> {
  const exchange = new Exchange(wire, call.stream, call.signal);
  pool.dispatch({ method: 'POST', path, headers: call.trace === undefined ? { ...headers, 'x-request-id': call.requestId } : { ...headers, 'x-request-id': call.requestId, ...call.trace }, body }, exchange);
  return exchange.result;
}

/**
 * A backend that could not be reached at all (SPEC §6: refused, no such host, connect timeout): 503
 * `model_unavailable`, not 502, since nothing answered wrongly. Its own class so that routing can tell it
 * from a backend's overload 503 (no Retry-After of the backend's to wait for) and health can count it apart.
 */
export class BackendUnreachableError extends GatewayError {
  constructor(message: string, cause: unknown) {
    super('model_unavailable', message, { retryAfterMs: 1000, cause });
  }
}

/** Network errors that mean no connection was made; a reset or a closed socket means one was, and broke. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether a transport error says the backend could not be connected to (an AggregateError: every address failed so). */
export function isConnectFailure(err: unknown): boolean {
  if (err instanceof undiciErrors.ConnectTimeoutError) return true;
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.every(isConnectFailure);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

/** The error a failed backend call becomes: our own abort reason when we aborted, else a network failure. */
export function transportError(err: unknown, signal: CallSignal): Error {
  if (signal.aborted && signal.reason) return signal.reason;
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code;
  if (isConnectFailure(err)) {
    const why = err instanceof undiciErrors.ConnectTimeoutError ? 'connecting to it timed out' : `it cannot be reached${code ? ` (${code})` : ''}`;
    return new BackendUnreachableError(`The inference backend is temporarily unavailable: ${why}. Retry shortly.`, err);
  }
  return new GatewayError('upstream_error', `The backend connection failed${code ? ` (${code})` : ''}.`, { cause: err });
}

/**
 * The liveness check of an HTTP backend (SPEC §7): a connection to its origin, as the pool would open one
 * (TLS included), closed at once. No request is sent — no credentials, nothing in the backend's logs or
 * rate limits — because what it judges is only whether the backend can be reached; whether it answers
 * rightly is the breaker's business, on requests and trial probes. False only for a connect failure.
 */
export function connectCheck(origin: string, connectMs: number): () => Promise<boolean> {
  const url = new URL(origin);
  const connect = buildConnector({ timeout: connectMs });
  const options: buildConnector.Options = {
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    host: url.host,
    protocol: url.protocol,
    port: url.port || (url.protocol === 'https:' ? '443' : '80'),
  };
  return () =>
    new Promise<boolean>((resolve) => {
      connect(options, (err, socket) => {
        socket?.destroy();
        resolve(err === null || !isConnectFailure(err));
      });
    });
}

export function parseJson(buffers: Buffer[]): unknown {
  const text = buffers.length === 1 ? buffers[0].toString('utf8') : Buffer.concat(buffers).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * One backend exchange, as an undici dispatch handler. It settles `result` once the backend's answer is
 * known (a JSON body, the start of a stream, or an error) and, for streams, is the async iterator of
 * chunk batches the relay reads.
 */
class Exchange<S> implements Dispatcher.DispatchHandler, AsyncIterator<JsonObject[]> {
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
  private streamState: S | undefined;
  private pending: JsonObject[] = [];
  private pendingBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly wire: WireFormat<S>,
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
      if (this.wire.startStream !== undefined) this.streamState = this.wire.startStream();
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
      // A failure wakes the reader at once: the backend may hold the connection open after it.
      if (this.pending.length > 0 || this.failure) this.notify();
      if (this.pending.length >= PAUSE_AT_EVENTS || this.pendingBytes >= PAUSE_AT_BYTES) controller.pause();
      return;
    }
    if (this.status >= 200 && this.status <= 299) this.body.push(chunk);
    else if (this.bodyBytes < MAX_ERROR_BODY) this.body.push(chunk);
    this.bodyBytes += chunk.length;
  }

  onResponseEnd(): void {
    this.unsubscribe();
    if (this.streaming) {
      if (this.wire.unterminated === undefined) this.ended = true;
      else if (!this.ended && this.failure === undefined) this.failure = new GatewayError('upstream_error', this.wire.unterminated);
      this.notify();
      return;
    }
    if (this.status < 200 || this.status > 299) {
      const err = this.wire.statusError(this.status, parseJson(this.body), parseRetryAfter(this.retryAfter));
      err.upstreamStatus = this.status;
      this.fail(err);
      return;
    }
    const parsed = parseJson(this.body);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.fail(new GatewayError('upstream_error', typeof parsed === 'string' ? 'The backend answered with invalid JSON.' : 'The backend answered with something other than a JSON object.'));
    } else if (this.wantsStream) {
      this.fail(new GatewayError('upstream_error', 'The backend answered a streaming request without streaming.'));
    } else if (this.wire.completion === undefined) {
      this.succeed({ kind: 'json', body: parsed as JsonObject });
    } else {
      try {
        this.succeed({ kind: 'json', body: this.wire.completion(parsed as JsonObject) });
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
    if (data === this.wire.doneData) {
      this.ended = true;
      return;
    }
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
    const step = this.wire.event(this.streamState as S, parsed as JsonObject, this.pending);
    if (step === false) return;
    if (step === true) this.ended = true;
    else this.failure = step;
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
