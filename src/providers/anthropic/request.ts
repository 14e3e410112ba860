// An OpenAI chat request as a Messages API request: system and developer messages become `system`,
// content parts become text and image blocks, tool calls and tool results become tool_use / tool_result
// blocks (consecutive turns of one role merged, as Anthropic requires), tools, tool_choice, stop
// sequences and the output cap carry over. Fields with no Anthropic equivalent are dropped; the few
// that would change the answer's shape (n > 1, logprobs, audio, the deprecated functions) are a 400.
import { invalidRequest } from '../../openai/errors.js';
import type { JsonObject } from '../types.js';

export interface AnthropicRequestOptions {
  /** Mark cache breakpoints on a request that carries none (see the provider's `prompt_caching`). */
  promptCaching: boolean;
}

type Block = JsonObject;

interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Anthropic's output cap is required: the gateway always sets one, this is the last resort. */
const FALLBACK_MAX_TOKENS = 4096;
const IMAGE_MEDIA_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const JSON_INSTRUCTION = 'Respond only with a single valid JSON object, with no text before or after it.';

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Anthropic refuses empty and whitespace-only text blocks. */
function hasText(text: unknown): text is string {
  return typeof text === 'string' && text.trim().length > 0;
}

function withCacheControl(block: Block, part: JsonObject): Block {
  if (isObject(part.cache_control)) block.cache_control = part.cache_control;
  return block;
}

/** A content field's text parts (string content, or text/refusal parts), for system and tool messages. */
function textOf(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw invalidRequest(param, `${param}: must be a string or an array of content parts.`);
  const texts: string[] = [];
  content.forEach((part: unknown, j) => {
    if (!isObject(part)) return;
    if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    else if (part.type === 'refusal' && typeof part.refusal === 'string') texts.push(part.refusal);
    else throw invalidRequest(`${param}[${j}]`, `${param}[${j}]: only text parts are supported here by this model's backend.`);
  });
  return texts.join('\n');
}

/** An `image_url` part as an image block: a data URL becomes a base64 source, http(s) a URL source. */
function imageBlock(part: JsonObject, param: string): Block {
  const image = part.image_url;
  const url = typeof image === 'string' ? image : isObject(image) && typeof image.url === 'string' ? image.url : undefined;
  if (url === undefined) throw invalidRequest(`${param}.image_url.url`, `${param}.image_url.url: is required.`);
  if (/^https?:\/\//i.test(url)) return withCacheControl({ type: 'image', source: { type: 'url', url } }, part);
  const m = /^data:([^;,]+)((?:;[^;,]*)*),/i.exec(url);
  if (m === null) throw invalidRequest(`${param}.image_url.url`, `${param}.image_url.url: must be an http(s) URL or a data: URL.`);
  const mediaType = m[1].toLowerCase();
  if (!IMAGE_MEDIA_TYPES.has(mediaType)) {
    throw invalidRequest(`${param}.image_url.url`, `${param}.image_url.url: this model's backend accepts image/jpeg, image/png, image/gif and image/webp, not ${mediaType}.`);
  }
  const payload = url.slice(m[0].length);
  const base64 = /;base64$/i.test(m[2]) ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64');
  return withCacheControl({ type: 'image', source: { type: 'base64', media_type: mediaType, data: base64 } }, part);
}

function userBlocks(content: unknown, param: string): Block[] {
  if (typeof content === 'string') return hasText(content) ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) throw invalidRequest(`${param}.content`, `${param}.content: must be a string or an array of content parts.`);
  const blocks: Block[] = [];
  content.forEach((part: unknown, j) => {
    const where = `${param}.content[${j}]`;
    if (!isObject(part)) throw invalidRequest(where, `${where}: must be an object.`);
    if (part.type === 'text') {
      if (hasText(part.text)) blocks.push(withCacheControl({ type: 'text', text: part.text }, part));
    } else if (part.type === 'image_url') {
      blocks.push(imageBlock(part, where));
    } else {
      throw invalidRequest(`${where}.type`, `${where}.type: "${String(part.type)}" parts are not supported by this model's backend; send text or image_url parts.`);
    }
  });
  return blocks;
}

