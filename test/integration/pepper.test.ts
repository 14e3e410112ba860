// Starting twice must not lock anyone out (issue 15, item 3): the built CLI restarted on one store with the
// same pepper serves the first start's key and admin token; with another pepper it refuses (exit 2) with the
// way back, on SQLite and PostgreSQL, with --workers too; `admin-token --rotate` replaces a lost admin token.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { CLI, rawRequest, spawnCli, testConfig, type ChildServer } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const PEPPER_A = 'pepper-a-' + 'a'.repeat(32);
const PEPPER_B = 'pepper-b-' + 'b'.repeat(32);
const dirs: string[] = [];
const databases: TestDatabase[] = [];
const servers: ChildServer[] = [];
const redisPrefix = uniquePrefix('pepper');

afterAll(async () => {
  for (const s of servers) if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const db of databases) await db.drop();
  await deletePrefix(redisPrefix);
});

/** A config file whose pepper is `${FLOODGATE_PEPPER}` (unless `pepper` is false: the generated file). */
function writeConfig(extra: Partial<RawConfig> = {}, pepper = true): { file: string; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-pepper-'));
  dirs.push(dataDir);
  const config = testConfig({ data_dir: dataDir, ...extra });
  if (pepper) config.auth = { ...config.auth, pepper: '${FLOODGATE_PEPPER}' };
  const file = join(dataDir, 'floodgate.yaml');
  writeFileSync(file, JSON.stringify(config));
  return { file, dataDir };
}

async function serve(args: string[], pepper?: string): Promise<ChildServer> {
  const server = await spawnCli(['serve', ...args], /Floodgate listening on/, pepper === undefined ? {} : { FLOODGATE_PEPPER: pepper });
  servers.push(server);
  return server;
}

function run(args: string[], pepper?: string) {
  const env = pepper === undefined ? process.env : { ...process.env, FLOODGATE_PEPPER: pepper };
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 20_000 });
}

function credential(server: ChildServer, label: 'API key' | 'Admin token'): string {
  const line = server.output.find((l) => l.startsWith(`${label}: `));
  expect(line, `${label} printed`).toBeDefined();
  return line!.slice(label.length + 2);
}

async function chatStatus(url: string, apiKey: string): Promise<number> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  try {
    await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? 0;
  }
}

async function adminStatus(url: string, token: string): Promise<number> {
  return (await rawRequest(`${url}/admin/v1/accounts`, { headers: { authorization: `Bearer ${token}` } })).status;
}

function expectRefused(res: ReturnType<typeof run>): void {
  expect(res.status, res.stderr).toBe(2);
  expect(res.stderr).toContain('the store was prepared with a different key pepper');
  expect(res.stderr).toContain('start again with the pepper used before');
  expect(res.stderr).toContain('floodgate admin-token --rotate --adopt-pepper');
}

/** Starts twice with pepper A (the key and admin token of the first start work on the second), then with B. */
async function restartTwice(file: string, extraArgs: string[] = []): Promise<void> {
  const first = await serve(['--config', file, ...extraArgs], PEPPER_A);
  const apiKey = credential(first, 'API key');
  const adminToken = credential(first, 'Admin token');
  await first.stop();

  const second = await serve(['--config', file, ...extraArgs], PEPPER_A);
  try {
    expect(second.output.some((l) => l.startsWith('API key:') || l.startsWith('Admin token:'))).toBe(false);
    expect(await chatStatus(second.url, apiKey)).toBe(200);
    expect(await adminStatus(second.url, adminToken)).toBe(200);
  } finally {
    await second.stop();
  }

  const refused = run(['serve', '--config', file, ...extraArgs], PEPPER_B);
  expectRefused(refused);
  expect(refused.stderr).toContain('auth.pepper in the config');
  expect(refused.stdout).not.toContain('Floodgate listening');
}

