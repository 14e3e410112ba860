// Balance reservations shared by every instance (SPEC §10, §11). The durable balance and the ledger stay
// in the store; Redis holds, per account, what admission needs to decide across instances at once:
//
//   credits  = balance + debited_micros, read from the store in one row. A usage debit lowers the balance
//              and raises debited_micros by the same amount, so the sum moves only with ledger entries
//              (credits, refunds, adjustments): it can be read at any moment without racing the writers.
//   spent    = every cost settled in the cluster, counted from the account's debited_micros when Redis
//              first saw it. spent − debited_micros is what is settled but not yet written to the store.
//   reserved = the maximum costs of the requests in flight, each a field `r:<id>` that expires unless its
//              instance renews it (an instance that dies gives its reservations back by itself).
//
//   available = credits − spent − reserved   (= balance − not-yet-written costs − reservations)
//
// Reserve, settle and release are each one Lua script, so no two instances can spend the same micro-unit.
// After a Redis restart, or a settlement lost on its way, `spent` can miss costs the store has debited;
// whenever credits are re-read while the account is quiet (nothing reserved, no settlement for 30 s),
// `spent` is set to the store's debited_micros again, which is then exact.
// `credits` is re-read from the store when it is older than `refreshMs`, after a ledger entry (`refresh`)
// and before any refusal. Reservations fail closed: without Redis no priced request is admitted.
// The requests admitted before an outage may still run after it: on every new connection (and after a
// failed renewal) the instance writes back each reservation it holds — lost in a Redis restart, or
// expired meanwhile — before admissions go on (connection.ts), so they count against the balance until
// settled, and their settlement counts its cost once.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GatewayError } from '../openai/errors.js';
import type { RedisConnection } from '../redis/connection.js';
import { LUA_NOW, type FailureReport } from '../limits/redis-limiter.js';
import { batchOf, type ScriptBatch } from '../redis/batch.js';
import type { BalanceBook, Hold, Reservation, ReserveAllResult, ReserveResult } from './balance-book.js';

/** Per account: the balance and the usage costs ever debited, as one row of the store has them. */
export type CreditsLoader = (accountIds: readonly string[]) => Promise<Map<string, { balanceMicros: number; debitedMicros: number }>>;

// A budget's period is an entry of its own (`bal:b:…`, a new one every period): unlike an account's, its
// records would pile up one per budget per period. Each reserve and settle keeps them for a week from then:
// a period's record idle that long has every settled cost in the store and no reservation left (leases are
// seconds, the longest request far less than a week), so dropping it loses nothing — a later use reloads it.
const BUDGET_RECORD_MS = 7 * 86_400_000;
const TOUCH = `
local function touch(bal, res)
  if string.find(bal, 'bal:b:', 1, true) then
    redis.call('PEXPIRE', bal, ${BUDGET_RECORD_MS})
    redis.call('PEXPIRE', res, ${BUDGET_RECORD_MS})
  end
end
`;

// Expired reservations leave the total; their field stays a while as 'x' so a late settle still counts its
// cost once, then goes. KEYS[1] is the account's hash, KEYS[2] its reservations by expiry.
const PURGE = `${TOUCH}
local function purge(bal, res)
  local due = redis.call('ZRANGEBYSCORE', res, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(due) do
    local amount = redis.call('HGET', bal, 'r:' .. id)
    if amount == 'x' or not amount then
      redis.call('HDEL', bal, 'r:' .. id)
      redis.call('ZREM', res, id)
    else
      redis.call('HINCRBY', bal, 'reserved', '-' .. amount)
      redis.call('HSET', bal, 'r:' .. id, 'x')
      redis.call('ZADD', res, now + 3600000, id)
    end
  end
end
`;

