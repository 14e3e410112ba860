// The server's connections (SPEC §16, §12). What keeps slow or idle clients from holding the server: a
// time limit on a request's headers and on the whole request as it arrives, a limit on how long a request body
// may stall, and a cap on open connections — each connection dropped for them counted and logged. And the
// graceful close: once closing, a keep-alive connection is ended as soon as it has no request in progress.
// Node's server.close() ends only the connections idle at that instant; one busy then would otherwise
// linger, idle, until its keep-alive timeout, and hold the shutdown. And what the pipeline sees of a
// shutdown: readiness turns 503, and a cutoff signal ends what outlives the grace.
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SharedAbort } from '../providers/call-signal.js';
import { CATALOG_RENDERING, GatewayError, type ErrorRendering } from '../openai/errors.js';
import { requestIdFrom } from '../openai/ids.js';
import type { Logger } from '../observability/logger.js';

/** How long an ended connection may take to close before it is destroyed. */
const END_GRACE_MS = 1000;
/**
 * While closing, how long a connection whose last response has just ended stays open before it is ended. A
 * client that sends its next request the moment it has read a response would otherwise race our FIN, and the
 * request would arrive on a connection that can no longer answer; within this time it gets a clean 503.
 */
const LINGER_MS = 500;
/** A kind of dropped connection is logged at most this often (with the count since the last line). */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Why the server closed a client's connection on its own. */
export type DropReason = 'max_connections' | 'headers_timeout' | 'request_timeout' | 'body_idle_timeout';

export interface ConnectionLimits {
  /** From a request's first byte to the end of its headers. */
  headersTimeoutMs: number;
  /** From a request's first byte to the end of its body; 0 for none. Never limits the response. */
  requestTimeoutMs: number;
  /** How long a request body may stop arriving. */
  bodyIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Open connections at once; 0 for no cap. */
  maxConnections: number;
}

export interface ConnectionDrain {
  /** From now on, end every connection that is or becomes idle. */
  begin(): void;
  /** Connections open now. */
  readonly connections: number;
}

interface SocketState {
  /** Responses started on this connection and not closed yet. */
  responses: number;
  /** The latest request on this connection (its headers are in), and its response. */
  request: IncomingMessage | undefined;
  response: ServerResponse | undefined;
}

/** An error answered on the bare socket, when there is no request to answer through: then the socket ends. */
function answerOnSocket(socket: Socket, err: GatewayError, requestId: string, errors: ErrorRendering): void {
  const body = errors.json(err);
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\nx-request-id: ${requestId}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}

/** What Node's HTTP parser refused, as our envelope. */
function parserError(err: NodeJS.ErrnoException): GatewayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new GatewayError('headers_too_large', 'The request headers are too large.');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new GatewayError('request_timeout', 'The request headers took too long to arrive.');
  return new GatewayError('invalid_request', 'The request could not be parsed as HTTP.');
}

/**
 * The limits and the bookkeeping of one HTTP server's connections. Node enforces the header and request
 * timeouts (checked every `connectionsCheckingInterval`, 30 s unless set: far too coarse for a 10 s limit)
 * and reports them as a client error; the body-idle limit is the socket's idle timeout, acted on only while a
 * request body is still arriving or the connection is idle — never while a response is being prepared or
 * written, however long a backend takes.
 */
