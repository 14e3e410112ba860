// The Redis connection of a scale-out deployment (SPEC §11): limits, concurrency leases, balance
// reservations and the event channel. Commands never wait for a connection: while Redis is unreachable
// they fail at once (no offline queue) or after `command_timeout_ms`, and each caller applies its
// failure policy. The client reconnects by itself; outages and recoveries are logged once each. On every
// (re)connection the holders of leases write back what this instance still holds (Redis may have lost it,
// or let it expire), and admissions wait for that: a count that misses running requests admits too many.
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { redactUrl } from '../observability/redact.js';

export interface RedisConnection {
  client: Redis;
  /** Every key and channel starts with this. */
  prefix: string;
  config: RedisConfig;
  /** A second connection for subscriptions (a subscribed connection runs no other command). */
  subscriber(): Redis;
  /** Resolves once connected (or rejects after `timeoutMs`). */
  ready(timeoutMs: number): Promise<void>;
  /** Run on every connection, before admissions go out on it: re-registers what this instance holds. */
  onConnect(task: () => Promise<void>): void;
  /** While a connection's tasks run (or it is being set up): settles when they are done. Admissions wait on it. */
  readonly recovering: Promise<void> | undefined;
  close(): Promise<void>;
}

/**
 * Sent at once, not auto-pipelined: the batch of scripts (redis/batch.ts), which has already waited for
 * the turn's other requests (waiting a turn more cost a sequential request ~130 µs per call, measured).
 */
export const ADMISSION_COMMANDS = ['floodgateBatch'] as const;

/** Waits between reconnection attempts: quick at first, then every 2 s. */
function retryDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

function createClient(config: RedisConfig, logger: Logger, role: string, overrides: Partial<RedisOptions> = {}): Redis {
  const client = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: Math.max(config.commandTimeoutMs, 1000),
    maxRetriesPerRequest: 0,
    retryStrategy: retryDelay,
    // What a request does after its response (give back its slot, settle its reservation) and the
    // renewals go out batched, one write per tick; the admission scripts a request waits on go at once
    // (batching them to the next tick cost a sequential request ~130 µs per call, measured).
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [...ADMISSION_COMMANDS],
    ...overrides,
  });
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn({ redis: redactUrl(config.url), role, err: err.message }, 'redis unreachable: limits follow their failure policy until it is back');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ redis: redactUrl(config.url), role }, 'redis reachable again: limits are global again');
  });
  return client;
}

export function openRedis(config: RedisConfig, logger: Logger): RedisConnection {
  const client = createClient(config, logger, 'commands');
  const subscribers: Redis[] = [];
  const tasks: (() => Promise<void>)[] = [];
  // Opened when the socket connects, before the ready check: status turns 'ready' (and commands can go)
  // a tick before the 'ready' event, and an admission in that tick must wait for the tasks too.
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const openGate = (): void => {
    const g = gate;
    gate = undefined;
    g?.open();
  };
  client.on('connect', () => {
    if (gate !== undefined) return;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    const g = { promise, open };
    gate = g;
    // A server that accepts the socket but never answers the ready check must not hold admissions: they
    // go their failure policy's way after as long as a connection attempt and a command may take.
    setTimeout(() => {
      if (gate === g) openGate();
    }, Math.max(config.commandTimeoutMs, 1000) + config.commandTimeoutMs).unref();
  });
  client.on('ready', () => {
    const g = gate;
    // Each task reports its own failures (and retries on its next round); the gate opens regardless.
    void Promise.allSettled(tasks.map(async (task) => task())).then(() => {
      if (gate === g) openGate();
    });
  });
  client.on('close', openGate); // admissions fall back to their failure policies
  client.connect().catch(() => undefined); // the error handler logs; the client keeps retrying
  return {
    client,
    prefix: config.keyPrefix,
    config,
    onConnect(task) {
      tasks.push(task);
    },
    get recovering() {
      return gate?.promise;
    },
    subscriber() {
      // A subscriber's SUBSCRIBE waits for the connection, however long Redis is away.
      const sub = createClient(config, logger, 'events', { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
      sub.connect().catch(() => undefined);
      subscribers.push(sub);
      return sub;
    },
    ready(timeoutMs) {
      if (client.status === 'ready') return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          reject(new Error(`redis at ${redactUrl(config.url)} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve();
        };
        client.once('ready', onReady);
      });
    },
    async close() {
      for (const c of [client, ...subscribers]) {
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }
    },
  };
}

/** A Redis call that failed because Redis is unreachable or slow (not a script bug). */
export function redisErrorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