// The three steps of a reservation on one entry (an account's balance, or a budget's period), as Lua
// functions after PURGE. `ready` takes credits and debited just read from the store ('' when not read):
// false when the entry's credits are unknown or older than maxAge ms; when given, it also sets `spent` to
// the store's debited if the entry has been quiet (nothing reserved, nothing settled) for quietMs — this
// mends what a Redis restart or a lost settlement left. `availableOf` purges expired reservations first.
const BALANCE_FUNCTIONS = `${PURGE}
local function ready(bal, res, credits, debited, maxAge, quietMs)
  if credits and credits ~= '' then
    if redis.call('HEXISTS', bal, 'spent') == 0 then
      -- A fresh record may already hold reservations written back after a restart: keep them.
      redis.call('HSET', bal, 'spent', debited)
      redis.call('HSETNX', bal, 'reserved', 0)
    else
      local q = redis.call('HMGET', bal, 'reserved', 'ls')
      if tonumber(q[1]) == 0 and (not q[2] or now - tonumber(q[2]) > quietMs) then redis.call('HSET', bal, 'spent', debited) end
    end
    redis.call('HSET', bal, 'credits', credits, 'at', now)
    touch(bal, res)
    return true
  end
  local at = redis.call('HGET', bal, 'at')
  return at ~= false and now - tonumber(at) <= maxAge
end
local function availableOf(bal, res)
  purge(bal, res)
  local v = redis.call('HMGET', bal, 'credits', 'spent', 'reserved')
  return tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3])
end
local function take(bal, res, amount, id, leaseMs)
  redis.call('HINCRBY', bal, 'reserved', amount)
  redis.call('HSET', bal, 'r:' .. id, amount)
  redis.call('ZADD', res, now + leaseMs, id)
  touch(bal, res)
end
local function micros(x) return string.format('%.0f', x) end
`;

/**
 * Lua pieces of a reservation on one entry, for this file's script and the one that also admits the
 * request's limits (redis/admission.ts), after LUA_NOW. KEYS[1] is the entry's hash, KEYS[2] its
 * reservations; ARGV: amount, id, lease ms, the longest credits may go unread (ms), credits and debited as
 * just read from the store ('' when not read), and how long an entry must be quiet before `spent` is set
 * to the store's debited. `head` sets the variables and returns {'load'} when credits are unknown or too
 * old; `available` computes `available`; `take` reserves.
 */
export const BALANCE_LUA = {
  head: `${BALANCE_FUNCTIONS}
local bal, res = KEYS[1], KEYS[2]
local amount, id, leaseMs, maxAge = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if not ready(bal, res, ARGV[5], ARGV[6], maxAge, tonumber(ARGV[7])) then return { 'load' } end
`,
  available: `
local available = availableOf(bal, res)
`,
  take: `
take(bal, res, ARGV[1], id, leaseMs)
`,
};

// Several entries at once, all or nothing. KEYS: per entry its hash and reservations. ARGV: lease ms, max
// age, quiet ms, then per entry amount, reservation id, credits, debited ('' when not read). Returns
// {'ok', left after, …} | {'short', entry number, available} | {'load'}. Batched.
const RESERVE_ALL = `
${BALANCE_FUNCTIONS}
local leaseMs, maxAge, quietMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS / 2
local stale = false
for i = 1, n do
  local a = 3 + 4 * (i - 1)
  if not ready(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a + 3], ARGV[a + 4], maxAge, quietMs) then stale = true end
end
if stale then return { 'load' } end
local left = {}
for i = 1, n do
  local amount = tonumber(ARGV[3 + 4 * (i - 1) + 1])
  local available = availableOf(KEYS[2 * i - 1], KEYS[2 * i])
  if amount > 0 and available < amount then return { 'short', i, micros(available) } end
  left[i] = available - amount
end
local out = { 'ok' }
for i = 1, n do
  local a = 3 + 4 * (i - 1)
  take(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a + 1], ARGV[a + 2], leaseMs)
  out[#out + 1] = micros(left[i])
end
return out
`;

// Returns {'ok', available after} | {'short', available} | {'load'} (nothing known or too old). Batched
// (redis/batch.ts), as is SETTLE: their bodies read `now` from the batch.
const RESERVE = `
${BALANCE_LUA.head}
${BALANCE_LUA.available}
if available < amount then return { 'short', micros(available) } end
${BALANCE_LUA.take}
return { 'ok', micros(available - amount) }
`;

// ARGV: id, cost. Once per reservation: a second settle (a retried call) finds no field and does nothing.
const SETTLE = `
${PURGE}
local bal, res = KEYS[1], KEYS[2]
local id, cost = ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', bal, 'spent') == 1 then redis.call('HSET', bal, 'ls', now) end
local amount = redis.call('HGET', bal, 'r:' .. id)
if not amount then return 0 end
if amount ~= 'x' then redis.call('HINCRBY', bal, 'reserved', '-' .. amount) end
redis.call('HDEL', bal, 'r:' .. id)
redis.call('ZREM', res, id)
if cost > 0 and redis.call('HEXISTS', bal, 'spent') == 1 then redis.call('HINCRBY', bal, 'spent', ARGV[2]) end
purge(bal, res)
touch(bal, res)
return 1
`;

