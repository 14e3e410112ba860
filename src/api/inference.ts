// The inference pipeline shared by chat, legacy completions and embeddings (CONVENTIONS: one request,
// one pipeline): validate → resolve model → authorize → check capabilities → admit (limits + reserve) →
// route (balance, retry before the first byte, fall back to other models) → provider → relay; settlement
// follows when the response has ended (http/app). Each endpoint file supplies only what differs (its
// validator, checks, output bound and response shape).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Capability } from '../config/schema.js';
import { authorizeModel } from '../http/auth.js';
import { GatewayError, invalidRequest, type ErrorRendering } from '../openai/errors.js';
import { newCompletionId } from '../openai/ids.js';
import { estimatedUsage, normalizeUsage, type ResponseIdentity, type Usage } from '../openai/normalize.js';
import type { Endpoint, JsonObject } from '../providers/types.js';
import type { Catalog, CatalogDeployment, CatalogModel } from '../routing/catalog.js';
import { isBackendFailure, routeModel, type AttemptRecord, type Routed } from '../routing/router.js';
import type { Outcome } from '../routing/health.js';
import type { CallSignal, SharedAbort } from '../providers/call-signal.js';
import { countTokens } from '../accounting/tokenizer.js';
import type { RequestState } from './request-state.js';
import { beginAttempt, ChatStreamEncoder, ClientDisconnected, clientSignal, relayStream, streamUsage, type Attempt, type ChunkView, type StreamEncoder, type StreamOutcome } from './stream-relay.js';
import { admitFallback, admitRequest, servedBy } from './admission.js';
import { choicesGenerated, forwardOutputCap, resolveOutputCap } from './output-cap.js';
import { rateLimitHeaders, budgetHeaders } from '../limits/headers.js';
import type { Accounting } from '../accounting/settlement.js';
import { errorForLog } from '../observability/request-log.js';
import type { Tracing } from '../observability/tracing.js';

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
  /** A non-streamed response in the client's shape (a door may wait before it is sent, to store it). */
  buildResponse(upstream: JsonObject, who: ResponseIdentity, usage: Usage): JsonObject | Promise<JsonObject>;
  /** The backend's usage in a non-streamed answer (default: OpenAI's `usage`); undefined when it gave none. */
  usageOf?(upstream: JsonObject): Usage | undefined;
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
  /** The stream's events on the client's side (default: OpenAI's chat chunks, ChatStreamEncoder). */
  streamEncoder?(view: ChunkView, errors: ErrorRendering): StreamEncoder;
  /**
   * The usage record's `endpoint` and the door a request came through (SPEC §17: `responses`, `messages`),
   * when not `endpoint`, which stays what the backend is asked for.
   */
  recordAs?: string;
  /** Client headers the backend is to get as they came (a native pass-through's `anthropic-beta`). */
  upstreamHeaders?: Record<string, string>;
}

export interface InferenceDeps {
  catalog: Catalog;
  heartbeatMs: number;
  accounting: Accounting;
  /** Aborted when a graceful shutdown's grace period is over: ends the requests still running. */
  shutdown?: SharedAbort;
  /** The deployment's wording of errors (config `errors`), for a stream's in-band error. */
  errors: ErrorRendering;
  /** OpenTelemetry traces; absent when tracing is off. */
  tracing?: Tracing;
}

function isStreaming(req: JsonObject): boolean {
  return req.stream === true;
}

/** The body sent upstream: the client's fields, defaults, the output cap, usage always asked; `notes` are the fallbacks taken. */
function buildUpstreamBody<Req extends JsonObject>(spec: InferenceEndpoint<Req>, req: Req, model: CatalogModel, outputCap: number): UpstreamPlan {
  const body: JsonObject = { ...req };
  const notes = spec.applyDefaults(req, body, model) ?? undefined;
  if (isStreaming(req)) {
    const options = req.stream_options;
    body.stream_options = { ...(options !== null && typeof options === 'object' ? options : {}), include_usage: true };
  }
  forwardOutputCap(req, body, model, outputCap);
  return { body, notes };
}

interface UpstreamPlan {
  /** Sent to each deployment with its own model name. */
  body: JsonObject;
  notes: string[] | undefined;
}

/** When a call fails because we aborted it (client gone, timeout), our reason is the error to report. */
function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

/** A backend call that has started: its JSON answer, or its stream with the first events in hand. */
type Started =
  | { kind: 'json'; body: JsonObject; upstreamMs: number }
  | { kind: 'stream'; events: AsyncIterator<JsonObject[]>; first: JsonObject[]; upstreamMs: number; attempt: Attempt };

/**
 * One attempt on one deployment, up to the point where the client would get its first byte: the whole
 * answer, or a stream's first events. Its signal follows the client's; its timers are the deployment's.
 */
