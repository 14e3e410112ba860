// `floodgate serve --workers N` (SPEC §11): N gateway processes on one machine behind one port. The primary
// prepares the store once (migrations, first-start credentials printed once), forks the workers — each
// runs the gateway on the same port, which node:cluster shares — restarts a worker that dies, with a
// backoff, and on SIGTERM / SIGINT has every worker drain as a single process does, exiting when all have.
import type { ChildProcess } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/load.js';
import { bootstrapStore, resolvePepper } from '../auth/bootstrap.js';
import { startGateway } from '../gateway.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { openStore } from '../store/database.js';
import { serveClusterMetrics } from '../metrics/cluster.js';
import { closeOnSignals, type SignalShutdown } from './shutdown.js';

/** What the primary tells a worker: drain and exit (a first signal), or exit now (a second). */
interface ToWorker {
  floodgate: 'shutdown' | 'force';
}

/** What a worker tells the primary: it is serving. */
interface FromWorker {
  floodgate: 'ready';
  url: string;
}

/** A restarted worker waits this long, doubling with each failure in a row… */
const RESTART_BACKOFF_MS = 1000;
/** …up to this. */
const MAX_RESTART_BACKOFF_MS = 30_000;
/** A worker that served this long before it died starts its slot's backoff over. */
const STABLE_MS = 30_000;
/** After a second signal, a worker still alive this long is killed. */
const FORCE_KILL_MS = 3000;

/** `--workers`: a count ≥ 1, or `auto` / `0` for one per CPU (os.availableParallelism()). */
export function parseWorkers(value: string): number {
  if (value === 'auto' || value === '0') return availableParallelism();
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer, 0 or "auto" (one per CPU).');
  return n;
}

function isMessage<T extends { floodgate: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as T).floodgate === 'string';
}