export class ServerConnections implements ConnectionDrain {
  private readonly sockets = new Map<Socket, SocketState>();
  private readonly responding = new Set<ServerResponse>();
  private closing = false;
  private readonly dropLog = new Map<DropReason, { at: number; unlogged: number }>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly onDrop?: (reason: DropReason) => void,
  ) {}

  /** Fastify's server options that carry the limits. */
  get serverOptions() {
    const { headersTimeoutMs, requestTimeoutMs, bodyIdleTimeoutMs, keepAliveTimeoutMs } = this.limits;
    const shortest = requestTimeoutMs > 0 ? Math.min(headersTimeoutMs, requestTimeoutMs) : headersTimeoutMs;
    return {
      keepAliveTimeout: keepAliveTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // The socket's idle timeout: see `idle`.
      connectionTimeout: bodyIdleTimeoutMs,
      http: {
        headersTimeout: headersTimeoutMs,
        // A limit is enforced within a quarter of itself (and at most a second) of running out.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(shortest / 4))),
        // Node would answer a missing Host itself, outside the envelope; the app does instead.
        requireHostHeader: false,
      },
    };
  }

  /** The operator's wording of errors, set when the app attaches (errors answered here bypass the app). */
  private errors: ErrorRendering = CATALOG_RENDERING;

  attach(server: Server, errors: ErrorRendering = CATALOG_RENDERING): void {
    this.errors = errors;
    if (this.limits.maxConnections > 0) server.maxConnections = this.limits.maxConnections;
    // Node closes a connection over the cap as it arrives, without a word: this is the only trace of it.
    server.on('drop', () => this.dropped('max_connections'));
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { responses: 0, request: undefined, response: undefined });
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Before the app's own listener, which may answer at once.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.arrived(req, res));
    server.on('timeout', (socket: Socket) => this.idle(socket));
    // An `Expect` other than 100-continue would be a bare 417 from Node; it is ignored (RFC 9110 allows it).
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
    // Without a listener Node destroys a CONNECT's socket unanswered.
    server.on('connect', (req: IncomingMessage, socket: Socket) =>
      answerOnSocket(socket, new GatewayError('method_not_allowed', 'CONNECT is not allowed: this server is not a proxy.'), requestIdFrom(req.headers['x-request-id']), this.errors),
    );
  }

  /** Node's parser refused what the client sent, or a header or request timeout ran out (Fastify's `clientErrorHandler`). */
  clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const state = this.sockets.get(socket);
    const arriving = state?.request !== undefined && !state.request.complete ? state : undefined;
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) this.dropped(arriving ? 'request_timeout' : 'headers_timeout');
    if (!socket.writable) return void socket.destroy();
    // A request whose body was arriving is answered through its own response (which carries its id).
    if (arriving) return this.refuse(arriving.request!, arriving.response!, timedOut ? this.timeoutError('request_timeout') : parserError(err));
    // A response under way on this connection cannot be interrupted by another one.
    if (state !== undefined && state.responses > 0) return void socket.destroy();
    answerOnSocket(socket, parserError(err), requestIdFrom(undefined), this.errors);
  }

  private arrived(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    let state = this.sockets.get(socket);
    if (state === undefined) {
      state = { responses: 0, request: undefined, response: undefined };
      this.sockets.set(socket, state);
    }
    const own = state;
    own.responses++;
    own.request = req;
    own.response = res;
    this.responding.add(res);
    // Tell the client not to send another request on this connection.
    if (this.closing) res.shouldKeepAlive = false;
    // Emitted by Node when the socket has been idle for body_idle_timeout_ms while this body is incomplete.
    if (!req.complete) req.once('timeout', () => this.stalled(req, res));
    res.once('close', () => {
      this.responding.delete(res);
      own.responses--;
      // Not kept past its answer on a kept-alive connection, unless its body is still arriving (see `idle`).
      if (own.request === req && req.complete) {
        own.request = undefined;
        own.response = undefined;
      }
      if (this.closing && own.responses === 0) {
        setTimeout(() => {
          if (own.responses === 0) endSoon(socket);
        }, LINGER_MS).unref();
      }
    });
  }

  private timeoutError(reason: 'request_timeout' | 'body_idle_timeout'): GatewayError {
    const seconds = Math.round((reason === 'request_timeout' ? this.limits.requestTimeoutMs : this.limits.bodyIdleTimeoutMs) / 1000);
    return new GatewayError('request_timeout', reason === 'request_timeout' ? `The request took longer than ${seconds} s to arrive.` : `The request body stopped arriving for ${seconds} s.`);
  }

  /** A request stopped arriving: a 408 if nothing has been answered yet, and the connection is closed. */
  private stalled(req: IncomingMessage, res: ServerResponse): void {
    this.dropped('body_idle_timeout');
    this.refuse(req, res, this.timeoutError('body_idle_timeout'));
  }

  /** Answers a request that cannot be read to its end with `err`, and closes its connection. */
  private refuse(req: IncomingMessage, res: ServerResponse, err: GatewayError): void {
    const socket = req.socket;
    if (res.headersSent || res.writableEnded) return void socket.destroy();
    const body = this.errors.json(err);
    // The app set x-request-id on the response when the request arrived.
    res.writeHead(err.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  /**
   * The socket has been idle for body_idle_timeout_ms (or its keep-alive timeout ran out). A response being
   * prepared is the server's wait, not the client's: it is left alone. Otherwise the connection is closed, as
   * Node would without this listener; a body left unfinished after its answer counts as a stall.
   */
  private idle(socket: Socket): void {
    const state = this.sockets.get(socket);
    // Already dealt with by the request's own timeout listener (`stalled`).
    if (socket.destroyed || (state !== undefined && state.responses > 0)) return;
    if (state?.request !== undefined && !state.request.complete) this.dropped('body_idle_timeout');
    socket.destroy();
  }

  /** Counts a dropped connection; logs the first of a kind at once, then a line per kind every 10 s at most. */
  dropped(reason: DropReason): void {
    this.onDrop?.(reason);
    const now = performance.now();
    const last = this.dropLog.get(reason);
    if (last !== undefined && now - last.at < DROP_LOG_INTERVAL_MS) {
      last.unlogged++;
      return;
    }
    this.dropLog.set(reason, { at: now, unlogged: 0 });
    this.logger.warn({ reason, dropped: (last?.unlogged ?? 0) + 1 }, 'connections dropped');
  }

  begin(): void {
    this.closing = true;
    for (const res of this.responding) if (!res.headersSent) res.shouldKeepAlive = false;
    for (const [socket, state] of this.sockets) if (state.responses === 0) endSoon(socket);
  }

  get connections(): number {
    return this.sockets.size;
  }
}

/**
 * A graceful shutdown as the request pipeline sees it. `draining` is set when it begins (readiness answers
 * 503, so a load balancer stops sending); `cutoff` is aborted when the grace period is over, and every
 * inference request links it into its client signal, so whatever still runs ends as a backend failure would
 * (a 503 before the first byte, an SSE error event after it; usage settled for what was delivered). The
 * requests are counted from arrival until they have settled, for the shutdown to wait on.
 */
export class RequestDrain {
  draining = false;
  readonly cutoff = new SharedAbort();
  /** Requests settled since start. */
  settled = 0;
  private pending = 0;
  private waiting: (() => void)[] = [];

  /** Requests that arrived and have not settled yet. */
  get inFlight(): number {
    return this.pending;
  }

  enter(): void {
    this.pending++;
  }

  /** The request has settled (usage queued, limits released, logged). */
  leave(): void {
    this.pending--;
    this.settled++;
    if (this.pending === 0) for (const resolve of this.waiting.splice(0)) resolve();
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Ends every request still running: the grace period is over. */
  cut(): void {
    this.cutoff.abort(new GatewayError('shutting_down', 'The server is shutting down; retry the request.', { retryAfterMs: 1000 }));
  }
}

function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}

/**
 * A graceful shutdown of the HTTP side (SPEC §12): readiness turns 503 and the server stops accepting at
 * once (`closeServer`); requests in flight and streams run on for up to `graceMs`, then are cut
 * (`RequestDrain.cut`), and whatever is still connected a moment later is dropped. Resolves when every
 * request has settled, so that the usage writer can be flushed and closed after it. One log line at the
 * start and one at the end, with the counts.
 */
export async function drainServer(
  server: Server,
  closeServer: () => Promise<unknown>,
  requests: RequestDrain,
  connections: ConnectionDrain,
  graceMs: number,
  logger: Logger,
): Promise<void> {
  const began = performance.now();
  const settledBefore = requests.settled;
  requests.draining = true;
  connections.begin();
  logger.info({ in_flight: requests.inFlight, connections: connections.connections, grace_ms: graceMs }, 'shutdown: draining');
  let cut = 0;
  const timers: NodeJS.Timeout[] = [];
  // These timers hold the event loop: the drain must finish (and the usage writer flush) before the exit.
  const gaveUp = new Promise<boolean>((resolve) => {
    timers.push(
      setTimeout(() => {
        cut = requests.inFlight;
        if (cut > 0) logger.warn({ in_flight: cut, grace_ms: graceMs }, 'shutdown: grace period over, cutting the requests still running');
        requests.cut();
        // What the cutoff cannot end at once (a client that does not read, a media transfer) is dropped.
        timers.push(setTimeout(() => server.closeAllConnections(), END_GRACE_MS));
        timers.push(setTimeout(() => resolve(true), 2 * END_GRACE_MS));
      }, graceMs),
    );
  });
  let unsettled = 0;
  try {
    await closeServer();
    if (await Promise.race([requests.idle().then(() => false), gaveUp])) unsettled = requests.inFlight;
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  const line = { finished: requests.settled - settledBefore, cut, ms: Math.round(performance.now() - began) };
  if (unsettled > 0) logger.error({ ...line, unsettled }, 'shutdown: drained, but some requests never settled');
  else logger.info(line, 'shutdown: drained');
}
