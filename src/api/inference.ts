// The inference pipeline shared by chat, legacy completions and embeddings (CONVENTIONS: one request,
// one pipeline): validate → resolve model → authorize → check capabilities → admit (limits + reserve) →
// route → provider → relay; settlement follows when the response has ended (http/app). Each endpoint
// file supplies only what differs (its validator, checks, output bound and response shape).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Capability } from '../config/schema.js';
import { authorizeModel } from '../http/auth.js';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import { newCompletionId } from '../openai/ids.js';
import { estimatedUsage, normalizeUsage, type ResponseIdentity, type Usage } from '../openai/normalize.js';
import type { Endpoint, JsonObject, UpstreamResult } from '../providers/types.js';
import { pickDeployment, type Catalog, type CatalogModel } from '../routing/catalog.js';
import { CallTimers } from '../routing/timeouts.js';
import { CallSignal } from '../providers/call-signal.js';
import { countTokens } from '../accounting/tokenizer.js';
import type { RequestState } from './request-state.js';
import { ClientDisconnected, relayStream } from './stream-relay.js';
import { admitRequest } from './admission.js';
import { choicesGenerated, forwardOutputCap, resolveOutputCap } from './output-cap.js';
import { rateLimitHeaders } from '../limits/headers.js';
import type { Accounting } from '../accounting/settlement.js';

export interface InferenceEndpoint<Req extends JsonObject> {
  endpoint: Endpoint;
  /** The capability a model needs to serve this endpoint. */
  capability: Capability;
  validate(body: unknown): Req;
  /** Capability and catalog checks before any backend is called (400 naming the field). */
  checkRequest(req: Req, model: CatalogModel): void;
  /**
   * Defaults from the catalog that apply to this endpoint (e.g. the output cap), and rewrites for what the
   * model lacks; returns the fallbacks taken (`response_format=json_object`), told in `x-floodgate-fallback`.
   */
  applyDefaults(req: Req, upstream: JsonObject, model: CatalogModel): string[] | undefined | void;
  /** A non-streamed response in the client's shape. */
  buildResponse(upstream: JsonObject, who: ResponseIdentity, usage: Usage): JsonObject;
  /** Prompt tokens counted by Floodgate, for when the backend reports no usage. */
  countPromptTokens(req: Req): number;
  /** Output text of a non-streamed backend response, for the same purpose. */
  outputText(upstream: JsonObject): string;
  /**
   * The field whose tokens are held against the model's context before forwarding (`messages`, a single
   * `prompt`), or undefined when the request has no single prompt to check.
   */
  contextParam(req: Req): string | undefined;
  stream?: { object: 'chat.completion.chunk' | 'text_completion'; idPrefix: 'chatcmpl' | 'cmpl' };
}

export interface InferenceDeps {
  catalog: Catalog;
  heartbeatMs: number;
  accounting: Accounting;
}

function isStreaming(req: JsonObject): boolean {
  return req.stream === true;
}

/** The body sent upstream: the client's fields untouched, our model name, defaults, usage always asked. */
function buildUpstreamBody<Req extends JsonObject>(spec: InferenceEndpoint<Req>, req: Req, model: CatalogModel, upstreamModel: string, reply: FastifyReply): JsonObject {
  const body: JsonObject = { ...req, model: upstreamModel };
  const fallbacks = spec.applyDefaults(req, body, model);
  if (fallbacks) reply.header('x-floodgate-fallback', fallbacks.join(', '));
  if (isStreaming(req)) {
    const options = req.stream_options;
    body.stream_options = { ...(options !== null && typeof options === 'object' ? options : {}), include_usage: true };
  }
  return body;
}

