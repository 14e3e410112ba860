// Backend responses → the exact OpenAI shapes of responses.md (SPEC §5): our id, the client's model
// name, present-but-null fields, mapped finish reasons, usage with the cache fields, no fingerprint.
import type { JsonObject } from '../providers/types.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: JsonObject;
  completion_tokens_details?: JsonObject;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

const FINISH_REASONS: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  content_filter: 'content_filter',
  function_call: 'function_call',
  // Backend dialects (vLLM / TGI / llama.cpp / Anthropic / Gemini style).
  eos: 'stop',
  eos_token: 'stop',
  stop_sequence: 'stop',
  end_turn: 'stop',
  max_tokens: 'length',
  model_length: 'length',
  tool_use: 'tool_calls',
  tool_call: 'tool_calls',
  safety: 'content_filter',
  refusal: 'content_filter',
};

/** Known backend values map to OpenAI's four (SPEC §5); an unknown one passes through. */
export function mapFinishReason(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  return FINISH_REASONS[value] ?? value;
}

/** A token count as a backend reported it: a non-negative integer, 0 for anything else. */
export function tokenCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.trunc(value)) : 0;
}

/** The usage object Floodgate sends: OpenAI's three counts, details where known, and the cache fields. */
export function normalizeUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const u = raw as JsonObject;
  const prompt = tokenCount(u.prompt_tokens ?? u.input_tokens);
  const completion = tokenCount(u.completion_tokens ?? u.output_tokens);
  const promptDetails = u.prompt_tokens_details as JsonObject | null | undefined;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: tokenCount(u.total_tokens) || prompt + completion,
    cache_read_input_tokens: tokenCount(u.cache_read_input_tokens ?? promptDetails?.cached_tokens),
    cache_creation_input_tokens: tokenCount(u.cache_creation_input_tokens),
  };
  if (promptDetails && typeof promptDetails === 'object') usage.prompt_tokens_details = promptDetails;
  if (u.completion_tokens_details && typeof u.completion_tokens_details === 'object') usage.completion_tokens_details = u.completion_tokens_details as JsonObject;
  return usage;
}

/** Usage counted by Floodgate when the backend reported none. */
export function estimatedUsage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
}

export interface ResponseIdentity {
  id: string;
  created: number;
  /** The model name the client asked for. */
  model: string;
}

function normalizeChatChoice(raw: unknown, position: number): JsonObject {
  const c = (raw ?? {}) as JsonObject;
  const message = (c.message ?? {}) as JsonObject;
  return {
    index: typeof c.index === 'number' ? c.index : position,
    message: { ...message, role: 'assistant', content: message.content ?? null, refusal: message.refusal ?? null },
    logprobs: c.logprobs ?? null,
    finish_reason: mapFinishReason(c.finish_reason) ?? 'stop',
  };
}

/** A non-streamed `chat.completion`. `usage` is already normalized (or estimated). */
export function buildChatCompletion(upstream: JsonObject, who: ResponseIdentity, usage: Usage): JsonObject {
  const choices = Array.isArray(upstream.choices) ? upstream.choices.map(normalizeChatChoice) : [];
  const out: JsonObject = { id: who.id, object: 'chat.completion', created: who.created, model: who.model, choices, usage };
  if (upstream.service_tier !== undefined) out.service_tier = upstream.service_tier;
  return out;
}

function normalizeTextChoice(raw: unknown, position: number): JsonObject {
  const c = (raw ?? {}) as JsonObject;
  return {
    index: typeof c.index === 'number' ? c.index : position,
    text: typeof c.text === 'string' ? c.text : '',
    logprobs: c.logprobs ?? null,
    finish_reason: mapFinishReason(c.finish_reason) ?? 'stop',
  };
}

/** A non-streamed legacy `text_completion`. */
export function buildTextCompletion(upstream: JsonObject, who: ResponseIdentity, usage: Usage): JsonObject {
  const choices = Array.isArray(upstream.choices) ? upstream.choices.map(normalizeTextChoice) : [];
  return { id: who.id, object: 'text_completion', created: who.created, model: who.model, choices, usage };
}

/** The text a choice produced (content, reasoning, tool-call arguments), for counting tokens ourselves. */
export function choiceOutputText(choice: unknown): string {
  const c = (choice ?? {}) as JsonObject;
  const m = (c.message ?? c.delta ?? {}) as JsonObject;
  let text = typeof c.text === 'string' ? c.text : '';
  if (typeof m.content === 'string') text += m.content;
  if (typeof m.reasoning_content === 'string') text += m.reasoning_content;
  if (Array.isArray(m.tool_calls)) {
    for (const call of m.tool_calls as JsonObject[]) {
      const fn = (call?.function ?? {}) as JsonObject;
      if (typeof fn.name === 'string') text += fn.name;
      if (typeof fn.arguments === 'string') text += fn.arguments;
    }
  }
  return text;
}
