import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { resolveConfig, type Config } from '../../src/config/load.js';
import { openStore } from '../../src/store/database.js';
import { migrateToLatest, migrationStatus, MIGRATIONS } from '../../src/store/migrations.js';
import { apiKeyStatus } from '../../src/store/api-keys.js';
import { AlreadyExistsError, type Store } from '../../src/store/store.js';
import { bootstrapStore, issueApiKey, verifyAdminToken, ADMIN_TOKEN_HASH_META } from '../../src/auth/bootstrap.js';
import { hashApiKey } from '../../src/auth/key-material.js';

const PEPPER = 'test-pepper-0123456789abcdef';
const tempDirs: string[] = [];
const stores: Store[] = [];

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

async function freshStore(): Promise<{ store: Store; url: string; dir: string }> {
  const dir = tempDir();
  const url = `sqlite:${join(dir, 'sub', 'floodgate.db')}`;
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
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('openStore', () => {
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

  it('reports what ran when opened without migrating', async () => {
    const dir = tempDir();
    const store = await open(`sqlite:${join(dir, 'f.db')}`, false);
    expect(await migrateToLatest(store.db)).toEqual(['001_accounts_keys', '002_ledger_usage', '003_media']);
    expect(await migrateToLatest(store.db)).toEqual([]);
  });

  it('refuses PostgreSQL for now, and unknown schemes', async () => {
    await expect(openStore({ url: 'postgres://u:secret@db/floodgate' })).rejects.toThrow(/PostgreSQL store .* not available in this build yet/);
    await expect(openStore({ url: 'mysql://u:secret@db/x' })).rejects.toThrow(/unsupported store.url/);
    await expect(openStore({ url: 'mysql://u:secret@db/x' })).rejects.not.toThrow(/secret/);
  });
});

describe('accounts', () => {
  it('creates, finds by id or name, lists and changes status', async () => {
    const { store } = await freshStore();
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
    const { store } = await freshStore();
    await store.accounts.create({ name: 'dup' });
    await expect(store.accounts.create({ name: 'dup' })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(store.accounts.create({ name: 'dup' })).rejects.toThrow(/already exists/);
    expect(await store.accounts.count()).toBe(1);
  });
});

describe('api keys', () => {
  it('creates, lists (all or per account), disables and deletes', async () => {
    const { store } = await freshStore();
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
    const { store } = await freshStore();
    await expect(store.keys.create({ accountId: 'acct_none', keyHash: 'h', hint: 'x' })).rejects.toThrow(/FOREIGN KEY/);
    const a = await store.accounts.create({ name: 'a' });
    await store.keys.create({ accountId: a.id, keyHash: 'same', hint: 'x' });
    await expect(store.keys.create({ accountId: a.id, keyHash: 'same', hint: 'y' })).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('findKeyByHash returns the key with its account status and allowed models', async () => {
    const { store } = await freshStore();
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
      account: { id: account.id, name: 'acme', tier: 'enterprise', status: 'active', balanceMicros: 0, limits: { rpm: 5 }, createdAt: 100 },
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

  it('apiKeyStatus: disabled before expired, expired from expiresAt on', () => {
    expect(apiKeyStatus({ disabledAt: null, expiresAt: null }, 5)).toBe('active');
    expect(apiKeyStatus({ disabledAt: null, expiresAt: 6 }, 5)).toBe('active');
    expect(apiKeyStatus({ disabledAt: null, expiresAt: 5 }, 5)).toBe('expired');
    expect(apiKeyStatus({ disabledAt: 1, expiresAt: 5 }, 9)).toBe('disabled');
  });
});

describe('meta', () => {
  it('gets, sets, sets only when absent, deletes', async () => {
    const { store } = await freshStore();
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

describe('bootstrapStore', () => {
  it('returns the first key and the admin token once, then nothing', async () => {
    const { store, dir } = await freshStore();
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
    const { store, dir } = await freshStore();
    const config = testConfig(dir, { key_prefix: 'tk-', admin_token: 'configured-admin-token-123' });
    const result = await bootstrapStore(store, config, PEPPER);
    expect(result.apiKey).toMatch(/^tk-[A-Za-z0-9]{40}$/);
    expect(result.adminToken).toBeUndefined();
    expect(await store.meta.get(ADMIN_TOKEN_HASH_META)).toBeUndefined();
  });

  it('creates no default account in a store that already has accounts', async () => {
    const { store, dir } = await freshStore();
    await store.accounts.create({ name: 'existing' });
    const result = await bootstrapStore(store, testConfig(dir), PEPPER);
    expect(result.apiKey).toBeUndefined();
    expect(await store.accounts.findByIdOrName('default')).toBeUndefined();
  });
});

describe('verifyAdminToken', () => {
  it('checks the generated token by its HMAC', async () => {
    const { store, dir } = await freshStore();
    const config = testConfig(dir);
    expect(await verifyAdminToken(store, config, PEPPER, 'fga_anything')).toBe(false);
    const { adminToken } = await bootstrapStore(store, config, PEPPER);
    expect(await verifyAdminToken(store, config, PEPPER, adminToken!)).toBe(true);
    expect(await verifyAdminToken(store, config, PEPPER, adminToken! + 'x')).toBe(false);
    expect(await verifyAdminToken(store, config, 'other-pepper-0123456789', adminToken!)).toBe(false);
    expect(await verifyAdminToken(store, config, PEPPER, '')).toBe(false);
  });

  it('checks the configured token when there is one, ignoring a stored one', async () => {
    const { store, dir } = await freshStore();
    const generated = await bootstrapStore(store, testConfig(dir), PEPPER);
    const config = testConfig(dir, { admin_token: 'configured-admin-token-123' });
    expect(await verifyAdminToken(store, config, PEPPER, 'configured-admin-token-123')).toBe(true);
    expect(await verifyAdminToken(store, config, PEPPER, 'configured-admin-token-12')).toBe(false);
    expect(await verifyAdminToken(store, config, PEPPER, generated.adminToken!)).toBe(false);
  });
});
