// The store's repositories on both dialects (SQLite and a throwaway database on the real PostgreSQL), and
// what only one of them has: SQLite's pragmas and statement cache, PostgreSQL's pool and row locks.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import { resolveConfig, type Config } from '../../src/config/load.js';
import { openStore } from '../../src/store/database.js';
import { migrateTo, migrateToLatest, migrationStatus, MIGRATIONS } from '../../src/store/migrations.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { usageRecordFixture } from '../helpers/usage.js';
import { BalanceTooLowError } from '../../src/store/ledger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { apiKeyStatus } from '../../src/store/api-keys.js';
import { AlreadyExistsError, type Store } from '../../src/store/store.js';
import {
  bootstrapStore,
  checkPepper,
  issueApiKey,
  pepperFingerprint,
  PepperMismatchError,
  verifyAdminToken,
  ADMIN_TOKEN_HASH_META,
  PEPPER_FINGERPRINT_META,
} from '../../src/auth/bootstrap.js';
import { hashApiKey } from '../../src/auth/key-material.js';

const PEPPER = 'test-pepper-0123456789abcdef';
const tempDirs: string[] = [];
const stores: Store[] = [];
const databases: TestDatabase[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-store-'));
  tempDirs.push(dir);
  return dir;
}

async function open(url: string, migrate?: boolean): Promise<Store> {
  const store = await openStore({ url, migrate });
  stores.push(store);
  return store;
}

interface Dialect {
  name: 'sqlite' | 'postgres';
  /** The URL of a new, empty store; `dir` is the test's data directory. */
  newUrl(dir: string): Promise<string>;
}

async function newPostgresUrl(): Promise<string> {
  const database = await createTestDatabase('store');
  databases.push(database);
  return database.url;
}

const SQLITE: Dialect = { name: 'sqlite', newUrl: (dir) => Promise.resolve(`sqlite:${join(dir, 'sub', 'floodgate.db')}`) };
const POSTGRES: Dialect = { name: 'postgres', newUrl: newPostgresUrl };
const DIALECTS = [SQLITE, POSTGRES];

async function freshStore(dialect: Dialect = SQLITE): Promise<{ store: Store; url: string; dir: string }> {
  const dir = tempDir();
  const url = await dialect.newUrl(dir);
  return { store: await open(url), url, dir };
}

function testConfig(dataDir: string, auth: Record<string, unknown> = {}): Config {
  return resolveConfig(
    {
      data_dir: dataDir,
      auth,
      providers: { sim: { type: 'simulator' } },
      models: [{ id: 'sim-chat', category: 'text', deployments: [{ provider: 'sim' }] }],
    },
    'test',
  );
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const database of databases.splice(0)) await database.drop();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('openStore', () => {
  it('keeps the SQLite database and its WAL readable by the owner only (0600), tightening an older file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-mode-'));
    tempDirs.push(dir);
    const loose = join(dir, 'old.db');
    writeFileSync(loose, '', { mode: 0o644 });
    chmodSync(loose, 0o644);
    for (const path of [join(dir, 'new', 'floodgate.db'), loose]) {
      const store = await openStore({ url: `sqlite:${path}` });
      await store.accounts.create({ name: 'mode' });
      for (const file of [path, `${path}-wal`]) expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      await store.close();
    }
  });

  it('creates the parent directory, uses WAL with foreign keys on, and migrates once', async () => {
    const { store, url, dir } = await freshStore();
    expect(existsSync(join(dir, 'sub', 'floodgate.db'))).toBe(true);
    const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
    expect(journal.rows[0].journal_mode).toBe('wal');
    const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
    expect(fk.rows[0].foreign_keys).toBe(1);
    await store.ping();

    const account = await store.accounts.create({ name: 'kept' });
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    // Opening again runs nothing and keeps the data.
    const again = await open(url);
    expect(await migrateToLatest(again.db)).toEqual([]);
    expect(await migrationStatus(again.db)).toEqual(Object.keys(MIGRATIONS).map((name) => ({ name, applied: true })));
    expect((await again.accounts.getById(account.id))?.name).toBe('kept');
  });

  it('reuses prepared statements, also after a streamed read of the same query', async () => {
    const { store } = await freshStore();
    await store.accounts.create({ name: 'one' });
    await store.accounts.create({ name: 'two' });
    const query = () => store.db.selectFrom('accounts').select('name').orderBy('name');
    const streamed: string[] = [];
    for await (const row of query().stream()) streamed.push(row.name);
    expect(streamed).toEqual(['one', 'two']);
    for (let i = 0; i < 3; i++) expect((await query().execute()).map((r) => r.name)).toEqual(['one', 'two']);
  });

  it('refuses unknown schemes without showing the password', async () => {
    await expect(openStore({ url: 'mysql://u:secret@db/x' })).rejects.toThrow(/unsupported store.url/);
    await expect(openStore({ url: 'mysql://u:secret@db/x' })).rejects.not.toThrow(/secret/);
  });
});

