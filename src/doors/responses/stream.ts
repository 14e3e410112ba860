// The Responses API door's stream (SPEC §17): backend chat chunks become OpenAI's typed events —
// `event:` + `data:` lines, each with its `sequence_number`, in the order the SDK's stream helpers
// accumulate them: response.created and .in_progress, then per output item .output_item.added, its
// content part, its deltas and .done events, and response.completed (or .incomplete, or .failed when the
// backend breaks after the first byte).
import type { GatewayError, ErrorRendering } from '../../openai/errors.js';
import type { JsonObject } from '../../providers/types.js';
import { rewriteChunk, streamUsage, type ChunkView, type StreamEncoder, type StreamOutcome } from '../../api/stream-relay.js';
import type { Item } from './request.js';
import { functionCallItem, messageItem, outputTextPart, reasoningItem, responseObject, statusOf, type ResponseEcho } from './response.js';

/** The item being streamed: its place in `output`, its id and what it has gathered so far. */
interface OpenItem {
  kind: 'reasoning' | 'message' | 'function_call';
  index: number;
  id: string;
  text: string;
  /** function_call: the call's id and name; its arguments are `text`. */
  callId?: string;
  name?: string;
  /** function_call: the backend's index of the call (parallel calls). */
  callIndex?: number;
}

export interface ResponsesStreamOptions {
  echo: ResponseEcho;
  /** The client asked for reasoning summaries: reasoning is streamed as the summary too. */
  summary: boolean;
  /** Keeps the finished response (store: true), before response.completed is sent. */
  finish(response: JsonObject): Promise<void>;
}

export class ResponsesStreamEncoder implements StreamEncoder {
  private sequence = 0;
  private started = false;
  private readonly output: Item[] = [];
  private open: OpenItem | undefined;
  private finishReason: unknown = null;

  constructor(
    private readonly view: ChunkView,
    private readonly errors: ErrorRendering,
    private readonly opts: ResponsesStreamOptions,
  ) {}

