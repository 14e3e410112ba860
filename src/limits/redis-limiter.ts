// The limiter of a scale-out deployment (SPEC §9, §11): the same token buckets and slots as the memory
// limiter, held in Redis so every instance draws from one set. Each call is one Lua script, so a decision
// over all of a request's scopes is atomic across instances; time is Redis's own clock (TIME), so the
// instances' clocks do not matter.
//
// Keys, per scope (`acct:<id>` / `key:<id>`): `<prefix>rl:<scope>:req` and `:tok` (hashes: level, at;
// they expire once refilled — an absent bucket is a full one) and `:conc` (a sorted set of lease ids
// scored by expiry). A slot is leased for `lease_ms` and renewed every third of it while its request
// runs; an instance that dies stops renewing, and its slots come back by themselves.
//
// After an outage (a new connection, or a failed renewal) the instance writes back every slot it still
// holds: the ones Redis lost in a restart or let expire meanwhile, and the ones its requests took while
// Redis was away (in memory under `local`, nowhere under `open`). Admissions wait for that (connection.ts),
// so a limit counts every request running in the cluster again, not a full new set beside them.
//
// While Redis is unreachable each kind of limit follows its policy: `closed` refuses with a 503,
// `open` admits without that limit, `local` enforces it in this instance's memory. Every failure is
// reported (metric and log) through `onFailure`.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisFailurePolicy } from '../config/schema.js';
import { GatewayError } from '../openai/errors.js';
import type { RedisConnection } from '../redis/connection.js';
import { batchOf, LUA_NOW, type ScriptBatch } from '../redis/batch.js';
import type { Lease, LimitKind, LimitScope, LimitValues, Limiter, RateLimitSnapshot, RequestAdmission, WorkAdmission } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';
import { requestsRefusal, snapshotOf, workRefusal, type ScopeLevels } from './buckets.js';

export type FailurePolicies = Record<LimitKind, RedisFailurePolicy>;

/** Told of every Redis call that failed and what was done instead. */
export type FailureReport = (operation: string, policy: RedisFailurePolicy, err: unknown) => void;

export { LUA_NOW };

// A bucket's level refilled to now; written back with an expiry at the moment it would be full again.
const LEVEL_FUNCTIONS = `
local function level(key, perMin)
  local v = redis.call('HMGET', key, 'l', 'a')
  if not v[1] then return perMin end
  local l = tonumber(v[1]) + (now - tonumber(v[2])) * perMin / 60000
  if l > perMin then return perMin end
  return l
end
local function store(key, l, perMin)
  redis.call('HSET', key, 'l', tostring(l), 'a', now)
  redis.call('PEXPIRE', key, math.ceil((perMin - l) * 60000 / perMin) + 1000)
end
`;

/**
 * Lua pieces of an admission over a request's scopes, for this file's script and for the one that also
 * reserves the balance (redis/admission.ts), after LUA_NOW. With `mode` (req | work | peek), `tokens`, `lease`,
 * `leaseMs` and `takeReq` (whether a 'work' admission takes one request per minute too) set, and three KEYS (req, tok, conc) and three ARGV (rpm, tpm, conc; 0: no such limit) per
 * scope after the first `ko` keys and `ao` arguments: `check` reads every bucket and slot set into
 * req, tok, used and says in `ok` whether all pass; `apply` takes from them; `readings(out)` appends,
 * per scope, the requests level and the tokens level ('' when not limited) and the slots in use (-1 when
 * not counted).
 */