// ARGV: lease ms, then the reservation ids; KEYS: each one's reservations set. Expired ones stay expired.
const RENEW = `${LUA_NOW}
local leaseMs = tonumber(ARGV[1])
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[i + 1])
  if score and tonumber(score) > now then redis.call('ZADD', KEYS[i], 'XX', now + leaseMs, ARGV[i + 1]) end
end
return 1
`;

// After an outage: KEYS: per reservation the account's hash and reservations; ARGV: lease ms, then per
// reservation its id and amount. One Redis lost (a restart) or expired ('x': taken out of reserved) counts
// again; one still there is renewed.
const WRITE_BACK = `${LUA_NOW}
local leaseMs = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  local bal, res, id, amount = KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i], ARGV[2 * i + 1]
  local had = redis.call('HGET', bal, 'r:' .. id)
  if not had or had == 'x' then
    redis.call('HINCRBY', bal, 'reserved', amount)
    redis.call('HSET', bal, 'r:' .. id, amount)
  end
  redis.call('ZADD', res, now + leaseMs, id)
end
return 1
`;

// ARGV: credits. Sets an account's credits after a ledger entry, keeping spent and reserved.
const SET_CREDITS = `${LUA_NOW}
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'credits', ARGV[1], 'at', now)
return 1
`;

/** An entry's credits and debited as a script's two arguments: '' and '' when they were not read. */
function creditArgs(credits: { balanceMicros: number; debitedMicros: number } | undefined): readonly string[] {
  return credits === undefined ? NOT_READ : [String(credits.balanceMicros + credits.debitedMicros), String(credits.debitedMicros)];
}
const NOT_READ: readonly string[] = ['', ''];

interface ScriptClient extends Redis {
  floodgateRenewReservations(...args: (string | number)[]): Promise<number>;
  floodgateWriteBackReservations(...args: (string | number)[]): Promise<number>;
  floodgateSetCredits(...args: (string | number)[]): Promise<number>;
}

interface HeldReservation extends Reservation {
  id?: string;
}

/**
 * Settled costs reach the store within usage.flush_ms (at most 10 s) plus a batch write: 30 s after an
 * account's last settlement, with nothing reserved, none is still on its way.
 */
const QUIET_MS = 30_000;

/** A settle that failed is tried again this often until it goes through (it is idempotent). */
const SETTLE_RETRY_MS = 250;

export class RedisBalanceBook implements BalanceBook {
  private readonly client: ScriptClient;
  private readonly batch: ScriptBatch;
  private readonly held = new Map<string, HeldReservation>();
  private readonly retrying = new Map<string, { reservation: HeldReservation; cost: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly renewer: NodeJS.Timeout;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly instance = randomBytes(6).toString('base64url');
  private next = 0;
  private closed = false;
  /** A renewal failed: Redis may have lost or expired reservations, so the next one writes them all back. */
  private stale = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly load: CreditsLoader,
    private readonly onFailure: FailureReport,
    private readonly refreshMs = 1000,
    /** An account this long without a reservation or a settlement has every settled cost in the store. */
    private readonly quietMs = QUIET_MS,
  ) {
    this.client = redis.client as ScriptClient;
    this.batch = batchOf(redis.client);
    this.batch.register({ name: 'reserve', lua: RESERVE });
    this.batch.register({ name: 'settle', lua: SETTLE });
    this.batch.register({ name: 'reserveAll', lua: RESERVE_ALL });
    if (typeof this.client.floodgateSetCredits !== 'function') {
      this.client.defineCommand('floodgateRenewReservations', { lua: RENEW });
      this.client.defineCommand('floodgateSetCredits', { numberOfKeys: 1, lua: SET_CREDITS });
      this.client.defineCommand('floodgateWriteBackReservations', { lua: WRITE_BACK });
    }
    this.renewer = setInterval(() => void this.renew(this.stale), Math.max(200, Math.floor(redis.config.leaseMs / 3)));
    this.renewer.unref();
    redis.onConnect(() => this.renew(true));
  }

