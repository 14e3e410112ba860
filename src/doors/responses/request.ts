// The Responses API door, its request side (SPEC §17): a `POST /v1/responses` body checked field by field
// (a 400 names the exact path, `input[0].content[1].image_url`, before anything reaches a backend), then
// written as the chat completion request the one pipeline serves — instructions and earlier turns first,
// function tools, `text.format` as `response_format`. `origins` remembers where each chat message came
// from, so that chat's own checks can name the Responses field (`input[2]`, not `messages[3]`).
import { GatewayError, invalidRequest } from '../../openai/errors.js';
import type { ChatCompletionRequest } from '../../openai/schemas/chat.js';
import { validateChatRequest } from '../../openai/validate.js';
import type { JsonObject } from '../../providers/types.js';

/** A validated Responses request: the body as sent (unknown fields are ignored). */
export type ResponsesRequest = JsonObject & { model: string };

/** An input or output item of a conversation, as the Responses API writes it. */
export type Item = JsonObject;

const ROLES = new Set(['user', 'system', 'developer', 'assistant']);
const EFFORTS = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function bad(path: string, expected: string, value: unknown): GatewayError {
  return invalidRequest(path, `${path}: expected ${expected}; got ${describe(value)}`);
}

function optional(body: JsonObject, field: string, ok: (v: unknown) => boolean, expected: string, path = field): void {
  const value = body[field];
  if (value !== undefined && value !== null && !ok(value)) throw bad(path, expected, value);
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isBoolean = (v: unknown): boolean => typeof v === 'boolean';
const inRange = (min: number, max: number) => (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

function requireString(obj: JsonObject, field: string, path: string): string {
  const value = obj[field];
  if (typeof value !== 'string') throw value === undefined ? invalidRequest(path, `${path}: is required`) : bad(path, 'a string', value);
  return value;
}

function checkImagePart(part: JsonObject, path: string): void {
  if (part.file_id !== undefined && part.file_id !== null) throw invalidRequest(`${path}.file_id`, `${path}.file_id: files are not supported; send the image as image_url (an https URL or a data: URL).`);
  const url = part.image_url;
  if (typeof url !== 'string') throw url === undefined ? invalidRequest(`${path}.image_url`, `${path}.image_url: is required`) : bad(`${path}.image_url`, 'a string', url);
  if (!/^https?:\/\//i.test(url) && !/^data:image\/[A-Za-z0-9.+-]+;base64,/i.test(url)) {
    throw invalidRequest(`${path}.image_url`, `${path}.image_url: expected an http(s) URL or a base64 data URL of an image`);
  }
  optional(part, 'detail', (v) => v === 'low' || v === 'high' || v === 'auto', '"low", "high" or "auto"', `${path}.detail`);
}

function checkContent(content: unknown, role: string, path: string): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) throw bad(path, 'a string or an array of content parts', content);
  content.forEach((part, j) => {
    const at = `${path}[${j}]`;
    if (!isObject(part)) throw bad(at, 'an object', part);
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        requireString(part, 'text', `${at}.text`);
        return;
      case 'refusal':
        requireString(part, 'refusal', `${at}.refusal`);
        return;
      case 'input_image':
        if (role === 'assistant') throw invalidRequest(`${at}.type`, `${at}.type: an assistant message cannot hold an image`);
        checkImagePart(part, at);
        return;
      case 'input_file':
      case 'input_audio':
        throw invalidRequest(`${at}.type`, `${at}.type: "${part.type}" is not supported; send text (input_text) or images (input_image).`);
      default:
        throw invalidRequest(`${at}.type`, `${at}.type: expected "input_text", "input_image" or "output_text"; got ${describe(part.type)}`);
    }
  });
}

