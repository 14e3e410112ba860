// The Redis limiter and balance book against the real Redis: two instances (two connections) drawing
// from one set of buckets, slots and balances; leases that expire; each failure policy while a private
// redis-server is down, and global limits again once it is back.
import { once } from 'node:events';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import type { RawConfig } from '../../src/config/schema.js';
import { openRedis, type RedisConnection } from '../../src/redis/connection.js';
import { clusterEvents, type ClusterEvent } from '../../src/redis/events.js';
import { RedisLimiter, type FailurePolicies } from '../../src/limits/redis-limiter.js';
import { RedisBalanceBook, type CreditsLoader } from '../../src/accounting/redis-balance-book.js';
import { admitAndReserve } from '../../src/redis/admission.js';
import { batchOf } from '../../src/redis/batch.js';
import type { LimitScope } from '../../src/limits/limiter.js';
import { GatewayError } from '../../src/openai/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { deletePrefix, privateRedis, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import type { RedisFailurePolicy } from '../../src/config/schema.js';

const logger = createLogger('silent');
const connections: RedisConnection[] = [];
const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];

function redisConfig(url: string, prefix: string, extra: Partial<NonNullable<RawConfig['redis']>> = {}) {
  const config = resolveConfig(
    {
      redis: { url, key_prefix: prefix, lease_ms: 1000, command_timeout_ms: 200, ...extra },
      providers: { sim: { type: 'simulator' } },
      models: [{ id: 'm', category: 'text', deployments: [{ provider: 'sim' }] }],
    },
    'test',
  );
  return config.redis!;
}

async function connect(url: string, prefix: string, extra: Partial<NonNullable<RawConfig['redis']>> = {}): Promise<RedisConnection> {
  const conn = openRedis(redisConfig(url, prefix, extra), logger);
  connections.push(conn);
  await conn.ready(3000);
  return conn;
}

function sharedPrefix(): string {
  const p = uniquePrefix('limits');
  prefixes.push(p);
  return p;
}

const failures: { operation: string; policy: RedisFailurePolicy }[] = [];
const report = (operation: string, policy: RedisFailurePolicy): void => void failures.push({ operation, policy });

function limiter(conn: RedisConnection, policies: FailurePolicies = { requests: 'local', tokens: 'local', concurrency: 'local' }): RedisLimiter {
  const l = new RedisLimiter(conn, policies, report);
  closers.push(() => l.close());
  return l;
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => undefined);
  for (const conn of connections.splice(0)) await conn.close();
  failures.length = 0;
});

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
});