export function limitLua(ko: number, ao: number): { functions: string; check: string; apply: string } {
  const scope = `local k, b = ${ko} + 3 * (i - 1), ${ao} + 3 * (i - 1)
    local rpm, tpm, conc = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])`;
  return {
    functions: `${LEVEL_FUNCTIONS}
local n = (#KEYS - ${ko}) / 3
local req, tok, used = {}, {}, {}
local function readings(out)
  for i = 1, n do
    out[#out + 1] = req[i] and tostring(req[i]) or ''
    out[#out + 1] = tok[i] and tostring(tok[i]) or ''
    out[#out + 1] = used[i] or -1
  end
  return out
end
`,
    check: `
local ok = true
for i = 1, n do
    ${scope}
  if rpm > 0 then
    req[i] = level(KEYS[k + 1], rpm)
    if (mode == 'req' or takeReq) and req[i] < 1 then ok = false end
  end
  if tpm > 0 then
    tok[i] = level(KEYS[k + 2], tpm)
    if mode == 'work' and tok[i] < tokens then ok = false end
  end
  if conc > 0 and mode == 'work' then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
    used[i] = redis.call('ZCARD', KEYS[k + 3])
    if used[i] >= conc then ok = false end
  end
end
`,
    apply: `
for i = 1, n do
    ${scope}
  if (mode == 'req' or takeReq) and rpm > 0 then
    req[i] = req[i] - 1
    store(KEYS[k + 1], req[i], rpm)
  end
  if mode == 'work' then
    if tpm > 0 then
      tok[i] = tok[i] - tokens
      store(KEYS[k + 2], tok[i], tpm)
    end
    if conc > 0 then
      redis.call('ZADD', KEYS[k + 3], now + leaseMs, lease)
      redis.call('PEXPIRE', KEYS[k + 3], leaseMs * 2)
      used[i] = used[i] + 1
    end
  end
end
`,
  };
}

// KEYS: per scope req, tok, conc. ARGV: mode (req | work | peek), tokens, lease id, lease ms, then per
// scope rpm, tpm, conc. Returns ok (1 or 0), then the readings: after taking when admitted. Batched
// (redis/batch.ts), as is FINISH: their bodies read `now` from the batch.
const ADMIT_LUA = limitLua(0, 4);
const ADMIT = `
${ADMIT_LUA.functions}
local mode, tokens, lease, leaseMs = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local takeReq = false
${ADMIT_LUA.check}
if ok and mode ~= 'peek' then
${ADMIT_LUA.apply}
end
return readings({ ok and 1 or 0 })
`;

// KEYS: per scope tok, conc. ARGV: lease id, tokens to give back (negative: to take), then per scope
// tpm, conc.
const FINISH = `
${LEVEL_FUNCTIONS}
local lease, back = ARGV[1], tonumber(ARGV[2])
for i = 1, #KEYS / 2 do
  local tpm, conc = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  if conc > 0 then redis.call('ZREM', KEYS[2 * i], lease) end
  if tpm > 0 and back ~= 0 then
    local l = level(KEYS[2 * i - 1], tpm) + back
    if l > tpm then l = tpm end
    store(KEYS[2 * i - 1], l, tpm)
  end
end
return 1
`;

// KEYS: slot sets; ARGV: lease ms, whether to write back (1/0), then the lease id held in each. A renewal
// leaves a slot already expired gone (someone else may hold it now); a write-back after an outage adds it
// again, since its request is still running and the count must see it, even above the limit.
const RENEW = `${LUA_NOW}
local leaseMs, again = tonumber(ARGV[1]), ARGV[2] == '1'
local renewed = 0
for i = 1, #KEYS do
  if again then
    redis.call('ZADD', KEYS[i], now + leaseMs, ARGV[i + 2])
    renewed = renewed + 1
  else
    renewed = renewed + redis.call('ZADD', KEYS[i], 'XX', 'CH', now + leaseMs, ARGV[i + 2])
  end
  redis.call('PEXPIRE', KEYS[i], leaseMs * 2)
end
return renewed
`;

interface ScriptClient extends Redis {
  floodgateRenew(...args: (string | number)[]): Promise<number>;
}

/**
 * A lease taken in Redis (`token` is its id) or during an outage (`outage`: in memory as `local` under that
 * policy); an outage lease with a slot gets a `token` too once its slot is written back to Redis.
 */
interface RedisLease extends Lease {
  local?: Lease;
  outage?: boolean;
}

/** Whether a script admitted, and each scope's buckets and slots as it read them (after taking, when it took). */
export interface Reading {
  ok: boolean;
  levels: ScopeLevels[];
}