/** One input item, checked; `path` is its place (`input[3]`). */
function checkItem(item: unknown, path: string): void {
  if (!isObject(item)) throw bad(path, 'an object (an input item)', item);
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message': {
      const role = requireString(item, 'role', `${path}.role`);
      if (!ROLES.has(role)) throw invalidRequest(`${path}.role`, `${path}.role: expected "user", "system", "developer" or "assistant"; got ${describe(role)}`);
      if (item.content === undefined) throw invalidRequest(`${path}.content`, `${path}.content: is required`);
      checkContent(item.content, role, `${path}.content`);
      return;
    }
    case 'function_call':
      requireString(item, 'call_id', `${path}.call_id`);
      requireString(item, 'name', `${path}.name`);
      requireString(item, 'arguments', `${path}.arguments`);
      return;
    case 'function_call_output': {
      requireString(item, 'call_id', `${path}.call_id`);
      const output = item.output;
      if (typeof output === 'string') return;
      if (Array.isArray(output)) {
        output.forEach((part, j) => {
          if (!isObject(part) || part.type !== 'input_text' || typeof part.text !== 'string') throw bad(`${path}.output[${j}]`, 'an input_text part', part);
        });
        return;
      }
      throw output === undefined ? invalidRequest(`${path}.output`, `${path}.output: is required`) : bad(`${path}.output`, 'a string', output);
    }
    case 'reasoning':
      // Earlier reasoning sent back: not forwarded (a backend cannot take it back as input).
      return;
    case 'item_reference':
      requireString(item, 'id', `${path}.id`);
      return;
    default:
      throw invalidRequest(
        `${path}.type`,
        `${path}.type: expected "message", "function_call", "function_call_output", "reasoning" or "item_reference"; got ${describe(item.type)}`,
      );
  }
}

function checkTools(tools: unknown): void {
  if (!Array.isArray(tools)) throw bad('tools', 'an array', tools);
  tools.forEach((tool, i) => {
    if (!isObject(tool)) throw bad(`tools[${i}]`, 'an object', tool);
    if (tool.type !== 'function') {
      if (typeof tool.type === 'string') {
        throw invalidRequest(`tools[${i}].type`, `tools[${i}].type: the built-in tool "${tool.type}" is not supported; only function tools ("type": "function") are.`);
      }
      throw bad(`tools[${i}].type`, '"function"', tool.type);
    }
    const name = requireString(tool, 'name', `tools[${i}].name`);
    if (!FUNCTION_NAME.test(name)) throw invalidRequest(`tools[${i}].name`, `tools[${i}].name: expected 1 to 64 letters, digits, underscores or dashes; got ${describe(name)}`);
    optional(tool, 'description', isString, 'a string', `tools[${i}].description`);
    optional(tool, 'parameters', isObject, 'a JSON schema object', `tools[${i}].parameters`);
    optional(tool, 'strict', isBoolean, 'a boolean', `tools[${i}].strict`);
  });
}

function checkToolChoice(choice: unknown, tools: unknown): void {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return;
  if (isObject(choice) && choice.type === 'function') {
    const name = requireString(choice, 'name', 'tool_choice.name');
    const names = Array.isArray(tools) ? tools.map((t) => (t as JsonObject).name) : [];
    if (!names.includes(name)) throw invalidRequest('tool_choice.name', `tool_choice.name: names the function "${name}", which is not in tools`);
    return;
  }
  throw bad('tool_choice', '"none", "auto", "required" or {"type": "function", "name": …}', choice);
}

function checkTextFormat(text: unknown): void {
  if (!isObject(text)) throw bad('text', 'an object', text);
  const format = text.format;
  if (format === undefined || format === null) return;
  if (!isObject(format)) throw bad('text.format', 'an object', format);
  switch (format.type) {
    case 'text':
    case 'json_object':
      return;
    case 'json_schema': {
      const name = requireString(format, 'name', 'text.format.name');
      if (!FUNCTION_NAME.test(name)) throw invalidRequest('text.format.name', `text.format.name: expected 1 to 64 letters, digits, underscores or dashes; got ${describe(name)}`);
      if (!isObject(format.schema)) throw format.schema === undefined ? invalidRequest('text.format.schema', 'text.format.schema: is required') : bad('text.format.schema', 'a JSON schema object', format.schema);
      optional(format, 'description', isString, 'a string', 'text.format.description');
      optional(format, 'strict', isBoolean, 'a boolean', 'text.format.strict');
      return;
    }
    default:
      throw invalidRequest('text.format.type', `text.format.type: expected "text", "json_object" or "json_schema"; got ${describe(format.type)}`);
  }
}

