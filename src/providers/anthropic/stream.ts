// Anthropic's stream events as OpenAI `chat.completion.chunk`s. The role goes out with the first
// content (so an early `error` event is still a plain HTTP error), text and thinking deltas become
// `content` / `reasoning_content`, a tool_use block becomes a tool call (index, id, type and name on the
// first fragment, then `arguments` fragments), `message_delta` brings the finish reason, and
// `message_stop` the usage chunk (`choices: []`) the relay bills from.
import type { JsonObject } from '../types.js';
import { mapAnthropicStreamError } from './errors.js';
import { mapStopReason, openAIUsage, readAnthropicUsage, type AnthropicUsage } from './response.js';

interface BlockState {
  kind: 'text' | 'tool' | 'thinking' | 'other';
  /** The tool call's index among this message's tool calls. */
  toolIndex: number;
  /** Whether any argument fragment went out (an argument-less call still needs "{}"). */
  sentArguments: boolean;
  input: unknown;
}

export class AnthropicStreamTranslator {
  private id = '';
  private model = '';
  private readonly created = Math.floor(Date.now() / 1000);
  private roleSent = false;
  private finishSent = false;
  private readonly blocks = new Map<number, BlockState>();
  private toolCount = 0;
  private usage: AnthropicUsage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  private stopReason: unknown = null;
  /** `message_stop` arrived: the stream is complete. */
  finished = false;

  private chunk(delta: JsonObject, finishReason: string | null = null): JsonObject {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }

  /** Puts the role on the first delta the client sees. */
  private delta(delta: JsonObject, finishReason: string | null = null): JsonObject {
    if (!this.roleSent) {
      this.roleSent = true;
      return this.chunk({ role: 'assistant', ...delta }, finishReason);
    }
    return this.chunk(delta, finishReason);
  }

  private mergeUsage(raw: unknown): void {
    if (raw === null || typeof raw !== 'object') return;
    const u = raw as JsonObject;
    const next = readAnthropicUsage(raw);
    // message_delta's counts are cumulative; older API versions send only output_tokens there.
    for (const key of Object.keys(this.usage) as (keyof AnthropicUsage)[]) if (typeof u[key] === 'number') this.usage[key] = next[key];
  }

  /** Appends the chunks for one event to `out`; throws the mapped GatewayError for an `error` event. */
  translate(event: JsonObject, out: JsonObject[]): void {
    switch (event.type) {
      case 'message_start': {
        const message = (event.message ?? {}) as JsonObject;
        if (typeof message.id === 'string') this.id = message.id;
        if (typeof message.model === 'string') this.model = message.model;
        this.mergeUsage(message.usage);
        return;
      }
      case 'content_block_start':
        this.startBlock(event, out);
        return;
      case 'content_block_delta':
        this.blockDelta(event, out);
        return;
      case 'content_block_stop': {
        const block = this.blocks.get(event.index as number);
        if (block?.kind === 'tool' && !block.sentArguments) {
          out.push(this.delta({ tool_calls: [{ index: block.toolIndex, function: { arguments: JSON.stringify(block.input ?? {}) } }] }));
        }
        return;
      }
      case 'message_delta': {
        const delta = (event.delta ?? {}) as JsonObject;
        if (delta.stop_reason !== undefined && delta.stop_reason !== null) this.stopReason = delta.stop_reason;
        this.mergeUsage(event.usage);
        if (this.stopReason !== null && !this.finishSent) {
          this.finishSent = true;
          out.push(this.delta(this.roleSent ? {} : { content: '' }, mapStopReason(this.stopReason)));
        }
        return;
      }
      case 'message_stop':
        if (!this.finishSent) {
          this.finishSent = true;
          out.push(this.delta(this.roleSent ? {} : { content: '' }, mapStopReason(this.stopReason)));
        }
        out.push({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(this.usage) });
        this.finished = true;
        return;
      case 'error':
        throw mapAnthropicStreamError(event);
      default:
        // ping, and event types added later: nothing for the client.
        return;
    }
  }

  private startBlock(event: JsonObject, out: JsonObject[]): void {
    const block = (event.content_block ?? {}) as JsonObject;
    const index = event.index as number;
    switch (block.type) {
      case 'text': {
        this.blocks.set(index, { kind: 'text', toolIndex: -1, sentArguments: false, input: undefined });
        const text = typeof block.text === 'string' ? block.text : '';
        if (!this.roleSent || text.length > 0) out.push(this.delta({ content: text }));
        return;
      }
      case 'tool_use': {
        const toolIndex = this.toolCount++;
        this.blocks.set(index, { kind: 'tool', toolIndex, sentArguments: false, input: block.input });
        const call = { index: toolIndex, id: block.id, type: 'function', function: { name: block.name, arguments: '' } };
        out.push(this.delta(this.roleSent ? { tool_calls: [call] } : { content: null, tool_calls: [call] }));
        return;
      }
      case 'thinking': {
        this.blocks.set(index, { kind: 'thinking', toolIndex: -1, sentArguments: false, input: undefined });
        const thinking = typeof block.thinking === 'string' ? block.thinking : '';
        if (!this.roleSent || thinking.length > 0) out.push(this.delta(this.roleSent ? { reasoning_content: thinking } : { content: '', reasoning_content: thinking }));
        return;
      }
      default:
        this.blocks.set(index, { kind: 'other', toolIndex: -1, sentArguments: false, input: undefined });
    }
  }

  private blockDelta(event: JsonObject, out: JsonObject[]): void {
    const block = this.blocks.get(event.index as number);
    const delta = (event.delta ?? {}) as JsonObject;
    if (block === undefined) return;
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text === 'string' && delta.text.length > 0) out.push(this.delta({ content: delta.text }));
        return;
      case 'input_json_delta':
        if (block.kind === 'tool' && typeof delta.partial_json === 'string' && delta.partial_json.length > 0) {
          block.sentArguments = true;
          out.push(this.delta({ tool_calls: [{ index: block.toolIndex, function: { arguments: delta.partial_json } }] }));
        }
        return;
      case 'thinking_delta':
        if (typeof delta.thinking === 'string' && delta.thinking.length > 0) out.push(this.delta({ reasoning_content: delta.thinking }));
        return;
      default:
        // signature_delta, citations_delta: nothing OpenAI-shaped to say.
        return;
    }
  }
}