  private balKey(accountId: string): string {
    return `${this.redis.prefix}bal:${accountId}`;
  }

  private resKey(accountId: string): string {
    return `${this.redis.prefix}res:${accountId}`;
  }

  async reserve(accountId: string, amountMicros: number): Promise<ReserveResult> {
    if (amountMicros <= 0) return { ok: true, reservation: { accountId, amountMicros: 0, settled: false } };
    let done;
    try {
      done = await this.withCredits(accountId, amountMicros, (keys, args) => this.batch.call<(string | number)[]>('reserve', keys, args));
    } catch (err) {
      throw this.failed(err);
    }
    if (done === undefined) return { ok: false, availableMicros: 0 };
    if (done.reply[0] !== 'ok') return { ok: false, availableMicros: Math.max(0, Number(done.reply[1] ?? 0)) };
    return { ok: true, reservation: this.adopt(accountId, amountMicros, done.id), remainingMicros: Number(done.reply[1]) };
  }

  async reserveAll(holds: readonly Hold[]): Promise<ReserveAllResult> {
    if (holds.length === 1 && holds[0].amountMicros > 0) {
      const one = await this.reserve(holds[0].id, holds[0].amountMicros);
      return one.ok ? { ok: true, reservations: [one.reservation], remainingMicros: [one.remainingMicros ?? 0] } : { ok: false, index: 0, availableMicros: one.availableMicros };
    }
    if (holds.length === 0) return { ok: true, reservations: [], remainingMicros: [] };
    const base = this.reservationId();
    const ids = holds.map((_, i) => `${base}.${i}`);
    const keys = holds.flatMap((h) => [this.balKey(h.id), this.resKey(h.id)]);
    let done;
    try {
      done = await this.runWithCredits(
        holds.map((h) => h.id),
        (credits) => {
          const args: (string | number)[] = [this.redis.config.leaseMs, this.refreshMs, this.quietMs];
          holds.forEach((h, i) => args.push(h.amountMicros, ids[i], ...creditArgs(credits?.get(h.id))));
          return this.batch.call<(string | number)[]>('reserveAll', keys, args);
        },
      );
    } catch (err) {
      throw this.failed(err);
    }
    if ('absent' in done) return { ok: false, index: done.absent, availableMicros: 0 };
    const reply = done.reply;
    if (reply[0] === 'short') return { ok: false, index: Number(reply[1]) - 1, availableMicros: Math.max(0, Number(reply[2])) };
    if (reply[0] !== 'ok') throw this.failed(new Error(`reserveAll: unexpected reply ${String(reply[0])}`));
    return {
      ok: true,
      reservations: holds.map((h, i) => this.adopt(h.id, h.amountMicros, ids[i])),
      remainingMicros: holds.map((_, i) => Number(reply[i + 1])),
    };
  }

  /**
   * Runs a script that reserves `amountMicros` for the account (`BALANCE_LUA`: its keys and arguments come
   * first), through `runWithCredits`. Undefined when the account does not exist.
   */
  async withCredits(
    accountId: string,
    amountMicros: number,
    run: (keys: string[], args: (string | number)[]) => Promise<(string | number)[]>,
  ): Promise<{ id: string; reply: (string | number)[] } | undefined> {
    const id = this.reservationId();
    const keys = [this.balKey(accountId), this.resKey(accountId)];
    const done = await this.runWithCredits([accountId], (credits) =>
      run(keys, [amountMicros, id, this.redis.config.leaseMs, this.refreshMs, ...creditArgs(credits?.get(accountId)), this.quietMs]),
    );
    return 'absent' in done ? undefined : { id, reply: done.reply };
  }

  /**
   * Runs a reservation script over `entries` (after a Redis recovery has written reservations back). When
   * it answers that credits are unknown or stale ('load'), or that they fall short ('short': a top-up not
   * yet seen may turn that around), it runs once more with every entry's credits just read from the store;
   * `absent` names an entry the store does not have.
   */
  private async runWithCredits(
    entries: readonly string[],
    run: (credits: Map<string, { balanceMicros: number; debitedMicros: number }> | undefined) => Promise<(string | number)[]>,
  ): Promise<{ reply: (string | number)[] } | { absent: number }> {
    if (this.redis.recovering !== undefined) await this.redis.recovering;
    let reply = await run(undefined);
    if (reply[0] === 'load' || reply[0] === 'short') {
      const credits = await this.loadCredits(entries);
      const absent = entries.findIndex((id) => !credits.has(id));
      if (absent >= 0) return { absent };
      reply = await run(credits);
    }
    return { reply };
  }

