// A priced request's admission in one Redis round trip (SPEC §9, §10, §11): its tokens and slot from every
// scope and its maximum cost from the balance, all or nothing, in one Lua script made of the limiter's
// and the balance book's pieces. The limits are decided first (a 429 takes precedence over a 402, as
// in process); nothing is taken unless both pass. Separately, each would be a round trip of its own.
import { GatewayError } from '../openai/errors.js';
import type { Reservation } from '../accounting/balance-book.js';
import { BALANCE_LUA, type RedisBalanceBook } from '../accounting/redis-balance-book.js';
import type { Lease, LimitScope, RateLimitSnapshot, Refusal } from '../limits/limiter.js';
import { limitLua, parseReadings, type RedisLimiter } from '../limits/redis-limiter.js';
import { batchOf } from './batch.js';
import type { Redis } from 'ioredis';
import { snapshotOf } from '../limits/buckets.js';

/** How an admission with a reservation ended. */
export type CombinedAdmission =
  | { kind: 'limited'; refusal: Refusal }
  | { kind: 'short'; availableMicros: number; snapshot: RateLimitSnapshot }
  | { kind: 'ok'; lease: Lease; reservation: Reservation; remainingMicros: number; snapshot: RateLimitSnapshot };

/** Admits `tokens` and a slot over `scopes` and reserves `amountMicros` for the account, or says why not. */
export type AdmitAndReserve = (
  scopes: readonly LimitScope[],
  tokens: number,
  accountId: string,
  amountMicros: number,
  /** Take one request per minute too (the request's, deferred from its arrival). */
  withRequest: boolean,
) => Promise<CombinedAdmission | undefined>;

// KEYS: the account's hash and reservations, then per scope req, tok, conc. ARGV: the reservation's
// seven (BALANCE_LUA), tokens, lease id, whether to take a request per minute (1/0), then per scope
// rpm, tpm, conc. Returns a status — ok, short
// (with the available micro-units), limit, load — then the limits' readings. Batched (redis/batch.ts):
// the admissions of one turn of the event loop go out in one call.
const LIMITS = limitLua(2, 10);
const ADMIT_AND_RESERVE = `
${LIMITS.functions}
${BALANCE_LUA.head}
local mode, tokens, lease, takeReq = 'work', tonumber(ARGV[8]), ARGV[9], ARGV[10] == '1'
${LIMITS.check}
if not ok then return readings({ 'limit', '' }) end
${BALANCE_LUA.available}
if available < amount then return readings({ 'short', micros(available) }) end
${LIMITS.apply}
${BALANCE_LUA.take}
return readings({ 'ok', micros(available - amount) })
`;

/**
 * The combined admission over `limiter` and `book` (one Redis connection). Undefined when it cannot
 * decide — Redis unreachable, or an account the store does not have — and the caller goes the separate
 * way, where each limit's failure policy and the closed reservations apply.
 */
export function admitAndReserve(client: Redis, limiter: RedisLimiter, book: RedisBalanceBook): AdmitAndReserve {
  const batch = batchOf(client);
  batch.register({ name: 'admitReserve', lua: ADMIT_AND_RESERVE });
  return async (scopes, tokens, accountId, amountMicros, withRequest) => {
    const leaseId = limiter.leaseId();
    const scopeKeys = limiter.scopeKeys(scopes);
    const scopeArgs = limiter.scopeArgs(scopes);
    let done;
    try {
      done = await book.withCredits(accountId, amountMicros, (keys, args) =>
        batch.call<(string | number)[]>('admitReserve', [...keys, ...scopeKeys], [...args, tokens, leaseId, withRequest ? 1 : 0, ...scopeArgs]),
      );
    } catch (err) {
      if (err instanceof GatewayError) throw err; // the store could not be read
      return undefined;
    }
    if (done === undefined) return undefined;
    const { id, reply } = done;
    const status = reply[0];
    if (status === 'load') return undefined;
    const reading = parseReadings(status === 'ok', reply, 2, scopes.length);
    if (status === 'limit') {
      const refused = limiter.workResult(scopes, tokens, leaseId, reading, withRequest);
      return refused.ok ? undefined : { kind: 'limited', refusal: refused };
    }
    if (status === 'short') return { kind: 'short', availableMicros: Math.max(0, Number(reply[1])), snapshot: snapshotOf(scopes, reading.levels) };
    const admitted = limiter.workResult(scopes, tokens, leaseId, reading);
    if (!admitted.ok) return undefined; // cannot happen: the script took them
    return { kind: 'ok', lease: admitted.lease, reservation: book.adopt(accountId, amountMicros, id), remainingMicros: Number(reply[1]), snapshot: admitted.snapshot };
  };
}
