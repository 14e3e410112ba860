// The simulator as a standalone upstream (`floodgate simulate`): node:http with as little per-request
// work as possible, because benchmarks use it as the "direct upstream" every gateway is compared to.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimulatorSettings } from '../../config/schema.js';
import type { Endpoint, JsonObject, MediaEndpoint } from '../types.js';
import { DEFAULT_VIDEO_MS, answerMedia, type MediaAnswer, type MediaRequest } from './media-answers.js';
import type { Answer, Emission, JsonAnswer } from './answer.js';
import { SIMULATOR_OWNER, createSimulatorCore, faultErrorBody, type Fault, type SimulatorCore } from './core.js';
import { MessagesRequestError, anthropicErrorBody, anthropicFaultBody, checkMessagesHeaders } from './messages.js';
import { SimulatorRequestError, isObject } from './params.js';

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DONE = 'data: [DONE]\n\n';

export interface SimulatorServerOptions {
  host?: string;
  port?: number;
  settings: SimulatorSettings;
  /** Opt-in: answer only requests shaped like a cloud service's (its key header, query and path). */
  access?: SimulatorAccess;
}

/**
 * What a request must carry to be answered, as a cloud service would require it (`floodgate simulate
 * --base-path … --require-header … --require-query …`). A wrong or missing header is a 401, a wrong or
 * missing query parameter or a path outside `basePath` a 404 (Azure OpenAI's answers to the same).
 */
export interface SimulatorAccess {
  /** The API is served under this path instead of `/v1` (e.g. `/openai/deployments/gpt-4o`). */
  basePath?: string;
  /** Headers (names in lower case) that must carry exactly these values. */
  headers?: Record<string, string>;
  /** Query parameters that must carry exactly these values. */
  query?: Record<string, string>;
}

export interface SimulatorServer {
  /** `http://host:port`, without the `/v1` base path. */
  url: string;
  port: number;
  /** Stops listening and drops every connection, hung ones included. */
  close(): Promise<void>;
}

const POST_ROUTES: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};
/** Anthropic's Messages API, over the same generator. */
const MESSAGES_ROUTE = '/v1/messages';

/** How a stream's events are written: OpenAI's `data:` lines ending in [DONE], or Anthropic's named events. */
interface StreamWire {
  event(emission: Emission): string;
  end: string;
}

const OPENAI_WIRE: StreamWire = { event: sse, end: DONE };
const ANTHROPIC_WIRE: StreamWire = {
  event: (emission) => `event: ${emission.chunk.type as string}\ndata: ${JSON.stringify(emission.chunk)}\n\n`,
  end: '',
};

function errorBody(message: string, type: string, code: string | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, payload: string, extra?: string[]): void {
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(payload))];
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string') headers.push('x-request-id', requestId);
  if (extra !== undefined) headers.push(...extra);
  res.writeHead(status, headers);
  res.end(payload);
}

function sse(emission: Emission): string {
  return `data: ${JSON.stringify(emission.chunk)}\n\n`;
}

function sendAnswerJson(core: SimulatorCore, req: IncomingMessage, res: ServerResponse, answer: JsonAnswer): void {
  const limit = core.runtime.faults.breakAfterTokens;
  const broken = limit !== null && core.breaks(answer.pieces);
  const lastStep = broken ? Math.min(limit, answer.steps - 1) : answer.steps - 1;
  const delay = lastStep < 0 ? core.runtime.ttftMs : core.stepDueMs(lastStep);
  // A break drops the connection without a byte of answer, as a crashed backend would.
  const send = (): void => (broken ? void res.destroy() : sendJson(req, res, 200, JSON.stringify(answer.body)));
  if (delay < 1) {
    send();
    return;
  }
  const timer = setTimeout(send, delay);
  res.once('close', () => clearTimeout(timer));
}

function sendStream(core: SimulatorCore, req: IncomingMessage, res: ServerResponse, steps: Emission[][], pieces: number, wire: StreamWire): void {
  const headers = ['content-type', 'text/event-stream', 'cache-control', 'no-cache'];
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string') headers.push('x-request-id', requestId);
  res.writeHead(200, headers);
  const { ttftMs, intervalMs, faults } = core.runtime;
  if (ttftMs === 0 && intervalMs === 0 && !core.breaks(pieces)) {
    let out = '';
    for (const step of steps) for (const emission of step) out += wire.event(emission);
    res.end(out + wire.end);
    return;
  }
  // Paced: headers now, then each batch of due steps in one write; wait for 'drain' when the client
  // reads slowly, and stop as soon as it goes away.
  res.flushHeaders();
  const start = performance.now();
  const breakAfter = faults.breakAfterTokens;
  let step = 0;
  let sent = 0;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  res.once('close', () => {
    closed = true;
    if (timer !== null) clearTimeout(timer);
  });
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(pump, Math.max(0, start + core.stepDueMs(step) - performance.now()));
  };
  const pump = (): void => {
    timer = null;
    if (closed) return;
    const now = performance.now() - start;
    let out = '';
    while (step < steps.length && core.stepDueMs(step) <= now + 0.5) {
      for (const emission of steps[step]) {
        if (breakAfter !== null && sent + emission.pieces > breakAfter) {
          // The fault: what was generated reaches the client, then the connection drops mid-stream.
          if (out.length > 0) res.write(out, () => res.destroy());
          else res.destroy();
          return;
        }
        out += wire.event(emission);
        sent += emission.pieces;
      }
      step++;
    }
    if (step >= steps.length) {
      res.end(out + wire.end);
      return;
    }
    if (out.length > 0 && !res.write(out)) res.once('drain', schedule);
    else schedule();
  };
  schedule();
}