/** When a call fails because we aborted it (client gone, timeout), our reason is the error to report. */
function ourReason(signal: CallSignal): (err: unknown) => never {
  return (err) => {
    throw signal.aborted ? signal.reason : err;
  };
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

/** Runs one inference request and answers it (or throws a GatewayError for the error handler). */
export async function runInference<Req extends JsonObject>(
  spec: InferenceEndpoint<Req>,
  deps: InferenceDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const state: RequestState = request.state;
  const req = spec.validate(request.body);
  state.model = req.model as string;
  const model = deps.catalog.resolve(req.model as string);
  authorizeModel(state.principal!, model.id);
  if (!model.capabilities.has(spec.capability)) {
    const where = model.capabilities.has('embeddings') ? 'POST /v1/embeddings' : model.capabilities.has('chat') ? 'POST /v1/chat/completions' : 'another endpoint';
    throw invalidRequest('model', `model: "${state.model}" is a ${model.config.category} model and does not serve this endpoint; use ${where}.`);
  }
  spec.checkRequest(req, model);
  const promptTokens = spec.countPromptTokens(req);
  const outputCap = resolveOutputCap(req, model, promptTokens, spec.contextParam(req));
  // Admitted at its upper bound: every output token each generated choice may produce.
  await admitRequest(deps.accounting, state, spec.endpoint, model, promptTokens, outputCap * choicesGenerated(req));

  const deployment = pickDeployment(model);
  state.deployment = deployment.name;
  const stream = isStreaming(req) && spec.stream !== undefined;
  state.stream = stream;
  const body = buildUpstreamBody(spec, req, model, deployment.upstreamModel, reply);
  forwardOutputCap(req, body, model, outputCap);

  const signal = new CallSignal();
  const res = reply.raw;
  const onClose = (): void => {
    if (!res.writableFinished) signal.abort(new ClientDisconnected('The client closed the connection.'));
  };
  res.once('close', onClose);
  const timers = new CallTimers(signal, deployment.timeouts);
  const upstreamStart = performance.now();
  const who: ResponseIdentity = { id: newCompletionId(spec.stream?.idPrefix ?? 'chatcmpl'), created: Math.floor(Date.now() / 1000), model: state.model };

  try {
    const result: UpstreamResult = await deployment.provider.call({ endpoint: spec.endpoint, body, stream, requestId: state.id, signal }).catch(ourReason(signal));

    if (result.kind === 'json') {
      state.upstreamMs = elapsed(upstreamStart);
      let usage = normalizeUsage(result.body.usage);
      if (usage === undefined) {
        usage = estimatedUsage(promptTokens, countTokens(spec.outputText(result.body)));
        state.settle = 'estimated';
      } else state.settle = 'complete';
      state.usage = usage;
      const payload = spec.buildResponse(result.body, who, usage);
      reply
        .header('openai-processing-ms', String(Math.round(elapsed(state.start))))
        .header('server-timing', `gateway;dur=${Math.max(0, elapsed(state.start) - state.upstreamMs).toFixed(3)}, upstream;dur=${state.upstreamMs.toFixed(3)}`)
        .type('application/json');
      await reply.send(JSON.stringify(payload));
      return;
    }

    const events = result.events[Symbol.asyncIterator]();
    const first = await events.next().catch(ourReason(signal));
    timers.firstByte();
    state.upstreamMs = elapsed(upstreamStart);
    if (first.done) throw new GatewayError('upstream_error', 'The backend ended the stream without sending anything.');
    const outcome = await relayStream(first.value, {
      res,
      events,
      who,
      object: spec.stream!.object,
      includeUsage: (req.stream_options as JsonObject | null | undefined)?.include_usage === true,
      heartbeatMs: deps.heartbeatMs,
      timers,
      signal,
      // Everything already set on the reply (request id, CORS) goes out with the 200, and the rate-limit
      // headers, which the onSend hook adds to every other /v1 response.
      headers: {
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        ...(state.rateLimit && rateLimitHeaders(state.rateLimit)),
        'openai-processing-ms': Math.round(elapsed(state.start)),
      },
      onCommit: () => {
        reply.hijack();
        state.ttftMs = elapsed(state.start);
      },
    });
    if (outcome.usage && outcome.ended === 'complete') {
      state.usage = outcome.usage;
      state.settle = 'complete';
    } else {
      // No usage from the backend (or it never finished): count the prompt and what was produced so far.
      state.usage = estimatedUsage(promptTokens, countTokens(outcome.output.join('')));
      state.settle = outcome.ended === 'complete' ? 'estimated' : outcome.ended;
    }
    if (outcome.error) {
      state.errorCode = outcome.error.code;
      state.errorMessage = outcome.error.message;
    }
  } catch (err) {
    if (err instanceof ClientDisconnected) {
      // Nothing was sent yet and nobody is listening: record it (the backend saw the prompt), answer nothing.
      state.settle = 'client_disconnected';
      state.usage = estimatedUsage(promptTokens, 0);
      reply.hijack();
      if (!res.destroyed) res.destroy();
      return;
    }
    throw err;
  } finally {
    timers.stop();
    res.off('close', onClose);
  }
}