  private send(type: string, payload: JsonObject): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...payload })}\n\n`;
  }

  private start(): string {
    if (this.started) return '';
    this.started = true;
    const response = responseObject(this.opts.echo, { status: 'in_progress', output: [] });
    return this.send('response.created', { response }) + this.send('response.in_progress', { response });
  }

  private openItem(kind: OpenItem['kind'], extra: Partial<OpenItem> = {}): string {
    let out = this.close('completed');
    const ids = this.opts.echo.ids;
    const item: OpenItem = { kind, index: this.output.length, id: ids.output(kind === 'reasoning' ? 'rs' : kind === 'message' ? 'msg' : 'fc'), text: '', ...extra };
    this.open = item;
    // A placeholder keeps output_index in step until the item is done.
    this.output.push({});
    const at = { output_index: item.index };
    if (kind === 'reasoning') {
      out += this.send('response.output_item.added', { ...at, item: { id: item.id, type: 'reasoning', summary: [], content: [], status: 'in_progress' } });
      out += this.send('response.content_part.added', { ...at, item_id: item.id, content_index: 0, part: { type: 'reasoning_text', text: '' } });
      if (this.opts.summary) out += this.send('response.reasoning_summary_part.added', { ...at, item_id: item.id, summary_index: 0, part: { type: 'summary_text', text: '' } });
    } else if (kind === 'message') {
      out += this.send('response.output_item.added', { ...at, item: messageItem(item.id, [], 'in_progress') });
      out += this.send('response.content_part.added', { ...at, item_id: item.id, content_index: 0, part: outputTextPart('') });
    } else {
      out += this.send('response.output_item.added', { ...at, item: functionCallItem(item.id, item.callId!, item.name!, '', 'in_progress') });
    }
    return out;
  }

  /** Ends the open item with its .done events; `status` is the item's (incomplete when the output was cut). */
  private close(status: string): string {
    const item = this.open;
    if (item === undefined) return '';
    this.open = undefined;
    const at = { output_index: item.index, item_id: item.id };
    let out = '';
    let done: Item;
    if (item.kind === 'reasoning') {
      out += this.send('response.reasoning_text.done', { ...at, content_index: 0, text: item.text });
      out += this.send('response.content_part.done', { ...at, content_index: 0, part: { type: 'reasoning_text', text: item.text } });
      if (this.opts.summary) {
        out += this.send('response.reasoning_summary_text.done', { ...at, summary_index: 0, text: item.text });
        out += this.send('response.reasoning_summary_part.done', { ...at, summary_index: 0, part: { type: 'summary_text', text: item.text } });
      }
      done = reasoningItem(item.id, item.text, status, this.opts.summary);
    } else if (item.kind === 'message') {
      out += this.send('response.output_text.done', { ...at, content_index: 0, text: item.text, logprobs: [] });
      out += this.send('response.content_part.done', { ...at, content_index: 0, part: outputTextPart(item.text) });
      done = messageItem(item.id, [outputTextPart(item.text)], status);
    } else {
      out += this.send('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.text });
      done = functionCallItem(item.id, item.callId!, item.name!, item.text, status);
    }
    this.output[item.index] = done;
    return out + this.send('response.output_item.done', { output_index: item.index, item: done });
  }

  event(chunk: JsonObject, outcome: StreamOutcome): string {
    let out = this.start();
    if (!rewriteChunk(chunk, this.view, outcome)) return out;
    const choice = (chunk.choices as JsonObject[]).find((c) => (c.index ?? 0) === 0);
    if (choice === undefined) return out;
    const delta = (choice.delta ?? {}) as JsonObject;
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
      if (this.open?.kind !== 'reasoning') out += this.openItem('reasoning');
      this.open!.text += delta.reasoning_content;
      const at = { output_index: this.open!.index, item_id: this.open!.id };
      out += this.send('response.reasoning_text.delta', { ...at, content_index: 0, delta: delta.reasoning_content });
      if (this.opts.summary) out += this.send('response.reasoning_summary_text.delta', { ...at, summary_index: 0, delta: delta.reasoning_content });
    }
    const text = typeof delta.content === 'string' ? delta.content : typeof delta.refusal === 'string' ? delta.refusal : '';
    if (text !== '') {
      if (this.open?.kind !== 'message') out += this.openItem('message');
      this.open!.text += text;
      out += this.send('response.output_text.delta', { output_index: this.open!.index, item_id: this.open!.id, content_index: 0, delta: text, logprobs: [] });
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as JsonObject[]) {
        const callIndex = typeof call.index === 'number' ? call.index : 0;
        const fn = (call.function ?? {}) as JsonObject;
        if (this.open?.kind !== 'function_call' || this.open.callIndex !== callIndex) {
          const callId = typeof call.id === 'string' ? call.id : `call_${this.opts.echo.ids.base}${this.output.length}`;
          out += this.openItem('function_call', { callId, name: typeof fn.name === 'string' ? fn.name : '', callIndex });
        }
        const args = typeof fn.arguments === 'string' ? fn.arguments : '';
        if (args !== '') {
          this.open!.text += args;
          out += this.send('response.function_call_arguments.delta', { output_index: this.open!.index, item_id: this.open!.id, delta: args });
        }
      }
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.finishReason = choice.finish_reason;
    return out;
  }

  async end(outcome: StreamOutcome): Promise<string> {
    const { status, incomplete } = statusOf(this.finishReason);
    let out = this.start();
    if (this.output.length === 0 && this.open === undefined) out += this.openItem('message');
    out += this.close(status === 'completed' ? 'completed' : 'incomplete');
    const usage = streamUsage(outcome, this.view.promptTokens);
    const response = responseObject(this.opts.echo, { status, incomplete, output: this.output, usage });
    await this.opts.finish(response);
    return out + this.send(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }

  error(err: GatewayError): string {
    const body = this.errors.body(err).error;
    let out = this.start();
    out += this.close('incomplete');
    // The SDK's ResponseError codes: a backend's failure after the first byte is the server's.
    const code = body.code === 'rate_limit_exceeded' ? body.code : 'server_error';
    const response = responseObject(this.opts.echo, { status: 'failed', output: this.output, error: { code, message: body.message } });
    return out + this.send('response.failed', { response });
  }
}
