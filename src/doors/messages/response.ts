// The Messages door's answers (SPEC §17): a chat completion from the pipeline as Anthropic's `message` —
// content blocks (thinking, text, tool_use), the stop reason, and usage in Anthropic's terms, where
// `input_tokens` leaves out what was read from or written to the cache (the inverse of the anthropic
// provider's openAIUsage). The `message`'s id is the request's completion id with Anthropic's prefix.
import { mapFinishReason, type ResponseIdentity, type Usage } from '../../openai/normalize.js';
import { stopReasonFor } from '../../providers/anthropic/response.js';
import type { JsonObject } from '../../providers/types.js';

export interface AnthropicUsageView {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

/** Anthropic's usage for the pipeline's: cached and cache-written tokens are not `input_tokens`. */
export function anthropicUsage(usage: Usage): AnthropicUsageView {
  const read = usage.cache_read_input_tokens;
  const written = usage.cache_creation_input_tokens;
  return {
    input_tokens: Math.max(0, usage.prompt_tokens - read - written),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
    output_tokens: usage.completion_tokens,
  };
}

/** The `message` id for a request's completion id (`chatcmpl-…` → `msg_…`). */
export function messageId(who: ResponseIdentity): string {
  return `msg_${who.id.replace(/^[a-z]+-/, '')}`;
}

/**
 * Anthropic's stop reason and stop sequence for a chat finish reason. Chat does not say which stop
 * sequence matched; a backend that does (vLLM's `stop_reason`) is believed.
 */
export function stopReasonOf(finishReason: unknown, matched: unknown, stops: readonly string[]): { stop_reason: string; stop_sequence: string | null } {
  if (finishReason === 'stop' && typeof matched === 'string' && stops.includes(matched)) return { stop_reason: 'stop_sequence', stop_sequence: matched };
  return { stop_reason: stopReasonFor(finishReason), stop_sequence: null };
}

/** A tool call's arguments as the `input` object Anthropic sends (an unreadable one as `{}`). */
export function toolInput(args: unknown): unknown {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const input: unknown = JSON.parse(args);
    return input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {};
  } catch {
    return {};
  }
}

/**
 * The content blocks of a chat message: thinking (when asked for), text, then the tool calls. Text blocks
 * carry no `citations` key, as Anthropic's do without citations (the Vercel AI SDK refuses a null there).
 */
function contentBlocks(message: JsonObject, thinking: boolean): JsonObject[] {
  const blocks: JsonObject[] = [];
  if (thinking && typeof message.reasoning_content === 'string' && message.reasoning_content.length > 0) {
    blocks.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  if (typeof message.content === 'string' && message.content.length > 0) blocks.push({ type: 'text', text: message.content });
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls as JsonObject[]) {
      const fn = (call?.function ?? {}) as JsonObject;
      blocks.push({ type: 'tool_use', id: call.id, name: fn.name, input: toolInput(fn.arguments) });
    }
  }
  return blocks;
}

/** The usage object of a `message` (and of message_start / message_delta). */
export function messageUsage(usage: Usage): JsonObject {
  return { ...anthropicUsage(usage), cache_creation: null, server_tool_use: null, service_tier: null };
}

/** A non-streamed chat completion as Anthropic's `message`. */
export function messageFromChat(upstream: JsonObject, who: ResponseIdentity, usage: Usage, opts: { thinking: boolean; stops: readonly string[] }): JsonObject {
  const choice = (Array.isArray(upstream.choices) ? upstream.choices[0] : undefined) as JsonObject | undefined;
  const message = (choice?.message ?? {}) as JsonObject;
  return {
    id: messageId(who),
    type: 'message',
    role: 'assistant',
    model: who.model,
    content: contentBlocks(message, opts.thinking),
    // Backend dialects (`eos`, `max_tokens`…) are mapped as for a chat client first.
    ...stopReasonOf(mapFinishReason(choice?.finish_reason) ?? 'stop', choice?.stop_reason, opts.stops),
    usage: messageUsage(usage),
  };
}

/** The text a native `message` produced (text, thinking, tool inputs), for counting when it reports no usage. */
export function nativeOutputText(message: JsonObject): string {
  if (!Array.isArray(message.content)) return '';
  return (message.content as JsonObject[])
    .map((block) => (typeof block?.text === 'string' ? block.text : typeof block?.thinking === 'string' ? block.thinking : block?.type === 'tool_use' ? JSON.stringify(block.input ?? {}) : ''))
    .join('');
}
