// Relays a backend stream to the client as OpenAI SSE (SPEC §5): the 200 is committed only with the first
// event (so earlier failures stay real HTTP errors), chunks are rewritten to our id/model and written as
// they arrive with back-pressure, usage is kept for billing and shown only when the client asked, a
// failure after the first byte becomes one `data: {"error": …}` event, and the response ends after [DONE].
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { asGatewayError, GatewayError, type ErrorRendering } from '../openai/errors.js';
import { estimatedUsage, mapFinishReason, normalizeUsage, type ResponseIdentity, type Usage } from '../openai/normalize.js';
import { countTokens } from '../accounting/tokenizer.js';
import { SSE_DONE, SSE_HEADERS, SSE_HEARTBEAT, sseError, sseEvent } from '../openai/sse.js';
import type { JsonObject } from '../providers/types.js';
import { CallSignal, type SharedAbort } from '../providers/call-signal.js';
import { CallTimers } from '../routing/timeouts.js';

/**
 * What a stream looks like on the client's side of the relay: the chat and legacy completions' data-only
 * events (ChatStreamEncoder), or a door's own events (the Responses API's typed events, the Messages API's
 * `event:` lines), made from the same backend chunks. The relay owns the timing (commit, back-pressure,
 * heartbeats, errors after the first byte); the encoder owns the bytes.
 */
export interface StreamEncoder {
  /**
   * One backend event: its usage and output are recorded in `outcome` (usage for billing, output text for
   * counting when the backend reports no usage), and what the client is to see is returned ('' for nothing).
   */
  event(chunk: JsonObject, outcome: StreamOutcome): string;
  /** The end of a complete stream (after the backend's last event). May wait, e.g. to store what it made. */
  end(outcome: StreamOutcome): string | Promise<string>;
  /** The in-band error that ends a stream broken after the first byte. */
  error(err: GatewayError): string;
}

export interface StreamRelayOptions {
  res: ServerResponse;
  events: AsyncIterator<JsonObject[]>;
  encoder: StreamEncoder;
  heartbeatMs: number;
  timers: CallTimers;
  signal: CallSignal;
  /** Extra response headers (request id, processing time…). */
  headers: OutgoingHttpHeaders;
  /** Called when the 200 is committed. */
  onCommit: () => void;
}

export interface StreamOutcome {
  usage?: Usage;
  /** Output text seen, for counting tokens when the backend reports no usage. */
  output: OutputText;
  ended: 'complete' | 'client_disconnected' | 'upstream_error';
  error?: GatewayError;
}

/** Pieces kept apart before they are joined into one string. */
const JOIN_EVERY = 64;

/**
 * A stream's output text, kept in case the backend reports no usage and Floodgate counts the tokens. The
 * pieces (about one a token) are joined every JOIN_EVERY into one string, so a long stream holds about a
 * byte per character rather than a string and an array slot per token (2,000 tokens of English: ~10 KB
 * of heap instead of ~25 KB, measured). The text is the same either way.
 */
export class OutputText {
  private readonly blocks: string[] = [];
  private pieces: string[] = [];

  push(piece: string): void {
    this.pieces.push(piece);
    if (this.pieces.length === JOIN_EVERY) {
      this.blocks.push(this.pieces.join(''));
      this.pieces = [];
    }
  }

  text(): string {
    return this.blocks.join('') + this.pieces.join('');
  }
}

/** The client went away: the caller's abort reason. */
export class ClientDisconnected extends Error {
  override name = 'ClientDisconnected';
}

/**
 * A signal aborted with ClientDisconnected when the response closes before it has finished — or with the
 * shutdown's reason when `shutdown` (the server's cutoff) aborts first; every backend attempt's own signal
 * follows it (`CallSignal.onAbort`), and backoffs end with it. `release` stops watching.
 */
export function clientSignal(res: ServerResponse, shutdown?: SharedAbort): { client: CallSignal; release: () => void } {
  const client = new CallSignal();
  const onClose = (): void => {
    if (!res.writableFinished) client.abort(new ClientDisconnected('The client closed the connection.'));
  };
  res.once('close', onClose);
  if (shutdown === undefined) return { client, release: () => res.off('close', onClose) };
  const unlink = shutdown.link(client);
  return {
    client,
    release: () => {
      res.off('close', onClose);
      unlink();
    },
  };
}

/** One attempt at a deployment: its own signal (aborted when the client's is), its timers, its start. */
export interface Attempt {
  signal: CallSignal;
  timers: CallTimers;
  began: number;
  /** Stops the timers and unlinks from the client's signal: when the attempt fails or its answer is over. */
  end(): void;
  /** Throws the attempt's own reason (a timeout, the client gone) when its signal ended the call, else `err`. */
  rethrow(err: unknown): never;
}

export function beginAttempt(client: CallSignal, timeouts: ConstructorParameters<typeof CallTimers>[1]): Attempt {
  const signal = new CallSignal();
  const unlink = client.onAbort(() => signal.abort(client.reason!));
  const timers = new CallTimers(signal, timeouts);
  return {
    signal,
    timers,
    began: performance.now(),
    end() {
      timers.stop();
      unlink();
    },
    rethrow(err) {
      throw signal.aborted ? signal.reason : err;
    },
  };
}

function collectOutput(choices: unknown[], output: OutputText): void {
  for (const raw of choices) {
    const delta = ((raw as JsonObject)?.delta ?? raw) as JsonObject;
    if (typeof delta.content === 'string') output.push(delta.content);
    if (typeof delta.text === 'string') output.push(delta.text);
    if (typeof delta.reasoning_content === 'string') output.push(delta.reasoning_content);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as JsonObject[]) {
        const fn = (call?.function ?? {}) as JsonObject;
        if (typeof fn.name === 'string') output.push(fn.name);
        if (typeof fn.arguments === 'string') output.push(fn.arguments);
      }
    }
  }
}

