// What a gateway instance shares with the others through Redis (SPEC §11): the limiter, the balance
// reservations and the event channel, over one connection. Without `redis.url` the gateway keeps all of
// it in process (the embedded default).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisConfig } from '../config/load.js';
import type { RedisFailurePolicy } from '../config/schema.js';
import { RedisBalanceBook, type CreditsLoader } from '../accounting/redis-balance-book.js';
import { RedisLimiter } from '../limits/redis-limiter.js';
import { throttledWarn, type Logger } from '../observability/logger.js';
import { openRedis, redisErrorMessage, type RedisConnection } from './connection.js';
import { admitAndReserve, type AdmitAndReserve } from './admission.js';
import { clusterEvents, type ClusterEvent, type ClusterEvents } from './events.js';

export interface SharedState {
  redis: RedisConnection;
  limiter: RedisLimiter;
  book: RedisBalanceBook;
  events: ClusterEvents;
  /** A priced request's tokens, slot and reservation in one round trip. */
  admit: AdmitAndReserve;
  /** Holds (or takes) the lock named `name` for `ttlMs`: one instance at a time runs a background job. */
  claim(name: string, ttlMs: number): Promise<boolean>;
  /**
   * Marks `key` (under the prefix) as taken for `ttlMs`: true for the first instance to ask, false for
   * every later one (a webhook event already sent by another). When Redis fails: true, counted and logged
   * under `operation` — a second delivery beats none.
   */
  claimOnce(key: string, ttlMs: number, operation: string): Promise<boolean>;
  close(): Promise<void>;
}

// KEYS: the lock; ARGV: this instance, ttl ms. Kept by its holder, taken when free or expired.
const CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`;

/** Counted per failure (the metric); logged at most once a second per operation, with the count since. */
export type RedisFailureCounter = (operation: string, policy: RedisFailurePolicy) => void;

const LOG_EVERY_MS = 1000;

export async function openSharedState(
  config: RedisConfig,
  credits: CreditsLoader,
  logger: Logger,
  onEvent: (event: ClusterEvent) => void,
  count: RedisFailureCounter = () => undefined,
): Promise<SharedState> {
  const redis = openRedis(config, logger);
  // A gateway that starts while Redis is down still starts: its limits follow their failure policies.
  await redis.ready(Math.max(2000, config.commandTimeoutMs)).catch((err: unknown) => {
    logger.warn({ err: redisErrorMessage(err) }, 'redis not reachable at start: limits follow their failure policies until it is');
  });
  const warn = throttledWarn(logger, LOG_EVERY_MS);
  const onFailure = (operation: string, policy: RedisFailurePolicy, err: unknown): void => {
    count(operation, policy);
    warn(operation, { operation, policy, err: redisErrorMessage(err) }, 'redis call failed');
  };
  const limiter = new RedisLimiter(redis, config.failurePolicy, onFailure);
  const book = new RedisBalanceBook(redis, credits, onFailure);
  const events = clusterEvents(redis, logger, onEvent);
  const client = redis.client as typeof redis.client & { floodgateClaim(key: string, holder: string, ttlMs: number): Promise<number> };
  client.defineCommand('floodgateClaim', { numberOfKeys: 1, lua: CLAIM });
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  return {
    redis,
    limiter,
    book,
    events,
    admit: admitAndReserve(redis.client, limiter, book),
    async claim(name, ttlMs) {
      try {
        return (await client.floodgateClaim(`${redis.prefix}lock:${name}`, holder, ttlMs)) === 1;
      } catch (err) {
        // Without Redis every instance runs the job: its updates are conditional, so that is only extra work.
        onFailure(`claim_${name}`, 'open', err);
        return true;
      }
    },
    async claimOnce(key, ttlMs, operation) {
      try {
        return (await redis.client.set(`${redis.prefix}${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
      } catch (err) {
        onFailure(operation, 'open', err);
        return true;
      }
    },
    async close() {
      // After the drain: slots and reservations still held go back now.
      await limiter.close();
      await book.close();
      await events.close();
      await redis.close();
    },
  };
}