describe('RedisLimiter', () => {
  it('two instances share one requests-per-minute bucket, all or nothing across scopes', async () => {
    const prefix = sharedPrefix();
    const a = limiter(await connect(SHARED_REDIS_URL, prefix));
    const b = limiter(await connect(SHARED_REDIS_URL, prefix));
    const scopes: LimitScope[] = [
      { id: 'acct:1', limits: { requestsPerMinute: 60 } },
      { id: 'key:1', limits: { requestsPerMinute: 10 } },
    ];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).takeRequest(scopes)));
    const admitted = results.filter((r) => r.ok).length;
    expect(admitted).toBe(10);
    const refused = results.find((r) => !r.ok);
    expect(refused).toMatchObject({ ok: false, kind: 'requests', scope: 'key:1', limit: 10 });
    expect(refused!.ok === false && refused!.retryAfterMs).toBeGreaterThan(0);
    // The account's bucket lost only the 10 admitted requests (a refused one takes from neither).
    const snap = await a.peek([scopes[0]]);
    expect(snap.requests!.remaining).toBeGreaterThanOrEqual(50);
    expect(snap.requests!.remaining).toBeLessThanOrEqual(51);
  });

  it('slots are counted across instances, given back by finish, and expire when their holder stops renewing', async () => {
    const prefix = sharedPrefix();
    const a = limiter(await connect(SHARED_REDIS_URL, prefix));
    const connB = await connect(SHARED_REDIS_URL, prefix);
    const b = new RedisLimiter(connB, { requests: 'local', tokens: 'local', concurrency: 'local' }, report);
    const scopes: LimitScope[] = [{ id: 'acct:2', limits: { concurrentRequests: 2, tokensPerMinute: 1000 } }];
    const first = await a.admitWork(scopes, 100);
    const second = await b.admitWork(scopes, 100);
    expect(first.ok && second.ok).toBe(true);
    const third = await a.admitWork(scopes, 100);
    expect(third).toMatchObject({ ok: false, kind: 'concurrency', limit: 2 });
    expect(third.ok === false && third.snapshot.tokens?.remaining).toBe(800);
    // Held past several lease times, renewed: still held.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await a.admitWork(scopes, 100)).ok).toBe(false);
    // finish gives the slot and the unused tokens back.
    if (first.ok) await a.finish(first.lease, 30);
    const fourth = await a.admitWork(scopes, 100);
    expect(fourth.ok).toBe(true);
    // 800 + 70 given back − 100, plus what refilled meanwhile (1000 a minute: ~17 a second).
    const remaining = fourth.ok ? fourth.snapshot.tokens!.remaining : 0;
    expect(remaining).toBeGreaterThanOrEqual(770);
    expect(remaining).toBeLessThan(800);
    // b "crashes": it stops renewing without giving its slot back. Within the lease time it is free.
    (b as unknown as { renewer: NodeJS.Timeout }).renewer.unref();
    clearInterval((b as unknown as { renewer: NodeJS.Timeout }).renewer);
    const started = Date.now();
    let freed = false;
    while (Date.now() - started < 3000) {
      const r = await a.admitWork(scopes, 1);
      if (r.ok) {
        freed = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(freed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a request larger than the tokens bucket is refused with no wait that helps', async () => {
    const l = limiter(await connect(SHARED_REDIS_URL, sharedPrefix()));
    const r = await l.admitWork([{ id: 'acct:3', limits: { tokensPerMinute: 100 } }], 101);
    expect(r).toMatchObject({ ok: false, kind: 'tokens', retryAfterMs: undefined });
  });
});

function book(conn: RedisConnection, load: CreditsLoader): RedisBalanceBook {
  const b = new RedisBalanceBook(conn, load, report, 60_000);
  closers.push(() => b.close());
  return b;
}

describe('RedisBalanceBook', () => {

  it('two instances never reserve more than the balance; settle spends, expiry releases', async () => {
    const prefix = sharedPrefix();
    let balance = 1000;
    let debited = 0;
    const load: CreditsLoader = (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: balance, debitedMicros: debited }])));
    const a = book(await connect(SHARED_REDIS_URL, prefix), load);
    const connB = await connect(SHARED_REDIS_URL, prefix);
    const b = new RedisBalanceBook(connB, load, report, 60_000);
    const results = await Promise.all([a, a, b, b, a, b, a, b].map(async (from) => ({ from, r: await from.reserve('acct-1', 300) })));
    const held = results.flatMap(({ from, r }) => (r.ok ? [{ from, reservation: r.reservation }] : []));
    expect(held).toHaveLength(3);
    const refused = results.find(({ r }) => !r.ok)!.r;
    expect(refused).toEqual({ ok: false, availableMicros: 100 });
    // a's requests settle (one at 120 of its 300); b's are left to b, which will die holding them.
    const ofA = held.filter((h) => h.from === a);
    const ofB = held.filter((h) => h.from === b);
    let expected = 100;
    ofA.forEach((h, i) => {
      a.settle(h.reservation, i === 0 ? 120 : 0);
      expected += i === 0 ? 180 : 300;
    });
    await a.close();
    expect(await a.reserve('acct-1', expected + 1)).toMatchObject({ ok: false, availableMicros: expected });
    // The usage writer debits the 120 (if a settled it): balance and debited move together, and
    // nothing changes for admission.
    if (ofA.length > 0) {
      balance -= 120;
      debited += 120;
      await a.refresh('acct-1');
    }
    expect(await a.reserve('acct-1', expected + 1)).toMatchObject({ ok: false, availableMicros: expected });
    // b dies holding its reservations (no renewal): they come back after the lease (1 s).
    clearInterval((b as unknown as { renewer: NodeJS.Timeout }).renewer);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const all = expected + 300 * ofB.length;
    expect(await a.reserve('acct-1', all + 1)).toMatchObject({ ok: false, availableMicros: all });
    // A late settle of an expired reservation still counts its cost, and only once.
    if (ofB.length > 0) {
      b.settle(ofB[0].reservation, 50);
      const again = { ...ofB[0].reservation, settled: false };
      b.settle(again, 50);
    }
    await b.close();
    const left = all - (ofB.length > 0 ? 50 : 0);
    expect(await a.reserve('acct-1', left + 1)).toMatchObject({ ok: false, availableMicros: left });
    expect(await a.reserve('acct-1', left)).toMatchObject({ ok: true });
  });

  it('a top-up the book has not seen yet is found before refusing', async () => {
    let balance = 100;
    const load: CreditsLoader = (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: balance, debitedMicros: 0 }])));
    const a = book(await connect(SHARED_REDIS_URL, sharedPrefix()), load);
    expect(await a.reserve('acct-2', 500)).toMatchObject({ ok: false, availableMicros: 100 });
    balance = 1000;
    expect(await a.reserve('acct-2', 500)).toMatchObject({ ok: true });
  });
});