describe.each(DIALECTS)('migrations ($name)', (dialect) => {
  it('reports what ran when opened without migrating, and runs nothing twice', async () => {
    const store = await open(await dialect.newUrl(tempDir()), false);
    expect(await migrationStatus(store.db)).toEqual(Object.keys(MIGRATIONS).map((name) => ({ name, applied: false })));
    expect(await migrateToLatest(store.db)).toEqual(['001_accounts_keys', '002_ledger_usage', '003_media', '004_debited', '005_reported_usage', '006_portal', '007_responses', '008_budgets']);
    expect(await migrateToLatest(store.db)).toEqual([]);
    expect(await migrationStatus(store.db)).toEqual(Object.keys(MIGRATIONS).map((name) => ({ name, applied: true })));
  });

  it('004_debited starts each account at what its usage records already debited', async () => {
    const store = await open(await dialect.newUrl(tempDir()), false);
    await migrateTo(store.db, '003_media');
    // Rows as a store before 004 holds them (no debited_micros column yet).
    await store.db
      .insertInto('accounts')
      .values([
        { id: 'acct_a', name: 'a', balance_micros: 88, created_at: 1 },
        { id: 'acct_b', name: 'b', balance_micros: 50, created_at: 2 },
      ])
      .execute();
    await store.db
      .insertInto('usage_records')
      .values([usageRecordRow('u1', 'acct_a', 7), usageRecordRow('u2', 'acct_a', 5)])
      .execute();
    expect(await migrateToLatest(store.db)).toEqual(['004_debited', '005_reported_usage', '006_portal', '007_responses', '008_budgets']);
    const credits = await store.accounts.credits(['acct_a', 'acct_b', 'acct_none']);
    expect(credits).toEqual(
      new Map([
        ['acct_a', { balanceMicros: 88, debitedMicros: 12 }],
        ['acct_b', { balanceMicros: 50, debitedMicros: 0 }],
      ]),
    );
  });
});

describe.each(DIALECTS)('accounts ($name)', (dialect) => {
  it('creates, finds by id or name, lists and changes status', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'alpha' }, 1000);
    const b = await store.accounts.create({ name: 'beta', tier: 'enterprise', limits: { rpm: 10 } }, 2000);
    expect(a).toMatchObject({ name: 'alpha', tier: 'default', status: 'active', balanceMicros: 0, limits: null, createdAt: 1000 });
    expect(a.id).toMatch(/^acct_[A-Za-z0-9]{20}$/);
    expect(await store.accounts.getById(b.id)).toEqual(b);
    expect(await store.accounts.findByIdOrName('beta')).toEqual(b);
    expect(await store.accounts.findByIdOrName(a.id)).toEqual(a);
    expect(await store.accounts.findByIdOrName('nobody')).toBeUndefined();
    expect((await store.accounts.list()).map((x) => x.name)).toEqual(['alpha', 'beta']);
    expect(await store.accounts.count()).toBe(2);

    expect((await store.accounts.setStatus(a.id, 'disabled'))?.status).toBe('disabled');
    expect((await store.accounts.getById(a.id))?.status).toBe('disabled');
    expect(await store.accounts.setStatus('acct_missing', 'disabled')).toBeUndefined();
    expect((await store.accounts.setTier(b.id, 'standard'))?.tier).toBe('standard');
  });

  it('rejects a duplicate name with AlreadyExistsError', async () => {
    const { store } = await freshStore(dialect);
    await store.accounts.create({ name: 'dup' });
    await expect(store.accounts.create({ name: 'dup' })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(store.accounts.create({ name: 'dup' })).rejects.toThrow(/already exists/);
    expect(await store.accounts.count()).toBe(1);
  });
});

