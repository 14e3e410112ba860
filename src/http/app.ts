// The HTTP layer (Fastify), kept thin: request id, CORS, auth, body parsing and limits, the routes, and
// one error handler that turns every failure into OpenAI's envelope. The pipeline lives in api/.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from '../config/load.js';
import { runInference, type InferenceDeps, type InferenceEndpoint } from '../api/inference.js';
import type { JsonObject } from '../providers/types.js';
import { chatCompletions } from '../api/chat-completions.js';
import { completions } from '../api/completions.js';
import { embeddings } from '../api/embeddings.js';
import { getModel, listModels } from '../api/models.js';
import { unsupportedEndpoint } from '../api/unsupported.js';
import { newRequestState, type RequestState } from '../api/request-state.js';
import { asGatewayError, errorHeaders, GatewayError, invalidRequest, type ErrorRendering } from '../openai/errors.js';
import { requestIdFrom } from '../openai/ids.js';
import type { Catalog } from '../routing/catalog.js';
import type { Logger } from '../observability/logger.js';
import { errorForLog, logRequest } from '../observability/request-log.js';
import type { Authenticator } from './auth.js';
import { applyCors, handlePreflight } from './cors.js';
import { parseJsonBody } from './json-body.js';
import { modelAvailable } from '../routing/router.js';
import { registerAdminRoutes, type AdminDeps } from '../admin/routes.js';
import { registerPortal } from '../portal/routes.js';
import { settleRequest, type Accounting } from '../accounting/settlement.js';
import { showLimits, takeRequest } from '../api/admission.js';
import { rateLimitHeaders, budgetHeaders } from '../limits/headers.js';
import multipart from '@fastify/multipart';
import { createSpeech, createTranscription, generateImages } from '../api/media.js';
import { createVideo, findVideo, videoJobView, type VideoDeps, type VideoJobRunner } from '../api/videos.js';
import { validateImageRequest, validateSpeechRequest, validateTranscriptionFields, validateVideoRequest } from '../openai/validate.js';
import type { Store } from '../store/store.js';
import { MAX_UPLOAD_BYTES, MULTIPART_LIMITS, receiveForm } from './uploads.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { ServerConnections, type RequestDrain } from './drain.js';
import { anthropicErrorBody } from '../doors/messages/errors.js';
import { registerMessagesRoutes } from '../doors/messages/routes.js';
import { registerResponsesRoutes } from '../doors/responses/routes.js';
import type { Tracing } from '../observability/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    state: RequestState;
  }
}

export interface AppDeps {
  config: Config;
  catalog: Catalog;
  authenticator: Authenticator;
  logger: Logger;
  /** Throws when the store cannot be reached (readiness). */
  pingStore: () => Promise<void>;
  /** Limits, balances and usage records. */
  accounting: Accounting;
  /** The admin API (/admin/v1), when the gateway serves it. */
  admin?: AdminDeps;
  /** The store (video jobs) and the runner advancing video jobs. */
  store: Store;
  videoRunner: VideoJobRunner;
  /** Prometheus metrics, served on `config.metrics.path`; absent when metrics are off. */
  metrics?: GatewayMetrics;
  /** The graceful shutdown: readiness while draining, the cutoff, the count of requests in flight. */
  drain?: RequestDrain;
  /** The server's connection limits and bookkeeping; made from `config.server` when absent. */
  connections?: ServerConnections;
  /** The portal's built front end (default dist/web). */
  portalWebRoot?: string;
  /** OpenTelemetry traces of the API's requests; absent when tracing is off. */
  tracing?: Tracing;
}

/** Routes by path below the base path, for telling 405 from 404. */
const ROUTES: Record<string, string[]> = {
  '/chat/completions': ['POST'],
  '/completions': ['POST'],
  '/embeddings': ['POST'],
  '/models': ['GET'],
  '/images/generations': ['POST'],
  '/audio/speech': ['POST'],
  '/audio/transcriptions': ['POST'],
  '/videos/generations': ['POST'],
  '/messages': ['POST'],
  '/messages/count_tokens': ['POST'],
  '/responses': ['POST'],
};

function sendError(reply: FastifyReply, err: GatewayError, errors: ErrorRendering): void {
  const state = reply.request.state;
  if (state) {
    state.errorCode = err.code;
    if (err.status >= 500) state.errorMessage = errorForLog(err);
  }
  // Each door answers in its own envelope (SPEC §17): the Messages door in Anthropic's.
  const body = state?.door === 'messages' ? JSON.stringify(anthropicErrorBody(err, errors, state.id)) : errors.json(err);
  void reply.code(err.status).headers(errorHeaders(err)).type('application/json').send(body);
}