/** `limitLua`'s readings, `n` scopes of them from `out[from]`. */
export function parseReadings(ok: boolean, out: readonly (string | number)[], from: number, n: number): Reading {
  const levels: ScopeLevels[] = [];
  for (let i = 0; i < n; i++) {
    const requests = out[from + 3 * i];
    const tokens = out[from + 1 + 3 * i];
    const inFlight = Number(out[from + 2 + 3 * i]);
    levels.push({ requests: requests === '' ? undefined : Number(requests), tokens: tokens === '' ? undefined : Number(tokens), inFlight: inFlight < 0 ? undefined : inFlight });
  }
  return { ok, levels };
}

export class RedisLimiter implements Limiter {
  private readonly client: ScriptClient;
  private readonly batch: ScriptBatch;
  private readonly local: MemoryLimiter;
  /** Leases with a slot in Redis, renewed until finished. */
  private readonly held = new Map<string, RedisLease>();
  /** Leases admitted during an outage holding a slot Redis has not been told of yet. */
  private readonly unregistered = new Set<RedisLease>();
  /** Slots whose release failed: given back once Redis answers again. */
  private readonly releasing = new Map<string, RedisLease>();
  /** A call failed: Redis may have lost or expired slots, so the next renewal writes them all back. */
  private stale = false;
  private readonly renewer: NodeJS.Timeout;
  private readonly instance = randomBytes(6).toString('base64url');
  private nextLease = 0;

  constructor(
    private readonly redis: RedisConnection,
    private readonly policies: FailurePolicies,
    private readonly onFailure: FailureReport,
  ) {
    this.client = redis.client as ScriptClient;
    if (typeof this.client.floodgateRenew !== 'function') this.client.defineCommand('floodgateRenew', { lua: RENEW });
    this.batch = batchOf(redis.client);
    this.batch.register({ name: 'admit', lua: ADMIT });
    this.batch.register({ name: 'finish', lua: FINISH });
    this.local = new MemoryLimiter();
    this.renewer = setInterval(() => void this.renew(this.stale), Math.max(200, Math.floor(redis.config.leaseMs / 3)));
    this.renewer.unref();
    redis.onConnect(() => this.renew(true));
  }

  private key(scope: string, kind: 'req' | 'tok' | 'conc'): string {
    return `${this.redis.prefix}rl:${scope}:${kind}`;
  }

  private async call(mode: 'req' | 'work' | 'peek', scopes: readonly LimitScope[], tokens: number, lease: string): Promise<Reading> {
    if (mode === 'work' && this.redis.recovering !== undefined) await this.redis.recovering;
    const out = await this.batch.call<(string | number)[]>('admit', this.scopeKeys(scopes), [mode, tokens, lease, this.redis.config.leaseMs, ...this.scopeArgs(scopes)]);
    return parseReadings(out[0] === 1, out, 1, scopes.length);
  }

  /** The keys of a scope's buckets and slots, and its figures, as `limitLua` reads them. */
  scopeKeys(scopes: readonly LimitScope[]): string[] {
    const keys: string[] = [];
    for (const s of scopes) keys.push(this.key(s.id, 'req'), this.key(s.id, 'tok'), this.key(s.id, 'conc'));
    return keys;
  }

  scopeArgs(scopes: readonly LimitScope[]): number[] {
    const args: number[] = [];
    for (const s of scopes) args.push(s.limits.requestsPerMinute ?? 0, s.limits.tokensPerMinute ?? 0, s.limits.concurrentRequests ?? 0);
    return args;
  }

  /** A new lease id: unique across instances. */
  leaseId(): string {
    return `${this.instance}:${(this.nextLease++).toString(36)}`;
  }

  /**
   * What an admission script answered for tokens and a slot (and one request per minute when `withRequest`):
   * the lease (kept and renewed), or the refusal.
   */
  workResult(scopes: readonly LimitScope[], tokens: number, id: string, r: Reading, withRequest = false): WorkAdmission {
    const snapshot = snapshotOf(scopes, r.levels);
    if (r.ok) {
      const slot = scopes.some((s) => s.limits.concurrentRequests !== undefined);
      // Without a tokens or slot limit the lease holds nothing in Redis, and finishing it costs no call.
      const holds = slot || scopes.some((s) => s.limits.tokensPerMinute !== undefined);
      const lease: RedisLease = { scopes, tokens, slot, token: holds ? id : undefined, finished: false };
      if (slot) this.held.set(id, lease);
      return { ok: true, lease, snapshot };
    }
    // Requests first: they would have been taken at arrival.
    const refusal = (withRequest ? requestsRefusal(scopes, r.levels) : undefined) ??
      workRefusal(scopes, r.levels, tokens) ?? { ok: false, kind: 'concurrency', scope: scopes[0].id, limit: 0, retryAfterMs: 1000, snapshot };
    refusal.snapshot = snapshot;
    return refusal;
  }