describe.each(DIALECTS)('api keys ($name)', (dialect) => {
  it('creates, lists (all or per account), disables and deletes', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const b = await store.accounts.create({ name: 'b' });
    const k1 = await store.keys.create({ accountId: a.id, keyHash: 'h1', hint: 'fk-aaaa…1111', name: 'one' }, 1000);
    const k2 = await store.keys.create({ accountId: a.id, keyHash: 'h2', hint: 'fk-bbbb…2222', expiresAt: 5000, allowedModels: ['m1', 'm2'] }, 2000);
    const k3 = await store.keys.create({ accountId: b.id, keyHash: 'h3', hint: 'fk-cccc…3333' }, 3000);
    expect(k1.id).toMatch(/^key_[A-Za-z0-9]{20}$/);
    expect(k2).toMatchObject({ accountId: a.id, name: null, expiresAt: 5000, allowedModels: ['m1', 'm2'], disabledAt: null, createdAt: 2000 });
    expect(k1).not.toHaveProperty('keyHash');

    expect((await store.keys.list()).map((k) => k.id)).toEqual([k1.id, k2.id, k3.id]);
    expect((await store.keys.list({ accountId: a.id })).map((k) => k.id)).toEqual([k1.id, k2.id]);
    expect(await store.keys.getById(k2.id)).toEqual(k2);

    const disabled = await store.keys.disable(k1.id, 7000);
    expect(disabled?.disabledAt).toBe(7000);
    // Disabling again keeps the first time.
    expect((await store.keys.disable(k1.id, 9000))?.disabledAt).toBe(7000);
    expect(await store.keys.disable('key_missing')).toBeUndefined();

    expect(await store.keys.delete(k3.id)).toBe(true);
    expect(await store.keys.delete(k3.id)).toBe(false);
    expect(await store.keys.getById(k3.id)).toBeUndefined();
  });

  it('needs an existing account and a unique hash', async () => {
    const { store } = await freshStore(dialect);
    await expect(store.keys.create({ accountId: 'acct_none', keyHash: 'h', hint: 'x' })).rejects.toThrow(/foreign key/i);
    const a = await store.accounts.create({ name: 'a' });
    await store.keys.create({ accountId: a.id, keyHash: 'same', hint: 'x' });
    await expect(store.keys.create({ accountId: a.id, keyHash: 'same', hint: 'y' })).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('findKeyByHash returns the key with its account status and allowed models', async () => {
    const { store } = await freshStore(dialect);
    const account = await store.accounts.create({ name: 'acme', tier: 'enterprise', limits: { rpm: 5 } }, 100);
    const { apiKey, record } = await issueApiKey(store.keys, 'fk-', PEPPER, { accountId: account.id, name: 'ci', allowedModels: ['sim-chat'], expiresAt: 10_000 }, 200);
    expect(apiKey).toMatch(/^fk-[A-Za-z0-9]{40}$/);

    const found = await store.keys.findKeyByHash(hashApiKey(PEPPER, apiKey));
    expect(found).toEqual({
      key: {
        id: record.id,
        accountId: account.id,
        name: 'ci',
        hint: record.hint,
        createdAt: 200,
        expiresAt: 10_000,
        disabledAt: null,
        allowedModels: ['sim-chat'],
        limits: null,
        lastUsedAt: null,
      },
      account: { id: account.id, name: 'acme', tier: 'enterprise', status: 'active', balanceMicros: 0, limits: { rpm: 5 }, billing: null, createdAt: 100 },
      budgets: [],
    });
    expect(await store.keys.findKeyByHash(hashApiKey('another-pepper-xxxxxxxx', apiKey))).toBeUndefined();
    expect(await store.keys.findKeyByHash('')).toBeUndefined();

    await store.accounts.setStatus(account.id, 'disabled');
    await store.keys.disable(record.id, 300);
    const after = await store.keys.findKeyByHash(hashApiKey(PEPPER, apiKey));
    expect(after?.account.status).toBe('disabled');
    expect(after?.key.disabledAt).toBe(300);

    await store.keys.touchLastUsed([record.id], 400);
    expect((await store.keys.getById(record.id))?.lastUsedAt).toBe(400);
  });

  it('budgets: the key lookup carries the account\'s and the key\'s; spend starts from the period\'s records and usage batches add to it', async () => {
    const { store } = await freshStore(dialect);
    const account = await store.accounts.create({ name: 'team' }, 100);
    const { apiKey, record } = await issueApiKey(store.keys, 'fk-', PEPPER, { accountId: account.id }, 200);
    const day = 86_400_000;
    const start = 20 * day;
    const usage = (id: string, at: number, cost: number, extra: Partial<UsageRecord> = {}): UsageRecord => ({
      id, createdAt: at, requestId: id, accountId: account.id, keyId: record.id, endpoint: 'chat', model: 'm', deployment: null, stream: false,
      promptTokens: 1, cachedTokens: 0, completionTokens: 1, reasoningTokens: 0, costMicros: cost, status: 200, latencyMs: 1, ttftMs: null, settle: 'complete', errorCode: null, ...extra,
    });
    // Spent before the budget existed: yesterday's does not count, today's does.
    await store.usage.insertBatch([usage('usg_a', start - 1, 7), usage('usg_b', start + 5, 11)]);
    await store.budgets.set({ ownerId: record.id, scope: 'key', accountId: account.id, limitMicros: 1000, softLimitMicros: 500, period: 'day', resetMinutes: 0, timeZone: 'UTC' }, start, start + 10);
    await store.budgets.set({ ownerId: account.id, scope: 'account', accountId: account.id, limitMicros: 5000, softLimitMicros: null, period: 'month', resetMinutes: 60, timeZone: 'Europe/Berlin' }, 0, start + 10);
    const keyPeriod = { ownerId: record.id, period: 'day' as const, start };
    expect(await store.budgets.spent([keyPeriod])).toEqual([11]);
    const found = await store.keys.findKeyByHash(hashApiKey(PEPPER, apiKey));
    expect(found?.budgets.map((b) => [b.scope, b.ownerId, b.limitMicros, b.softLimitMicros, b.period, b.resetMinutes, b.timeZone])).toEqual([
      ['account', account.id, 5000, null, 'month', 60, 'Europe/Berlin'],
      ['key', record.id, 1000, 500, 'day', 0, 'UTC'],
    ]);
    // A batch adds to the periods its records name, and debits only prepaid records from the balance.
    await store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: 100, reason: 't', actor: 't' });
    const key = `b:${record.id}:day:${start}`;
    await store.usage.insertBatch([usage('usg_c', start + 20, 30, { budgets: [key] }), usage('usg_d', start + 21, 40, { budgets: [key], postpaid: true })]);
    expect(await store.budgets.spent([keyPeriod])).toEqual([81]);
    expect(await store.budgets.standings([keyPeriod, { ownerId: 'key_none', period: 'day', start }])).toEqual([{ limitMicros: 1000, spentMicros: 81 }, undefined]);
    expect((await store.accounts.credits([account.id])).get(account.id)).toEqual({ balanceMicros: 100 - 7 - 11 - 30, debitedMicros: 48 });
    // Replacing the budget keeps the period's spend; deleting it keeps the history.
    await store.budgets.set({ ownerId: record.id, scope: 'key', accountId: account.id, limitMicros: 2000, softLimitMicros: null, period: 'day', resetMinutes: 0, timeZone: 'UTC' }, start, start + 30);
    expect(await store.budgets.standings([keyPeriod])).toEqual([{ limitMicros: 2000, spentMicros: 81 }]);
    expect(await store.budgets.delete(record.id)).toBe(true);
    expect(await store.budgets.delete(record.id)).toBe(false);
    expect(await store.budgets.spent([keyPeriod])).toEqual([81]);
    expect((await store.keys.findKeyByHash(hashApiKey(PEPPER, apiKey)))?.budgets.map((b) => b.scope)).toEqual(['account']);
  });

  it('apiKeyStatus: disabled before expired, expired from expiresAt on', () => {
    expect(apiKeyStatus({ disabledAt: null, expiresAt: null }, 5)).toBe('active');
    expect(apiKeyStatus({ disabledAt: null, expiresAt: 6 }, 5)).toBe('active');
    expect(apiKeyStatus({ disabledAt: null, expiresAt: 5 }, 5)).toBe('expired');
    expect(apiKeyStatus({ disabledAt: 1, expiresAt: 5 }, 9)).toBe('disabled');
  });
});