describe('admission and reservation in one script', () => {
  it('takes tokens, a slot and the reservation together, refuses a limit before the balance, and takes nothing on a refusal', async () => {
    const prefix = sharedPrefix();
    const conn = await connect(SHARED_REDIS_URL, prefix);
    const l = limiter(conn);
    let balance = 1000;
    const b = book(conn, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: balance, debitedMicros: 0 }]))));
    const admit = admitAndReserve(conn.client, l, b);
    const scopes: LimitScope[] = [{ id: 'acct:c', limits: { tokensPerMinute: 1000, concurrentRequests: 2 } }];

    const first = await admit(scopes, 100, 'acct-c', 400, false);
    expect(first).toMatchObject({ kind: 'ok', snapshot: { tokens: { remaining: 900 } } });
    // The balance is short: a 402 with nothing taken (the tokens bucket still shows 900).
    expect(await admit(scopes, 100, 'acct-c', 700, false)).toMatchObject({ kind: 'short', availableMicros: 600, snapshot: { tokens: { remaining: 900 } } });
    const second = await admit(scopes, 100, 'acct-c', 400, false);
    expect(second?.kind).toBe('ok');
    // Both slots held: the limit answers first, though the balance is short too.
    expect(await admit(scopes, 100, 'acct-c', 400, false)).toMatchObject({ kind: 'limited', refusal: { kind: 'concurrency' } });
    // The separate way sees the same slots and balance.
    expect(await l.admitWork(scopes, 1)).toMatchObject({ ok: false, kind: 'concurrency' });
    expect(await b.reserve('acct-c', 201)).toEqual({ ok: false, availableMicros: 200 });
    if (first?.kind === 'ok') {
      await l.finish(first.lease, 50);
      b.settle(first.reservation, 150);
    }
    await Promise.all([...(b as unknown as { inFlight: Set<Promise<void>> }).inFlight]); // the settle has landed
    // 1000 − 150 spent − 400 still reserved; and a top-up is found before refusing.
    expect(await admit(scopes, 100, 'acct-c', 451, false)).toMatchObject({ kind: 'short', availableMicros: 450 });
    balance += 1;
    expect((await admit(scopes, 100, 'acct-c', 451, false))?.kind).toBe('ok');
  });
});

