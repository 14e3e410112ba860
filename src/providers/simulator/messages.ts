// `POST /v1/messages` for the simulator: Anthropic's Messages API over the same generator as chat. The
// request is checked the way Anthropic checks it, read into the chat planner's input, and the plan is
// shaped as a `message` or as Anthropic's stream events; errors use `{type: "error", error: {…}}`.
import type { IncomingHttpHeaders } from 'node:http';
import type { JsonObject } from '../types.js';
import type { Answer, Emission, GenerationEnv } from './answer.js';
import { planChat, type ChatFinishReason, type ChatPlan, type ChoicePlan } from './chat.js';
import { SimulatorRequestError, isObject } from './params.js';
import { PREFIX_BLOCK_TOKENS } from './prefix-cache.js';
import { hashString } from './random.js';
import { anthropicErrorType } from '../anthropic/errors.js';

const IMAGE_MEDIA_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const TOP_LEVEL_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'metadata',
  'stop_sequences',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'tools',
  'tool_choice',
  'thinking',
  'service_tier',
]);

/** A request the Messages API refuses: its status and Anthropic's error type. */
export class MessagesRequestError extends Error {
  override name = 'MessagesRequestError';

  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }

  toBody(): JsonObject {
    return anthropicErrorBody(this.errorType, this.message);
  }
}

function invalid(path: string, message: string): MessagesRequestError {
  return new MessagesRequestError(400, 'invalid_request_error', path === '' ? message : `${path}: ${message}`);
}

export function anthropicErrorBody(type: string, message: string): JsonObject {
  return { type: 'error', error: { type, message } };
}

/** The body of an injected error, in Anthropic's shape, saying it is simulated. */
export function anthropicFaultBody(status: number): JsonObject {
  return anthropicErrorBody(anthropicErrorType(status), `Simulated failure (HTTP ${status}) injected by the simulator's fault settings.`);
}

/** Anthropic wants a key (any key will do here) and the API version on every request. */
export function checkMessagesHeaders(headers: IncomingHttpHeaders): MessagesRequestError | null {
  const key = headers['x-api-key'];
  const bearer = headers.authorization;
  if ((typeof key !== 'string' || key.length === 0) && (typeof bearer !== 'string' || !/^Bearer \S/.test(bearer))) {
    return new MessagesRequestError(401, 'authentication_error', 'x-api-key header is required');
  }
  const version = headers['anthropic-version'];
  if (typeof version !== 'string' || version.length === 0) {
    return new MessagesRequestError(400, 'invalid_request_error', 'anthropic-version: header is required');
  }
  return null;
}

// ── reading the request ──

interface MessagesRequest {
  /** The chat planner's input. */
  chat: JsonObject;
  stops: string[];
  thinking: boolean;
  /** The request marks a cache breakpoint (`cache_control`): cache reads and writes are reported. */
  caching: boolean;
  stream: boolean;
}

function checkCacheControl(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (!isObject(value) || value.type !== 'ephemeral') throw invalid(`${path}.cache_control.type`, "Input should be 'ephemeral'");
  return true;
}

function readString(value: unknown, path: string, nonEmpty = false): string {
  if (typeof value !== 'string') throw invalid(path, 'Input should be a valid string');
  if (nonEmpty && value.trim().length === 0) throw invalid(path, 'text content blocks must contain non-whitespace text');
  return value;
}

function readNumber(body: JsonObject, field: string, min: number, max: number, integer = false): void {
  const v = body[field];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw invalid(field, `Input should be a valid ${integer ? 'integer' : 'number'}`);
  if (v < min || v > max) throw invalid(field, `Input should be between ${min} and ${max}`);
}

function imageUrl(block: JsonObject, path: string): string {
  const source = block.source;
  if (!isObject(source)) throw invalid(`${path}.source`, 'Field required');
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || !IMAGE_MEDIA_TYPES.has(source.media_type)) {
      throw invalid(`${path}.source.media_type`, "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
    }
    if (typeof source.data !== 'string' || source.data.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(source.data)) {
      throw invalid(`${path}.source.data`, 'Input should be base64-encoded image data');
    }
    return `data:${source.media_type};base64,${source.data}`;
  }
  if (source.type === 'url') {
    if (typeof source.url !== 'string' || !/^https?:\/\//.test(source.url)) throw invalid(`${path}.source.url`, 'Input should be an http(s) URL');
    return source.url;
  }
  throw invalid(`${path}.source.type`, "Input should be 'base64' or 'url'");
}