function respond(core: SimulatorCore, fault: Fault, endpoint: Endpoint, body: JsonObject, req: IncomingMessage, res: ServerResponse): void {
  if (res.destroyed) return;
  // A hang answers nothing and keeps the socket open until the client leaves (or the server closes).
  if (fault.hang) return;
  if (fault.errorStatus !== null) {
    const status = fault.errorStatus;
    const extra = status === 429 || status === 503 ? ['retry-after', '1'] : undefined;
    sendJson(req, res, status, JSON.stringify(faultErrorBody(status)), extra);
    return;
  }
  let answer: Answer;
  try {
    answer = core.answer(endpoint, body);
  } catch (err) {
    if (err instanceof SimulatorRequestError) {
      sendJson(req, res, 400, JSON.stringify(err.toBody()));
      return;
    }
    throw err;
  }
  if (answer.kind === 'json') sendAnswerJson(core, req, res, answer);
  else sendStream(core, req, res, answer.steps, answer.pieces, OPENAI_WIRE);
}

function respondMessages(core: SimulatorCore, fault: Fault, body: JsonObject, req: IncomingMessage, res: ServerResponse): void {
  if (res.destroyed) return;
  if (fault.hang) return;
  if (fault.errorStatus !== null) {
    const status = fault.errorStatus;
    const extra = status === 429 || status === 503 || status === 529 ? ['retry-after', '1'] : undefined;
    sendJson(req, res, status, JSON.stringify(anthropicFaultBody(status)), extra);
    return;
  }
  let answer: Answer;
  try {
    answer = core.answerMessages(body);
  } catch (err) {
    if (err instanceof MessagesRequestError) {
      sendJson(req, res, err.status, JSON.stringify(err.toBody()));
      return;
    }
    throw err;
  }
  if (answer.kind === 'json') sendAnswerJson(core, req, res, answer);
  else sendStream(core, req, res, answer.steps, answer.pieces, ANTHROPIC_WIRE);
}

function internalError(req: IncomingMessage, res: ServerResponse): void {
  if (!res.headersSent) sendJson(req, res, 500, errorBody('The simulator had an internal error.', 'server_error', 'internal_error'));
  else res.destroy();
}

function safeRespond(core: SimulatorCore, fault: Fault, endpoint: Endpoint, body: JsonObject, req: IncomingMessage, res: ServerResponse): void {
  try {
    respond(core, fault, endpoint, body, req, res);
  } catch {
    internalError(req, res);
  }
}

function safeRespondMessages(core: SimulatorCore, fault: Fault, body: JsonObject, req: IncomingMessage, res: ServerResponse): void {
  try {
    respondMessages(core, fault, body, req, res);
  } catch {
    if (!res.headersSent) sendJson(req, res, 500, JSON.stringify(anthropicErrorBody('api_error', 'The simulator had an internal error.')));
    else res.destroy();
  }
}

function handlePost(core: SimulatorCore, endpoint: Endpoint, text: string, req: IncomingMessage, res: ServerResponse): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    sendJson(req, res, 400, errorBody(`We could not parse the JSON body of your request: ${(err as Error).message}`, 'invalid_request_error', null));
    return;
  }
  if (!isObject(body)) {
    sendJson(req, res, 400, errorBody('The request body must be a JSON object.', 'invalid_request_error', null));
    return;
  }
  const fault = core.nextFault();
  if (fault.latencyMs < 1) {
    safeRespond(core, fault, endpoint, body, req, res);
    return;
  }
  const timer = setTimeout(() => safeRespond(core, fault, endpoint, body, req, res), fault.latencyMs);
  res.once('close', () => clearTimeout(timer));
}