describe('admissions batched per turn of the event loop', () => {
  it('sends one turn\'s admissions in one call, each decided as if alone: two instances never reserve past the balance', async () => {
    const prefix = sharedPrefix();
    const instances = await Promise.all([0, 1].map(async () => {
      const conn = await connect(SHARED_REDIS_URL, prefix);
      const l = limiter(conn);
      const b = book(conn, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: 1000, debitedMicros: 0 }]))));
      return { conn, l, b, admit: admitAndReserve(conn.client, l, b) };
    }));
    const scopes: LimitScope[] = [{ id: 'acct:batch', limits: { tokensPerMinute: 1000, concurrentRequests: 12 } }];
    // 2 × 15 at once, 100 micro-units each against 1,000: ten are admitted, the rest are short (or limited
    // once the ten hold their slots); 10 tokens each.
    const results = await Promise.all(instances.flatMap(({ admit }) => Array.from({ length: 15 }, () => admit(scopes, 10, 'acct-batch', 100, false))));
    expect(results.filter((r) => r?.kind === 'ok')).toHaveLength(10);
    expect(results.filter((r) => r?.kind === 'short')).toHaveLength(20);
    for (const { conn } of instances) {
      const batch = batchOf(conn.client);
      // The first call finds no credits ('load'); the second, with them read, decides: 15 admissions in a few calls.
      expect(batch.items).toBeGreaterThanOrEqual(15);
      expect(batch.calls).toBeLessThanOrEqual(4);
    }
    // Released in one call too: the ten settle and give their slots and unused tokens back.
    const before = instances.map(({ conn }) => batchOf(conn.client).calls);
    for (const r of results) {
      if (r?.kind !== 'ok') continue;
      const owner = instances.find(({ b }) => (b as unknown as { held: Map<string, unknown> }).held.has((r.reservation as unknown as { id: string }).id))!;
      void owner.l.finish(r.lease, 5);
      owner.b.settle(r.reservation, 60);
    }
    for (const { b } of instances) await Promise.all([...(b as unknown as { inFlight: Set<Promise<void>> }).inFlight]);
    instances.forEach(({ conn }, i) => expect(batchOf(conn.client).calls - before[i]).toBeLessThanOrEqual(1));
    // 1,000 − 10 × 60 settled: four more fit, not five; the tokens bucket holds the 50 used.
    const again = await Promise.all(Array.from({ length: 5 }, () => instances[0].admit(scopes, 10, 'acct-batch', 100, false)));
    expect(again.filter((r) => r?.kind === 'ok')).toHaveLength(4);
    expect(again.find((r) => r?.kind === 'ok')).toMatchObject({ snapshot: { tokens: { remaining: expect.any(Number) } } });
  });
});

describe('admission with the deferred request per minute', () => {
  it('takes the request with the tokens and reservation, and refuses with the requests limit first', async () => {
    const conn = await connect(SHARED_REDIS_URL, sharedPrefix());
    const l = limiter(conn);
    const b = book(conn, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: 1000, debitedMicros: 0 }]))));
    const admit = admitAndReserve(conn.client, l, b);
    const scopes: LimitScope[] = [{ id: 'acct:r', limits: { requestsPerMinute: 2, tokensPerMinute: 1000 } }];
    expect(await admit(scopes, 10, 'acct-r', 10, true)).toMatchObject({ kind: 'ok', snapshot: { requests: { remaining: 1 } } });
    expect(await admit(scopes, 10, 'acct-r', 10, true)).toMatchObject({ kind: 'ok', snapshot: { requests: { remaining: 0 } } });
    // The bucket is empty: a 429 for requests per minute (the balance would have been short as well).
    const refused = await admit(scopes, 10, 'acct-r', 5000, true);
    expect(refused).toMatchObject({ kind: 'limited', refusal: { kind: 'requests', limit: 2 } });
    expect(refused?.kind === 'limited' && refused.refusal.retryAfterMs).toBeGreaterThan(0);
    // Without the request (already taken at arrival), the requests bucket is not checked.
    expect((await admit(scopes, 10, 'acct-r', 10, false))?.kind).toBe('ok');
  });
});

