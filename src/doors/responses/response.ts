// The Responses API door, its answer side (SPEC §17): a chat completion written back as the `response`
// object of OpenAI's SDK types — output items (reasoning, message, function calls), status and
// `incomplete_details`, usage in the Responses names, and the request's settings echoed.
import { randomBase62 } from '../../openai/ids.js';
import { mapFinishReason, type Usage } from '../../openai/normalize.js';
import type { JsonObject } from '../../providers/types.js';
import type { Item, ResponsesRequest } from './request.js';

/**
 * Identifiers of one response and its items. Items carry the response's own random part
 * (`msg_<base>o0`, `fc_<base>i2`), so that an `item_reference` finds the response that holds it.
 */
export class ResponseIds {
  readonly base = randomBase62(24);
  readonly id = `resp_${this.base}`;
  private next = 0;

  output(prefix: 'msg' | 'fc' | 'rs'): string {
    return `${prefix}_${this.base}o${this.next++}`;
  }

  input(prefix: string, index: number): string {
    return `${prefix}_${this.base}i${index}`;
  }
}

/** The response id an item id belongs to, when it is one of ours. */
export function responseIdOfItem(itemId: string): string | undefined {
  const m = /^[a-z]+_([0-9A-Za-z]{24})[oi]\d+$/.exec(itemId);
  return m === null ? undefined : `resp_${m[1]}`;
}

/** Input items as stored and listed: each with an id and a status, string contents as parts. */
export function storedInputItems(items: readonly Item[], ids: ResponseIds): Item[] {
  return items.map((item, i) => {
    const type = (item.type as string | undefined) ?? 'message';
    if (type === 'message') {
      const partType = item.role === 'assistant' ? 'output_text' : 'input_text';
      const content = typeof item.content === 'string' ? [{ type: partType, text: item.content }] : item.content;
      return { id: (item.id as string | undefined) ?? ids.input('msg', i), type: 'message', role: item.role, content, status: 'completed' };
    }
    const prefix = type === 'function_call' ? 'fc' : type === 'function_call_output' ? 'fco' : type === 'reasoning' ? 'rs' : 'item';
    return { ...item, id: (item.id as string | undefined) ?? ids.input(prefix, i), ...(type.startsWith('function_call') && { status: item.status ?? 'completed' }) };
  });
}

/** Usage in the Responses API's names. */
export function responseUsage(usage: Usage): JsonObject {
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.cache_read_input_tokens },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: typeof reasoning === 'number' ? reasoning : 0 },
    total_tokens: usage.total_tokens,
  };
}

export type ResponseStatus = 'completed' | 'incomplete' | 'in_progress' | 'failed';

/** A chat finish reason as the response's status and `incomplete_details`. */
export function statusOf(finishReason: unknown): { status: ResponseStatus; incomplete: JsonObject | null } {
  const reason = mapFinishReason(finishReason);
  if (reason === 'length') return { status: 'incomplete', incomplete: { reason: 'max_output_tokens' } };
  if (reason === 'content_filter') return { status: 'incomplete', incomplete: { reason: 'content_filter' } };
  return { status: 'completed', incomplete: null };
}

/** What a response says about the request that made it (the fields the SDK's types mark required, and more). */
export interface ResponseEcho {
  ids: ResponseIds;
  createdAt: number;
  req: ResponsesRequest;
}

export interface ResponseState {
  status: ResponseStatus;
  output: Item[];
  incomplete?: JsonObject | null;
  usage?: Usage;
  error?: JsonObject | null;
}

export function responseObject(echo: ResponseEcho, state: ResponseState): JsonObject {
  const req = echo.req;
  const text = (req.text as JsonObject | undefined | null) ?? {};
  const reasoning = (req.reasoning as JsonObject | undefined | null) ?? {};
  return {
    id: echo.ids.id,
    object: 'response',
    created_at: echo.createdAt,
    status: state.status,
    background: false,
    completed_at: state.status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: state.error ?? null,
    incomplete_details: state.incomplete ?? null,
    instructions: (req.instructions as string | undefined) ?? null,
    max_output_tokens: (req.max_output_tokens as number | undefined) ?? null,
    model: req.model,
    output: state.output,
    parallel_tool_calls: (req.parallel_tool_calls as boolean | undefined) ?? true,
    previous_response_id: (req.previous_response_id as string | undefined) ?? null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    service_tier: 'default',
    store: req.store !== false,
    temperature: (req.temperature as number | undefined) ?? 1,
    text: { ...text, format: text.format ?? { type: 'text' } },
    tool_choice: req.tool_choice ?? 'auto',
    tools: ((req.tools as JsonObject[] | undefined | null) ?? []).map((t) => ({ strict: null, parameters: null, description: null, ...t })),
    top_p: (req.top_p as number | undefined) ?? 1,
    truncation: 'disabled',
    usage: state.usage === undefined ? null : responseUsage(state.usage),
    user: (req.user as string | undefined) ?? null,
    metadata: req.metadata ?? {},
  };
}

/** A reasoning item: the backend's reasoning as `reasoning_text`, and as the summary when the client asked for one. */
export function reasoningItem(id: string, text: string, status: string, summary: boolean): Item {
  return { id, type: 'reasoning', summary: summary ? [{ type: 'summary_text', text }] : [], content: [{ type: 'reasoning_text', text }], status };
}

export function outputTextPart(text: string): JsonObject {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

export function messageItem(id: string, content: JsonObject[], status: string): Item {
  return { id, type: 'message', role: 'assistant', status, content };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: string): Item {
  return { id, type: 'function_call', call_id: callId, name, arguments: args, status };
}

/** The output items of a non-streamed chat completion's first choice. */
export function outputItems(upstream: JsonObject, ids: ResponseIds, itemStatus: string, summary: boolean): Item[] {
  const choice = (Array.isArray(upstream.choices) ? upstream.choices[0] : undefined) as JsonObject | undefined;
  const message = (choice?.message ?? {}) as JsonObject;
  const items: Item[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content !== '') items.push(reasoningItem(ids.output('rs'), message.reasoning_content, 'completed', summary));
  const parts: JsonObject[] = [];
  if (typeof message.content === 'string' && message.content !== '') parts.push(outputTextPart(message.content));
  if (typeof message.refusal === 'string' && message.refusal !== '') parts.push({ type: 'refusal', refusal: message.refusal });
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as JsonObject[]) : [];
  // A message with nothing in it still answers (an empty text), unless the answer is tool calls.
  if (parts.length > 0 || calls.length === 0) items.push(messageItem(ids.output('msg'), parts.length > 0 ? parts : [outputTextPart('')], itemStatus));
  for (const call of calls) {
    const fn = (call.function ?? {}) as JsonObject;
    items.push(functionCallItem(ids.output('fc'), String(call.id ?? ids.output('fc')), String(fn.name ?? ''), String(fn.arguments ?? ''), itemStatus));
  }
  return items;
}