/**
 * What a door's routes need from the app (SPEC §17: each door is a translation at the edge into the one
 * pipeline): the pipeline's dependencies, the store, the config, and `serve`, which runs a pipeline with
 * settlement and the log line after it, as every /v1 route does.
 */
export interface DoorContext {
  config: Config;
  inference: InferenceDeps;
  store: Store;
  serve(request: FastifyRequest, reply: FastifyReply, pipeline: () => Promise<void>): Promise<void>;
}

/** The Messages door's routes (below the base path): errors in Anthropic's envelope, keys also in `x-api-key`. */
const MESSAGES_ROUTES = new Set(['/messages', '/messages/count_tokens']);

/** An `x-api-key` header (Anthropic's clients) as the `Authorization` header the authenticator reads. */
function apiKeyHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? `Bearer ${value}` : undefined;
}

/** Fastify's own errors (parsing, limits) as catalog errors. */
function fromFastifyError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('request_too_large', 'The request body is larger than this server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'Send the request body as JSON with "Content-Type: application/json".');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest(null, 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalidRequest(null, 'The Content-Length header does not match the body.');
    case 'FST_ERR_BAD_URL':
      return invalidRequest(null, 'The request path is not valid: it has a malformed percent-encoding.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new GatewayError('uri_too_long', 'A segment of the request path is too long.');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return invalidRequest(null, 'The request could not be read.');
  }
  return asGatewayError(err);
}

/**
 * A body refused as too large may still be arriving. Closing the connection under the upload can reach the
 * client as a reset instead of the 413 (its write fails before it has read the answer), so the rest is read
 * and dropped — up to `limit` bytes more, past which the connection is closed — on a connection that stays
 * open. A stalled upload ends at the body idle timeout.
 */
function discardRestOfBody(reply: FastifyReply, limit: number): void {
  const raw = reply.request.raw;
  if (raw.complete) return;
  if (Number(raw.headers['content-length']) > limit) {
    reply.header('connection', 'close');
    return;
  }
  // Fastify asks for a close on any body it could not parse.
  reply.removeHeader('connection');
  let discarded = 0;
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limit) raw.socket.destroy();
  });
  raw.resume();
}

