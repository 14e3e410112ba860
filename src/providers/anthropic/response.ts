// A Messages API `message` as an OpenAI `chat.completion`: text blocks joined into `content`, tool_use
// blocks as `tool_calls` (arguments as a JSON string), thinking as `reasoning_content`, the stop reason
// mapped, and usage with the cache counts (OpenAI's prompt_tokens include cached tokens; Anthropic's
// input_tokens do not).
import { GatewayError } from '../../openai/errors.js';
import type { JsonObject } from '../types.js';

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic's stop reason as OpenAI's finish reason (an unknown one passes through). */
export function mapStopReason(reason: unknown): string {
  if (typeof reason !== 'string') return 'stop';
  return FINISH_REASONS[reason] ?? reason;
}

/** The other way (the Messages door): OpenAI's finish reason as Anthropic's stop reason, `end_turn` for anything else. */
const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function stopReasonFor(finishReason: unknown): string {
  return (typeof finishReason === 'string' ? STOP_REASONS[finishReason] : undefined) ?? 'end_turn';
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.trunc(value)) : 0;
}

/** Reads Anthropic's usage object, zero where a count is missing. */
export function readAnthropicUsage(raw: unknown): AnthropicUsage {
  const u = raw !== null && typeof raw === 'object' ? (raw as JsonObject) : {};
  return {
    input_tokens: count(u.input_tokens),
    output_tokens: count(u.output_tokens),
    cache_read_input_tokens: count(u.cache_read_input_tokens),
    cache_creation_input_tokens: count(u.cache_creation_input_tokens),
  };
}

/** OpenAI's usage for Anthropic's counts: every prompt token, cached or not, is a prompt token. */
export function openAIUsage(u: AnthropicUsage): JsonObject {
  const prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output_tokens,
    total_tokens: prompt + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cache_read_input_tokens },
    cache_read_input_tokens: u.cache_read_input_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens,
  };
}

/** A non-streamed `message` as a `chat.completion` (the pipeline then sets our id and the client's model). */
export function chatCompletionFromMessage(message: JsonObject): JsonObject {
  if (!Array.isArray(message.content)) throw new GatewayError('upstream_error', 'The backend answered with something other than a message.');
  const texts: string[] = [];
  const thinking: string[] = [];
  const toolCalls: JsonObject[] = [];
  for (const raw of message.content as unknown[]) {
    if (raw === null || typeof raw !== 'object') continue;
    const block = raw as JsonObject;
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'thinking' && typeof block.thinking === 'string') thinking.push(block.thinking);
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    // redacted_thinking and server tool blocks have no OpenAI counterpart.
  }
  const out: JsonObject = { role: 'assistant', content: texts.length > 0 ? texts.join('') : toolCalls.length > 0 ? null : '', refusal: null };
  if (thinking.length > 0) out.reasoning_content = thinking.join('');
  if (toolCalls.length > 0) out.tool_calls = toolCalls;
  return {
    id: message.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: message.model,
    choices: [{ index: 0, message: out, logprobs: null, finish_reason: mapStopReason(message.stop_reason) }],
    usage: openAIUsage(readAnthropicUsage(message.usage)),
  };
}
