// The portal's store on both dialects (SQLite and a throwaway database on the real PostgreSQL): people,
// members, sessions, codes (a redemption code raced 50 times credits once), the hourly usage rollup
// against a direct aggregate of the records, and migration 006's backfill.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import { openStore, sqlitePath, type Database } from '../../src/store/database.js';
import { migrateTo, migrateToLatest } from '../../src/store/migrations.js';
import { BalanceTooHighError, MAX_BALANCE_MICROS } from '../../src/store/ledger.js';
import { HOUR_MS, DAY_MS } from '../../src/store/usage-rollup.js';
import { AlreadyExistsError, type Store } from '../../src/store/store.js';
import { hashApiKey } from '../../src/auth/key-material.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { usageRecordFixture } from '../helpers/usage.js';
import type { UsageRecord } from '../../src/store/usage.js';

const PEPPER = 'portal-test-pepper-0123456789';
const hash = (value: string): string => hashApiKey(PEPPER, value);

const tempDirs: string[] = [];
const stores: Store[] = [];
const databases: TestDatabase[] = [];

interface Dialect {
  name: 'sqlite' | 'postgres';
  newUrl(): Promise<string>;
}

const SQLITE: Dialect = {
  name: 'sqlite',
  newUrl() {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-portal-'));
    tempDirs.push(dir);
    return Promise.resolve(`sqlite:${join(dir, 'floodgate.db')}`);
  },
};
const POSTGRES: Dialect = {
  name: 'postgres',
  async newUrl() {
    const database = await createTestDatabase('portal');
    databases.push(database);
    return database.url;
  },
};

async function open(url: string, opts: { migrate?: boolean; poolSize?: number } = {}): Promise<Store> {
  const store = await openStore({ url, ...opts });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const database of databases.splice(0)) await database.drop();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The ledger's sum and the balance of one account. */
async function ledgerAndBalance(store: Store, accountId: string): Promise<{ ledger: number; balance: number; entries: number }> {
  const entries = await store.ledger.list(accountId, { limit: 1000 });
  const account = await store.accounts.getById(accountId);
  return { ledger: entries.reduce((sum, e) => sum + e.amountMicros, 0), balance: account!.balanceMicros, entries: entries.length };
}

/** usage_hourly as stored, and the same sums computed straight from usage_records: they must be equal. */
async function rollupAndAggregate(db: Kysely<Database>): Promise<{ rollup: unknown[]; direct: unknown[] }> {
  const rollup = await sql<Record<string, unknown>>`
    select account_id, key_id, model, hour, requests, errors, prompt_tokens, cached_tokens, completion_tokens, cost_micros
    from usage_hourly order by account_id, hour, key_id, model`.execute(db);
  const direct = await sql<Record<string, unknown>>`
    select account_id, key_id, model, (created_at / 3600000) * 3600000 as hour, count(*) as requests,
      sum(case when status >= 400 then 1 else 0 end) as errors, sum(prompt_tokens) as prompt_tokens,
      sum(cached_tokens) as cached_tokens, sum(completion_tokens) as completion_tokens, sum(cost_micros) as cost_micros
    from usage_records group by account_id, key_id, model, (created_at / 3600000) * 3600000
    order by account_id, hour, key_id, model`.execute(db);
  // PostgreSQL sums are numeric (strings): compare as numbers.
  const normal = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])));
  return { rollup: normal(rollup.rows), direct: normal(direct.rows) };
}