describe('the balance after Redis lost its data', () => {
  it('counts what the store debited meanwhile once the account is quiet', async () => {
    const conn = await connect(SHARED_REDIS_URL, sharedPrefix());
    let balance = 1000;
    let debited = 0;
    const load: CreditsLoader = (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: balance, debitedMicros: debited }])));
    // Credits re-read on every call (max age 0), quiet after 300 ms.
    const b = new RedisBalanceBook(conn, load, report, 0, 300);
    closers.push(() => b.close());
    const inFlight = await b.reserve('acct-l', 400);
    // Redis restarts empty while the request runs; the next request rebuilds the account from the store.
    for (const key of await conn.client.keys(`${conn.prefix}*`)) await conn.client.del(key);
    const next = await b.reserve('acct-l', 10);
    expect(next).toMatchObject({ ok: true });
    // The first request settles (Redis no longer knows its reservation) and its cost reaches the store.
    if (inFlight.ok) b.settle(inFlight.reservation, 300);
    if (next.ok) b.settle(next.reservation, 10);
    await Promise.all([...(b as unknown as { inFlight: Set<Promise<void>> }).inFlight]);
    balance -= 310;
    debited += 310;
    // Until the account is quiet, admission misses the 300 (the store says 690 is left) ...
    expect(await b.reserve('acct-l', 991)).toMatchObject({ ok: false, availableMicros: 990 });
    await new Promise((r) => setTimeout(r, 400));
    // ... and once it is, the store's debited is taken as spent: exact again.
    expect(await b.reserve('acct-l', 691)).toMatchObject({ ok: false, availableMicros: 690 });
    expect(await b.reserve('acct-l', 690)).toMatchObject({ ok: true });
  });
});

describe('the events channel', () => {
  it('an instance that started while Redis was away hears the others once it is back', async () => {
    const server = await privateRedis();
    const prefix = uniquePrefix('events');
    const conn = openRedis(redisConfig(server.url, prefix), logger);
    connections.push(conn);
    const heard: ClusterEvent[] = [];
    const events = clusterEvents(conn, logger, (e) => heard.push(e));
    closers.push(() => events.close());
    try {
      await new Promise((r) => setTimeout(r, 300)); // it tries, and fails, to connect
      await server.start();
      const other = await connect(server.url, prefix);
      const publisher = clusterEvents(other, logger, () => undefined);
      closers.push(() => publisher.close());
      for (let i = 0; i < 100 && heard.length === 0; i++) {
        publisher.publish({ type: 'identities' });
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(heard[0]).toEqual({ type: 'identities' });
    } finally {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      for (const c of connections.splice(0)) await c.close();
      await server.stop();
    }
  });
});

describe('Redis going away', () => {
  it('each limit follows its policy, failures are reported, and global limits come back with Redis', async () => {
    const server = await privateRedis();
    await server.start();
    try {
      const prefix = uniquePrefix('outage');
      const connA = await connect(server.url, prefix);
      const connB = await connect(server.url, prefix);
      const closed = limiter(connA, { requests: 'closed', tokens: 'open', concurrency: 'local' });
      const local = limiter(connB, { requests: 'local', tokens: 'local', concurrency: 'local' });
      const rpm: LimitScope[] = [{ id: 'acct:o', limits: { requestsPerMinute: 5 } }];
      for (let i = 0; i < 5; i++) expect((await closed.takeRequest(rpm)).ok).toBe(true);
      expect((await local.takeRequest(rpm)).ok).toBe(false); // one bucket for both

      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // closed: refused with a 503; local: this instance's own bucket (full) decides.
      await expect(closed.takeRequest(rpm)).rejects.toMatchObject({ code: 'limits_unavailable', status: 503 });
      const localResults = await Promise.all(Array.from({ length: 7 }, () => local.takeRequest(rpm)));
      expect(localResults.filter((r) => r.ok)).toHaveLength(5);
      // tokens open, concurrency local: a slot of 1 is enforced in memory, tokens not at all.
      const work: LimitScope[] = [{ id: 'acct:w', limits: { tokensPerMinute: 10, concurrentRequests: 1 } }];
      const w1 = await closed.admitWork(work, 1000);
      expect(w1.ok).toBe(true);
      expect(await closed.admitWork(work, 1)).toMatchObject({ ok: false, kind: 'concurrency' });
      if (w1.ok) await closed.finish(w1.lease, 1000);
      expect((await closed.admitWork(work, 1)).ok).toBe(true);
      expect(failures.some((f) => f.operation === 'take_request' && f.policy === 'closed')).toBe(true);
      expect(failures.some((f) => f.operation === 'take_request' && f.policy === 'local')).toBe(true);
      expect(failures.some((f) => f.operation === 'admit_tokens' && f.policy === 'open')).toBe(true);
      // Reservations fail closed.
      const b = book(connA, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: 10_000, debitedMicros: 0 }]))));
      const refused = await b.reserve('acct-o', 10).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(GatewayError);
      expect(refused).toMatchObject({ code: 'limits_unavailable' });

      // Redis is back (empty: it kept nothing): the limit is one global bucket again.
      await server.start();
      await Promise.all([connA.ready(5000), connB.ready(5000)]);
      const back = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? closed : local).takeRequest(rpm)));
      expect(back.filter((r) => r.ok)).toHaveLength(5);
      expect(await b.reserve('acct-o', 10)).toMatchObject({ ok: true });
    } finally {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      await server.stop();
    }
  });
});