/** The body of POST /v1/responses, or a 400 naming the first field at fault. */
export function validateResponsesRequest(body: unknown): ResponsesRequest {
  if (!isObject(body)) throw invalidRequest(null, 'The request body must be a JSON object.');
  const model = body.model;
  if (typeof model !== 'string' || model === '') throw model === undefined ? invalidRequest('model', 'model: is required') : bad('model', 'a non-empty string', model);
  const input = body.input;
  if (input === undefined || input === null) {
    if (typeof body.previous_response_id !== 'string') throw invalidRequest('input', 'input: is required');
  } else if (Array.isArray(input)) {
    input.forEach((item, i) => checkItem(item, `input[${i}]`));
  } else if (typeof input !== 'string') throw bad('input', 'a string or an array of input items', input);
  if (Array.isArray(input) && input.length === 0 && typeof body.previous_response_id !== 'string') throw invalidRequest('input', 'input: must hold at least one item');
  optional(body, 'instructions', isString, 'a string');
  if (body.tools !== undefined && body.tools !== null) checkTools(body.tools);
  if (body.tool_choice !== undefined && body.tool_choice !== null) checkToolChoice(body.tool_choice, body.tools);
  optional(body, 'parallel_tool_calls', isBoolean, 'a boolean');
  if (body.text !== undefined && body.text !== null) checkTextFormat(body.text);
  if (body.reasoning !== undefined && body.reasoning !== null) {
    if (!isObject(body.reasoning)) throw bad('reasoning', 'an object', body.reasoning);
    optional(body.reasoning, 'effort', (v) => typeof v === 'string' && EFFORTS.has(v), '"none", "minimal", "low", "medium", "high" or "xhigh"', 'reasoning.effort');
    optional(body.reasoning, 'summary', (v) => v === 'auto' || v === 'concise' || v === 'detailed', '"auto", "concise" or "detailed"', 'reasoning.summary');
  }
  optional(body, 'max_output_tokens', (v) => Number.isInteger(v) && (v as number) >= 1, 'an integer of at least 1');
  optional(body, 'temperature', inRange(0, 2), 'a number from 0 to 2');
  optional(body, 'top_p', inRange(0, 1), 'a number from 0 to 1');
  if (body.metadata !== undefined && body.metadata !== null) {
    const metadata = body.metadata;
    if (!isObject(metadata)) throw bad('metadata', 'an object of strings', metadata);
    const keys = Object.keys(metadata);
    if (keys.length > 16) throw invalidRequest('metadata', `metadata: at most 16 keys; got ${keys.length}`);
    for (const key of keys) {
      if (key.length > 64) throw invalidRequest('metadata', `metadata: keys are at most 64 characters; got ${key.length}`);
      const value = metadata[key];
      if (typeof value !== 'string' || value.length > 512) throw bad(`metadata.${key}`, 'a string of at most 512 characters', value);
    }
  }
  optional(body, 'user', isString, 'a string');
  optional(body, 'stream', isBoolean, 'a boolean');
  optional(body, 'store', isBoolean, 'a boolean');
  optional(body, 'previous_response_id', (v) => typeof v === 'string' && v !== '', 'a response id');
  if (body.background === true) throw invalidRequest('background', 'background: background responses are not supported; omit the field or send false.');
  return body as ResponsesRequest;
}

/** The client asked for reasoning summaries (`reasoning.summary`): the reasoning is given as the summary too. */
export function wantsSummary(req: ResponsesRequest): boolean {
  const summary = (req.reasoning as JsonObject | undefined | null)?.summary;
  return typeof summary === 'string';
}

/** The request's input as items (a string input is one user message). */
export function inputItems(req: ResponsesRequest): Item[] {
  const input = req.input;
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return Array.isArray(input) ? (input as Item[]) : [];
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => ((p as JsonObject).text ?? (p as JsonObject).refusal ?? '') as string).join('');
}

function chatPart(part: JsonObject): JsonObject {
  if (part.type === 'input_image') {
    const image: JsonObject = { url: part.image_url };
    if (part.detail !== undefined && part.detail !== null) image.detail = part.detail;
    return { type: 'image_url', image_url: image };
  }
  return { type: 'text', text: (part.text ?? part.refusal ?? '') as string };
}

/** A conversation as chat messages, and where each came from (a Responses path). */
export interface ChatConversation {
  messages: JsonObject[];
  origins: string[];
}

/**
 * Appends items to a chat conversation: messages as messages (parts one for one, so `content[j]` names
 * the same part on both sides), function calls as an assistant's tool calls (consecutive ones in one
 * message), their outputs as tool messages; reasoning is dropped. `where(i)` is item i's Responses path.
 */
export function appendItems(conversation: ChatConversation, items: readonly Item[], where: (i: number) => string): void {
  const { messages, origins } = conversation;
  items.forEach((item, i) => {
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role as string;
      if (role === 'assistant') {
        messages.push({ role: 'assistant', content: textOf(item.content) });
      } else {
        const content = Array.isArray(item.content) ? (item.content as JsonObject[]).map(chatPart) : item.content;
        messages.push({ role: role === 'developer' ? 'system' : role, content });
      }
      origins.push(where(i));
    } else if (type === 'function_call') {
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      const last = messages[messages.length - 1];
      // Parallel calls, or a message and its calls: one assistant turn.
      if (last?.role === 'assistant') {
        last.tool_calls = [...((last.tool_calls as JsonObject[] | undefined) ?? []), call];
        if (last.content === '') last.content = null;
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [call] });
        origins.push(where(i));
      }
    } else if (type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: textOf(item.output) });
      origins.push(where(i));
    }
  });
}

