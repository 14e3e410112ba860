// The `keys`, `accounts` and `migrate` commands, run through commander as the CLI runs them, against a
// real SQLite store in a temp directory.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerKeysCommands, parseDuration } from '../../src/cli/keys.js';
import { registerAccountsCommands } from '../../src/cli/accounts.js';
import { registerMigrateCommand } from '../../src/cli/migrate.js';
import type { CliOutput } from '../../src/cli/store-context.js';
import { openStore } from '../../src/store/database.js';
import { hashApiKey, loadOrCreateSecret } from '../../src/auth/key-material.js';

interface RunResult {
  out: string[];
  err: string[];
  exitCode: number;
}

const CONFIG = `
providers:
  sim: { type: simulator }
models:
  - id: sim-chat
    category: text
    deployments: [{ provider: sim }]
`;

let dir: string;
let dataDir: string;
let configPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'floodgate-cli-'));
  dataDir = join(dir, 'data');
  configPath = join(dir, 'floodgate.yaml');
  writeFileSync(configPath, CONFIG);
});

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs one command line on a fresh program, as `floodgate <args>` would, capturing output and exit code. */
async function run(args: string[], withStoreOptions = true): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliOutput = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const program = new Command('floodgate')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerKeysCommands(program, io);
  registerAccountsCommands(program, io);
  registerMigrateCommand(program, io);
  process.exitCode = undefined;
  const argv = withStoreOptions ? [...args, '--config', configPath, '--data-dir', dataDir] : args;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, exitCode: e.exitCode };
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, exitCode };
}

function field(lines: string[], name: string): string {
  const line = lines.find((l) => l.startsWith(`${name}: `));
  if (line === undefined) throw new Error(`no "${name}:" line in ${JSON.stringify(lines)}`);
  return line.slice(name.length + 2);
}