  /** A new reservation's id: unique across instances (the instance's random part) and within one. */
  private reservationId(): string {
    return `${this.instance}.${(this.next++).toString(36)}`;
  }

  /** A reservation a script made (`withCredits`): held, renewed, and settled later. */
  adopt(accountId: string, amountMicros: number, id: string): Reservation {
    const reservation: HeldReservation = { accountId, amountMicros, settled: false, id };
    this.held.set(id, reservation);
    return reservation;
  }

  /** A reservation that could not be made: Redis is unreachable, and reservations fail closed. */
  failed(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    this.onFailure('reserve', 'closed', err);
    return new GatewayError('limits_unavailable', 'Your balance cannot be checked right now (its shared store is unreachable); retry shortly.', { retryAfterMs: 1000 });
  }

  private async loadCredits(accountIds: readonly string[]): ReturnType<CreditsLoader> {
    try {
      return await this.load(accountIds);
    } catch (err) {
      throw new GatewayError('store_unavailable', 'Your balance cannot be read right now (the gateway\'s database is unreachable); retry shortly.', { retryAfterMs: 1000, cause: err });
    }
  }

  settle(reservation: Reservation, costMicros: number): void {
    if (reservation.settled) return;
    reservation.settled = true;
    const held = reservation as HeldReservation;
    if (held.id === undefined) return;
    this.held.delete(held.id);
    this.track(this.settleNow(held, costMicros));
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async settleNow(reservation: HeldReservation, costMicros: number): Promise<void> {
    try {
      await this.batch.call('settle', [this.balKey(reservation.accountId), this.resKey(reservation.accountId)], [reservation.id!, costMicros]);
      this.retrying.delete(reservation.id!);
    } catch (err) {
      // Until it goes through, the reservation (≥ the cost) still counts against the balance — unless it
      // expires first; tried again until it lands.
      this.onFailure('settle', 'closed', err);
      this.retrying.set(reservation.id!, { reservation, cost: costMicros });
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        for (const { reservation: r, cost } of this.retrying.values()) this.track(this.settleNow(r, cost));
      }, SETTLE_RETRY_MS);
      if (this.closed) this.retryTimer.unref();
    }
  }

  beginCommit(): void {}

  endCommit(): void {}

  /** After a ledger entry: the account's credits as the store has them now. */
  async refresh(accountId: string): Promise<void> {
    const credits = (await this.loadCredits([accountId])).get(accountId);
    if (credits === undefined) return;
    try {
      await this.client.floodgateSetCredits(this.balKey(accountId), credits.balanceMicros + credits.debitedMicros);
    } catch (err) {
      // Admission re-reads credits older than refreshMs anyway.
      this.onFailure('refresh_balance', 'closed', err);
    }
  }

  /** Extends every reservation held; `again` (after an outage) writes back the ones Redis lost or expired. */
  private async renew(again: boolean): Promise<void> {
    if (again) this.stale = false;
    if (this.held.size === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const [id, r] of this.held) {
      if (again) {
        keys.push(this.balKey(r.accountId), this.resKey(r.accountId));
        args.push(id, r.amountMicros);
      } else {
        keys.push(this.resKey(r.accountId));
        args.push(id);
      }
    }
    try {
      if (again) await this.client.floodgateWriteBackReservations(keys.length, ...keys, this.redis.config.leaseMs, ...args);
      else await this.client.floodgateRenewReservations(keys.length, ...keys, this.redis.config.leaseMs, ...args);
    } catch (err) {
      this.stale = true;
      this.onFailure('renew_reservations', 'closed', err);
    }
  }

  /** Releases what is still held and waits for the settles under way (a drained gateway holds nothing). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewer);
    for (const r of [...this.held.values()]) this.settle(r, 0);
    const deadline = Date.now() + 2000;
    while ((this.inFlight.size > 0 || this.retrying.size > 0) && Date.now() < deadline) {
      await Promise.race([Promise.all([...this.inFlight]), new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
