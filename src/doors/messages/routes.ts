// The Messages door (SPEC §17): Anthropic's `POST /v1/messages` and `/v1/messages/count_tokens` on every
// chat model, through the one pipeline (runInference) with chat's checks, limits, billing and routing.
// A model whose every deployment is an `anthropic` backend is sent the request as the client wrote it
// (native: no double translation; its `anthropic-beta` flags too) and its answer comes back as it is,
// with the client's model name; any other model gets the request translated to chat completions, and its
// answer translated back. Usage records say `messages`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { countChatPromptTokens } from '../../accounting/tokenizer.js';
import { chatCompletions } from '../../api/chat-completions.js';
import { runInference, type InferenceEndpoint } from '../../api/inference.js';
import type { DoorContext } from '../../http/app.js';
import { authorizeModel } from '../../http/auth.js';
import { invalidRequest } from '../../openai/errors.js';
import { normalizeUsage } from '../../openai/normalize.js';
import type { ChatCompletionRequest } from '../../openai/schemas/chat.js';
import { openAIUsage, readAnthropicUsage } from '../../providers/anthropic/response.js';
import type { JsonObject } from '../../providers/types.js';
import type { CatalogModel } from '../../routing/catalog.js';
import { readCountTokens, readMessages, withMessagesParams, type MessagesRead } from './request.js';
import { messageFromChat, nativeOutputText } from './response.js';
import { MessagesStreamEncoder, NativeMessagesEncoder } from './stream.js';

/** Whether every deployment of the model is an `anthropic` backend, which speaks the Messages API itself. */
function servedNatively(ctx: DoorContext, model: CatalogModel): boolean {
  return model.config.deployments.length > 0 && model.config.deployments.every((d) => ctx.config.providers[d.provider]?.type === 'anthropic');
}

/** What the model must be able to do for this request, named by the Messages fields (chat's checks, renamed). */
function checkMessagesRequest(read: MessagesRead, model: CatalogModel, native: boolean): void {
  const name = model.id;
  if (!model.capabilities.has('vision')) {
    const messages = Array.isArray(read.body.messages) ? (read.body.messages as JsonObject[]) : [];
    messages.forEach((message, i) => {
      if (!Array.isArray(message?.content)) return;
      (message.content as JsonObject[]).forEach((block, j) => {
        if (block?.type === 'image') throw invalidRequest(`messages.${i}.content.${j}`, `messages.${i}.content.${j}: the model "${name}" does not accept images; use a vision model or send text.`);
      });
    });
  }
  if (!native) {
    const field = read.anthropicOnly[0];
    if (field !== undefined) throw invalidRequest(field, `${field}: is served only by Anthropic's own API, and the model "${name}" is not served by it; omit the field.`);
    const server = read.serverTools[0];
    if (server !== undefined) {
      throw invalidRequest(`tools.${server.index}.type`, `tools.${server.index}.type: "${server.type}" is a tool Anthropic runs on its own servers; the model "${name}" is not served by Anthropic, so send custom tools (name, description, input_schema).`);
    }
    if (read.thinking && model.config.category !== 'reasoning') {
      throw invalidRequest('thinking', `thinking: the model "${name}" does not reason; omit thinking or use a reasoning model.`);
    }
  }
  withMessagesParams(() => chatCompletions.checkRequest(read.chat, model));
}

/** A model served natively: the client's body goes to the backend, its answer comes back. */
function nativeEndpoint(ctx: DoorContext, read: MessagesRead, request: FastifyRequest): InferenceEndpoint<JsonObject> {
  const beta = request.headers['anthropic-beta'];
  const requestId = request.state.id;
  return {
    endpoint: 'messages',
    capability: 'chat',
    validate: () => read.body,
    checkRequest(_req, model) {
      // A fallback that is not served by Anthropic is skipped (the pipeline skips a model refused with a 400).
      if (!servedNatively(ctx, model)) throw invalidRequest('model', `model: "${model.id}" is not served by the Messages API natively.`);
      checkMessagesRequest(read, model, true);
    },
    applyDefaults: () => undefined,
    buildResponse: (upstream, who) => ({ ...upstream, model: who.model }),
    usageOf: (upstream) => (upstream.usage === undefined || upstream.usage === null ? undefined : normalizeUsage(openAIUsage(readAnthropicUsage(upstream.usage)))),
    countPromptTokens: () => countChatPromptTokens(read.chat.messages as unknown[]),
    outputText: nativeOutputText,
    contextParam: () => 'messages',
    stream: chatCompletions.stream,
    streamEncoder: (view, errors) => new NativeMessagesEncoder(view, errors, requestId),
    recordAs: 'messages',
    upstreamHeaders: typeof beta === 'string' && beta.length > 0 ? { 'anthropic-beta': beta } : undefined,
  };
}

/** Any other model: the request as a chat request, the answer as a `message` or Anthropic's events. */
function translatedEndpoint(read: MessagesRead, requestId: string): InferenceEndpoint<ChatCompletionRequest> {
  return {
    ...chatCompletions,
    validate: () => read.chat,
    checkRequest: (_req, model) => checkMessagesRequest(read, model, false),
    applyDefaults: (req, upstream, model) => withMessagesParams(() => chatCompletions.applyDefaults(req, upstream, model)),
    buildResponse: (upstream, who, usage) => messageFromChat(upstream, who, usage, read),
    streamEncoder: (view, errors) => new MessagesStreamEncoder({ view, errors, requestId, thinking: read.thinking, stops: read.stops }),
    recordAs: 'messages',
  };
}

/** One `POST /v1/messages` through the pipeline: native or translated, by the model asked for. */
async function createMessage(ctx: DoorContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // Anthropic's name for the request id (its SDKs show it as `_request_id`), beside our x-request-id.
  reply.header('request-id', request.state.id);
  const read = readMessages(request.body);
  let model: CatalogModel | undefined;
  try {
    model = ctx.inference.catalog.resolve(read.chat.model);
  } catch {
    // The pipeline answers an unknown model with its own error.
  }
  if (model !== undefined && servedNatively(ctx, model)) await runInference(nativeEndpoint(ctx, read, request), ctx.inference, request, reply);
  else await runInference(translatedEndpoint(read, request.state.id), ctx.inference, request, reply);
}

export function registerMessagesRoutes(api: FastifyInstance, ctx: DoorContext): void {
  api.post('/messages', (request, reply) => ctx.serve(request, reply, () => createMessage(ctx, request, reply)));
  // Floodgate's own count of the prompt as the translated request would carry it; nothing is billed.
  api.post('/messages/count_tokens', (request, reply) =>
    ctx.serve(request, reply, async () => {
      reply.header('request-id', request.state.id);
      const read = readCountTokens(request.body);
      const state = request.state;
      state.model = read.chat.model;
      const model = ctx.inference.catalog.resolve(read.chat.model);
      state.modelId = model.id;
      authorizeModel(state.principal!, model.id);
      if (!model.capabilities.has('chat')) throw invalidRequest('model', `model: "${state.model}" is a ${model.config.category} model and does not serve the Messages API.`);
      checkMessagesRequest(read, model, servedNatively(ctx, model));
      await reply.type('application/json').send(JSON.stringify({ input_tokens: chatCompletions.countPromptTokens(read.chat) }));
    }),
  );
}
