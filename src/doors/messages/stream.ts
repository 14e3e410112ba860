// The Messages door's streams (SPEC §17): Anthropic's `event:` lines. A translated stream turns the
// backend's chat chunks (rewritten and counted by rewriteChunk first) into message_start, content blocks
// (start, deltas, stop), ping, message_delta with the stop reason and usage, and message_stop. A native
// stream (an `anthropic` backend) goes out event for event with our model name, its usage read through
// the anthropic provider's own translator. A failure after the first byte is an `error` event.
import { estimatedUsage } from '../../openai/normalize.js';
import type { ErrorRendering, GatewayError } from '../../openai/errors.js';
import { AnthropicStreamTranslator } from '../../providers/anthropic/stream.js';
import type { JsonObject } from '../../providers/types.js';
import { rewriteChunk, streamUsage, type ChunkView, type StreamEncoder, type StreamOutcome } from '../../api/stream-relay.js';
import { anthropicErrorBody } from './errors.js';
import { messageId, messageUsage, stopReasonOf } from './response.js';

/** One server-sent event as Anthropic writes it: its type on an `event:` line, then the JSON. */
export function anthropicEvent(payload: JsonObject): string {
  return `event: ${String(payload.type)}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** The stream's in-band error: Anthropic's error body in an `error` event. */
function errorEvent(err: GatewayError, errors: ErrorRendering, requestId: string): string {
  return anthropicEvent(anthropicErrorBody(err, errors, requestId));
}

export interface TranslatedStreamOptions {
  view: ChunkView;
  errors: ErrorRendering;
  requestId: string;
  thinking: boolean;
  stops: readonly string[];
}

type BlockKind = 'text' | 'thinking' | 'tool_use';

/** A backend's chat chunks as Anthropic's stream events. */
export class MessagesStreamEncoder implements StreamEncoder {
  private started = false;
  private pinged = false;
  private open: { index: number; kind: BlockKind } | undefined;
  private blocks = 0;
  /** The block each chat tool call (by its index) became. */
  private readonly tools = new Map<number, number>();
  private finishReason: unknown = null;
  private matchedStop: unknown;

  constructor(private readonly opts: TranslatedStreamOptions) {}

  private start(): string {
    if (this.started) return '';
    this.started = true;
    // Floodgate's count of the prompt: the backend's usage is not known yet.
    const usage = estimatedUsage(this.opts.view.promptTokens, 0);
    const message = { id: messageId(this.opts.view.who), type: 'message', role: 'assistant', model: this.opts.view.who.model, content: [], stop_reason: null, stop_sequence: null, usage: messageUsage(usage) };
    return anthropicEvent({ type: 'message_start', message });
  }

  private close(): string {
    if (this.open === undefined) return '';
    const index = this.open.index;
    this.open = undefined;
    return anthropicEvent({ type: 'content_block_stop', index });
  }

  /** Starts a block (closing the one before); the first block is followed by a ping, as Anthropic does. */
  private startBlock(kind: BlockKind, contentBlock: JsonObject): string {
    let out = this.close();
    const index = this.blocks++;
    this.open = { index, kind };
    out += anthropicEvent({ type: 'content_block_start', index, content_block: contentBlock });
    if (!this.pinged) {
      this.pinged = true;
      out += anthropicEvent({ type: 'ping' });
    }
    return out;
  }

  /** A delta for a text or thinking block, opening one when the current block is of another kind. */
  private textual(kind: 'text' | 'thinking', piece: string): string {
    let out = '';
    if (this.open?.kind !== kind) out += this.startBlock(kind, kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' });
    const delta = kind === 'text' ? { type: 'text_delta', text: piece } : { type: 'thinking_delta', thinking: piece };
    return out + anthropicEvent({ type: 'content_block_delta', index: this.open!.index, delta });
  }

  private toolCall(call: JsonObject): string {
    let out = '';
    const position = typeof call.index === 'number' ? call.index : 0;
    const fn = (call.function ?? {}) as JsonObject;
    let index = this.tools.get(position);
    if (index === undefined) {
      out += this.startBlock('tool_use', { type: 'tool_use', id: call.id, name: fn.name, input: {} });
      index = this.open!.index;
      this.tools.set(position, index);
    }
    if (typeof fn.arguments === 'string' && fn.arguments.length > 0) {
      out += anthropicEvent({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: fn.arguments } });
    }
    return out;
  }

  event(chunk: JsonObject, outcome: StreamOutcome): string {
    if (!rewriteChunk(chunk, this.opts.view, outcome)) return '';
    let out = this.start();
    const choice = (chunk.choices as JsonObject[]).find((c) => (c.index ?? 0) === 0);
    if (choice === undefined) return out;
    const delta = (choice.delta ?? {}) as JsonObject;
    if (this.opts.thinking && typeof delta.reasoning_content === 'string' && delta.reasoning_content.length > 0) out += this.textual('thinking', delta.reasoning_content);
    if (typeof delta.content === 'string' && delta.content.length > 0) out += this.textual('text', delta.content);
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as JsonObject[]) out += this.toolCall(call);
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
      this.finishReason = choice.finish_reason;
      this.matchedStop = choice.stop_reason;
    }
    return out;
  }

  end(outcome: StreamOutcome): string {
    let out = this.start() + this.close();
    if (!this.pinged) out += anthropicEvent({ type: 'ping' });
    // The backend's usage, or Floodgate's count when it gave none (the pipeline bills the same count).
    const usage = streamUsage(outcome, this.opts.view.promptTokens);
    const { service_tier: _tier, cache_creation: _cache, ...counts } = messageUsage(usage);
    out += anthropicEvent({ type: 'message_delta', delta: stopReasonOf(this.finishReason ?? 'stop', this.matchedStop, this.opts.stops), usage: counts });
    return out + anthropicEvent({ type: 'message_stop' });
  }

  error(err: GatewayError): string {
    return errorEvent(err, this.opts.errors, this.opts.requestId);
  }
}

/**
 * A native backend's events as they came, with the client's model name in message_start; usage and
 * output are read from them through the anthropic provider's translator, as for a chat client.
 */
export class NativeMessagesEncoder implements StreamEncoder {
  private readonly translator = new AnthropicStreamTranslator();

  constructor(
    private readonly view: ChunkView,
    private readonly errors: ErrorRendering,
    private readonly requestId: string,
  ) {}

  event(chunk: JsonObject, outcome: StreamOutcome): string {
    if (chunk.type === 'message_start' && chunk.message !== null && typeof chunk.message === 'object') (chunk.message as JsonObject).model = this.view.who.model;
    const chat: JsonObject[] = [];
    this.translator.translate(chunk, chat);
    for (const c of chat) rewriteChunk(c, this.view, outcome);
    return anthropicEvent(chunk);
  }

  end(): string {
    return '';
  }

  error(err: GatewayError): string {
    return errorEvent(err, this.errors, this.requestId);
  }
}