function handleMessagesPost(core: SimulatorCore, text: string, req: IncomingMessage, res: ServerResponse): void {
  const refused = checkMessagesHeaders(req.headers);
  if (refused !== null) {
    sendJson(req, res, refused.status, JSON.stringify(refused.toBody()));
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    sendJson(req, res, 400, JSON.stringify(anthropicErrorBody('invalid_request_error', `There was an issue with the JSON body of your request: ${(err as Error).message}`)));
    return;
  }
  if (!isObject(body)) {
    sendJson(req, res, 400, JSON.stringify(anthropicErrorBody('invalid_request_error', 'The request body must be a JSON object.')));
    return;
  }
  const fault = core.nextFault();
  if (fault.latencyMs < 1) {
    safeRespondMessages(core, fault, body, req, res);
    return;
  }
  const timer = setTimeout(() => safeRespondMessages(core, fault, body, req, res), fault.latencyMs);
  res.once('close', () => clearTimeout(timer));
}

const MEDIA_POST_ROUTES: Record<string, MediaEndpoint> = {
  '/v1/images/generations': 'images',
  '/v1/audio/speech': 'speech',
  '/v1/audio/transcriptions': 'transcriptions',
  '/v1/videos/generations': 'video_create',
};
const VIDEO_JOB_ROUTE = /^\/v1\/videos\/generations\/([^/]+)(\/content)?$/;

function respondMedia(core: SimulatorCore, videoMs: number, fault: Fault, request: MediaRequest, req: IncomingMessage, res: ServerResponse): void {
  if (res.destroyed || fault.hang) return;
  if (fault.errorStatus !== null) {
    const status = fault.errorStatus;
    sendJson(req, res, status, JSON.stringify(faultErrorBody(status)), status === 429 || status === 503 ? ['retry-after', '1'] : undefined);
    return;
  }
  let answer: MediaAnswer;
  try {
    answer = answerMedia(request, videoMs);
  } catch (err) {
    if (err instanceof SimulatorRequestError) {
      sendJson(req, res, err.status, JSON.stringify(err.toBody()));
      return;
    }
    throw err;
  }
  const headers = ['content-type', answer.contentType, 'content-length', String(answer.body.length)];
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string') headers.push('x-request-id', requestId);
  res.writeHead(200, headers);
  res.end(answer.body);
}

/** A media request after its faults' delay: answered, or left hanging, or failed as the faults say. */
function handleMedia(core: SimulatorCore, videoMs: number, request: MediaRequest, req: IncomingMessage, res: ServerResponse): void {
  const fault = core.nextFault();
  const run = (): void => {
    try {
      respondMedia(core, videoMs, fault, request, req, res);
    } catch {
      internalError(req, res);
    }
  };
  if (fault.latencyMs < 1) return run();
  const timer = setTimeout(run, fault.latencyMs);
  res.once('close', () => clearTimeout(timer));
}

/** A media POST's body: JSON, or for transcriptions multipart/form-data (text fields and the `file`). */
async function mediaRequest(endpoint: MediaEndpoint, raw: Buffer, contentType: string): Promise<MediaRequest> {
  if (endpoint !== 'transcriptions') {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new SimulatorRequestError(null, `We could not parse the JSON body of your request: ${(err as Error).message}`);
    }
    if (!isObject(body)) throw new SimulatorRequestError(null, 'The request body must be a JSON object.');
    return { endpoint, body };
  }
  if (!contentType.startsWith('multipart/form-data')) throw new SimulatorRequestError(null, 'Send the request as multipart/form-data.');
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new SimulatorRequestError(null, 'The multipart/form-data body could not be parsed.');
  }
  const fields: Record<string, string> = {};
  let file: Buffer | undefined;
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields[name] = value;
    else if (name === 'file') file = Buffer.from(await value.arrayBuffer());
  }
  return { endpoint, fields, file };
}

const TOO_LARGE = errorBody(`The request body exceeds ${MAX_BODY_BYTES} bytes.`, 'invalid_request_error', 'request_too_large');
const MESSAGES_TOO_LARGE = JSON.stringify(anthropicErrorBody('request_too_large', `The request body exceeds ${MAX_BODY_BYTES} bytes.`));

/** Collects a POST body (up to the limit) and hands it over as bytes; a larger one is a 413. */
function readRawBody(req: IncomingMessage, res: ServerResponse, tooLarge: string, onBody: (raw: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) {
      sendJson(req, res, 413, tooLarge);
      return;
    }
    onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
}

/** The same, as text. */
function readBody(req: IncomingMessage, res: ServerResponse, tooLarge: string, onBody: (text: string) => void): void {
  readRawBody(req, res, tooLarge, (raw) => onBody(raw.toString('utf8')));
}

function listModels(core: SimulatorCore, created: number): string {
  return JSON.stringify({ object: 'list', data: core.modelNames().map((id) => ({ id, object: 'model', created, owned_by: SIMULATOR_OWNER })) });
}