function chatToolChoice(choice: unknown): unknown {
  return typeof choice === 'object' && choice !== null ? { type: 'function', function: { name: (choice as JsonObject).name } } : choice;
}

function chatResponseFormat(format: JsonObject): JsonObject {
  if (format.type !== 'json_schema') return { type: format.type };
  const schema: JsonObject = { name: format.name, schema: format.schema };
  if (format.description !== undefined) schema.description = format.description;
  if (format.strict !== undefined && format.strict !== null) schema.strict = format.strict;
  return { type: 'json_schema', json_schema: schema };
}

/** The chat completion request for a Responses request on top of `conversation` (earlier turns and input). */
export function toChatRequest(req: ResponsesRequest, conversation: ChatConversation): { chat: ChatCompletionRequest; origins: string[] } {
  const chat: JsonObject = { model: req.model, messages: conversation.messages };
  if (req.stream === true) chat.stream = true;
  const tools = req.tools as JsonObject[] | undefined | null;
  if (Array.isArray(tools) && tools.length > 0) {
    chat.tools = tools.map((t) => {
      const fn: JsonObject = { name: t.name };
      if (t.description !== undefined && t.description !== null) fn.description = t.description;
      if (t.parameters !== undefined && t.parameters !== null) fn.parameters = t.parameters;
      if (t.strict !== undefined && t.strict !== null) fn.strict = t.strict;
      return { type: 'function', function: fn };
    });
    if (req.tool_choice !== undefined && req.tool_choice !== null) chat.tool_choice = chatToolChoice(req.tool_choice);
    if (typeof req.parallel_tool_calls === 'boolean') chat.parallel_tool_calls = req.parallel_tool_calls;
  } else if (req.tool_choice === 'none' || req.tool_choice === 'auto') chat.tool_choice = req.tool_choice;
  const format = (req.text as JsonObject | undefined)?.format as JsonObject | undefined | null;
  if (format !== undefined && format !== null && format.type !== 'text') chat.response_format = chatResponseFormat(format);
  const effort = (req.reasoning as JsonObject | undefined)?.effort;
  if (typeof effort === 'string') chat.reasoning_effort = effort;
  if (typeof req.max_output_tokens === 'number') chat.max_tokens = req.max_output_tokens;
  for (const field of ['temperature', 'top_p', 'user'] as const) if (req[field] !== undefined && req[field] !== null) chat[field] = req[field];
  try {
    return { chat: validateChatRequest(chat), origins: conversation.origins };
  } catch (err) {
    throw inResponsesTerms(err, conversation.origins);
  }
}

/** Chat's parameter names as the Responses API calls them. */
const RENAMED: [RegExp, (m: RegExpMatchArray, origins: readonly string[]) => string][] = [
  [/^messages\[(\d+)\]/, (m, origins) => origins[Number(m[1])] ?? 'input'],
  [/^messages\b/, () => 'input'],
  [/^tools\[(\d+)\]\.function/, (m) => `tools[${m[1]}]`],
  [/^tool_choice\.function/, () => 'tool_choice'],
  [/^response_format\.json_schema/, () => 'text.format'],
  [/^response_format(\.type)?/, () => 'text.format'],
  [/^reasoning_effort/, () => 'reasoning.effort'],
  [/^max_completion_tokens|^max_tokens/, () => 'max_output_tokens'],
];

function rename(param: string, origins: readonly string[]): string {
  for (const [pattern, to] of RENAMED) {
    const m = param.match(pattern);
    if (m) return to(m, origins) + param.slice(m[0].length);
  }
  return param;
}

/**
 * A 400 from chat's validation or capability checks, naming the Responses field instead of chat's
 * (`input[1].content[0]` for `messages[2].content[0]`, `text.format` for `response_format.type`).
 */
export function inResponsesTerms(err: unknown, origins: readonly string[]): unknown {
  if (!(err instanceof GatewayError) || err.param === null) return err;
  const param = rename(err.param, origins);
  if (param === err.param) return err;
  const message = err.message.startsWith(err.param) ? param + err.message.slice(err.param.length) : err.message;
  return new GatewayError(err.errorName, message.replaceAll('max_tokens', 'max_output_tokens'), { param, code: err.code, retryAfterMs: err.retryAfterMs, noRetry: err.noRetry });
}