function assistantBlocks(message: JsonObject, param: string): Block[] {
  const blocks: Block[] = [];
  const content = message.content;
  if (typeof content === 'string') {
    if (hasText(content)) blocks.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part: unknown) => {
      if (!isObject(part)) return;
      const text = part.type === 'refusal' ? part.refusal : part.text;
      if (hasText(text)) blocks.push(withCacheControl({ type: 'text', text }, part));
    });
  }
  if (message.function_call !== undefined && message.function_call !== null) {
    throw invalidRequest(`${param}.function_call`, `${param}.function_call: the deprecated function_call is not supported by this model's backend; use tool_calls.`);
  }
  const calls = message.tool_calls;
  if (Array.isArray(calls)) {
    calls.forEach((call: unknown, k) => {
      const where = `${param}.tool_calls[${k}]`;
      if (!isObject(call) || !isObject(call.function)) throw invalidRequest(where, `${where}: must be a function tool call.`);
      const fn = call.function;
      const args = typeof fn.arguments === 'string' && fn.arguments.trim().length > 0 ? fn.arguments : '{}';
      let input: unknown;
      try {
        input = JSON.parse(args);
      } catch {
        throw invalidRequest(`${where}.function.arguments`, `${where}.function.arguments: must be a JSON object (this model's backend needs the parsed arguments).`);
      }
      if (!isObject(input)) throw invalidRequest(`${where}.function.arguments`, `${where}.function.arguments: must be a JSON object.`);
      blocks.push({ type: 'tool_use', id: call.id, name: fn.name, input });
    });
  }
  return blocks;
}

/** Adds a turn, merged into the previous one when the role repeats (Anthropic alternates roles). */
function pushTurn(turns: Turn[], role: Turn['role'], blocks: Block[]): void {
  if (blocks.length === 0) return;
  const last = turns[turns.length - 1];
  if (last !== undefined && last.role === role) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

function convertMessages(messages: unknown[]): { system: Block[]; turns: Turn[] } {
  const system: Block[] = [];
  const turns: Turn[] = [];
  messages.forEach((raw: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObject(raw)) throw invalidRequest(param, `${param}: must be an object.`);
    switch (raw.role) {
      case 'system':
      case 'developer': {
        const text = textOf(raw.content, `${param}.content`);
        if (hasText(text)) system.push({ type: 'text', text });
        break;
      }
      case 'user':
        pushTurn(turns, 'user', userBlocks(raw.content, param));
        break;
      case 'assistant':
        pushTurn(turns, 'assistant', assistantBlocks(raw, param));
        break;
      case 'tool': {
        const text = textOf(raw.content, `${param}.content`);
        const block: Block = { type: 'tool_result', tool_use_id: raw.tool_call_id };
        if (text.length > 0) block.content = text;
        pushTurn(turns, 'user', [block]);
        break;
      }
      default:
        throw invalidRequest(`${param}.role`, `${param}.role: "${String(raw.role)}" messages are not supported by this model's backend; use tool messages.`);
    }
  });
  for (const turn of turns) {
    // In a user turn the tool results come first: Anthropic refuses text before them.
    if (turn.role === 'user' && turn.content.some((b) => b.type === 'tool_result')) {
      turn.content = [...turn.content.filter((b) => b.type === 'tool_result'), ...turn.content.filter((b) => b.type !== 'tool_result')];
    }
  }
  // A final assistant turn is a prefill, which may not end in whitespace.
  const last = turns[turns.length - 1];
  const tail = last?.role === 'assistant' ? last.content[last.content.length - 1] : undefined;
  if (tail?.type === 'text' && typeof tail.text === 'string') tail.text = tail.text.trimEnd();
  return { system, turns };
}

function convertTools(tools: unknown[]): Block[] {
  return tools.map((tool: unknown, i) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
      throw invalidRequest(`tools[${i}].type`, `tools[${i}].type: only function tools are supported by this model's backend.`);
    }
    const fn = tool.function;
    const out: Block = { name: fn.name };
    if (typeof fn.description === 'string' && fn.description.length > 0) out.description = fn.description;
    out.input_schema = isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} };
    return withCacheControl(out, tool);
  });
}