export interface ChunkView {
  who: ResponseIdentity;
  object: 'chat.completion.chunk' | 'text_completion';
  /** The client asked for usage (`stream_options.include_usage`): chunks carry `usage: null`. */
  includeUsage: boolean;
  /** Floodgate's count of the prompt: the usage told when the backend reports none (with the output counted). */
  promptTokens: number;
}

/** The usage of a stream: the backend's, or Floodgate's count of the prompt and of what was produced. */
export function streamUsage(outcome: StreamOutcome, promptTokens: number): Usage {
  return outcome.usage ?? estimatedUsage(promptTokens, countTokens(outcome.output.text()));
}

/**
 * Rewrites one backend chunk in place to the client's view (our id, model and created; finish reasons
 * mapped), recording its usage and output in `outcome`. Returns false when the chunk only carried usage
 * (it is held back and re-sent last, if the client asked).
 */
export function rewriteChunk(chunk: JsonObject, opts: ChunkView, outcome: StreamOutcome): boolean {
  const usage = chunk.usage;
  if (usage !== undefined && usage !== null) {
    const normalized = normalizeUsage(usage);
    if (normalized) outcome.usage = normalized;
  }
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as JsonObject[]) : [];
  if (choices.length === 0) return false;
  collectOutput(choices, outcome.output);
  for (const choice of choices) {
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) choice.finish_reason = mapFinishReason(choice.finish_reason);
    else choice.finish_reason = null;
    if (opts.object === 'text_completion' && choice.logprobs === undefined) choice.logprobs = null;
  }
  chunk.id = opts.who.id;
  chunk.object = opts.object;
  chunk.created = opts.who.created;
  chunk.model = opts.who.model;
  delete chunk.system_fingerprint;
  if (opts.includeUsage) chunk.usage = null;
  else delete chunk.usage;
  return true;
}

/** The chat and legacy completions' stream: OpenAI's data-only events, the usage chunk if asked, `[DONE]`. */
export class ChatStreamEncoder implements StreamEncoder {
  constructor(
    private readonly view: ChunkView,
    private readonly errors: ErrorRendering,
  ) {}

  event(chunk: JsonObject, outcome: StreamOutcome): string {
    return rewriteChunk(chunk, this.view, outcome) ? sseEvent(chunk) : '';
  }

  end(outcome: StreamOutcome): string {
    const { who, object } = this.view;
    if (!this.view.includeUsage) return SSE_DONE;
    // A client that asked for usage gets it, counted by Floodgate when the backend sent none (SPEC §5).
    const usage = streamUsage(outcome, this.view.promptTokens);
    return sseEvent({ id: who.id, object, created: who.created, model: who.model, choices: [], usage }) + SSE_DONE;
  }

  error(err: GatewayError): string {
    return sseError(err, this.errors);
  }
}

/** Writes, and under back-pressure waits until the client drains, leaves, or the call is aborted. */
async function write(res: ServerResponse, text: string, signal: CallSignal): Promise<void> {
  if (res.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      unsubscribe();
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    const unsubscribe = signal.onAbort(done);
  });
  signal.throwIfAborted();
}

export async function relayStream(first: JsonObject[], opts: StreamRelayOptions): Promise<StreamOutcome> {
  const { res, events, timers, signal } = opts;
  const outcome: StreamOutcome = { output: new OutputText(), ended: 'complete' };
  let lastWrite = performance.now();
  let committed = false;
  const heartbeat = setInterval(() => {
    if (committed && performance.now() - lastWrite >= opts.heartbeatMs && !res.writableEnded) {
      res.write(SSE_HEARTBEAT);
      lastWrite = performance.now();
    }
  }, opts.heartbeatMs);
  heartbeat.unref();

  const send = async (text: string): Promise<void> => {
    if (!committed) {
      res.writeHead(200, { ...SSE_HEADERS, ...opts.headers });
      committed = true;
      opts.onCommit();
    }
    lastWrite = performance.now();
    await write(res, text, signal);
    // Time spent waiting on a slow client is not the backend's silence.
    timers.activity();
  };

  try {
    let batch: JsonObject[] | undefined = first;
    // Events that arrived together leave in one write; the 200 goes out with the first the client sees.
    while (batch !== undefined) {
      let text = '';
      for (const chunk of batch) {
        const encoded = opts.encoder.event(chunk, outcome);
        if (encoded === '') continue;
        text += encoded;
        // The first event leaves on its own, so the client's first byte does not wait for the whole batch.
        if (!committed) {
          await send(text);
          text = '';
        }
      }
      if (text !== '') await send(text);
      const next: IteratorResult<JsonObject[]> = await events.next();
      timers.activity();
      batch = next.done ? undefined : next.value;
    }
    const end = opts.encoder.end(outcome);
    await send(typeof end === 'string' ? end : await end);
    res.end();
  } catch (err) {
    // Stop the backend's stream (and its socket) now, whatever happens next.
    await events.return?.(undefined)?.catch(() => undefined);
    if (signal.aborted && signal.reason instanceof ClientDisconnected) {
      outcome.ended = 'client_disconnected';
      if (!committed) throw signal.reason;
    } else {
      const error = asGatewayError(signal.aborted && signal.reason instanceof GatewayError ? signal.reason : err);
      outcome.ended = 'upstream_error';
      outcome.error = error;
      if (!committed) throw error;
      if (!res.writableEnded && !res.destroyed) res.end(opts.encoder.error(error));
    }
  } finally {
    clearInterval(heartbeat);
  }
  return outcome;
}