describe.each(DIALECTS)('meta ($name)', (dialect) => {
  it('gets, sets, sets only when absent, deletes', async () => {
    const { store } = await freshStore(dialect);
    expect(await store.meta.get('k')).toBeUndefined();
    expect(await store.meta.setIfAbsent('k', 'v1')).toBe(true);
    expect(await store.meta.setIfAbsent('k', 'v2')).toBe(false);
    expect(await store.meta.get('k')).toBe('v1');
    await store.meta.set('k', 'v3');
    expect(await store.meta.get('k')).toBe('v3');
    expect(await store.meta.delete('k')).toBe(true);
    expect(await store.meta.delete('k')).toBe(false);
  });
});

describe.each(DIALECTS)('bootstrapStore ($name)', (dialect) => {
  it('returns the first key and the admin token once, then nothing', async () => {
    const { store, dir } = await freshStore(dialect);
    const config = testConfig(dir);
    const first = await bootstrapStore(store, config, PEPPER);
    expect(first.apiKey).toMatch(/^fk-[A-Za-z0-9]{40}$/);
    expect(first.adminToken).toMatch(/^fga_[A-Za-z0-9]{40}$/);

    const found = await store.keys.findKeyByHash(hashApiKey(PEPPER, first.apiKey!));
    expect(found?.account.name).toBe('default');
    expect(found?.key.name).toBe('default');
    // Only the admin token's HMAC is stored.
    expect(await store.meta.get(ADMIN_TOKEN_HASH_META)).toBe(hashApiKey(PEPPER, first.adminToken!));

    expect(await bootstrapStore(store, config, PEPPER)).toEqual({});
    expect(await store.accounts.count()).toBe(1);
    expect(await store.keys.list()).toHaveLength(1);
  });

  it('uses the configured key prefix and creates no admin token when the config sets one', async () => {
    const { store, dir } = await freshStore(dialect);
    const config = testConfig(dir, { key_prefix: 'tk-', admin_token: 'configured-admin-token-123' });
    const result = await bootstrapStore(store, config, PEPPER);
    expect(result.apiKey).toMatch(/^tk-[A-Za-z0-9]{40}$/);
    expect(result.adminToken).toBeUndefined();
    expect(await store.meta.get(ADMIN_TOKEN_HASH_META)).toBeUndefined();
  });

  it('creates no default account in a store that already has accounts', async () => {
    const { store, dir } = await freshStore(dialect);
    await store.accounts.create({ name: 'existing' });
    const result = await bootstrapStore(store, testConfig(dir), PEPPER);
    expect(result.apiKey).toBeUndefined();
    expect(await store.accounts.findByIdOrName('default')).toBeUndefined();
  });
});