describe('what an instance holds, after Redis comes back', () => {
  const conc = (conn: RedisConnection, scope: string): Promise<number> => conn.client.zcard(`${conn.prefix}rl:${scope}:conc`);

  it('slots taken during the outage (local and open) and slots Redis lost are written back, renewed, and released once', async () => {
    const server = await privateRedis();
    await server.start();
    try {
      const prefix = uniquePrefix('rereg');
      const connA = await connect(server.url, prefix);
      const connB = await connect(server.url, prefix);
      const local = limiter(connA, { requests: 'local', tokens: 'local', concurrency: 'local' });
      const open = limiter(connB, { requests: 'open', tokens: 'open', concurrency: 'open' });
      const scopes: LimitScope[] = [{ id: 'acct:s', limits: { concurrentRequests: 2, tokensPerMinute: 1000 } }];
      const before = await local.admitWork(scopes, 10);
      const endedDuringOutage = await open.admitWork(scopes, 10);
      expect(before.ok && endedDuringOutage.ok).toBe(true);
      expect(await conc(connA, 'acct:s')).toBe(2);

      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // local: two more in this instance's memory; open: any number.
      const localLeases = await Promise.all([local.admitWork(scopes, 10), local.admitWork(scopes, 10), local.admitWork(scopes, 10)]);
      expect(localLeases.map((r) => r.ok)).toEqual([true, true, false]);
      const openLeases = await Promise.all([open.admitWork(scopes, 10), open.admitWork(scopes, 10), open.admitWork(scopes, 10)]);
      expect(openLeases.every((r) => r.ok)).toBe(true);
      // Its release cannot reach Redis now: given back once Redis answers.
      if (endedDuringOutage.ok) await open.finish(endedDuringOutage.lease, 10);

      // Back, empty: 1 from before + 2 local + 3 open are running, and Redis counts them all.
      await server.start();
      await Promise.all([connA.ready(5000), connB.ready(5000)]);
      expect(await local.admitWork(scopes, 1)).toMatchObject({ ok: false, kind: 'concurrency' });
      expect(await open.admitWork(scopes, 1)).toMatchObject({ ok: false, kind: 'concurrency' });
      expect(await conc(connA, 'acct:s')).toBe(6);
      // Renewed like any slot: still counted after several lease times (1 s).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await conc(connA, 'acct:s')).toBe(6);
      expect(await open.admitWork(scopes, 1)).toMatchObject({ ok: false, kind: 'concurrency' });

      // Each ends once (a second finish changes nothing): none left, and the limit is 2 again.
      const all = [before, ...localLeases.slice(0, 2), ...openLeases];
      for (const [i, r] of all.entries()) {
        const owner = i < 3 ? local : open;
        if (r.ok) {
          await owner.finish(r.lease, 5);
          await owner.finish(r.lease, 5);
        }
      }
      expect(await conc(connA, 'acct:s')).toBe(0);
      const next = await Promise.all([local.admitWork(scopes, 1), open.admitWork(scopes, 1), local.admitWork(scopes, 1)]);
      expect(next.filter((r) => r.ok)).toHaveLength(2);
    } finally {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      await server.stop();
    }
  });

  it('a slot that expired while Redis kept its data is written back on reconnection', async () => {
    const conn = await connect(SHARED_REDIS_URL, sharedPrefix());
    const l = limiter(conn);
    const scopes: LimitScope[] = [{ id: 'acct:e', limits: { concurrentRequests: 1 } }];
    const held = await l.admitWork(scopes, 1);
    expect(held.ok).toBe(true);
    // As if the instance could not renew it for longer than the lease.
    await conn.client.zremrangebyrank(`${conn.prefix}rl:acct:e:conc`, 0, -1);
    const back = once(conn.client, 'ready');
    conn.client.disconnect(true);
    await back;
    expect(await l.admitWork(scopes, 1)).toMatchObject({ ok: false, kind: 'concurrency' });
    if (held.ok) await l.finish(held.lease, 1);
    expect((await l.admitWork(scopes, 1)).ok).toBe(true);
  });

  it('reservations are written back: the balance is not reserved twice, and a settlement counts once', async () => {
    const server = await privateRedis();
    await server.start();
    try {
      const conn = await connect(server.url, uniquePrefix('rereg-bal'));
      const b = book(conn, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: 1000, debitedMicros: 0 }]))));
      const running = await b.reserve('acct-w', 600);
      expect(running.ok).toBe(true);
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Reservations fail closed while Redis is away.
      await expect(b.reserve('acct-w', 10)).rejects.toMatchObject({ code: 'limits_unavailable' });

      // Back, empty: the 600 still running is reserved again before anything else is admitted.
      await server.start();
      await conn.ready(5000);
      expect(await b.reserve('acct-w', 401)).toEqual({ ok: false, availableMicros: 400 });
      // Renewed past its lease (1 s).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await b.reserve('acct-w', 401)).toEqual({ ok: false, availableMicros: 400 });
      if (running.ok) {
        b.settle(running.reservation, 250);
        b.settle(running.reservation, 250);
      }
      await Promise.all([...(b as unknown as { inFlight: Set<Promise<void>> }).inFlight]);
      expect(await conn.client.hget(`${conn.prefix}bal:acct-w`, 'reserved')).toBe('0');
      expect(await b.reserve('acct-w', 751)).toEqual({ ok: false, availableMicros: 750 });
      expect((await b.reserve('acct-w', 750)).ok).toBe(true);
    } finally {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      await server.stop();
    }
  });

  it('a reservation that expired while Redis kept its data counts again on reconnection', async () => {
    const conn = await connect(SHARED_REDIS_URL, sharedPrefix());
    const b = book(conn, (ids) => Promise.resolve(new Map(ids.map((id) => [id, { balanceMicros: 1000, debitedMicros: 0 }]))));
    const running = await b.reserve('acct-x', 600);
    expect(running.ok).toBe(true);
    // As if unrenewed past its lease: expired, and taken out of the total by the next admission.
    const resKey = `${conn.prefix}res:acct-x`;
    const [id] = await conn.client.zrange(resKey, '0', '0');
    await conn.client.zadd(resKey, '1', id);
    expect(await b.reserve('acct-x', 1001)).toEqual({ ok: false, availableMicros: 1000 });
    const back = once(conn.client, 'ready');
    conn.client.disconnect(true);
    await back;
    expect(await b.reserve('acct-x', 401)).toEqual({ ok: false, availableMicros: 400 });
  });
});