async function startCall(deployment: CatalogDeployment, endpoint: Endpoint, body: JsonObject, stream: boolean, requestId: string, client: CallSignal, headers: Record<string, string> | undefined, trace?: Record<string, string>): Promise<Started> {
  body.model = deployment.upstreamModel;
  const attempt = beginAttempt(client, deployment.timeouts);
  let events: AsyncIterator<JsonObject[]> | undefined;
  try {
    const result = await deployment.provider.call({ endpoint, body, stream, requestId, signal: attempt.signal, headers, trace }).catch(attempt.rethrow);
    if (result.kind === 'json') {
      attempt.end();
      return { kind: 'json', body: result.body, upstreamMs: elapsed(attempt.began) };
    }
    events = result.events[Symbol.asyncIterator]();
    const first = await events.next().catch(attempt.rethrow);
    if (first.done) throw new GatewayError('upstream_error', 'The backend ended the stream without sending anything.');
    attempt.timers.firstByte();
    return { kind: 'stream', events, first: first.value, upstreamMs: elapsed(attempt.began), attempt };
  } catch (err) {
    attempt.end();
    await events?.return?.(undefined)?.catch(() => undefined);
    throw err;
  }
}

/**
 * Prepares a fallback model for this request: it must serve the endpoint, accept the request, be on the
 * key's allow-list, and have its (possibly higher) maximum cost covered; else it is skipped (undefined).
 * A fallback skipped for the balance is added to `unaffordable`, for the error's message.
 */