describe.each(DIALECTS)('checkPepper ($name)', (dialect) => {
  it('records a fingerprint (never the pepper), matches it after, refuses another pepper; one of two racing starts wins', async () => {
    const { store, dir } = await freshStore(dialect);
    const config = testConfig(dir);
    const [a, b] = await Promise.allSettled([checkPepper(store, config, PEPPER), checkPepper(store, config, 'other-pepper-0123456789')]);
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
    const winner = a.status === 'fulfilled' ? PEPPER : 'other-pepper-0123456789';
    const stored = await store.meta.get(PEPPER_FINGERPRINT_META);
    expect(stored).toBe(pepperFingerprint(winner));
    expect(stored).not.toContain(winner);
    expect(await checkPepper(store, config, winner)).toBe('matched');
    await expect(bootstrapStore(store, config, winner === PEPPER ? 'other-pepper-0123456789' : PEPPER)).rejects.toBeInstanceOf(PepperMismatchError);
    expect(await store.accounts.count()).toBe(0);
  });

  it('says when it records the fingerprint on a store that already held keys', async () => {
    const { store, dir } = await freshStore(dialect);
    const config = testConfig(dir);
    await bootstrapStore(store, config, PEPPER);
    await store.meta.delete(PEPPER_FINGERPRINT_META);
    const notices: string[] = [];
    expect(await bootstrapStore(store, config, PEPPER, (m) => notices.push(m))).toEqual({});
    expect(notices).toEqual([expect.stringContaining('recorded the fingerprint')]);
    expect(await checkPepper(store, config, PEPPER)).toBe('matched');
  });
});

describe.each(DIALECTS)('verifyAdminToken ($name)', (dialect) => {
  it('checks the generated token by its HMAC', async () => {
    const { store, dir } = await freshStore(dialect);
    const config = testConfig(dir);
    expect(await verifyAdminToken(store, config, PEPPER, 'fga_anything')).toBe(false);
    const { adminToken } = await bootstrapStore(store, config, PEPPER);
    expect(await verifyAdminToken(store, config, PEPPER, adminToken!)).toBe(true);
    expect(await verifyAdminToken(store, config, PEPPER, adminToken! + 'x')).toBe(false);
    expect(await verifyAdminToken(store, config, 'other-pepper-0123456789', adminToken!)).toBe(false);
    expect(await verifyAdminToken(store, config, PEPPER, '')).toBe(false);
  });

  it('checks the configured token when there is one, ignoring a stored one', async () => {
    const { store, dir } = await freshStore(dialect);
    const generated = await bootstrapStore(store, testConfig(dir), PEPPER);
    const config = testConfig(dir, { admin_token: 'configured-admin-token-123' });
    expect(await verifyAdminToken(store, config, PEPPER, 'configured-admin-token-123')).toBe(true);
    expect(await verifyAdminToken(store, config, PEPPER, 'configured-admin-token-12')).toBe(false);
    expect(await verifyAdminToken(store, config, PEPPER, generated.adminToken!)).toBe(false);
  });
});

/** A usage record of `cost` for `accountId`; `i` orders them in time. */
function usageRecord(accountId: string, cost: number, i = 0): UsageRecord {
  return usageRecordFixture(accountId, cost, i);
}

/** A usage_records row as stored before migration 004 (written straight to the table). */
function usageRecordRow(id: string, accountId: string, cost: number) {
  return {
    id,
    created_at: 1,
    request_id: 'r',
    account_id: accountId,
    key_id: 'k',
    endpoint: 'chat',
    model: 'm',
    deployment: null,
    stream: 0,
    prompt_tokens: 1,
    cached_tokens: 0,
    completion_tokens: 1,
    reasoning_tokens: 0,
    cost_micros: cost,
    status: 200,
    latency_ms: 1,
    ttft_ms: null,
    settle: 'complete',
    error_code: null,
  };
}