describe('accounts commands', () => {
  it('create prints the id; list shows it; a duplicate name is a usage error', async () => {
    const created = await run(['accounts', 'create', '--name', 'acme', '--tier', 'enterprise']);
    expect(created.exitCode).toBe(0);
    expect(created.out).toHaveLength(1);
    expect(created.out[0]).toMatch(/^acct_[A-Za-z0-9]{20}$/);

    const dup = await run(['accounts', 'create', '--name', 'acme']);
    expect(dup.exitCode).toBe(2);
    expect(dup.err.join('\n')).toMatch(/^error: an account named "acme" already exists/);

    const table = await run(['accounts', 'list']);
    expect(table.exitCode).toBe(0);
    expect(table.out[0]).toMatch(/^ID\s+NAME\s+TIER\s+STATUS\s+BALANCE\s+CREATED$/);
    expect(table.out[1]).toMatch(new RegExp(`^${created.out[0]}\\s+acme\\s+enterprise\\s+active\\s+0\\.000000\\s+\\d{4}-`));

    const json = await run(['accounts', 'list', '--json']);
    const parsed = JSON.parse(json.out.join('\n')) as { id: string; name: string; status: string }[];
    expect(parsed).toEqual([expect.objectContaining({ id: created.out[0], name: 'acme', tier: 'enterprise', status: 'active', balanceMicros: 0 })]);
  });

  it('disable and enable by name or id', async () => {
    const id = (await run(['accounts', 'create', '--name', 'acme'])).out[0];
    expect((await run(['accounts', 'disable', 'acme'])).out).toEqual([`disabled ${id} (acme)`]);
    expect((await run(['accounts', 'disable', id])).out).toEqual([`${id} (acme) is already disabled`]);
    const listed = JSON.parse((await run(['accounts', 'list', '--json'])).out.join('')) as { status: string }[];
    expect(listed[0].status).toBe('disabled');
    expect((await run(['accounts', 'enable', id])).out).toEqual([`enabled ${id} (acme)`]);

    const unknown = await run(['accounts', 'disable', 'nobody']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.err[0]).toMatch(/^error: no account "nobody"/);
  });

  it('an empty name is a usage error', async () => {
    const result = await run(['accounts', 'create', '--name', '  ']);
    expect(result.exitCode).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('keys commands', () => {
  it('create prints the key once; the store holds only its hash, and it resolves to the account', async () => {
    const accountId = (await run(['accounts', 'create', '--name', 'acme'])).out[0];
    const before = Date.now();
    const created = await run(['keys', 'create', '--account', 'acme', '--name', 'ci', '--expires-in', '30d', '--models', 'sim-chat, other-model']);
    expect(created.exitCode).toBe(0);
    expect(created.out[0]).toMatch(/^API key: fk-[A-Za-z0-9]{40}$/);
    const apiKey = field(created.out, 'API key');
    const id = field(created.out, 'id');
    expect(id).toMatch(/^key_/);
    expect(field(created.out, 'hint')).toBe(`fk-${apiKey.slice(3, 7)}…${apiKey.slice(-4)}`);
    expect(field(created.out, 'account')).toBe(`${accountId} (acme)`);
    // A model outside the catalog is allowed, with a warning.
    expect(created.err.join('\n')).toMatch(/warning: .*other-model/);

    const pepper = loadOrCreateSecret(dataDir, 'pepper');
    const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
    try {
      const found = await store.keys.findKeyByHash(hashApiKey(pepper, apiKey));
      expect(found?.key.id).toBe(id);
      expect(found?.account.id).toBe(accountId);
      expect(found?.key.allowedModels).toEqual(['sim-chat', 'other-model']);
      const expiresAt = found?.key.expiresAt ?? 0;
      expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    } finally {
      await store.close();
    }

    const list = await run(['keys', 'list']);
    const text = list.out.join('\n');
    expect(list.out[0]).toMatch(/^ID\s+ACCOUNT\s+NAME\s+HINT\s+STATUS\s+CREATED\s+EXPIRES\s+MODELS$/);
    expect(text).toContain(id);
    expect(text).toMatch(/acme\s+ci\s+fk-\S+…\S+\s+active/);
    expect(text).toContain('sim-chat,other-model');
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(hashApiKey(pepper, apiKey));

    const json = await run(['keys', 'list', '--json', '--account', accountId]);
    expect(json.out.join('')).not.toContain(apiKey);
    expect(json.out.join('')).not.toContain(hashApiKey(pepper, apiKey));
    expect(JSON.parse(json.out.join('\n'))).toEqual([expect.objectContaining({ id, accountId, accountName: 'acme', name: 'ci', status: 'active' })]);
  });

  it('disable, then delete; unknown ids are usage errors', async () => {
    await run(['accounts', 'create', '--name', 'acme']);
    const id = field((await run(['keys', 'create', '--account', 'acme'])).out, 'id');

    const disabled = await run(['keys', 'disable', id]);
    expect(disabled.exitCode).toBe(0);
    expect(disabled.out[0]).toMatch(new RegExp(`^disabled ${id} \\(fk-`));
    expect((await run(['keys', 'list'])).out[1]).toMatch(/\sdisabled\s/);
    expect((await run(['keys', 'disable', id])).out[0]).toMatch(/was already disabled/);

    expect((await run(['keys', 'delete', id])).out[0]).toMatch(new RegExp(`^deleted ${id}`));
    expect((await run(['keys', 'list'])).out).toEqual(['no API keys']);
    const again = await run(['keys', 'delete', id]);
    expect(again.exitCode).toBe(2);
    expect(again.err[0]).toMatch(/^error: no API key/);
    expect((await run(['keys', 'disable', 'key_nope'])).exitCode).toBe(2);
  });

  it('bad usage exits 2 without touching the data directory', async () => {
    const cases = [
      ['keys', 'create', '--account', 'acme', '--expires-in', '3x'],
      ['keys', 'create', '--account', 'acme', '--expires-in', '0d'],
      ['keys', 'create', '--account', 'acme', '--expires-at', 'tomorrow'],
      ['keys', 'create', '--account', 'acme', '--expires-at', '2001-01-01T00:00:00Z'],
      ['keys', 'create', '--account', 'acme', '--expires-in', '1d', '--expires-at', '2099-01-01T00:00:00Z'],
      ['keys', 'create', '--account', 'acme', '--models', ' , '],
    ];
    for (const args of cases) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.err[0]).toMatch(/^error: /);
    }
    expect(existsSync(dataDir)).toBe(false);

    const unknownAccount = await run(['keys', 'create', '--account', 'nobody']);
    expect(unknownAccount.exitCode).toBe(2);
    expect(unknownAccount.err[0]).toMatch(/^error: no account "nobody"/);
    expect((await run(['keys', 'list', '--account', 'nobody'])).exitCode).toBe(2);
  });

  it('--expires-at sets the exact time', async () => {
    await run(['accounts', 'create', '--name', 'acme']);
    const created = await run(['keys', 'create', '--account', 'acme', '--expires-at', '2099-01-31T12:00:00Z']);
    expect(field(created.out, 'expires')).toBe('2099-01-31T12:00:00Z');
    const list = JSON.parse((await run(['keys', 'list', '--json'])).out.join('')) as { expiresAt: number }[];
    expect(list[0].expiresAt).toBe(Date.parse('2099-01-31T12:00:00Z'));
  });

  it('writes to process.stdout by default', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const program = new Command('floodgate').exitOverride();
    registerAccountsCommands(program);
    await program.parseAsync(['accounts', 'create', '--name', 'plain', '--config', configPath, '--data-dir', dataDir], { from: 'user' });
    vi.restoreAllMocks();
    expect(written.join('')).toMatch(/^acct_[A-Za-z0-9]{20}\n$/);
  });
});

describe('migrate command', () => {
  it('lists what ran, then that nothing is pending', async () => {
    const first = await run(['migrate']);
    expect(first.exitCode).toBe(0);
    expect(first.out).toEqual(['applied 001_accounts_keys', 'applied 002_ledger_usage']);
    expect(existsSync(join(dataDir, 'floodgate.db'))).toBe(true);
    expect((await run(['migrate'])).out).toEqual(['store is up to date: no migrations to run']);
  });

  it('a PostgreSQL url is a runtime failure (exit 1) with a clear message', async () => {
    writeFileSync(configPath, CONFIG + 'store: { url: "postgres://u:pw@localhost/floodgate" }\n');
    const result = await run(['migrate']);
    expect(result.exitCode).toBe(1);
    expect(result.err[0]).toMatch(/PostgreSQL store .* not available in this build yet/);
    expect(result.err.join('')).not.toContain('pw@');
  });
});

describe('config and help', () => {
  it('a bad config exits 2 with the field path', async () => {
    writeFileSync(configPath, 'providers: {}\nmodels: []\n');
    const result = await run(['accounts', 'list']);
    expect(result.exitCode).toBe(2);
    expect(result.err.join('\n')).toMatch(/^error: .*models/s);
  });

  it('a missing config file exits 2', async () => {
    const result = await run(['keys', 'list', '--config', join(dir, 'missing.yaml'), '--data-dir', dataDir], false);
    expect(result.exitCode).toBe(2);
    expect(result.err[0]).toMatch(/cannot read config/);
  });

  it('--help describes every command and its options', async () => {
    for (const args of [['keys', 'create'], ['keys', 'list'], ['keys', 'disable'], ['keys', 'delete'], ['accounts', 'create'], ['accounts', 'list'], ['accounts', 'disable'], ['accounts', 'enable'], ['migrate']]) {
      const result = await run([...args, '--help'], false);
      expect(result.exitCode, args.join(' ')).toBe(0);
      const help = result.out.join('');
      expect(help, args.join(' ')).toMatch(/--config <path>/);
      expect(help, args.join(' ')).toMatch(/--data-dir <dir>/);
    }
    const create = (await run(['keys', 'create', '--help'], false)).out.join('');
    expect(create).toMatch(/--expires-in <duration>/);
    expect(create).toMatch(/shown once|printed once/);
  });

  it('parseDuration understands m, h and d', () => {
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(() => parseDuration('30')).toThrow(/bad duration/);
  });
});