async function planFallback<Req extends JsonObject>(spec: InferenceEndpoint<Req>, deps: InferenceDeps, state: RequestState, req: Req, model: CatalogModel, promptTokens: number, unaffordable: string[]): Promise<UpstreamPlan | undefined> {
  const allowed = state.principal!.allowedModels;
  if (!model.capabilities.has(spec.capability) || (allowed !== null && !allowed.has(model.id))) return undefined;
  let outputCap: number;
  try {
    spec.checkRequest(req, model);
    outputCap = resolveOutputCap(req, model, promptTokens, spec.contextParam(req));
  } catch (err) {
    if (err instanceof GatewayError && err.status === 400) return undefined;
    throw err;
  }
  if (!(await admitFallback(deps.accounting, state, model, promptTokens, outputCap * choicesGenerated(req)))) {
    unaffordable.push(model.id);
    return undefined;
  }
  return buildUpstreamBody(spec, req, model, outputCap);
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
  state.modelId = model.id;
  authorizeModel(state.principal!, model.id);
  if (!model.capabilities.has(spec.capability)) {
    const where = model.capabilities.has('embeddings') ? 'POST /v1/embeddings' : model.capabilities.has('chat') ? 'POST /v1/chat/completions' : 'another endpoint';
    throw invalidRequest('model', `model: "${state.model}" is a ${model.config.category} model and does not serve this endpoint; use ${where}.`);
  }
  spec.checkRequest(req, model);
  const promptTokens = spec.countPromptTokens(req);
  const outputCap = resolveOutputCap(req, model, promptTokens, spec.contextParam(req));
  // Admitted at its upper bound: every output token each generated choice may produce.
  const bound = outputCap * choicesGenerated(req);
  if (deps.tracing === undefined) await admitRequest(deps.accounting, state, spec.recordAs ?? spec.endpoint, model, promptTokens, bound);
  else await deps.tracing.admission(state, spec.endpoint, req, () => admitRequest(deps.accounting, state, spec.recordAs ?? spec.endpoint, model, promptTokens, bound));

  const stream = isStreaming(req) && spec.stream !== undefined;
  state.stream = stream;
  const res = reply.raw;
  const { client, release } = clientSignal(res, deps.shutdown);
  const attempts: AttemptRecord[] = [];
  state.attempts = attempts;
  const who: ResponseIdentity = { id: newCompletionId(spec.stream?.idPrefix ?? 'chatcmpl'), created: Math.floor(Date.now() / 1000), model: state.model };
  let routed: Routed<Started> | undefined;
  let outcome: Outcome = 'neutral';
  const tracing = deps.tracing;

  try {
    // The model's deployments, then its fallbacks in order, until one call starts.
    let served = model;
    let plan: UpstreamPlan | undefined = buildUpstreamBody(spec, req, model, outputCap);
    let failure: unknown;
    const unaffordable: string[] = [];
    for (let i = 0; ; ) {
      if (plan !== undefined) {
        const body = plan.body;
        try {
          routed = await routeModel(served, client, attempts, (d) =>
            tracing === undefined
              ? startCall(d, spec.endpoint, body, stream, state.id, client, spec.upstreamHeaders)
              : tracing.attempt(state, d.name, d.name.slice(0, d.name.indexOf('/')), (trace) => startCall(d, spec.endpoint, body, stream, state.id, client, spec.upstreamHeaders, trace)),
          );
          break;
        } catch (err) {
          if (!isBackendFailure(err)) throw err;
          failure = err;
        }
      }
      if (i === model.fallbacks.length) break;
      served = model.fallbacks[i++];
      plan = await planFallback(spec, deps, state, req, served, promptTokens, unaffordable);
    }
    if (routed === undefined) {
      if (attempts.length > 0) state.deployment = attempts[attempts.length - 1].deployment;
      // Else the client would not know a fallback existed that more credit would have reached.
      if (unaffordable.length > 0 && failure instanceof Error) {
        const names = unaffordable.map((id) => `"${id}"`).join(', ');
        failure.message += ` The fallback ${unaffordable.length > 1 ? 'models' : 'model'} ${names} ${unaffordable.length > 1 ? 'were' : 'was'} skipped: your balance or budget cannot cover ${unaffordable.length > 1 ? 'their' : 'its'} price.`;
      }
      throw failure;
    }
    state.deployment = routed.deployment.name;
    if (served !== model) servedBy(state, served);
    const notes = served === model ? plan!.notes : [`model=${served.id}`, ...(plan!.notes ?? [])];
    if (notes !== undefined && notes.length > 0) reply.header('x-floodgate-fallback', notes.join(', '));
    const started = routed.value;
    state.upstreamMs = started.upstreamMs;

    if (started.kind === 'json') {
      // An answer we cannot read (buildResponse throws) is the backend's failure.
      outcome = 'failure';
      let usage = spec.usageOf === undefined ? normalizeUsage(started.body.usage) : spec.usageOf(started.body);
      if (usage === undefined) {
        usage = estimatedUsage(promptTokens, countTokens(spec.outputText(started.body)));
        state.settle = 'estimated';
      } else state.settle = 'complete';
      state.usage = usage;
      const built = spec.buildResponse(started.body, who, usage);
      // The backend's answer was read; what a door still waits for (storing it) is not the backend's doing.
      outcome = 'success';
      const payload = built instanceof Promise ? await built : built;
      reply
        .header('openai-processing-ms', String(Math.round(elapsed(state.start))))
        .header('server-timing', `gateway;dur=${Math.max(0, elapsed(state.start) - state.upstreamMs).toFixed(3)}, upstream;dur=${state.upstreamMs.toFixed(3)}`)
        .type('application/json');
      await reply.send(JSON.stringify(payload));
      return;
    }

    // From here on the client may have bytes: no retry, a failure is an error event (relayStream).
    outcome = 'failure';
    let relayed: StreamOutcome;
    try {
      const view: ChunkView = { who, object: spec.stream!.object, includeUsage: (req.stream_options as JsonObject | null | undefined)?.include_usage === true, promptTokens };
      relayed = await relayStream(started.first, {
        res,
        events: started.events,
        encoder: spec.streamEncoder?.(view, deps.errors) ?? new ChatStreamEncoder(view, deps.errors),
        heartbeatMs: deps.heartbeatMs,
        timers: started.attempt.timers,
        signal: started.attempt.signal,
        // Everything already set on the reply (request id, CORS) goes out with the 200, and the rate-limit
        // headers, which the onSend hook adds to every other /v1 response.
        headers: {
          ...(reply.getHeaders() as OutgoingHttpHeaders),
          ...(state.rateLimit && rateLimitHeaders(state.rateLimit)),
          ...budgetHeaders(state.budgetRemainingMicros),
          'openai-processing-ms': Math.round(elapsed(state.start)),
        },
        onCommit: () => {
          reply.hijack();
          state.ttftMs = elapsed(state.start);
        },
      });
    } finally {
      started.attempt.end();
    }
    outcome = relayed.ended === 'complete' ? 'success' : relayed.ended === 'client_disconnected' ? 'neutral' : 'failure';
    if (relayed.usage && relayed.ended === 'complete') {
      state.usage = relayed.usage;
      state.settle = 'complete';
    } else {
      // No usage from the backend (or it never finished): count the prompt and what was produced so far.
      state.usage = streamUsage({ ...relayed, usage: undefined }, promptTokens);
      state.settle = relayed.ended === 'complete' ? 'estimated' : relayed.ended;
    }
    if (relayed.error) {
      state.errorCode = relayed.error.code;
      state.errorMessage = errorForLog(relayed.error);
    }
  } catch (err) {
    if (err instanceof ClientDisconnected) {
      // Nothing was sent yet and nobody is listening: record it (the backend saw the prompt), answer nothing.
      outcome = 'neutral';
      state.settle = 'client_disconnected';
      state.usage = estimatedUsage(promptTokens, 0);
      reply.hijack();
      if (!res.destroyed) res.destroy();
      return;
    }
    throw err;
  } finally {
    routed?.deployment.health.end(routed.trial, outcome);
    release();
  }
}