describe.each(DIALECTS)('ledger, usage debits and video jobs ($name)', (dialect) => {
  it('ledger entries chain balance_after, refuse a debit below zero and leave debited_micros alone', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    let now = 1000;
    const entry = (amountMicros: number, kind: 'credit' | 'refund' | 'adjustment' = 'credit') => store.ledger.record({ accountId: a.id, kind, amountMicros, reason: 'test', actor: 'test' }, now++);
    expect((await entry(1000))?.balanceAfterMicros).toBe(1000);
    expect((await entry(-300, 'adjustment'))?.balanceAfterMicros).toBe(700);
    await expect(entry(-701, 'adjustment')).rejects.toBeInstanceOf(BalanceTooLowError);
    expect(await store.ledger.record({ accountId: 'acct_none', kind: 'credit', amountMicros: 1, reason: 'r', actor: 't' })).toBeUndefined();
    expect((await store.ledger.list(a.id)).map((e) => [e.amountMicros, e.balanceAfterMicros])).toEqual([
      [-300, 700],
      [1000, 1000],
    ]);
    expect(await store.accounts.credits([a.id])).toEqual(new Map([[a.id, { balanceMicros: 700, debitedMicros: 0 }]]));
  });

  it('a usage batch debits each account and adds the same amount to debited_micros', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const b = await store.accounts.create({ name: 'b' });
    await store.ledger.record({ accountId: a.id, kind: 'credit', amountMicros: 1000, reason: 'r', actor: 't' });
    await store.usage.insertBatch([usageRecord(a.id, 7, 1), usageRecord(b.id, 5, 2), usageRecord(a.id, 3, 3), usageRecord(b.id, 0, 4)]);
    expect(await store.accounts.credits([a.id, b.id, a.id])).toEqual(
      new Map([
        [a.id, { balanceMicros: 990, debitedMicros: 10 }],
        // Prepaid balances are checked before admission, not here: the store records what was spent.
        [b.id, { balanceMicros: -5, debitedMicros: 5 }],
      ]),
    );
    expect(await store.accounts.credits([])).toEqual(new Map());
    expect((await store.usage.totals({})).requests).toBe(4);

    // Each debit is one statement over both columns, accounts in id order (the SQLite writer thread runs these).
    const debits = store.usage.batchStatements([usageRecord(b.id, 2), usageRecord(a.id, 1)]).filter((q) => /^update/i.test(q.sql));
    expect(debits).toHaveLength(2);
    for (const q of debits) expect(q.sql).toMatch(/"balance_micros" = balance_micros - .*"debited_micros" = debited_micros \+ /);
    expect(debits.map((q) => q.parameters.at(-1))).toEqual([a.id, b.id].sort());
  });

  it('usage records filter by outcome: below 400, or 400 and above', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const records = [200, 400, 399, 502, 201].map((status, i) => ({ ...usageRecord(a.id, 1, i), status }));
    await store.usage.insertBatch(records);
    expect((await store.usage.list({ accountId: a.id, outcome: 'ok' })).map((r) => r.status)).toEqual([201, 399, 200]);
    expect((await store.usage.list({ accountId: a.id, outcome: 'error' })).map((r) => r.status)).toEqual([502, 400]);
    expect((await store.usage.list({ accountId: a.id, outcome: 'error' }, { limit: 1 })).map((r) => r.status)).toEqual([502]);
  });

  it('usage records keep their fields; list pages newest first; buckets use integer division', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const records = [0, 1, 59_999, 60_000, 125_000].map((i) => usageRecord(a.id, 2, i));
    records[4] = { ...records[4], mediaUnit: 'video_second', mediaUnits: 4, ttftMs: 12.6, latencyMs: 40.4, deployment: null, errorCode: 'x' };
    // A clamped record keeps what the backend reported (past 2^32: bigint columns).
    records[3] = { ...records[3], reportedPromptTokens: 9_000_000_000, reportedCompletionTokens: 70 };
    await store.usage.insertBatch(records);
    const listed = await store.usage.list({ accountId: a.id });
    expect(listed[0]).toEqual({ ...records[4], ttftMs: 13, latencyMs: 40, reportedPromptTokens: null, reportedCompletionTokens: null });
    expect(listed[1]).toMatchObject({ reportedPromptTokens: 9_000_000_000, reportedCompletionTokens: 70 });
    expect(listed.map((r) => r.createdAt)).toEqual(records.map((r) => r.createdAt).reverse());
    expect((await store.usage.list({ accountId: a.id }, { limit: 2, before: records[3].createdAt })).map((r) => r.createdAt)).toEqual([records[2].createdAt, records[1].createdAt]);
    const start = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
    expect((await store.usage.buckets({ accountId: a.id }, 60_000)).map((b) => [b.start, b.requests, b.costMicros])).toEqual([
      [start, 2, 4],
      [start + 60_000, 2, 4],
      [start + 120_000, 1, 2],
    ]);
    expect(await store.usage.totals({ accountId: a.id, from: records[1].createdAt, to: records[4].createdAt })).toEqual({
      requests: 3,
      promptTokens: 30,
      cachedTokens: 0,
      completionTokens: 15,
      reasoningTokens: 0,
      costMicros: 6,
    });
    expect(await store.usage.has(records[0].id)).toBe(true);
    expect(await store.usage.has('usg_none')).toBe(false);
  });

  it('a video job keeps its content byte for byte, and updates only while active', async () => {
    const { store } = await freshStore(dialect);
    const a = await store.accounts.create({ name: 'a' });
    const job = { accountId: a.id, keyId: 'key_x', requestId: 'req', model: 'sim-video', deployment: 'sim', upstreamId: 'up', status: 'queued' as const, progress: 0, prompt: 'a cat', seconds: 4, size: null, costMicros: 40 };
    await store.videos.create({ ...job, id: 'video_b', createdAt: 5 });
    await store.videos.create({ ...job, id: 'video_a', createdAt: 5 });
    expect((await store.videos.active()).map((j) => j.id)).toEqual(['video_a', 'video_b']);
    const bytes = new Uint8Array(70_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    expect(await store.videos.update('video_a', { status: 'completed', progress: 100, content: { type: 'video/mp4', bytes }, completedAt: 9 }, 9)).toBe(true);
    expect(await store.videos.update('video_a', { status: 'failed' })).toBe(false);
    expect(await store.videos.get('video_a')).toMatchObject({ status: 'completed', progress: 100, contentType: 'video/mp4', contentBytes: 70_000, costMicros: 40, completedAt: 9, updatedAt: 9 });
    const content = await store.videos.content('video_a');
    expect(content?.contentType).toBe('video/mp4');
    expect(Buffer.compare(content!.bytes, Buffer.from(bytes))).toBe(0);
    expect(await store.videos.content('video_b')).toBeUndefined();
    expect((await store.videos.active()).map((j) => j.id)).toEqual(['video_b']);
  });
});