/** The request's path as the routes know it (`/v1/…`), or null when `access` refused it (answered here). */
function admit(access: SimulatorAccess, req: IncomingMessage, res: ServerResponse, path: string, query: string): string | null {
  if (path === '/healthz') return path;
  for (const [name, value] of Object.entries(access.headers ?? {})) {
    const got = req.headers[name];
    if (got !== value) {
      req.resume();
      const said = typeof got === 'string' ? `Incorrect API key provided in ${name}: ${got}.` : `Missing the ${name} header.`;
      sendJson(req, res, 401, errorBody(`${said} Access denied due to invalid subscription key or wrong API endpoint.`, 'invalid_request_error', 'invalid_api_key'));
      return null;
    }
  }
  const params = new URLSearchParams(query);
  for (const [name, value] of Object.entries(access.query ?? {})) {
    if (params.get(name) !== value) {
      req.resume();
      sendJson(req, res, 404, errorBody(`Resource not found: the query parameter ${name} must be ${JSON.stringify(value)}.`, 'invalid_request_error', '404'));
      return null;
    }
  }
  const base = access.basePath?.replace(/\/+$/, '');
  if (base === undefined || base === '') return path;
  if (!path.startsWith(`${base}/`)) {
    req.resume();
    sendJson(req, res, 404, errorBody(`Resource not found: ${path} is not under ${base}/.`, 'invalid_request_error', '404'));
    return null;
  }
  return `/v1${path.slice(base.length)}`;
}

function handleRequest(core: SimulatorCore, created: number, videoMs: number, access: SimulatorAccess | undefined, req: IncomingMessage, res: ServerResponse): void {
  req.on('error', () => undefined);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (access !== undefined) {
    const admitted = admit(access, req, res, path, q === -1 ? '' : url.slice(q + 1));
    if (admitted === null) return;
    path = admitted;
  }
  const method = req.method ?? 'GET';
  const endpoint = POST_ROUTES[path];
  if (endpoint !== undefined && method === 'POST') {
    readBody(req, res, TOO_LARGE, (text) => handlePost(core, endpoint, text, req, res));
    return;
  }
  const media = MEDIA_POST_ROUTES[path];
  if (media !== undefined && method === 'POST') {
    readRawBody(req, res, TOO_LARGE, (raw) => {
      mediaRequest(media, raw, String(req.headers['content-type'] ?? '')).then(
        (request) => handleMedia(core, videoMs, request, req, res),
        (err: unknown) => {
          if (err instanceof SimulatorRequestError) sendJson(req, res, err.status, JSON.stringify(err.toBody()));
          else internalError(req, res);
        },
      );
    });
    return;
  }
  const job = method === 'GET' ? VIDEO_JOB_ROUTE.exec(path) : null;
  if (job !== null) {
    req.resume();
    handleMedia(core, videoMs, { endpoint: job[2] ? 'video_content' : 'video_get', jobId: decodeURIComponent(job[1]) }, req, res);
    return;
  }
  if (path === MESSAGES_ROUTE && method === 'POST') {
    readBody(req, res, MESSAGES_TOO_LARGE, (text) => handleMessagesPost(core, text, req, res));
    return;
  }
  req.resume();
  if (method === 'GET' && path === '/healthz') {
    sendJson(req, res, 200, '{"status":"ok"}');
  } else if (method === 'GET' && path === '/v1/models') {
    sendJson(req, res, 200, listModels(core, created));
  } else if (method === 'GET' && path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) {
    let id: string;
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length));
    } catch {
      id = path.slice('/v1/models/'.length);
    }
    sendJson(req, res, 200, JSON.stringify({ id, object: 'model', created, owned_by: SIMULATOR_OWNER }));
  } else if (endpoint !== undefined || media !== undefined || path === MESSAGES_ROUTE || path === '/healthz' || path === '/v1/models') {
    sendJson(req, res, 405, errorBody(`Method ${method} is not allowed on ${path}.`, 'invalid_request_error', 'method_not_allowed'));
  } else {
    const known =
      'POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, POST /v1/messages, POST /v1/images/generations, POST /v1/audio/speech, ' +
      'POST /v1/audio/transcriptions, POST /v1/videos/generations, GET /v1/videos/generations/{id}[/content], GET /v1/models, GET /healthz';
    sendJson(req, res, 404, errorBody(`Unknown request URL: ${method} ${path}. The simulator serves ${known}.`, 'invalid_request_error', 'unknown_url'));
  }
}

export async function startSimulatorServer(opts: SimulatorServerOptions): Promise<SimulatorServer> {
  const core = createSimulatorCore(opts.settings);
  const created = Math.floor(Date.now() / 1000);
  const host = opts.host ?? '127.0.0.1';
  const videoMs = opts.settings.video_ms ?? DEFAULT_VIDEO_MS;
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => handleRequest(core, created, videoMs, opts.access, req, res));
  // Load generators and gateways keep connections open between requests: do not drop them early.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