describe('the pepper fingerprint', () => {
  it('SQLite: the same pepper serves the old key and admin token; another exits 2 with the way back', async () => {
    await restartTwice(writeConfig().file);
  });

  it('PostgreSQL: the same, on a shared store', async () => {
    const db = await createTestDatabase('pepper');
    databases.push(db);
    await restartTwice(writeConfig({ store: { url: db.url } }).file);
  });

  it('--workers 2: the primary refuses another pepper before forking', async () => {
    const db = await createTestDatabase('pepper_workers');
    databases.push(db);
    const { file } = writeConfig({ store: { url: db.url }, redis: { url: SHARED_REDIS_URL, key_prefix: redisPrefix } });
    await restartTwice(file, ['--workers', '2']);
  });

  it('a lost generated pepper file: the next start (a new file) is refused, naming the file', async () => {
    const { dataDir } = writeConfig({}, false);
    const first = await serve(['--port', '0', '--data-dir', dataDir]);
    await first.stop();
    unlinkSync(join(dataDir, 'pepper'));
    const refused = run(['serve', '--port', '0', '--data-dir', dataDir]);
    expectRefused(refused);
    expect(refused.stderr).toContain(`the generated file ${join(dataDir, 'pepper')}`);
  });

  it('a store made before fingerprints gets one on its next start, said in the log; another pepper is refused after', async () => {
    const { file, dataDir } = writeConfig();
    const first = await serve(['--config', file], PEPPER_A);
    const apiKey = credential(first, 'API key');
    await first.stop();
    const sqlite = new Database(join(dataDir, 'floodgate.db'));
    expect(sqlite.prepare("delete from meta where key = 'pepper_fingerprint'").run().changes).toBe(1);
    sqlite.close();

    const second = await serve(['--config', file], PEPPER_A);
    try {
      expect(second.output.join('\n')).toContain('this store had no fingerprint of its key pepper yet: recorded the fingerprint of auth.pepper in the config');
      expect(await chatStatus(second.url, apiKey)).toBe(200);
    } finally {
      await second.stop();
    }
    expectRefused(run(['serve', '--config', file], PEPPER_B));
  });

  it('auth.pepper_file: read at start-up, checked like the others; a missing, short or doubled one is refused with the field path', async () => {
    const { file, dataDir } = writeConfig({}, false);
    const pepperFile = join(dataDir, 'secret-pepper');
    writeFileSync(pepperFile, PEPPER_A + '\n');
    const config = JSON.parse(readFileSync(file, 'utf8')) as RawConfig;
    config.auth = { ...config.auth, pepper_file: pepperFile };
    writeFileSync(file, JSON.stringify(config));

    const first = await serve(['--config', file]);
    const apiKey = credential(first, 'API key');
    await first.stop();
    const second = await serve(['--config', file]);
    try {
      expect(await chatStatus(second.url, apiKey)).toBe(200);
    } finally {
      await second.stop();
    }
    writeFileSync(pepperFile, PEPPER_B);
    const refused = run(['serve', '--config', file]);
    expectRefused(refused);
    expect(refused.stderr).toContain(`auth.pepper_file ${pepperFile}`);

    writeFileSync(pepperFile, 'short\n');
    const short = run(['serve', '--config', file]);
    expect(short.status).toBe(2);
    expect(short.stderr).toContain(`auth.pepper_file: ${pepperFile} holds fewer than 16 characters`);
    unlinkSync(pepperFile);
    const missing = run(['serve', '--config', file]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`auth.pepper_file: cannot read ${pepperFile}: ENOENT`);
    writeFileSync(pepperFile, PEPPER_A);
    config.auth = { ...config.auth, pepper: PEPPER_A };
    writeFileSync(file, JSON.stringify(config));
    const both = run(['serve', '--config', file]);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('auth.pepper_file: set auth.pepper or auth.pepper_file, not both');
  });

  it('store commands refuse another pepper too: a key made under it would never verify', async () => {
    const { file } = writeConfig();
    const first = await serve(['--config', file], PEPPER_A);
    await first.stop();
    expectRefused(run(['keys', 'create', '--account', 'default', '--config', file], PEPPER_B));
    expect(run(['keys', 'create', '--account', 'default', '--config', file], PEPPER_A).status).toBe(0);
  });
});

describe('floodgate admin-token --rotate', () => {
  it('prints a new token that works on the admin API at once, while the old one gets 401', async () => {
    const { file } = writeConfig();
    const server = await serve(['--config', file], PEPPER_A);
    try {
      const oldToken = credential(server, 'Admin token');
      expect(await adminStatus(server.url, oldToken)).toBe(200);
      const res = run(['admin-token', '--rotate', '--config', file], PEPPER_A);
      expect(res.status, res.stderr).toBe(0);
      const newToken = /^Admin token: (fga_[A-Za-z0-9]{40})$/m.exec(res.stdout)?.[1];
      expect(newToken).toBeDefined();
      expect(res.stderr).toContain('shown only this once');
      expect(await adminStatus(server.url, newToken!)).toBe(200);
      expect(await adminStatus(server.url, oldToken)).toBe(401);
    } finally {
      await server.stop();
    }
  });

  it('needs --rotate, refuses a configured admin token and another pepper (exit 2)', async () => {
    const { file } = writeConfig();
    const first = await serve(['--config', file], PEPPER_A);
    await first.stop();
    const bare = run(['admin-token', '--config', file], PEPPER_A);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('pass --rotate');
    expectRefused(run(['admin-token', '--rotate', '--config', file], PEPPER_B));

    const configured = writeConfig({ auth: { admin_token: 'configured-admin-token-0123456789' } }, false);
    const res = run(['admin-token', '--rotate', '--config', configured.file]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('auth.admin_token is set in the config');
  });

  it('--adopt-pepper: a store whose pepper is lost takes the new one; the new token works, old keys do not', async () => {
    const { file } = writeConfig();
    const first = await serve(['--config', file], PEPPER_A);
    const oldKey = credential(first, 'API key');
    await first.stop();
    const res = run(['admin-token', '--rotate', '--adopt-pepper', '--config', file], PEPPER_B);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toContain('no longer verify');
    const newToken = /^Admin token: (\S+)$/m.exec(res.stdout)![1];
    const second = await serve(['--config', file], PEPPER_B);
    try {
      expect(await adminStatus(second.url, newToken)).toBe(200);
      expect(await chatStatus(second.url, oldKey)).toBe(401);
    } finally {
      await second.stop();
    }
    expectRefused(run(['serve', '--config', file], PEPPER_A));
  });
});