/** Ends one session (`pid`), or every other session, of the database at `url`, as a server restart would. */
async function terminateBackend(url: string, pid?: number): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    if (pid === undefined) await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    else await admin.query('select pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL store', () => {
  it('migrates once when several processes open a new database together, with bytea and bigint columns', async () => {
    const url = await newPostgresUrl();
    const opened = await Promise.all([open(url), open(url), open(url)]);
    expect(await migrationStatus(opened[0].db)).toEqual(Object.keys(MIGRATIONS).map((name) => ({ name, applied: true })));
    const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = 'public' and column_name in ('content', 'debited_micros', 'balance_micros')
      order by table_name, column_name`.execute(opened[0].db);
    expect(columns.rows).toEqual([
      { table_name: 'accounts', column_name: 'balance_micros', data_type: 'bigint' },
      { table_name: 'accounts', column_name: 'debited_micros', data_type: 'bigint' },
      { table_name: 'video_jobs', column_name: 'content', data_type: 'bytea' },
    ]);
    // bigint and count(*) come back as numbers.
    const row = await sql<{ n: unknown; big: unknown }>`select count(*) as n, ${2 ** 40}::bigint as big from accounts`.execute(opened[0].db);
    expect(row.rows[0]).toEqual({ n: 0, big: 2 ** 40 });
  });

  it('concurrent ledger entries on one account chain balance_after and leave the balance exact', async () => {
    const { store } = await freshStore(POSTGRES);
    const a = await store.accounts.create({ name: 'a' });
    const opening = await store.ledger.record({ accountId: a.id, kind: 'credit', amountMicros: 10_000, reason: 'r', actor: 't' });
    // Credits and debits, the debits small enough to fit whatever order they commit in.
    const amounts = Array.from({ length: 40 }, (_, i) => (i % 3 === 2 ? -(i + 1) : 100 + i));
    const entries = await Promise.all(
      amounts.map((amountMicros) => store.ledger.record({ accountId: a.id, kind: amountMicros > 0 ? 'credit' : 'adjustment', amountMicros, reason: 'r', actor: 't' })),
    );
    const total = 10_000 + amounts.reduce((sum, x) => sum + x, 0);
    expect((await store.accounts.getById(a.id))?.balanceMicros).toBe(total);
    // In commit order each entry starts where the one before ended: walking back from the balance over
    // balance_after − amount visits every entry once and ends at the opening credit.
    const concurrent = entries.map((e) => e!);
    const byAfter = new Map(concurrent.map((e) => [e.balanceAfterMicros, e]));
    expect(byAfter.size).toBe(40);
    let balance = total;
    for (let n = 0; n < 40; n++) {
      const last = byAfter.get(balance);
      expect(last, `an entry ending at ${balance}`).toBeDefined();
      byAfter.delete(balance);
      balance -= last!.amountMicros;
    }
    expect(balance).toBe(opening!.balanceAfterMicros);
    expect(await store.ledger.list(a.id, { limit: 1000 })).toHaveLength(41);
  });

  it('concurrent usage batches from several processes debit exactly, without deadlocks', async () => {
    const url = await newPostgresUrl();
    const processes = await Promise.all([open(url), open(url), open(url)]);
    const [first] = processes;
    const accounts = await Promise.all(['a', 'b', 'c', 'd'].map((name) => first.accounts.create({ name })));
    for (const account of accounts) await first.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: 1_000_000, reason: 'r', actor: 't' });
    const costs = new Map(accounts.map((a) => [a.id, 0]));
    const batches: Promise<void>[] = [];
    let n = 0;
    for (let round = 0; round < 12; round++) {
      for (const [p, store] of processes.entries()) {
        // Each batch touches every account, in an order of its own (reversed, rotated).
        const order = round % 2 === 0 ? [...accounts] : [...accounts].reverse();
        const rotated = [...order.slice((round + p) % 4), ...order.slice(0, (round + p) % 4)];
        const records = rotated.flatMap((a) => [1, 2].map(() => usageRecord(a.id, 1 + (n++ % 9), n)));
        for (const r of records) costs.set(r.accountId, costs.get(r.accountId)! + r.costMicros);
        batches.push(store.usage.insertBatch(records));
        // A ledger entry on the same rows now and then.
        if (round % 4 === p) batches.push(store.ledger.record({ accountId: rotated[0].id, kind: 'credit', amountMicros: 0, reason: 'touch', actor: 't' }).then(() => undefined));
      }
    }
    await Promise.all(batches);
    const credits = await first.accounts.credits(accounts.map((a) => a.id));
    for (const account of accounts) {
      const spent = costs.get(account.id)!;
      expect(credits.get(account.id)).toEqual({ balanceMicros: 1_000_000 - spent, debitedMicros: spent });
      expect((await first.usage.totals({ accountId: account.id })).costMicros).toBe(spent);
    }
    expect((await first.usage.totals({})).requests).toBe(12 * 3 * 8);
  });

  it('uses at most pool_size connections', async () => {
    const url = await newPostgresUrl();
    const store = await openStore({ url, poolSize: 2 });
    stores.push(store);
    await Promise.all(Array.from({ length: 6 }, () => sql`select pg_sleep(0.05)`.execute(store.db)));
    const { rows } = await sql<{ n: number }>`select count(*) as n from pg_stat_activity where datname = current_database() and application_name = 'floodgate'`.execute(store.db);
    expect(rows[0].n).toBeGreaterThanOrEqual(1);
    expect(rows[0].n).toBeLessThanOrEqual(2);
  });

  it('fails fast, without the password, when the server does not answer or refuses', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = performance.now();
      const hanging = openStore({ url: `postgres://floodgate:pw-Secret%21@127.0.0.1:${port}/x`, connectTimeoutMs: 300 });
      await expect(hanging).rejects.toThrow(/^cannot connect to the PostgreSQL store postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/x: .*timeout/i);
      await expect(hanging).rejects.not.toThrow(/pw-Secret/);
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    const refused = openStore({ url: 'postgres://floodgate:pw-Secret!@127.0.0.1:1/x' });
    await expect(refused).rejects.toThrow(/ECONNREFUSED/);
    await expect(refused).rejects.not.toThrow(/pw-Secret/);
  });

  it('a pooled connection that breaks is reported, not thrown, and the pool opens another', async () => {
    const url = await newPostgresUrl();
    const reported: Error[] = [];
    const store = await openStore({ url, onConnectionError: (err) => reported.push(err) });
    stores.push(store);
    await store.ping();
    // The server ends the session (as a restart or an idle timeout would).
    await terminateBackend(url);
    for (let i = 0; i < 100 && reported.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reported.length).toBeGreaterThan(0);
    await store.ping();
    expect(await store.accounts.count()).toBe(0);

    // A connection checked out by a transaction: the pool does not listen to it then, the store does.
    const before = reported.length;
    const transaction = store.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      await terminateBackend(url, rows[0].pid);
      for (let i = 0; i < 100 && reported.length === before; i++) await new Promise((r) => setTimeout(r, 20));
      await sql`select 1`.execute(trx);
    });
    await expect(transaction).rejects.toThrow();
    expect(reported.length).toBeGreaterThan(before);
    expect(reported.every((err) => err instanceof Error)).toBe(true);
    await store.ping();
  });
});
