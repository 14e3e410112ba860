// The Responses API door's routes (SPEC §17): POST /v1/responses through the one pipeline (as a chat
// completion, recorded as `responses`), and the stored responses — retrieve, input items, delete — each
// visible only to the account that made it, kept for `responses.retention_days` and swept after.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { chatCompletions } from '../../api/chat-completions.js';
import { runInference, type InferenceEndpoint } from '../../api/inference.js';
import type { DoorContext } from '../../http/app.js';
import { invalidKey } from '../../http/auth.js';
import { GatewayError, invalidRequest } from '../../openai/errors.js';
import type { ChatCompletionRequest } from '../../openai/schemas/chat.js';
import type { JsonObject } from '../../providers/types.js';
import type { StoredResponse } from '../../store/responses.js';
import { appendItems, inResponsesTerms, inputItems, toChatRequest, validateResponsesRequest, wantsSummary, type ChatConversation, type Item } from './request.js';
import { outputItems, responseIdOfItem, responseObject, ResponseIds, statusOf, storedInputItems, type ResponseEcho } from './response.js';
import { ResponsesStreamEncoder } from './stream.js';

function notFound(id: string, param: string | null = null): GatewayError {
  return new GatewayError('not_found', `No response with id "${id}" was found.`, { param });
}

/** The caller's account. A GET without a key passes the auth hook when models are public: it is still a 401 here. */
function accountOf(request: FastifyRequest): string {
  const principal = request.state.principal;
  if (principal === undefined) throw invalidKey();
  return principal.accountId;
}

/** Every item a stored response knows: the earlier turns, its input and its output. */
function itemsOf(stored: StoredResponse): Item[] {
  return [...stored.history, ...stored.inputItems, ...((stored.response.output as Item[] | undefined) ?? [])];
}

/** `item_reference`s replaced by the items they name, from this account's stored responses. */
async function resolveReferences(doors: DoorContext, items: Item[], accountId: string): Promise<Item[]> {
  if (!items.some((item) => item.type === 'item_reference')) return items;
  const loaded = new Map<string, StoredResponse | undefined>();
  const out: Item[] = [];
  for (const [i, item] of items.entries()) {
    if (item.type !== 'item_reference') {
      out.push(item);
      continue;
    }
    const itemId = item.id as string;
    const responseId = responseIdOfItem(itemId);
    let found: Item | undefined;
    if (responseId !== undefined) {
      if (!loaded.has(responseId)) loaded.set(responseId, await doors.store.responses.get(responseId, accountId));
      const stored = loaded.get(responseId);
      found = stored && itemsOf(stored).find((candidate) => candidate.id === itemId);
    }
    if (found === undefined) throw new GatewayError('not_found', `input[${i}].id: no item with id "${itemId}" was found.`, { param: `input[${i}].id` });
    out.push(found);
  }
  return out;
}