function notFound(request: FastifyRequest, basePath: string, errors: ErrorRendering): GatewayError {
  const path = request.url.split('?')[0];
  if (basePath === '' || path === basePath || path.startsWith(`${basePath}/`)) {
    const below = path.slice(basePath.length);
    const unsupported = unsupportedEndpoint(below, errors.unsupportedMessages);
    if (unsupported) return unsupported;
    const methods = ROUTES[below.replace(/\/+$/, '')] ?? (below.startsWith('/models/') ? ['GET'] : undefined);
    if (methods && !methods.includes(request.method)) {
      return new GatewayError('method_not_allowed', `${request.method} is not allowed on ${path}; use ${methods.join(', ')}.`);
    }
  }
  return new GatewayError('not_found', `Unknown endpoint: ${request.method} ${path}.`);
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, catalog, authenticator, logger, accounting } = deps;
  const errors = config.errors;
  const basePath = config.server.basePath;
  const metrics = deps.metrics;
  const tracing = deps.tracing;
  const connections = deps.connections ?? new ServerConnections(config.server, logger);
  const app = Fastify({
    // No Fastify logger: it would make a child logger per request. The request line and unexpected
    // errors are logged by us, with our pino logger.
    logger: false,
    bodyLimit: config.server.bodyLimitBytes,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    ...connections.serverOptions,
    return503OnClosing: false,
    // Malformed requests Node's parser rejects (absurd headers, bad framing) and header or request
    // timeouts still get our envelope.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => connections.clientError(err, socket),
    // What the router refuses before any hook runs (a malformed percent-encoding, an over-long path parameter).
    frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.raw.setHeader('x-request-id', request.id);
      applyCors(config.server.cors, request, reply);
      sendError(reply, fromFastifyError(err), errors);
    },
  });
  connections.attach(app.server, errors);

  const drain = deps.drain;
  const inference: InferenceDeps = { catalog, heartbeatMs: config.server.heartbeatMs, accounting, shutdown: drain?.cutoff, errors, tracing };
  app.decorateRequest('state', null as unknown as RequestState);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

  /** Answered while draining, like /healthz, rather than refused: the load balancer's and the scraper's. */
  const servedWhileDraining = new Set(['/healthz', config.metrics.path]);

  app.addHook('onRequest', (request, reply, done) => {
    const state = newRequestState(request.id);
    drain?.enter();
    request.state = state;
    // A path no route takes (a wrong method) is still the door's: its 405 in the door's envelope.
    const route = request.routeOptions.url ?? request.url.split('?')[0].replace(/\/+$/, '');
    if (MESSAGES_ROUTES.has(route.slice(basePath.length))) state.door = 'messages';
    // On the raw response, so that an answer written outside Fastify (a stalled body's 408) carries it too.
    reply.raw.setHeader('x-request-id', state.id);
    applyCors(config.server.cors, request, reply);
    reply.raw.once('close', () => {
      state.closed = true;
      finishRequest(request, reply);
    });
    if (drain?.draining && !servedWhileDraining.has(request.routeOptions.url ?? '')) {
      // A request on a connection kept alive past the shutdown: refused before it is admitted or billed,
      // and the connection closed after the answer.
      reply.header('connection', 'close');
      return done(new GatewayError('shutting_down', 'The server is shutting down; retry the request.', { retryAfterMs: 1000 }));
    }
    // Node would answer a missing Host with a bare 400 of its own (RFC 9112 §3.2 asks for a 400).
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') return done(invalidRequest(null, 'The request has no Host header.'));
    done();
  });

  // Settlement and the log line wait for both the end of the response and the end of the pipeline, which
  // may still be finishing a stream the client just abandoned.
  function finishRequest(request: FastifyRequest, reply: FastifyReply): void {
    const state = request.state;
    if (!state.closed || state.busy || state.logged) return;
    state.logged = true;
    if (tracing === undefined) settleRequest(accounting, state, reply.raw.statusCode);
    else tracing.settlement(state, () => settleRequest(accounting, state, reply.raw.statusCode));
    metrics?.observeRequest(state, reply.raw.statusCode);
    logRequest(logger, state, request.method, request.url, reply.raw.statusCode, !reply.raw.writableFinished);
    if (tracing !== undefined) tracing.end(state, reply.raw.statusCode);
    drain?.leave();
  }

  /** Runs a pipeline; settlement and the log line wait until it is over as well as the response. */
  async function serve(request: FastifyRequest, reply: FastifyReply, pipeline: () => Promise<void>): Promise<void> {
    request.state.busy = true;
    try {
      await pipeline();
    } finally {
      request.state.busy = false;
      finishRequest(request, reply);
    }
  }

  function serveInference<Req extends JsonObject>(spec: InferenceEndpoint<Req>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    return serve(request, reply, () => runInference(spec, inference, request, reply));
  }

  const doors: DoorContext = { config, inference, store: deps.store, serve };

  const media: VideoDeps = { catalog, accounting, store: deps.store, runner: deps.videoRunner, shutdown: drain?.cutoff };

  async function transcribe(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const form = await receiveForm(request);
    try {
      await createTranscription(media, validateTranscriptionFields(form.fields), form.file, request, reply);
    } finally {
      await form.discard();
    }
  }

  const admin = deps.admin;
  // The portal (SPEC §14) acts through the admin operations, so it is served where the admin API is.
  const portalPages = admin && config.portal.enabled ? registerPortal(app, { ...admin, limiter: accounting.limiter, webRoot: deps.portalWebRoot }) : undefined;

  const discardLimit = 4 * Math.max(config.server.bodyLimitBytes, MAX_UPLOAD_BYTES);
  app.setErrorHandler((err, _request, reply) => {
    const gatewayError = fromFastifyError(err);
    if (gatewayError.status === 413) discardRestOfBody(reply, discardLimit);
    if (gatewayError.status >= 500 && gatewayError.errorName === 'internal_error') logger.error({ err, request_id: reply.request.id }, 'unexpected error');
    sendError(reply, gatewayError, errors);
  });
  if (portalPages === undefined) app.setNotFoundHandler((request, reply) => sendError(reply, notFound(request, basePath, errors), errors));
  else {
    // The portal's pages answer GETs no route takes (the front end routes itself); the rest stays a JSON 404.
    app.setNotFoundHandler(async (request, reply) => {
      if (!(await portalPages.serve(request, reply))) sendError(reply, notFound(request, basePath, errors), errors);
      return reply;
    });
  }

  app.options('*', (request, reply) => handlePreflight(config.server.cors, request, reply));

  app.get('/healthz', async (request, reply) => {
    if ((request.query as Record<string, string>).ready === undefined) return reply.type('application/json').send('{"status":"ok"}');
    // Shutting down: not ready, so that a load balancer stops sending new requests here.
    if (drain?.draining) return reply.code(503).send({ status: 'draining' });
    let storeOk = true;
    try {
      await deps.pingStore();
    } catch {
      storeOk = false;
    }
    const now = Date.now();
    const live = catalog.models.filter((m) => modelAvailable(m, now)).map((m) => m.id);
    const ready = storeOk && live.length > 0;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', store: storeOk ? 'ok' : 'unreachable', models: live });
  });

  if (metrics !== undefined) {
    // Unauthenticated, like /healthz: restrict it at the network if the figures are private.
    app.get(config.metrics.path, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.scrape()));
  }

  void app.register(
    async (api) => {
      api.addHook('onRequest', async (request) => {
        // Counted in the metrics from here: the API's requests, by route, not /metrics or /healthz.
        metrics?.requestStarted(request.state, request.routeOptions.url);
        if (tracing !== undefined) tracing.begin(request.state, request.method, request.routeOptions.url ?? request.url.split('?')[0], request.headers);
        if (config.server.publicModels && request.method === 'GET' && request.headers.authorization === undefined) return;
        const state = request.state;
        const authorization = request.headers.authorization ?? (state.door === 'messages' ? apiKeyHeader(request.headers['x-api-key']) : undefined);
        state.principal = await authenticator.authenticate(authorization);
        // Every authenticated request shows its limits; every POST counts as a request, valid or not.
        if (request.method === 'POST') await takeRequest(accounting, state);
        else await showLimits(accounting, state);
      });
      // One place writes the rate-limit headers, whatever the answer (a stream writes its own).
      api.addHook('onSend', (request, reply, payload, done) => {
        const snapshot = request.state.rateLimit;
        if (snapshot !== undefined) reply.headers(rateLimitHeaders(snapshot));
        if (request.state.budgetRemainingMicros !== undefined) reply.headers(budgetHeaders(request.state.budgetRemainingMicros)!);
        done(null, payload);
      });
      api.post('/chat/completions', (request, reply) => serveInference(chatCompletions, request, reply));
      api.post('/completions', (request, reply) => serveInference(completions, request, reply));
      api.post('/embeddings', (request, reply) => serveInference(embeddings, request, reply));
      api.post('/images/generations', (request, reply) => serve(request, reply, () => generateImages(media, validateImageRequest(request.body), request, reply)));
      api.post('/audio/speech', (request, reply) => serve(request, reply, () => createSpeech(media, validateSpeechRequest(request.body), request, reply)));
      api.post('/videos/generations', (request, reply) => serve(request, reply, () => createVideo(media, validateVideoRequest(request.body), basePath, request, reply)));
      api.get('/videos/generations/:id', async (request) => videoJobView(await findVideo(media, request, (request.params as { id: string }).id), basePath));
      api.get('/videos/generations/:id/content', async (request, reply) => {
        const job = await findVideo(media, request, (request.params as { id: string }).id);
        const content = job.status === 'completed' ? await deps.store.videos.content(job.id) : undefined;
        if (content === undefined) throw new GatewayError('conflict', `The video generation job "${job.id}" is ${job.status}; its video can be downloaded once it is completed.`);
        return reply.type(content.contentType).send(content.bytes);
      });
      // Multipart is read in its own scope: no other route takes a form.
      void api.register(async (forms) => {
        await forms.register(multipart, { limits: MULTIPART_LIMITS });
        forms.post('/audio/transcriptions', (request, reply) => serve(request, reply, () => transcribe(request, reply)));
      });
      // The other doors (SPEC §17), each a translation into the same pipeline.
      registerResponsesRoutes(api, doors);
      registerMessagesRoutes(api, doors);
      api.get('/models', async (request) => listModels(catalog, request.state.principal));
      api.get('/models/*', async (request) => getModel(catalog, request.state.principal, decodeURIComponent((request.params as { '*': string })['*'])));
    },
    { prefix: basePath },
  );

  if (admin) void app.register(async (scope) => registerAdminRoutes(scope, admin), { prefix: '/admin/v1' });

  return app;
}