describe.each([SQLITE, POSTGRES])('portal store ($name)', (dialect) => {
  it('people: unique email whatever its case, find, password, role, search', async () => {
    const store = await open(await dialect.newUrl());
    const ann = await store.users.create({ email: ' Ann@Example.com ', passwordHash: 'scrypt$1' }, 1000);
    expect(ann).toMatchObject({ email: 'ann@example.com', role: 'user', createdAt: 1000, passwordHash: 'scrypt$1' });
    expect(ann.id).toMatch(/^usr_[A-Za-z0-9]{20}$/);
    await expect(store.users.create({ email: 'ANN@example.com', passwordHash: 'x' })).rejects.toBeInstanceOf(AlreadyExistsError);
    expect(await store.users.findByEmail('ANN@EXAMPLE.COM')).toEqual(ann);
    expect(await store.users.findByEmail('nobody@example.com')).toBeUndefined();

    expect(await store.users.updatePassword(ann.id, 'scrypt$2')).toBe(true);
    expect(await store.users.updatePassword('usr_none', 'scrypt$2')).toBe(false);
    expect((await store.users.get(ann.id))?.passwordHash).toBe('scrypt$2');
    expect(await store.users.setRole(ann.id, 'admin')).toMatchObject({ id: ann.id, role: 'admin' });

    const bob = await store.users.create({ email: 'bob_100%@corp.io', passwordHash: 'h' }, 2000);
    expect((await store.users.list()).map((u) => u.email)).toEqual(['ann@example.com', 'bob_100%@corp.io']);
    expect((await store.users.list({ q: 'CORP' })).map((u) => u.id)).toEqual([bob.id]);
    // LIKE's wildcards are taken literally.
    expect((await store.users.list({ q: '_100%' })).map((u) => u.id)).toEqual([bob.id]);
    expect(await store.users.list({ q: 'n_100' })).toEqual([]);
  });

  it('members: owner and members, each person’s accounts oldest first, removal', async () => {
    const store = await open(await dialect.newUrl());
    const team = await store.accounts.create({ name: 'team' });
    const solo = await store.accounts.create({ name: 'solo' });
    const ann = await store.users.create({ email: 'ann@x.io', passwordHash: 'h' });
    const bob = await store.users.create({ email: 'bob@x.io', passwordHash: 'h' });
    await store.members.add(solo.id, bob.id, 'owner', 100);
    await store.members.add(team.id, bob.id, 'member', 300);
    await store.members.add(team.id, ann.id, 'owner', 200);
    await expect(store.members.add(team.id, ann.id, 'member')).rejects.toBeInstanceOf(AlreadyExistsError);

    expect(await store.members.listForUser(bob.id)).toEqual([
      { accountId: solo.id, accountName: 'solo', role: 'owner', createdAt: 100 },
      { accountId: team.id, accountName: 'team', role: 'member', createdAt: 300 },
    ]);
    expect(await store.members.listForAccount(team.id)).toEqual([
      { userId: ann.id, email: 'ann@x.io', role: 'owner', createdAt: 200 },
      { userId: bob.id, email: 'bob@x.io', role: 'member', createdAt: 300 },
    ]);
    expect(await store.members.emailsForAccounts([team.id, solo.id, 'acct_none'])).toEqual(
      new Map([
        [solo.id, ['bob@x.io']],
        [team.id, ['ann@x.io', 'bob@x.io']],
      ]),
    );
    expect(await store.members.role(team.id, ann.id)).toBe('owner');
    expect(await store.members.role(solo.id, ann.id)).toBeUndefined();
    expect(await store.members.remove(team.id, bob.id)).toBe(true);
    expect(await store.members.remove(team.id, bob.id)).toBe(false);
    expect(await store.members.role(team.id, bob.id)).toBeUndefined();
  });

  it('sessions: valid until expiry, touched at most once a minute, ended one, all but one, or when expired', async () => {
    const store = await open(await dialect.newUrl());
    const ann = await store.users.create({ email: 'ann@x.io', passwordHash: 'h' });
    const s1 = await store.sessions.create({ idHash: hash('s1'), userId: ann.id, admin: false, csrfToken: 'c1', expiresAt: 10_000 }, 1000);
    await store.sessions.create({ idHash: hash('s2'), userId: ann.id, admin: false, csrfToken: 'c2', expiresAt: 10_000 }, 1000);
    await store.sessions.create({ idHash: hash('s3'), userId: ann.id, admin: false, csrfToken: 'c3', expiresAt: 500_000 }, 1000);
    const adminSession = await store.sessions.create({ idHash: hash('adm'), userId: null, admin: true, csrfToken: 'ca', expiresAt: 5000 }, 1000);

    expect(await store.sessions.findValid(hash('s1'), 9_999)).toEqual(s1);
    expect(await store.sessions.findValid(hash('s1'), 10_000)).toBeUndefined();
    expect(await store.sessions.findValid(hash('adm'), 2000)).toEqual({ ...adminSession, admin: true, userId: null });
    expect(await store.sessions.findValid(hash('nope'), 2000)).toBeUndefined();

    expect(await store.sessions.touch(hash('s3'), 30_000)).toBe(false);
    expect(await store.sessions.touch(hash('s3'), 61_000)).toBe(true);
    expect(await store.sessions.touch(hash('s3'), 100_000)).toBe(false);
    expect((await store.sessions.findValid(hash('s3'), 100_000))?.lastSeenAt).toBe(61_000);

    // A password change ends the person's other sessions; the admin's is not theirs.
    expect(await store.sessions.deleteForUser(ann.id, hash('s1'))).toBe(2);
    expect(await store.sessions.findValid(hash('s1'), 2000)).toBeDefined();
    expect(await store.sessions.findValid(hash('s2'), 2000)).toBeUndefined();
    expect(await store.sessions.purgeExpired(6000)).toBe(1);
    expect(await store.sessions.findValid(hash('s1'), 5999)).toBeDefined();
    expect(await store.sessions.delete(hash('s1'))).toBe(true);
    expect(await store.sessions.delete(hash('s1'))).toBe(false);
  });

  it('redemption codes: made once in plain, stored hashed, credit once, not when expired or past the largest balance', async () => {
    const store = await open(await dialect.newUrl());
    const a = await store.accounts.create({ name: 'a' });
    const { batch, codes } = await store.redemptionCodes.createBatch({ count: 3, amountMicros: 5_000_000, expiresAt: 50_000, createdBy: 'admin' }, hash, 1000);
    expect(codes).toHaveLength(3);
    for (const code of codes) expect(code).toMatch(/^RC-[A-Za-z0-9]{16}$/);
    expect(new Set(codes).size).toBe(3);
    const listed = await store.redemptionCodes.list({ batch });
    expect(listed.map((c) => c.hint).sort()).toEqual(codes.map((c) => `${c.slice(0, 7)}…`).sort());
    expect(listed[0]).toMatchObject({ amountMicros: 5_000_000, createdAt: 1000, expiresAt: 50_000, redeemedAt: null, accountId: null, createdBy: 'admin' });
    // Nothing but the hash and the hint is stored.
    const stored = await store.db.selectFrom('redemption_codes').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(codes[0].slice(3));
    expect(stored.map((r) => r.code_hash).sort()).toEqual(codes.map(hash).sort());

    const entry = await store.redemptionCodes.redeem(hash(codes[0]), a.id, 'user:usr_1', 2000);
    expect(entry).toMatchObject({ accountId: a.id, kind: 'credit', amountMicros: 5_000_000, balanceAfterMicros: 5_000_000, reason: `redemption ${codes[0].slice(0, 7)}…`, actor: 'user:usr_1', createdAt: 2000 });
    expect(await store.redemptionCodes.redeem(hash(codes[0]), a.id, 'user:usr_1', 2001)).toBeUndefined();
    expect(await store.redemptionCodes.redeem(hash('RC-unknown'), a.id, 'user:usr_1', 2001)).toBeUndefined();
    expect(await store.redemptionCodes.redeem(hash(codes[1]), a.id, 'user:usr_1', 50_000)).toBeUndefined();
    // An account that does not exist leaves the code redeemable.
    expect(await store.redemptionCodes.redeem(hash(codes[1]), 'acct_none', 'user:usr_1', 3000)).toBeUndefined();
    expect((await store.redemptionCodes.list({ batch })).find((c) => c.hint === codes[1].slice(0, 7) + '…')?.redeemedAt).toBeNull();
    expect((await store.redemptionCodes.list({ batch })).find((c) => c.hint === codes[0].slice(0, 7) + '…')).toMatchObject({ redeemedAt: 2000, accountId: a.id });

    // Past the largest balance: refused, and the code is left as it was.
    await store.ledger.record({ accountId: a.id, kind: 'credit', amountMicros: MAX_BALANCE_MICROS - 5_000_000 - 1, reason: 'fill', actor: 'admin' });
    await expect(store.redemptionCodes.redeem(hash(codes[2]), a.id, 'user:usr_1', 3000)).rejects.toBeInstanceOf(BalanceTooHighError);
    expect((await store.redemptionCodes.list({ batch })).every((c) => c.hint !== codes[2].slice(0, 7) + '…' || c.redeemedAt === null)).toBe(true);
    const books = await ledgerAndBalance(store, a.id);
    expect(books.ledger).toBe(books.balance);

    await expect(store.redemptionCodes.createBatch({ count: 0, amountMicros: 1, createdBy: 'admin' }, hash)).rejects.toThrow(RangeError);
    await expect(store.redemptionCodes.createBatch({ count: 1001, amountMicros: 1, createdBy: 'admin' }, hash)).rejects.toThrow(RangeError);
    await expect(store.redemptionCodes.createBatch({ count: 1, amountMicros: 0, createdBy: 'admin' }, hash)).rejects.toThrow(RangeError);
  });

  it('a redemption code redeemed 50 times at once credits once, on one connection or several and from several stores', async () => {
    const url = await dialect.newUrl();
    // PostgreSQL: two stores (two gateways) of 10 pooled connections each; SQLite: the one connection.
    const instances = dialect.name === 'postgres' ? [await open(url, { poolSize: 10 }), await open(url, { poolSize: 10 })] : [await open(url)];
    const store = instances[0];
    const a = await store.accounts.create({ name: 'a' });
    const b = await store.accounts.create({ name: 'b' });
    const { codes } = await store.redemptionCodes.createBatch({ count: 1, amountMicros: 7_000_000, createdBy: 'admin' }, hash);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => instances[i % instances.length].redemptionCodes.redeem(hash(codes[0]), i % 3 === 0 ? b.id : a.id, `user:${i}`)),
    );
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.accountId;
    const loser = winner === a.id ? b.id : a.id;
    expect(await ledgerAndBalance(store, winner)).toEqual({ ledger: 7_000_000, balance: 7_000_000, entries: 1 });
    expect(await ledgerAndBalance(store, loser)).toEqual({ ledger: 0, balance: 0, entries: 0 });
  });

  it('invite codes: used once, even at once; not when expired', async () => {
    const store = await open(await dialect.newUrl());
    const { codes } = await store.inviteCodes.createBatch({ count: 2, expiresAt: 10_000, createdBy: 'admin' }, hash, 1000);
    for (const code of codes) expect(code).toMatch(/^INV-[A-Za-z0-9]{16}$/);
    const used = await Promise.all(Array.from({ length: 20 }, (_, i) => store.inviteCodes.use(hash(codes[0]), `usr_${i}`, 2000)));
    expect(used.filter(Boolean)).toHaveLength(1);
    expect(await store.inviteCodes.use(hash(codes[1]), 'usr_x', 10_000)).toBe(false);
    expect(await store.inviteCodes.use(hash('INV-nope'), 'usr_x', 2000)).toBe(false);
    const listed = await store.inviteCodes.list();
    expect(listed).toHaveLength(2);
    expect(listed.find((c) => c.hint === codes[0].slice(0, 8) + '…')).toMatchObject({ usedAt: 2000, usedBy: `usr_${used.indexOf(true)}`, createdBy: 'admin', expiresAt: 10_000 });
    expect(listed.find((c) => c.hint === codes[1].slice(0, 8) + '…')).toMatchObject({ usedAt: null, usedBy: null });
  });

  it('sign-up in one transaction through portalRepositories(trx): an invite already used rolls the person back', async () => {
    const store = await open(await dialect.newUrl());
    const { portalRepositories, newUserId } = await import('../../src/store/portal.js');
    const { codes } = await store.inviteCodes.createBatch({ count: 1, createdBy: 'admin' }, hash);
    const signUp = (email: string) =>
      store.db.transaction().execute(async (trx) => {
        const repos = portalRepositories(trx);
        const id = newUserId();
        if (!(await repos.inviteCodes.use(hash(codes[0]), id))) throw new Error('invite used');
        return repos.users.create({ id, email, passwordHash: 'h' });
      });
    const ann = await signUp('ann@x.io');
    await expect(signUp('bob@x.io')).rejects.toThrow('invite used');
    expect((await store.users.list()).map((u) => u.id)).toEqual([ann.id]);
  });

  it('usage_hourly equals a direct aggregate of the records after several batches, and the series read it', async () => {
    const store = await open(await dialect.newUrl());
    const a = await store.accounts.create({ name: 'a' });
    const b = await store.accounts.create({ name: 'b' });
    await store.ledger.record({ accountId: a.id, kind: 'credit', amountMicros: 10_000_000, reason: 't', actor: 't' });
    await store.ledger.record({ accountId: b.id, kind: 'credit', amountMicros: 10_000_000, reason: 't', actor: 't' });
    const day0 = Date.UTC(2026, 0, 10);
    let n = 0;
    const record = (accountId: string, at: number, over: Partial<UsageRecord> = {}): UsageRecord =>
      usageRecordFixture(accountId, 100 + (n % 7), n++, { createdAt: at, promptTokens: 10 + (n % 5), cachedTokens: n % 3, completionTokens: 3 + (n % 4), ...over });
    const batches: UsageRecord[][] = [];
    // The same hours (and keys and models) again in later batches, so the upserts must add up.
    for (let batch = 0; batch < 4; batch++) {
      const records: UsageRecord[] = [];
      for (let i = 0; i < 90; i++) {
        const at = day0 + ((i * 7919 + batch * 104729) % (3 * 24 * 60)) * 60_000 + i;
        records.push(record(i % 4 === 0 ? b.id : a.id, at, { keyId: `key_${i % 3}`, model: ['m1', 'm2'][i % 2], status: i % 11 === 0 ? 503 : 200 }));
      }
      records.push(record(a.id, day0 + 5, { keyId: 'key_0', model: 'm1' }));
      batches.push(records);
      await store.usage.insertBatch(records);
    }
    const { rollup, direct } = await rollupAndAggregate(store.db);
    expect(rollup.length).toBeGreaterThan(10);
    expect(rollup).toEqual(direct);
    const all = batches.flat();
    // The debits and the rollup came from the same transactions.
    expect((await store.accounts.credits([a.id])).get(a.id)?.debitedMicros).toBe(all.filter((r) => r.accountId === a.id).reduce((s, r) => s + r.costMicros, 0));

    const from = day0;
    const to = day0 + 3 * DAY_MS;
    const ofA = all.filter((r) => r.accountId === a.id);
    // Hourly, by model, for one account: each point is the records of that hour and model.
    const byModel = await store.usageRollup.series({ accountId: a.id, from, to, bucket: 'hour', groupBy: 'model' });
    expect(byModel.map((s) => s.name).sort()).toEqual(['m1', 'm2']);
    for (const s of byModel) {
      for (const p of s.points) {
        const rs = ofA.filter((r) => r.model === s.name && Math.floor(r.createdAt / HOUR_MS) * HOUR_MS === p.t);
        expect(p).toEqual({
          t: p.t,
          requests: rs.length,
          errors: rs.filter((r) => r.status >= 400).length,
          promptTokens: rs.reduce((x, r) => x + r.promptTokens, 0),
          cachedTokens: rs.reduce((x, r) => x + r.cachedTokens, 0),
          completionTokens: rs.reduce((x, r) => x + r.completionTokens, 0),
          costMicros: rs.reduce((x, r) => x + r.costMicros, 0),
        });
      }
      expect(s.points.reduce((x, p) => x + p.requests, 0)).toBe(ofA.filter((r) => r.model === s.name).length);
    }
    // Daily, ungrouped: UTC days summed from the hours.
    const days = await store.usageRollup.series({ accountId: a.id, from, to, bucket: 'day', groupBy: 'none' });
    expect(days).toHaveLength(1);
    expect(days[0].name).toBe('all');
    expect(days[0].points.map((p) => [p.t, p.requests, p.costMicros])).toEqual(
      [0, 1, 2].map((d) => {
        const rs = ofA.filter((r) => Math.floor(r.createdAt / DAY_MS) === Math.floor(day0 / DAY_MS) + d);
        return [day0 + d * DAY_MS, rs.length, rs.reduce((x, r) => x + r.costMicros, 0)];
      }),
    );
    expect(await store.usageRollup.usageByDay(a.id, from, to)).toEqual(days[0].points.map((p) => ({ day: p.t, costMicros: p.costMicros, requests: p.requests })));
    // By key for one account; across accounts by account; the range bounds the hours.
    const byKey = await store.usageRollup.series({ accountId: a.id, from, to, bucket: 'day', groupBy: 'key' });
    expect(byKey.map((s) => s.name).sort()).toEqual(['key_0', 'key_1', 'key_2']);
    const byAccount = await store.usageRollup.series({ from, to, bucket: 'day', groupBy: 'account' });
    expect(new Map(byAccount.map((s) => [s.name, s.points.reduce((x, p) => x + p.requests, 0)]))).toEqual(
      new Map([
        [a.id, ofA.length],
        [b.id, all.length - ofA.length],
      ]),
    );
    const firstHour = await store.usageRollup.series({ accountId: a.id, from: day0 + 1, to: day0 + HOUR_MS, bucket: 'hour', groupBy: 'none' });
    expect(firstHour[0].points).toHaveLength(1);
    expect(firstHour[0].points[0].requests).toBe(ofA.filter((r) => r.createdAt < day0 + HOUR_MS).length);
    expect(await store.usageRollup.series({ accountId: 'acct_none', from, to, bucket: 'hour', groupBy: 'none' })).toEqual([]);
  });

  it.runIf(dialect.name === 'sqlite')('the batch statements the SQLite writer thread runs keep the rollup too', async () => {
    const url = await dialect.newUrl();
    const store = await open(url);
    const a = await store.accounts.create({ name: 'a' });
    const hour = Date.UTC(2026, 2, 3, 10);
    const batches = [0, 1, 2].map((b) => Array.from({ length: 70 }, (_, i) => usageRecordFixture(a.id, 3, b * 100 + i, { createdAt: hour + (i % 2) * HOUR_MS + b, model: `m${i % 3}` })));
    // As store/sqlite-writer runs them: its own better-sqlite3 connection, one transaction per batch.
    const writer = new SqliteDatabase(sqlitePath(url));
    try {
      const run = writer.transaction((statements: readonly { sql: string; parameters: readonly unknown[] }[]) => {
        for (const q of statements) writer.prepare(q.sql).run(q.parameters as unknown[]);
      });
      for (const batch of batches) run(store.usage.batchStatements(batch));
    } finally {
      writer.close();
    }
    const { rollup, direct } = await rollupAndAggregate(store.db);
    expect(rollup).toHaveLength(6);
    expect(rollup).toEqual(direct);
    expect((await store.usageRollup.series({ accountId: a.id, from: hour, to: hour + 2 * HOUR_MS, bucket: 'day', groupBy: 'none' }))[0].points[0]).toMatchObject({ requests: 210, costMicros: 630 });
  });

  it('006_portal fills usage_hourly from the records stored before it', async () => {
    const store = await open(await dialect.newUrl(), { migrate: false });
    await migrateTo(store.db, '005_reported_usage');
    await store.db.insertInto('accounts').values({ id: 'acct_a', name: 'a', balance_micros: 0, created_at: 1 }).execute();
    const base = Date.UTC(2026, 1, 1);
    const rows = Array.from({ length: 40 }, (_, i) => ({
      id: `u${i}`,
      created_at: base + i * 17 * 60_000,
      request_id: `r${i}`,
      account_id: i % 5 === 0 ? 'acct_b' : 'acct_a',
      key_id: `k${i % 2}`,
      endpoint: 'chat',
      model: i % 3 === 0 ? 'x' : 'y',
      deployment: null,
      stream: 0,
      prompt_tokens: i,
      cached_tokens: i % 4,
      completion_tokens: 2 * i,
      reasoning_tokens: 0,
      cost_micros: 1000 + i,
      status: i % 6 === 0 ? 429 : 200,
      latency_ms: 1,
      ttft_ms: null,
      settle: 'complete',
      error_code: null,
    }));
    await store.db.insertInto('usage_records').values(rows).execute();
    expect(await migrateToLatest(store.db)).toEqual(['006_portal', '007_responses', '008_budgets']);
    const { rollup, direct } = await rollupAndAggregate(store.db);
    expect(rollup.length).toBeGreaterThan(10);
    expect(rollup).toEqual(direct);
    expect(rollup.reduce((n: number, r) => n + Number((r as { requests: number }).requests), 0)).toBe(40);
  });
});
