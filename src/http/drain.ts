// Graceful close of the HTTP server (SPEC §12): once closing, a keep-alive connection is ended as soon as
// it has no request in progress. Node's server.close() ends only the connections idle at that instant; one
// busy then would otherwise linger, idle, until its keep-alive timeout (65 s), and hold the shutdown. And
// what the pipeline sees of a shutdown: readiness turns 503, and a cutoff signal ends what outlives the grace.
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SharedAbort } from '../providers/call-signal.js';
import { GatewayError } from '../openai/errors.js';
import type { Logger } from '../observability/logger.js';

/** How long an ended connection may take to close before it is destroyed. */
const END_GRACE_MS = 1000;

export interface ConnectionDrain {
  /** From now on, end every connection that is or becomes idle. */
  begin(): void;
  /** Connections open now. */
  readonly connections: number;
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

export function trackConnections(server: Server): ConnectionDrain {
  const active = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.once('close', () => active.delete(socket));
  });
  const responding = new Set<ServerResponse>();
  server.on('request', (req, res: ServerResponse) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    responding.add(res);
    // Tell the client not to send another request on this connection.
    if (closing) res.shouldKeepAlive = false;
    res.once('close', () => {
      responding.delete(res);
      const left = (active.get(socket) ?? 1) - 1;
      active.set(socket, left);
      if (closing && left === 0) endSoon(socket);
    });
  });
  return {
    begin() {
      closing = true;
      for (const res of responding) if (!res.headersSent) res.shouldKeepAlive = false;
      for (const [socket, n] of active) if (n === 0) endSoon(socket);
    },
    get connections() {
      return active.size;
    },
  };
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