/** A tool result's content as the text a chat `tool` message carries. */
function toolResultText(block: JsonObject, path: string, req: { caching: boolean }): string {
  const content = block.content;
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(`${path}.content`, 'Input should be a valid string or list of blocks');
  const texts: string[] = [];
  content.forEach((inner: unknown, k) => {
    const where = `${path}.content.${k}`;
    if (!isObject(inner)) throw invalid(where, 'Input should be an object');
    if (checkCacheControl(inner.cache_control, where)) req.caching = true;
    if (inner.type === 'text') texts.push(readString(inner.text, `${where}.text`, true));
    else if (inner.type === 'image') imageUrl(inner, where);
    else throw invalid(`${where}.type`, "Input should be 'text' or 'image'");
  });
  return texts.join('\n');
}

/** One Anthropic message as chat messages: a user turn's tool results become `tool` messages first. */
function readMessage(message: unknown, i: number, last: boolean, req: { caching: boolean }, out: JsonObject[]): { toolUses: string[]; toolResults: string[] } {
  const path = `messages.${i}`;
  if (!isObject(message)) throw invalid(path, 'Input should be an object');
  const role = message.role;
  if (role !== 'user' && role !== 'assistant') throw invalid(`${path}.role`, "Input should be 'user' or 'assistant'");
  const content = message.content;
  const toolUses: string[] = [];
  const toolResults: string[] = [];
  const emptyContent = (typeof content === 'string' && content.length === 0) || (Array.isArray(content) && content.length === 0);
  if (emptyContent && !(last && role === 'assistant')) {
    throw invalid(path, 'all messages must have non-empty content except for the optional final assistant message');
  }
  if (typeof content === 'string') {
    out.push({ role, content });
    return { toolUses, toolResults };
  }
  if (!Array.isArray(content)) throw invalid(`${path}.content`, 'Input should be a valid string or list of blocks');
  const parts: JsonObject[] = [];
  const texts: string[] = [];
  const calls: JsonObject[] = [];
  content.forEach((block: unknown, j) => {
    const where = `${path}.content.${j}`;
    if (!isObject(block)) throw invalid(where, 'Input should be an object');
    if (checkCacheControl(block.cache_control, where)) req.caching = true;
    switch (block.type) {
      case 'text': {
        const text = readString(block.text, `${where}.text`, true);
        parts.push({ type: 'text', text });
        texts.push(text);
        break;
      }
      case 'image':
        if (role !== 'user') throw invalid(`${where}.type`, 'image blocks are only allowed in user messages');
        parts.push({ type: 'image_url', image_url: { url: imageUrl(block, where) } });
        break;
      case 'tool_use': {
        if (role !== 'assistant') throw invalid(`${where}.type`, 'tool_use blocks are only allowed in assistant messages');
        const id = readString(block.id, `${where}.id`);
        const name = readString(block.name, `${where}.name`);
        if (!isObject(block.input)) throw invalid(`${where}.input`, 'Input should be a valid dictionary');
        toolUses.push(id);
        calls.push({ id, type: 'function', function: { name, arguments: JSON.stringify(block.input) } });
        break;
      }
      case 'tool_result': {
        if (role !== 'user') throw invalid(`${where}.type`, 'tool_result blocks are only allowed in user messages');
        const id = readString(block.tool_use_id, `${where}.tool_use_id`);
        if (block.is_error !== undefined && typeof block.is_error !== 'boolean') throw invalid(`${where}.is_error`, 'Input should be a valid boolean');
        toolResults.push(id);
        out.push({ role: 'tool', tool_call_id: id, content: toolResultText(block, where, req) });
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        if (role !== 'assistant') throw invalid(`${where}.type`, `${block.type} blocks are only allowed in assistant messages`);
        break;
      default:
        throw invalid(`${where}.type`, "Input should be 'text', 'image', 'tool_use', 'tool_result', 'thinking' or 'redacted_thinking' (the simulator's subset)");
    }
  });
  if (role === 'assistant') {
    if (texts.length > 0 || calls.length > 0) {
      const m: JsonObject = { role, content: texts.length > 0 ? texts.join('') : null };
      if (calls.length > 0) m.tool_calls = calls;
      out.push(m);
    }
  } else if (parts.length > 0) {
    out.push({ role, content: parts });
  }
  return { toolUses, toolResults };
}

function readSystem(body: JsonObject, req: { caching: boolean }): string | null {
  const system = body.system;
  if (system === undefined || system === null) return null;
  if (typeof system === 'string') return system.length > 0 ? system : null;
  if (!Array.isArray(system)) throw invalid('system', 'Input should be a valid string or list of text blocks');
  const texts = system.map((block: unknown, i) => {
    if (!isObject(block) || block.type !== 'text') throw invalid(`system.${i}.type`, "Input should be 'text'");
    if (checkCacheControl(block.cache_control, `system.${i}`)) req.caching = true;
    return readString(block.text, `system.${i}.text`, true);
  });
  return texts.length > 0 ? texts.join('\n') : null;
}

function readTools(body: JsonObject, req: { caching: boolean }): JsonObject[] {
  const tools = body.tools;
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw invalid('tools', 'Input should be a valid list');
  const out: JsonObject[] = [];
  const names = new Set<string>();
  tools.forEach((tool: unknown, i) => {
    if (!isObject(tool)) throw invalid(`tools.${i}`, 'Input should be an object');
    if (checkCacheControl(tool.cache_control, `tools.${i}`)) req.caching = true;
    // Anthropic's server tools (web search, code execution…) are typed and schemaless: not simulated.
    if (tool.type !== undefined && tool.type !== 'custom') return;
    const name = readString(tool.name, `tools.${i}.name`);
    if (!/^[a-zA-Z0-9_-]{1,128}$/.test(name)) throw invalid(`tools.${i}.name`, "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'");
    if (names.has(name)) throw invalid('tools', `Tool names must be unique (${name})`);
    names.add(name);
    if (tool.description !== undefined && typeof tool.description !== 'string') throw invalid(`tools.${i}.description`, 'Input should be a valid string');
    if (!isObject(tool.input_schema)) throw invalid(`tools.${i}.input_schema`, 'Field required');
    if (tool.input_schema.type !== 'object') throw invalid(`tools.${i}.input_schema.type`, "Input should be 'object'");
    out.push({ type: 'function', function: { name, parameters: tool.input_schema } });
  });
  return out;
}

function readToolChoice(body: JsonObject, tools: JsonObject[]): unknown {
  const choice = body.tool_choice;
  if (choice === undefined || choice === null) return undefined;
  if (!isObject(choice)) throw invalid('tool_choice', 'Input should be an object');
  if (choice.disable_parallel_tool_use !== undefined && typeof choice.disable_parallel_tool_use !== 'boolean') {
    throw invalid('tool_choice.disable_parallel_tool_use', 'Input should be a valid boolean');
  }
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'none':
      return 'none';
    case 'any':
      if (tools.length === 0) throw invalid('tool_choice', "tool_choice.type 'any' needs at least one tool in tools");
      return 'required';
    case 'tool': {
      const name = readString(choice.name, 'tool_choice.name');
      if (!tools.some((t) => (t.function as JsonObject).name === name)) throw invalid('tool_choice.name', `Tool '${name}' not found in tools`);
      return { type: 'function', function: { name } };
    }
    default:
      throw invalid('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
  }
}

function readThinking(body: JsonObject, maxTokens: number): boolean {
  const thinking = body.thinking;
  if (thinking === undefined || thinking === null) return false;
  if (!isObject(thinking)) throw invalid('thinking', 'Input should be an object');
  if (thinking.type === 'disabled') return false;
  if (thinking.type !== 'enabled') throw invalid('thinking.type', "Input should be 'enabled' or 'disabled'");
  const budget = thinking.budget_tokens;
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024) throw invalid('thinking.budget_tokens', 'Input should be an integer of at least 1024');
  if (budget >= maxTokens) throw invalid('', '`max_tokens` must be greater than `thinking.budget_tokens`');
  return true;
}