async function createResponse(doors: DoorContext, request: FastifyRequest, reply: Parameters<DoorContext['serve']>[1]): Promise<void> {
  request.state.door = 'responses';
  const req = validateResponsesRequest(request.body);
  const accountId = accountOf(request);
  const ids = new ResponseIds();
  const echo: ResponseEcho = { ids, createdAt: Math.floor(Date.now() / 1000), req };

  let history: Item[] = [];
  if (typeof req.previous_response_id === 'string') {
    const previous = await doors.store.responses.get(req.previous_response_id, accountId);
    if (previous === undefined) throw notFound(req.previous_response_id, 'previous_response_id');
    history = itemsOf(previous);
  }
  const input = await resolveReferences(doors, inputItems(req), accountId);
  const conversation: ChatConversation = { messages: [], origins: [] };
  if (typeof req.instructions === 'string') {
    conversation.messages.push({ role: 'system', content: req.instructions });
    conversation.origins.push('instructions');
  }
  appendItems(conversation, history, () => 'previous_response_id');
  appendItems(conversation, input, (i) => `input[${i}]`);
  const { chat, origins } = toChatRequest(req, conversation);

  const keep = async (response: JsonObject): Promise<void> => {
    if (req.store === false) return;
    const now = Date.now();
    await doors.store.responses.save({ id: ids.id, accountId, response, inputItems: storedInputItems(input, ids), history, createdAt: now, expiresAt: now + doors.config.responses.retentionMs });
  };
  const spec: InferenceEndpoint<ChatCompletionRequest> = {
    ...chatCompletions,
    validate: () => chat,
    checkRequest(prepared, model) {
      try {
        chatCompletions.checkRequest(prepared, model);
      } catch (err) {
        throw inResponsesTerms(err, origins);
      }
    },
    async buildResponse(upstream, _who, usage) {
      const choice = (Array.isArray(upstream.choices) ? upstream.choices[0] : undefined) as JsonObject | undefined;
      const { status, incomplete } = statusOf(choice?.finish_reason);
      const response = responseObject(echo, { status, incomplete, output: outputItems(upstream, ids, status, wantsSummary(req)), usage });
      await keep(response);
      return response;
    },
    streamEncoder: (view, errors) => new ResponsesStreamEncoder(view, errors, { echo, summary: wantsSummary(req), finish: keep }),
    recordAs: 'responses',
  };
  try {
    await runInference(spec, doors.inference, request, reply);
  } catch (err) {
    // The context check names `messages` and `max_tokens`: the client sent `input` and `max_output_tokens`.
    throw inResponsesTerms(err, origins);
  }
}

interface ListQuery {
  order?: string;
  limit?: string;
  after?: string;
}

/** GET /v1/responses/{id}/input_items: OpenAI's list page (newest first unless `order=asc`). */
function inputItemsPage(stored: StoredResponse, query: ListQuery): JsonObject {
  const order = query.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw invalidRequest('order', `order: expected "asc" or "desc"; got "${order}"`);
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidRequest('limit', `limit: expected an integer from 1 to 100; got "${query.limit}"`);
  let items = order === 'asc' ? stored.inputItems : [...stored.inputItems].reverse();
  if (query.after !== undefined) {
    const at = items.findIndex((item) => item.id === query.after);
    if (at < 0) throw invalidRequest('after', `after: no input item "${query.after}" in response "${stored.id}"`);
    items = items.slice(at + 1);
  }
  const data = items.slice(0, limit);
  return { object: 'list', data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data[data.length - 1]?.id as string | undefined) ?? null, has_more: items.length > limit };
}

/** Deletes expired responses now and then, off the request path. */
function startSweep(api: FastifyInstance, doors: DoorContext): void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    // A failed sweep (the store briefly away) is retried at the next tick.
    doors.store.responses
      .deleteExpired()
      .catch(() => undefined)
      .finally(() => {
        running = false;
      });
  }, doors.config.responses.sweepIntervalMs);
  timer.unref();
  api.addHook('onClose', async () => clearInterval(timer));
}

/** Registers the door's routes on the API scope (below the base path). */
export function registerResponsesRoutes(api: FastifyInstance, doors: DoorContext): void {
  api.post('/responses', (request, reply) => doors.serve(request, reply, () => createResponse(doors, request, reply)));
  api.get('/responses/:id', async (request) => {
    const id = (request.params as { id: string }).id;
    const stored = await doors.store.responses.get(id, accountOf(request));
    if (stored === undefined) throw notFound(id);
    return stored.response;
  });
  api.get('/responses/:id/input_items', async (request) => {
    const id = (request.params as { id: string }).id;
    const stored = await doors.store.responses.get(id, accountOf(request));
    if (stored === undefined) throw notFound(id);
    return inputItemsPage(stored, request.query as ListQuery);
  });
  api.delete('/responses/:id', async (request) => {
    const id = (request.params as { id: string }).id;
    if (!(await doors.store.responses.delete(id, accountOf(request)))) throw notFound(id);
    return { id, object: 'response.deleted', deleted: true };
  });
  startSweep(api, doors);
}
