// The Messages door's requests (SPEC §17): Anthropic's `POST /v1/messages` body checked as Anthropic checks
// it — the simulator's reader already does that, with Anthropic's dotted paths (`messages.0.content.1.
// source.media_type: …`), and reads it into a chat request — then completed with what that reader leaves
// out for its own planner (top_p, top_k, stop sequences, the end user, tool descriptions), and held to
// chat's own validator so that nothing the pipeline cannot take gets through.
import { GatewayError, invalidRequest } from '../../openai/errors.js';
import type { ChatCompletionRequest } from '../../openai/schemas/chat.js';
import { validateChatRequest } from '../../openai/validate.js';
import { MessagesRequestError, readMessagesRequest } from '../../providers/simulator/messages.js';
import type { JsonObject } from '../../providers/types.js';

/** A Messages request read: the body as sent, its chat translation, and what the answer's shape depends on. */
export interface MessagesRead {
  /** The client's body, unchanged (what a native backend is sent). */
  body: JsonObject;
  chat: ChatCompletionRequest;
  /** `thinking: {type: "enabled"}`: the backend's reasoning is shown as thinking blocks. */
  thinking: boolean;
  stops: string[];
  /** Tools Anthropic runs itself (`web_search_…`, `bash_…`): only a native backend can serve them. */
  serverTools: { index: number; type: string }[];
  /** Fields only Anthropic's own API serves (`container`, `mcp_servers`…), present in the request. */
  anthropicOnly: string[];
}

/** Top-level fields of Anthropic's API that only Anthropic serves: passed to a native backend, refused otherwise. */
const ANTHROPIC_ONLY_FIELDS = ['container', 'context_management', 'mcp_servers'];

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Chat's names for the fields a translated request carries, as the client wrote them. */
const FIELD_NAMES: Record<string, string> = { stop: 'stop_sequences', user: 'metadata.user_id' };

/** A parameter path of the translated chat request as the Messages field it came from. */
export function messagesParam(param: string): string {
  const head = /^[a-z_]+/.exec(param)?.[0] ?? param;
  if (FIELD_NAMES[head] !== undefined) return FIELD_NAMES[head];
  // A chat message's index is not the client's (system and tool results are messages of their own).
  return head === 'messages' ? 'messages' : param.replace(/\[(\d+)\]/g, '.$1');
}

/** A 400 about the translated chat request, renamed to the Messages field (message and param alike). */
export function renamedError(err: unknown): unknown {
  if (!(err instanceof GatewayError) || err.param === null) return err;
  const param = messagesParam(err.param);
  if (param === err.param) return err;
  const message = err.message.startsWith(`${err.param}:`) ? `${param}:${err.message.slice(err.param.length + 1)}` : err.message;
  return new GatewayError(err.errorName, message, { param, code: err.code, retryAfterMs: err.retryAfterMs });
}

/** Runs `check` on the translated request; its 400s name the Messages field. */
export function withMessagesParams<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw renamedError(err);
  }
}

/** The reader's refusal as a catalog 400, the dotted path as its param. */
function fromReaderError(err: MessagesRequestError): GatewayError {
  const param = /^([A-Za-z0-9_.]+): /.exec(err.message)?.[1] ?? null;
  return invalidRequest(param, err.message);
}

/**
 * The `reasoning_effort` a thinking budget asks for: up to 4,095 tokens low, up to 16,383 medium, more
 * high (Anthropic's minimum budget is 1,024; its examples use 10,000 and 32,000).
 */
export function effortFor(budgetTokens: number): 'low' | 'medium' | 'high' {
  return budgetTokens < 4096 ? 'low' : budgetTokens < 16384 ? 'medium' : 'high';
}

/** Reads a `POST /v1/messages` body; a 400 naming the field at fault (Anthropic's paths) otherwise. */
export function readMessages(raw: unknown): MessagesRead {
  if (!isObject(raw)) throw invalidRequest(null, 'The request body must be a JSON object.');
  const body = raw;
  const anthropicOnly = ANTHROPIC_ONLY_FIELDS.filter((field) => body[field] !== undefined);
  const checked = { ...body };
  for (const field of anthropicOnly) delete checked[field];
  let read: ReturnType<typeof readMessagesRequest>;
  try {
    read = readMessagesRequest(checked);
  } catch (err) {
    if (err instanceof MessagesRequestError) throw fromReaderError(err);
    throw err;
  }
  const chat = read.chat;
  if (typeof body.top_p === 'number') chat.top_p = body.top_p;
  if (typeof body.top_k === 'number') chat.top_k = body.top_k;
  if (read.stops.length > 0) chat.stop = read.stops;
  if (isObject(body.tool_choice) && body.tool_choice.disable_parallel_tool_use === true && Array.isArray(chat.tools)) chat.parallel_tool_calls = false;
  // Anthropic budgets thinking in tokens, OpenAI-style backends by effort: the budget picks the effort.
  if (read.thinking && isObject(body.thinking) && typeof body.thinking.budget_tokens === 'number') chat.reasoning_effort = effortFor(body.thinking.budget_tokens);
  const metadata = body.metadata;
  if (isObject(metadata) && metadata.user_id !== undefined && metadata.user_id !== null) {
    if (typeof metadata.user_id !== 'string') throw invalidRequest('metadata.user_id', 'metadata.user_id: Input should be a valid string');
    chat.user = metadata.user_id;
  }
  const serverTools: MessagesRead['serverTools'] = [];
  if (Array.isArray(body.tools)) {
    const described = new Map<string, string>();
    body.tools.forEach((tool: unknown, index) => {
      if (!isObject(tool)) return;
      if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') serverTools.push({ index, type: String(tool.type) });
      else if (typeof tool.name === 'string' && typeof tool.description === 'string') described.set(tool.name, tool.description);
    });
    for (const tool of (chat.tools ?? []) as JsonObject[]) {
      const fn = tool.function as JsonObject;
      const description = described.get(fn.name as string);
      if (description !== undefined) fn.description = description;
    }
  }
  let validated: ChatCompletionRequest;
  try {
    validated = validateChatRequest(chat);
  } catch (err) {
    throw renamedError(err);
  }
  return { body, chat: validated, thinking: read.thinking, stops: read.stops, serverTools, anthropicOnly };
}

/** Reads a `POST /v1/messages/count_tokens` body: a Messages request without `max_tokens` and `stream`. */
export function readCountTokens(raw: unknown): MessagesRead {
  if (!isObject(raw)) throw invalidRequest(null, 'The request body must be a JSON object.');
  for (const field of ['max_tokens', 'stream'] as const) {
    if (raw[field] !== undefined) throw invalidRequest(field, `${field}: Extra inputs are not permitted`);
  }
  const read = readMessages({ ...raw, max_tokens: Number.MAX_SAFE_INTEGER });
  // No output cap to hold against the model's.
  delete read.chat.max_tokens;
  return read;
}