  async takeRequest(scopes: readonly LimitScope[]): Promise<RequestAdmission> {
    if (!scopes.some((s) => s.limits.requestsPerMinute !== undefined)) return this.peekOk(scopes);
    let r: Reading;
    try {
      r = await this.call('req', scopes, 0, '');
    } catch (err) {
      return this.degradedRequest(scopes, err);
    }
    const snapshot = snapshotOf(scopes, r.levels);
    if (r.ok) return { ok: true, snapshot };
    const refusal = requestsRefusal(scopes, r.levels) ?? { ok: false, kind: 'requests', scope: scopes[0].id, limit: scopes[0].limits.requestsPerMinute ?? 0, retryAfterMs: 1000, snapshot };
    refusal.snapshot = snapshot;
    return refusal;
  }

  /** Requests per minute while Redis is unreachable: the policy decides. */
  private degradedRequest(scopes: readonly LimitScope[], err: unknown): Promise<RequestAdmission> {
    const policy = this.policies.requests;
    this.onFailure('take_request', policy, err);
    if (policy === 'closed') throw unavailable('requests per minute');
    if (policy === 'open') return Promise.resolve({ ok: true, snapshot: {} });
    return this.local.takeRequest(scopes);
  }

  private async peekOk(scopes: readonly LimitScope[]): Promise<RequestAdmission> {
    return { ok: true, snapshot: await this.peek(scopes) };
  }

  async admitWork(scopes: readonly LimitScope[], tokens: number): Promise<WorkAdmission> {
    const slot = scopes.some((s) => s.limits.concurrentRequests !== undefined);
    const limited = slot || scopes.some((s) => s.limits.tokensPerMinute !== undefined);
    if (!limited) return { ok: true, lease: { scopes, tokens, slot: false, finished: false }, snapshot: await this.peek(scopes) };
    const id = this.leaseId();
    let r: Reading;
    try {
      r = await this.call('work', scopes, tokens, id);
    } catch (err) {
      return this.degradedWork(scopes, tokens, err);
    }
    return this.workResult(scopes, tokens, id, r);
  }

  /** Tokens and slots while Redis is unreachable: each kind by its policy, the `local` ones in memory. */
  private async degradedWork(scopes: readonly LimitScope[], tokens: number, err: unknown): Promise<WorkAdmission> {
    const kinds: ('tokens' | 'concurrency')[] = [];
    if (scopes.some((s) => s.limits.tokensPerMinute !== undefined)) kinds.push('tokens');
    if (scopes.some((s) => s.limits.concurrentRequests !== undefined)) kinds.push('concurrency');
    for (const kind of kinds) this.onFailure(kind === 'tokens' ? 'admit_tokens' : 'admit_concurrency', this.policies[kind], err);
    const closed = kinds.find((k) => this.policies[k] === 'closed');
    if (closed !== undefined) throw unavailable(closed === 'tokens' ? 'tokens per minute' : 'concurrent requests');
    const localScopes: LimitScope[] = [];
    for (const scope of scopes) {
      const limits: LimitValues = {};
      if (this.policies.tokens === 'local' && scope.limits.tokensPerMinute !== undefined) limits.tokensPerMinute = scope.limits.tokensPerMinute;
      if (this.policies.concurrency === 'local' && scope.limits.concurrentRequests !== undefined) limits.concurrentRequests = scope.limits.concurrentRequests;
      if (limits.tokensPerMinute !== undefined || limits.concurrentRequests !== undefined) localScopes.push({ id: scope.id, limits });
    }
    const slot = kinds.includes('concurrency');
    const lease: RedisLease = { scopes, tokens, slot, finished: false, outage: true };
    let snapshot: RateLimitSnapshot = {};
    if (localScopes.length > 0) {
      const local = await this.local.admitWork(localScopes, tokens);
      if (!local.ok) return local;
      lease.local = local.lease;
      snapshot = local.snapshot;
    }
    if (slot) {
      // Redis must count it once it answers again.
      this.unregistered.add(lease);
      this.stale = true;
    }
    return { ok: true, lease, snapshot };
  }