function convertToolChoice(choice: unknown, parallel: unknown): JsonObject | undefined {
  let out: JsonObject | undefined;
  if (choice === undefined || choice === null || choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') return { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    out = { type: 'tool', name: choice.function.name };
  } else {
    throw invalidRequest('tool_choice', 'tool_choice: this model\'s backend supports "none", "auto", "required" and a named function.');
  }
  if (parallel === false) out.disable_parallel_tool_use = true;
  return out;
}

function responseFormatInstruction(format: unknown): string | undefined {
  if (!isObject(format)) return undefined;
  if (format.type === 'json_object') return JSON_INSTRUCTION;
  if (format.type === 'json_schema') {
    const spec = isObject(format.json_schema) ? format.json_schema : {};
    const schema = spec.schema ?? {};
    return `${JSON_INSTRUCTION} The object must be valid against this JSON schema:\n${JSON.stringify(schema)}`;
  }
  return undefined;
}

function hasCacheControl(blocks: Block[]): boolean {
  return blocks.some((b) => b.cache_control !== undefined);
}

/**
 * Breakpoints where a conversation's reusable prefix ends: the tools, the system prompt and the
 * conversation so far (Anthropic allows four; this uses at most three).
 */
function markCacheBreakpoints(tools: Block[], system: Block[], turns: Turn[]): void {
  if (hasCacheControl(tools) || hasCacheControl(system) || turns.some((t) => hasCacheControl(t.content))) return;
  const mark = (block: Block | undefined): void => {
    if (block !== undefined) block.cache_control = { type: 'ephemeral' };
  };
  mark(tools[tools.length - 1]);
  mark(system[system.length - 1]);
  const last = turns[turns.length - 1];
  mark(last?.content[last.content.length - 1]);
}

/** The Messages API body for an OpenAI chat request (`model` already the upstream's name). */
export function buildAnthropicRequest(body: JsonObject, opts: AnthropicRequestOptions): JsonObject {
  if (typeof body.n === 'number' && body.n > 1) {
    throw invalidRequest('n', 'n: this model returns one choice per request; send n=1 (or omit it) and make several requests.');
  }
  if (body.logprobs === true) throw invalidRequest('logprobs', "logprobs: this model's backend does not return log probabilities.");
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) throw invalidRequest('modalities', "modalities: this model's backend does not produce audio.");
  if (Array.isArray(body.functions) && body.functions.length > 0) {
    throw invalidRequest('functions', "functions: the deprecated functions are not supported by this model's backend; use tools.");
  }
  if (!Array.isArray(body.messages)) throw invalidRequest('messages', 'messages: is required.');
  const { system, turns } = convertMessages(body.messages);
  if (turns.length === 0) throw invalidRequest('messages', 'messages: this model needs at least one user or assistant message with content.');
  const instruction = responseFormatInstruction(body.response_format);
  if (instruction !== undefined) system.push({ type: 'text', text: instruction });

  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const out: JsonObject = {
    model: body.model,
    max_tokens: typeof maxTokens === 'number' ? maxTokens : FALLBACK_MAX_TOKENS,
    messages: turns,
  };
  if (system.length > 0) out.system = system;
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? convertTools(body.tools) : [];
  if (tools.length > 0) {
    out.tools = tools;
    out.tool_choice = convertToolChoice(body.tool_choice, body.parallel_tool_calls);
  }
  const stop = body.stop;
  if (typeof stop === 'string' && stop.length > 0) out.stop_sequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) out.stop_sequences = stop;
  for (const field of ['temperature', 'top_p', 'top_k'] as const) {
    if (typeof body[field] === 'number') out[field] = body[field];
  }
  if (typeof body.user === 'string' && body.user.length > 0) out.metadata = { user_id: body.user };
  if (body.stream === true) out.stream = true;
  if (opts.promptCaching) markCacheBreakpoints(tools, system, turns);
  return out;
}