/** In a worker: runs the gateway, drains on the primary's word (or its own signal), reports when serving. */
export async function runWorker(config: Config): Promise<void> {
  const drain: { shutdown?: SignalShutdown; asked: boolean } = { asked: false };
  // Listening from the start: a shutdown asked while the gateway is still starting is not lost.
  process.on('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message)) return;
    if (message.floodgate === 'force') process.exit(1);
    if (drain.shutdown) drain.shutdown.begin();
    else drain.asked = true;
  });
  const logger = createLogger(config.logging.level).child({ pid: process.pid, worker: cluster.worker?.id });
  // Its /metrics answers for every worker, merged by the primary.
  const gateway = await startGateway(config, { logger, clusterMetrics: true }).catch((err: unknown) => {
    // The IPC channel would keep this process alive: exit, and let the primary see it.
    process.stderr.write(`error: worker ${process.pid} could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  drain.shutdown = closeOnSignals(() => gateway.close());
  const ready: FromWorker = { floodgate: 'ready', url: gateway.url };
  process.send?.(ready);
  if (drain.asked) drain.shutdown.begin();
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** performance.now() when its worker became ready. */
  readyAt: number | undefined;
  /** Deaths in a row without a stable run in between. */
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

function sendTo(worker: Worker, message: ToWorker): void {
  try {
    if (worker.isConnected()) worker.send(message);
  } catch {
    // It is exiting already.
  }
}

/** node:cluster's round-robin handoff of one accepted connection to a worker (lib/internal/cluster). */
interface ClusterHandoff {
  cmd: 'NODE_CLUSTER';
  act: 'newconn';
  seq: number;
}

interface ClosableHandle {
  close(): void;
}

function isHandoff(message: unknown): message is ClusterHandoff {
  const m = message as Partial<ClusterHandoff> | null;
  return typeof m === 'object' && m !== null && m.cmd === 'NODE_CLUSTER' && m.act === 'newconn' && typeof m.seq === 'number';
}

function isClosable(handle: unknown): handle is ClosableHandle {
  return typeof handle === 'object' && handle !== null && typeof (handle as Partial<ClosableHandle>).close === 'function';
}

/** A handoff the primary made that no worker has acknowledged yet. */
interface Unacknowledged {
  handoff: ClusterHandoff;
  handle: ClosableHandle;
  /** Workers this connection was handed to already (by Node, then by the guard). */
  tried: Set<Worker>;
}

/**
 * Keeps a worker's death from stranding a connection. The cluster's primary accepts every connection and
 * sends its handle to a worker, closing its own copy only when that worker acknowledges it; a worker that
 * dies first — killed, or exiting with the handoff still unread in its channel — never does, and Node
 * keeps that connection open forever with nobody to serve it (the client waits, and no server timeout
 * runs on a socket no server holds). Node stops handing connections to a worker at its 'disconnect'; the
 * guard then hands the ones it left unacknowledged to another serving worker, and closes them when none
 * is left (a client sees a close, never a hang). Its own handoffs carry negative sequence numbers, which
 * Node never uses: the acknowledgement is the guard's to act on (close the primary's copy once accepted,
 * try the next worker when refused), not Node's, whose listening handle may be gone by then (Node keeps
 * its never-called callback for the lost handoff: a few bytes per death). If Node's internal handoff ever
 * changes shape, nothing is matched and nothing changes.
 */
export class HandoffGuard {
  private readonly unacknowledged = new Map<Worker, Map<number, Unacknowledged>>();
  private nextSeq = -1;

  /** `serving`: the workers whose server is listening (only they can take a connection). */
  constructor(private readonly serving: () => Worker[]) {}

  watch(worker: Worker): void {
    const pending = new Map<number, Unacknowledged>();
    this.unacknowledged.set(worker, pending);
    const child: ChildProcess = worker.process;
    const send = child.send.bind(child) as (...args: unknown[]) => boolean;
    child.send = ((...args: unknown[]) => {
      const [message, handle] = args;
      if (isHandoff(message) && message.seq >= 0 && isClosable(handle)) pending.set(message.seq, { handoff: message, handle, tried: new Set([worker]) });
      return send(...args);
    }) as ChildProcess['send'];
    child.on('internalMessage', (message: unknown) => {
      const reply = message as { cmd?: unknown; ack?: unknown; accepted?: unknown } | null;
      if (reply?.cmd !== 'NODE_CLUSTER' || typeof reply.ack !== 'number') return;
      const entry = pending.get(reply.ack);
      if (entry === undefined) return;
      pending.delete(reply.ack);
      // Node's own handoffs are Node's to settle; the guard's are its own.
      if (reply.ack >= 0) return;
      if (reply.accepted === true) entry.handle.close();
      else this.rehand(entry);
    });
    const lost = (): void => {
      this.unacknowledged.delete(worker);
      const entries = [...pending.values()];
      pending.clear();
      for (const entry of entries) this.rehand(entry);
    };
    worker.once('disconnect', lost);
    worker.once('exit', lost);
  }

  private rehand(entry: Unacknowledged): void {
    const candidates = this.serving().filter((w) => !entry.tried.has(w) && w.isConnected() && this.unacknowledged.has(w));
    const target = candidates[Math.floor(Math.random() * candidates.length)];
    if (target === undefined) {
      entry.handle.close();
      return;
    }
    const seq = this.nextSeq--;
    entry.tried.add(target);
    const pending = this.unacknowledged.get(target)!;
    pending.set(seq, entry);
    const failed = (): void => {
      pending.delete(seq);
      entry.handle.close();
    };
    try {
      target.process.send({ ...entry.handoff, seq }, entry.handle as Parameters<ChildProcess['send']>[1], (err: Error | null) => {
        if (err) failed();
      });
    } catch {
      failed();
    }
  }
}

/**
 * In the primary: prepares the store, forks `count` workers and supervises them. Shared limits are a must
 * (each worker would otherwise admit the whole limit): the config needs `redis.url`.
 */
export async function runPrimary(config: Config, count: number): Promise<void> {
  if (config.redis === null) {
    throw new Error(
      `--workers ${count} needs limits shared between the workers: set redis.url in the config (${config.source}); without Redis, run one process (--workers 1).`,
    );
  }
  const logger: Logger = createLogger(config.logging.level).child({ pid: process.pid, role: 'primary' });
  // Migrations and the first start run here, once: the workers find the store ready and print nothing.
  const store = await openStore({ url: config.storeUrl, poolSize: 1 });
  let firstStart: Awaited<ReturnType<typeof bootstrapStore>>;
  try {
    firstStart = await bootstrapStore(store, config, resolvePepper(config), (message) => logger.warn(message));
  } finally {
    await store.close();
  }
  const credentials: string[] = [];
  if (firstStart.apiKey) credentials.push(`API key: ${firstStart.apiKey}`);
  if (firstStart.adminToken) credentials.push(`Admin token: ${firstStart.adminToken}`);
  if (credentials.length > 0) process.stdout.write(`${credentials.join('\n')}\n`);

  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, readyAt: undefined, failures: 0, restart: undefined }));
  const bySlot = new Map<Worker, Slot>();
  let announced = false;
  let stopping = false;
  let unclean = false;

  const exit = (code: number): void => {
    logger.flush();
    process.exit(code);
  };

  const fork = (slot: Slot): void => {
    slot.restart = undefined;
    slot.readyAt = undefined;
    const worker = cluster.fork();
    handoffs.watch(worker);
    // A send into a channel that has just closed is an 'error' on the worker: not a reason for the primary to crash.
    worker.on('error', (err: Error) => logger.warn({ err, worker_pid: worker.process.pid }, 'worker channel error'));
    slot.worker = worker;
    bySlot.set(worker, slot);
    worker.on('message', (message: unknown) => {
      if (!isMessage<FromWorker>(message) || message.floodgate !== 'ready') return;
      slot.readyAt = performance.now();
      if (stopping) sendTo(worker, { floodgate: 'shutdown' });
      if (!announced && slots.every((s) => s.readyAt !== undefined)) {
        announced = true;
        const portal = config.portal.enabled ? `Portal: ${message.url}${config.portal.path}\n` : '';
        process.stdout.write(`${portal}Floodgate listening on ${message.url}${config.server.basePath} (config: ${config.source}; ${count} workers)\n`);
      }
    });
  };

  const live = (): Worker[] => slots.flatMap((s) => (s.worker ? [s.worker] : []));
  const handoffs = new HandoffGuard(() => slots.flatMap((s) => (s.worker && s.readyAt !== undefined ? [s.worker] : [])));

  const stop = (): void => {
    stopping = true;
    for (const slot of slots) clearTimeout(slot.restart);
    const workers = live();
    logger.info({ workers: workers.length }, 'shutdown: asking every worker to drain');
    if (workers.length === 0) exit(unclean ? 1 : 0);
    for (const worker of workers) sendTo(worker, { floodgate: 'shutdown' });
  };

  const force = (): void => {
    process.stderr.write('second signal: workers exit without finishing the drain\n');
    unclean = true;
    for (const worker of live()) {
      sendTo(worker, { floodgate: 'force' });
      setTimeout(() => worker.process.kill('SIGKILL'), FORCE_KILL_MS).unref();
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = bySlot.get(worker);
    if (slot === undefined) return;
    bySlot.delete(worker);
    slot.worker = undefined;
    if (stopping) {
      if (code !== 0) unclean = true;
      if (live().length === 0) {
        logger.info({ clean: !unclean }, 'shutdown: every worker has exited');
        exit(unclean ? 1 : 0);
      }
      return;
    }
    if (!announced) {
      // A worker that cannot start at all (port taken, store or Redis unreachable) will not do better on a
      // retry loop: stop, as a single process would.
      process.stderr.write(`error: worker ${worker.process.pid} exited while starting (${signal ?? `code ${code}`}); stopping\n`);
      unclean = true;
      stop();
      return;
    }
    const ranMs = slot.readyAt === undefined ? 0 : performance.now() - slot.readyAt;
    slot.failures = ranMs >= STABLE_MS ? 1 : slot.failures + 1;
    const delay = Math.min(MAX_RESTART_BACKOFF_MS, RESTART_BACKOFF_MS * 2 ** (slot.failures - 1));
    logger.error({ worker_pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'worker exited unexpectedly; restarting it');
    slot.restart = setTimeout(() => fork(slot), delay);
  });

  // A scrape reaches one worker, which asks the primary for every worker's metrics.
  if (config.metrics.enabled) serveClusterMetrics();
  process.on('SIGTERM', () => (stopping ? force() : stop()));
  process.on('SIGINT', () => (stopping ? force() : stop()));
  for (const slot of slots) fork(slot);
}