  async finish(lease: Lease, usedTokens: number): Promise<void> {
    if (lease.finished) return;
    lease.finished = true;
    const own = lease as RedisLease;
    this.unregistered.delete(own);
    if (own.local !== undefined) await this.local.finish(own.local, usedTokens);
    if (own.token === undefined) return;
    this.held.delete(own.token);
    // An outage lease took its tokens in memory (or nowhere): Redis's bucket has none of them to give back.
    await this.release(own, own.outage === true ? 0 : lease.tokens - usedTokens);
  }

  /** Gives a lease's slot back in Redis, and `back` tokens (negative: takes more). */
  private async release(lease: RedisLease, back: number): Promise<void> {
    const keys: string[] = [];
    for (const s of lease.scopes) keys.push(this.key(s.id, 'tok'), this.key(s.id, 'conc'));
    const args: (string | number)[] = [lease.token!, back];
    for (const s of lease.scopes) args.push(s.limits.tokensPerMinute ?? 0, s.limits.concurrentRequests ?? 0);
    try {
      await this.batch.call('finish', keys, args);
    } catch (err) {
      // The tokens stay taken until their bucket refills; the slot is given back once Redis answers (its
      // lease would free it anyway, but a slot counted after its request ended refuses others meanwhile).
      this.onFailure('finish', 'closed', err);
      if (lease.slot) {
        this.releasing.set(lease.token!, lease);
        this.stale = true;
      }
    }
  }

  async peek(scopes: readonly LimitScope[]): Promise<RateLimitSnapshot> {
    if (scopes.length === 0) return {};
    try {
      return snapshotOf(scopes, (await this.call('peek', scopes, 0, '')).levels);
    } catch (err) {
      this.onFailure('peek', 'open', err);
      return this.local.peek(scopes);
    }
  }

  /**
   * Extends every slot this instance holds, one script call for all of them; `again` after an outage: writes
   * them all back (the outage leases' too) and gives back the slots whose release failed.
   */
  private async renew(again: boolean): Promise<void> {
    const releases: Promise<void>[] = [];
    if (again) {
      this.stale = false;
      for (const lease of this.unregistered) {
        lease.token = this.leaseId();
        this.held.set(lease.token, lease);
      }
      this.unregistered.clear();
      // Slot only: whether the failed call gave the tokens back is unknown, and twice would be worse.
      for (const lease of this.releasing.values()) releases.push(this.release(lease, 0));
      this.releasing.clear();
    }
    if (this.held.size > 0) {
      const keys: string[] = [];
      const ids: string[] = [];
      for (const [id, lease] of this.held) {
        for (const s of lease.scopes) {
          if (s.limits.concurrentRequests === undefined) continue;
          keys.push(this.key(s.id, 'conc'));
          ids.push(id);
        }
      }
      try {
        await this.client.floodgateRenew(keys.length, ...keys, this.redis.config.leaseMs, again ? 1 : 0, ...ids);
      } catch (err) {
        this.stale = true;
        this.onFailure('renew', this.policies.concurrency, err);
      }
    }
    await Promise.all(releases);
  }

  /** The slots still held (after a drain, none) go back at once rather than when their lease runs out. */
  async close(): Promise<void> {
    clearInterval(this.renewer);
    await Promise.all([...this.held.values(), ...this.unregistered].map((lease) => this.finish(lease, lease.tokens)));
    await this.local.close();
  }
}

function unavailable(what: string): GatewayError {
  return new GatewayError('limits_unavailable', `The ${what} limit cannot be checked right now (its shared store is unreachable); retry shortly.`, { retryAfterMs: 1000 });
}
