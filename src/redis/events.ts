// Changes every instance must apply at once (SPEC §11): a key or account disabled, limits or allow-lists
// changed, a deployment's circuit breaker opened or closed. The instance that made the change publishes
// on `<prefix>events`; every instance (itself included) drops its cached identities or follows the
// breaker. Balances need no message: they live in Redis itself. Without the broadcast the key cache
// (≤ 1 s) still bounds how long another instance can honour a disabled key.
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { RedisConnection } from './connection.js';

export type ClusterEvent =
  | { type: 'identities' }
  /** A deployment's circuit breaker opened (for `openMs`) or closed on one instance's own outcomes. */
  | { type: 'breaker'; deployment: string; state: 'open' | 'closed'; openMs: number };

export interface ClusterEvents {
  publish(event: ClusterEvent): void;
  close(): Promise<void>;
}

export function clusterEvents(redis: RedisConnection, logger: Logger, handle: (event: ClusterEvent) => void): ClusterEvents {
  const channel = `${redis.prefix}events`;
  const sub: Redis = redis.subscriber();
  // Subscribed on every (re)connection: an instance that started while Redis was away hears the others
  // as soon as it is back (SUBSCRIBE to a channel already subscribed changes nothing).
  const subscribe = (): void =>
    void sub.subscribe(channel).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis subscribe failed; tried again on reconnect'));
  subscribe();
  sub.on('ready', subscribe);
  sub.on('message', (from: string, text: string) => {
    if (from !== channel) return;
    let event: ClusterEvent;
    try {
      event = JSON.parse(text) as ClusterEvent;
    } catch {
      return;
    }
    handle(event);
  });
  return {
    publish(event) {
      redis.client.publish(channel, JSON.stringify(event)).catch((err: unknown) => {
        // The other instances' key caches expire within key_cache_ms anyway.
        logger.warn({ err: err instanceof Error ? err.message : String(err), event: event.type }, 'redis publish failed');
      });
    },
    async close() {
      sub.removeAllListeners('message');
    },
  };
}