/** Checks an Anthropic request and reads it into the chat planner's input. */
export function readMessagesRequest(body: JsonObject): MessagesRequest {
  for (const field of Object.keys(body)) if (!TOP_LEVEL_FIELDS.has(field)) throw invalid(field, 'Extra inputs are not permitted');
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) throw invalid('model', 'Field required');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) throw invalid('max_tokens', 'Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) throw invalid('max_tokens', 'Input should be an integer of at least 1');
  readNumber(body, 'temperature', 0, 1);
  readNumber(body, 'top_p', 0, 1);
  readNumber(body, 'top_k', 0, Number.MAX_SAFE_INTEGER, true);
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalid('stream', 'Input should be a valid boolean');
  if (body.metadata !== undefined && !isObject(body.metadata)) throw invalid('metadata', 'Input should be an object');
  let stops: string[] = [];
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    if (!Array.isArray(body.stop_sequences)) throw invalid('stop_sequences', 'Input should be a valid list');
    stops = body.stop_sequences.map((s: unknown, i) => readString(s, `stop_sequences.${i}`));
  }

  const req = { caching: false };
  const tools = readTools(body, req);
  const toolChoice = readToolChoice(body, tools);
  const thinking = readThinking(body, maxTokens);
  const chatMessages: JsonObject[] = [];
  const system = readSystem(body, req);
  if (system !== null) chatMessages.push({ role: 'system', content: system });
  const messages = body.messages;
  if (!Array.isArray(messages)) throw invalid('messages', 'Field required');
  if (messages.length === 0) throw invalid('messages', 'at least one message is required');
  let pendingUses: string[] = [];
  messages.forEach((message: unknown, i) => {
    const { toolUses, toolResults } = readMessage(message, i, i === messages.length - 1, req, chatMessages);
    // Every tool_use is answered by a tool_result in the very next message, and only those are.
    for (const id of toolResults) {
      if (!pendingUses.includes(id)) {
        throw invalid(`messages.${i}`, `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
    }
    const missing = pendingUses.filter((id) => !toolResults.includes(id));
    if (missing.length > 0) {
      throw invalid(`messages.${i}`, `\`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
    pendingUses = toolUses;
  });
  if (pendingUses.length > 0 && messages.length > 0) {
    // A final assistant turn with tool calls and no results to follow is a prefill Anthropic refuses.
    throw invalid(`messages.${messages.length - 1}`, 'the final assistant message cannot end with tool_use blocks');
  }
  if (!chatMessages.some((m) => m.role !== 'system')) throw invalid('messages', 'at least one message with content is required');

  const chat: JsonObject = { model, messages: chatMessages, max_tokens: maxTokens, stream: body.stream === true };
  if (typeof body.temperature === 'number') chat.temperature = body.temperature;
  if (tools.length > 0) chat.tools = tools;
  if (toolChoice !== undefined && tools.length > 0) chat.tool_choice = toolChoice;
  return { chat, stops, thinking, caching: req.caching, stream: body.stream === true };
}

// ── shaping the answer ──

function stopReasonOf(plan: ChoicePlan): string {
  const reasons: Record<ChatFinishReason, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' };
  return plan.finishReason === 'stop' && plan.stopSequence !== null ? 'stop_sequence' : reasons[plan.finishReason];
}

function toolUseId(callId: string): string {
  return `toolu_${callId.startsWith('call_') ? callId.slice('call_'.length) : callId}`;
}

/** A stand-in for the signature Anthropic puts on thinking blocks. */
function signatureOf(thinking: string): string {
  return `simulated-${hashString(thinking).toString(36)}`;
}

export interface MessagesUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

/**
 * Anthropic's usage: `input_tokens` is what was neither read from nor written to the cache. Caching
 * happens only where the request marks a breakpoint: then the prefix cache's hit is read, and the rest
 * of the prompt's full blocks are written.
 */
function usageOf(promptTokens: number, cachedTokens: number, outputTokens: number, caching: boolean): MessagesUsage {
  const read = caching ? cachedTokens : 0;
  const written = caching ? Math.max(0, Math.floor(promptTokens / PREFIX_BLOCK_TOKENS) * PREFIX_BLOCK_TOKENS - read) : 0;
  return { input_tokens: promptTokens - read - written, cache_creation_input_tokens: written, cache_read_input_tokens: read, output_tokens: outputTokens };
}

function contentOf(plan: ChoicePlan): JsonObject[] {
  const blocks: JsonObject[] = [];
  if (plan.reasoning.length > 0) {
    const thinking = plan.reasoning.join('');
    blocks.push({ type: 'thinking', thinking, signature: signatureOf(thinking) });
  }
  if (plan.toolCall !== null) {
    const args = plan.toolCall.argPieces.join('');
    let input: unknown = {};
    try {
      input = JSON.parse(args);
    } catch {
      // Cut short by max_tokens: Anthropic sends what parsed, the simulator an empty input.
    }
    blocks.push({ type: 'tool_use', id: toolUseId(plan.toolCall.id), name: plan.toolCall.name, input });
  }
  if (plan.content !== null && plan.content.length > 0) blocks.push({ type: 'text', text: plan.content.join('') });
  return blocks;
}

interface StepEvent {
  step: number;
  event: JsonObject;
  pieces: number;
}

/** The stream's events, each at the decoding step of the piece it follows (block starts at their first). */
function streamEvents(plan: ChoicePlan, start: JsonObject, usage: MessagesUsage): StepEvent[] {
  const events: StepEvent[] = [{ step: 0, event: start, pieces: 0 }];
  let step = 0;
  let index = 0;
  const after = (): number => Math.max(0, step - 1);
  const block = (contentBlock: JsonObject, deltas: JsonObject[], closing: JsonObject[] = []): void => {
    events.push({ step: deltas.length > 0 ? step : after(), event: { type: 'content_block_start', index, content_block: contentBlock }, pieces: 0 });
    if (index === 0) events.push({ step: events[events.length - 1].step, event: { type: 'ping' }, pieces: 0 });
    for (const delta of deltas) events.push({ step: step++, event: { type: 'content_block_delta', index, delta }, pieces: 1 });
    for (const delta of closing) events.push({ step: after(), event: { type: 'content_block_delta', index, delta }, pieces: 0 });
    events.push({ step: after(), event: { type: 'content_block_stop', index }, pieces: 0 });
    index++;
  };
  if (plan.reasoning.length > 0) {
    block(
      { type: 'thinking', thinking: '' },
      plan.reasoning.map((thinking) => ({ type: 'thinking_delta', thinking })),
      [{ type: 'signature_delta', signature: signatureOf(plan.reasoning.join('')) }],
    );
  }
  if (plan.toolCall !== null) {
    block(
      { type: 'tool_use', id: toolUseId(plan.toolCall.id), name: plan.toolCall.name, input: {} },
      plan.toolCall.argPieces.map((partial_json) => ({ type: 'input_json_delta', partial_json })),
    );
  }
  if (plan.content !== null && plan.content.length > 0) {
    block(
      { type: 'text', text: '' },
      plan.content.map((text) => ({ type: 'text_delta', text })),
    );
  }
  if (index === 0) events.push({ step: 0, event: { type: 'ping' }, pieces: 0 });
  events.push({
    step: after(),
    event: { type: 'message_delta', delta: { stop_reason: stopReasonOf(plan), stop_sequence: plan.stopSequence }, usage: { output_tokens: usage.output_tokens } },
    pieces: 0,
  });
  events.push({ step: after(), event: { type: 'message_stop' }, pieces: 0 });
  return events;
}

/** The Messages API's answer: a `message`, or its stream events grouped by decoding step. */
export function answerMessages(body: JsonObject, env: GenerationEnv): Answer {
  const req = readMessagesRequest(body);
  let planned: ChatPlan;
  try {
    planned = planChat(req.chat, env, { stops: req.stops, reasoning: req.thinking });
  } catch (err) {
    if (err instanceof SimulatorRequestError) throw invalid('', err.message);
    throw err;
  }
  const { model, usage: chatUsage, steps, completionTokens } = planned;
  const plan = planned.plans[0];
  const usage = usageOf(chatUsage.prompt_tokens, chatUsage.prompt_tokens_details.cached_tokens, completionTokens, req.caching);
  const id = env.newId('msg_');

  if (!req.stream) {
    const message: JsonObject = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: contentOf(plan),
      stop_reason: stopReasonOf(plan),
      stop_sequence: plan.stopSequence,
      usage,
    };
    return { kind: 'json', body: message, steps, pieces: completionTokens };
  }
  const start: JsonObject = {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // As Anthropic does: the prompt's counts up front, output so far (one token) until message_delta.
      usage: { ...usage, output_tokens: Math.min(1, usage.output_tokens) },
    },
  };
  const events = streamEvents(plan, start, usage);
  let lastStep = 0;
  for (const e of events) if (e.step > lastStep) lastStep = e.step;
  const grouped: Emission[][] = [];
  for (let s = 0; s <= lastStep; s++) grouped.push([]);
  for (const e of events) grouped[e.step].push({ chunk: e.event, pieces: e.pieces });
  return { kind: 'stream', steps: grouped, pieces: completionTokens };
}
