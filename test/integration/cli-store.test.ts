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
import { registerUsageCommand } from '../../src/cli/usage.js';
import { registerBudgetCommands } from '../../src/cli/budgets.js';
import type { CliOutput } from '../../src/cli/store-context.js';
import { openStore } from '../../src/store/database.js';
import { hashApiKey, loadOrCreateSecret } from '../../src/auth/key-material.js';
import type { UsageRecord } from '../../src/store/usage.js';
import { createTestDatabase } from '../helpers/postgres.js';

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
  registerUsageCommand(program, io);
  registerBudgetCommands(program, io);
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
    expect(first.out).toEqual(['applied 001_accounts_keys', 'applied 002_ledger_usage', 'applied 003_media', 'applied 004_debited', 'applied 005_reported_usage', 'applied 006_portal', 'applied 007_responses', 'applied 008_budgets']);
    expect(existsSync(join(dataDir, 'floodgate.db'))).toBe(true);
    expect((await run(['migrate'])).out).toEqual(['store is up to date: no migrations to run']);
  });

  it('migrates a PostgreSQL store named by the config, without a data directory', async () => {
    const database = await createTestDatabase('cli');
    try {
      writeFileSync(configPath, CONFIG + `store: { url: "${database.url}", pool_size: 2 }\n`);
      const first = await run(['migrate']);
      expect(first.err).toEqual([]);
      expect(first.exitCode).toBe(0);
      expect(first.out).toEqual(['applied 001_accounts_keys', 'applied 002_ledger_usage', 'applied 003_media', 'applied 004_debited', 'applied 005_reported_usage', 'applied 006_portal', 'applied 007_responses', 'applied 008_budgets']);
      expect((await run(['migrate'])).out).toEqual(['store is up to date: no migrations to run']);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await database.drop();
    }
  });

  it('a PostgreSQL server that cannot be reached is a runtime failure (exit 1), without the password', async () => {
    writeFileSync(configPath, CONFIG + 'store: { url: "postgres://u:pw-secret@127.0.0.1:1/floodgate" }\n');
    const result = await run(['migrate']);
    expect(result.exitCode).toBe(1);
    expect(result.err[0]).toMatch(/^error: cannot connect to the PostgreSQL store postgres:\/\/\*\*\*@127\.0\.0\.1:1\/floodgate: .*ECONNREFUSED/);
    expect(result.err.join('')).not.toContain('pw-secret');
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

const TIERED_CONFIG = `${CONFIG}
limits:
  default_tier: basic
  tiers:
    basic: { requests_per_minute: 60, tokens_per_minute: 1000, concurrent_requests: 5 }
    pro: { requests_per_minute: 600 }
`;

async function withTestStore<T>(fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('accounts: create with tier, limits and credit; show', () => {
  beforeEach(() => writeFileSync(configPath, TIERED_CONFIG));

  it('takes the default tier from the config; --rpm overrides; --credit is an exact ledger entry', async () => {
    const created = await run(['accounts', 'create', '--name', 'acme', '--rpm', '30', '--credit', '12.50']);
    expect(created.exitCode, created.err.join('\n')).toBe(0);
    const id = created.out[0];
    expect(id).toMatch(/^acct_/);

    const show = await run(['accounts', 'show', 'acme']);
    expect(show.exitCode).toBe(0);
    expect(field(show.out, 'id')).toBe(id);
    expect(field(show.out, 'tier')).toBe('basic');
    expect(field(show.out, 'status')).toBe('active');
    expect(field(show.out, 'balance')).toBe('12.500000');
    expect(field(show.out, 'limits')).toBe('requests/min 30 (own), tokens/min 1000 (tier basic), concurrent 5 (tier basic)');
    expect(field(show.out, 'keys')).toBe('0');

    const json = JSON.parse((await run(['accounts', 'show', id, '--json'])).out.join('\n'));
    expect(json).toMatchObject({
      object: 'account',
      id,
      name: 'acme',
      tier: 'basic',
      balance_micros: 12_500_000,
      limits: { requests_per_minute: 30 },
      effective_limits: { requests_per_minute: 30, tokens_per_minute: 1000, concurrent_requests: 5 },
    });
    const ledger = JSON.parse((await run(['accounts', 'ledger', 'acme', '--json'])).out.join('\n'));
    expect(ledger.data).toEqual([expect.objectContaining({ kind: 'credit', amount_micros: 12_500_000, reason: 'initial credit', actor: expect.stringMatching(/^cli:/) })]);

    expect((await run(['accounts', 'show', 'nobody'])).err[0]).toMatch(/^error: no account "nobody"/);
  });

  it('bad flags exit 2 naming the flag, before the store is opened', async () => {
    const cases: [string[], RegExp][] = [
      [['accounts', 'create', '--name', 'x', '--tier', 'gold'], /^error: --tier: unknown tier "gold" \(configured: basic, pro\)/],
      [['accounts', 'create', '--name', 'x', '--rpm', '0'], /^error: --rpm: must be >= 1/],
      [['accounts', 'create', '--name', 'x', '--tpm', 'lots'], /^error: --tpm: must be an integer/],
      [['accounts', 'create', '--name', 'x', '--concurrency', '1.5'], /^error: --concurrency: must be an integer/],
      [['accounts', 'create', '--name', 'x', '--credit', '1.0000001'], /^error: --credit: must have at most 6 decimal places/],
      [['accounts', 'create', '--name', 'x', '--credit', '-1'], /^error: --credit: must not be negative/],
      [['accounts', 'create', '--name', 'acct_x'], /^error: --name: must not start with "acct_"/],
      [['accounts', 'credit', 'acme', '--amount', '1.0000001', '--reason', 'r'], /^error: --amount: must have at most 6 decimal places/],
      [['accounts', 'credit', 'acme', '--amount', '-5', '--reason', 'r'], /^error: --amount: must be positive for a credit/],
      [['accounts', 'credit', 'acme', '--amount', '5', '--reason', ' '], /^error: --reason: must not be blank/],
      [['accounts', 'credit', 'acme', '--amount', '5', '--reason', 'r', '--kind', 'gift'], /^error: --kind: must be one of credit, refund, adjustment/],
      [['accounts', 'credit', 'acme', '--amount', '5', '--amount-micros', '5', '--reason', 'r'], /^error: --amount-micros: give amount or amount_micros, not both/],
      [['accounts', 'credit', 'acme', '--reason', 'r'], /^error: --amount: is required/],
      [['accounts', 'set-tier', 'acme', 'gold'], /^error: <tier>: unknown tier "gold"/],
      [['accounts', 'limits', 'acme', '--rpm', '-3'], /^error: --rpm: must be an integer|^error: --rpm: must be >= 1/],
      [['accounts', 'ledger', 'acme', '--limit', '0'], /^error: --limit: must be an integer from 1 to 1000/],
      [['accounts', 'ledger', 'acme', '--before', 'yesterday'], /^error: --before: must be unix seconds or an ISO 8601 time/],
      [['keys', 'create', '--account', 'acme', '--rpm', '0'], /^error: --rpm: must be >= 1/],
      [['usage', '--bucket', 'week'], /^error: --bucket: must be one of minute, hour, day/],
      [['usage', '--since', 'whenever'], /^error: --since: must be unix seconds or an ISO 8601 time/],
      [['usage', '--since', '2025-01-02', '--until', '2025-01-01'], /^error: --until: must be after start/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.err[0], args.join(' ')).toMatch(message);
    }
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('accounts: credit, ledger, set-tier, limits', () => {
  beforeEach(() => writeFileSync(configPath, TIERED_CONFIG));

  it('credits, refunds and adjusts exactly; the ledger lists them newest first', async () => {
    const id = (await run(['accounts', 'create', '--name', 'acme'])).out[0];
    const credit = await run(['accounts', 'credit', 'acme', '--amount', '10.50', '--reason', 'invoice 1042']);
    expect(credit.exitCode, credit.err.join('\n')).toBe(0);
    expect(credit.out[0]).toBe(`credit 10.500000 on ${id} (acme): balance 10.500000`);
    expect(field(credit.out, 'entry')).toMatch(/^led_/);

    expect((await run(['accounts', 'credit', id, '--amount-micros', '1', '--kind', 'refund', '--reason', 'failed request'])).out[0]).toBe(
      `refund 0.000001 on ${id} (acme): balance 10.500001`,
    );
    const adjust = await run(['accounts', 'credit', 'acme', '--amount', '-0.500001', '--kind', 'adjustment', '--reason', 'correction', '--actor', 'bob']);
    expect(adjust.out[0]).toBe(`adjustment -0.500001 on ${id} (acme): balance 10.000000`);

    const tooMuch = await run(['accounts', 'credit', 'acme', '--amount', '-10.000001', '--kind', 'adjustment', '--reason', 'r']);
    expect(tooMuch.exitCode).toBe(2);
    expect(tooMuch.err[0]).toMatch(/^error: --amount: would take the balance below zero \(the balance is 10\.000000\)/);
    const unknown = await run(['accounts', 'credit', 'nobody', '--amount', '1', '--reason', 'r']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.err[0]).toMatch(/^error: no account "nobody"/);

    const table = await run(['accounts', 'ledger', 'acme']);
    expect(table.out[0]).toMatch(/^TIME\s+KIND\s+AMOUNT\s+BALANCE\s+ACTOR\s+REASON$/);
    expect(table.out.slice(1).map((l) => l.split(/\s{2,}/).slice(1))).toEqual([
      ['adjustment', '-0.500001', '10.000000', 'bob', 'correction'],
      ['refund', '0.000001', '10.500001', expect.stringMatching(/^cli:/), 'failed request'],
      ['credit', '10.500000', '10.500000', expect.stringMatching(/^cli:/), 'invoice 1042'],
    ]);

    const page = JSON.parse((await run(['accounts', 'ledger', 'acme', '--json', '--limit', '2'])).out.join('\n'));
    expect(page).toMatchObject({ object: 'list', has_more: true });
    expect(page.data.map((e: { kind: string }) => e.kind)).toEqual(['adjustment', 'refund']);
    const rest = JSON.parse((await run(['accounts', 'ledger', 'acme', '--json', '--before', String(page.next_before)])).out.join('\n'));
    expect(rest.data.map((e: { kind: string }) => e.kind)).toEqual(['credit']);

    const listed = JSON.parse((await run(['accounts', 'list', '--json'])).out.join(''));
    expect(listed[0].balanceMicros).toBe(10_000_000);
  });

  it('set-tier moves an account to a configured tier', async () => {
    const id = (await run(['accounts', 'create', '--name', 'acme'])).out[0];
    const moved = await run(['accounts', 'set-tier', 'acme', 'pro']);
    expect(moved.exitCode, moved.err.join('\n')).toBe(0);
    expect(moved.out[0]).toBe(`${id} (acme): tier basic → pro`);
    expect(moved.out[1]).toBe('limits: requests/min 600 (tier pro)');
    expect((await run(['accounts', 'set-tier', id, 'pro'])).out[0]).toBe(`${id} (acme) is already on tier pro`);
    expect((await run(['accounts', 'set-tier', 'acme', 'gold'])).exitCode).toBe(2);
    expect(field((await run(['accounts', 'show', 'acme'])).out, 'tier')).toBe('pro');
  });

  it('limits shows, merges figures into the overrides, and clears them', async () => {
    await run(['accounts', 'create', '--name', 'acme']);
    const shown = await run(['accounts', 'limits', 'acme']);
    expect(field(shown.out, 'overrides')).toBe('none');
    expect(field(shown.out, 'limits')).toBe('requests/min 60 (tier basic), tokens/min 1000 (tier basic), concurrent 5 (tier basic)');

    expect(field((await run(['accounts', 'limits', 'acme', '--rpm', '30'])).out, 'overrides')).toBe('{"requests_per_minute":30}');
    const merged = await run(['accounts', 'limits', 'acme', '--tpm', '5000', '--concurrency', '2']);
    expect(JSON.parse(field(merged.out, 'overrides'))).toEqual({ requests_per_minute: 30, tokens_per_minute: 5000, concurrent_requests: 2 });
    expect(field(merged.out, 'limits')).toBe('requests/min 30 (own), tokens/min 5000 (own), concurrent 2 (own)');

    const replaced = await run(['accounts', 'limits', 'acme', '--clear', '--concurrency', '9']);
    expect(JSON.parse(field(replaced.out, 'overrides'))).toEqual({ concurrent_requests: 9 });
    expect(field((await run(['accounts', 'limits', 'acme', '--clear'])).out, 'overrides')).toBe('none');
  });
});

describe('accounts billing, accounts budget, keys budget', () => {
  it('shows and sets the billing mode; sets, shows and clears budgets on an account and a key', async () => {
    const id = (await run(['accounts', 'create', '--name', 'team'])).out[0];
    expect((await run(['accounts', 'billing', 'team'])).out[0]).toBe(`${id} (team): prepaid (the config’s billing.mode)`);
    expect((await run(['accounts', 'billing', 'team', 'postpaid'])).out[0]).toBe(`${id} (team): postpaid (its own)`);
    expect(field((await run(['accounts', 'show', 'team'])).out, 'billing')).toBe('postpaid');
    expect((await run(['accounts', 'billing', 'team', 'tier'])).out[0]).toBe(`${id} (team): prepaid (the config’s billing.mode)`);
    const bad = await run(['accounts', 'billing', 'team', 'free']);
    expect(bad.exitCode).toBe(2);
    expect(bad.err[0]).toMatch(/^error: \[mode\]/);

    expect((await run(['accounts', 'budget', 'team'])).out[0]).toBe('team: no budget');
    const set = await run(['accounts', 'budget', 'team', '--limit', '250', '--soft', '200', '--period', 'month', '--reset-time', '06:00', '--time-zone', 'Europe/Berlin']);
    expect(set.exitCode, set.err.join('\n')).toBe(0);
    expect(set.out[0]).toBe('budget: 250.000000 per month, resetting at 06:00 Europe/Berlin, alert at 200.000000');
    expect(set.out[1]).toMatch(/^this period: spent 0\.000000, left 250\.000000, resets \d{4}-\d\d-01T05:00:00Z$/);
    const json = JSON.parse((await run(['accounts', 'budget', id, '--json'])).out.join('\n'));
    expect(json).toMatchObject({ object: 'budget', scope: 'account', account_id: id, limit_micros: 250_000_000, soft_limit_micros: 200_000_000, period: 'month', reset_time: '06:00', time_zone: 'Europe/Berlin' });

    const key = await run(['keys', 'create', '--account', 'team']);
    const keyId = field(key.out, 'id');
    const keyBudget = await run(['keys', 'budget', keyId, '--limit', '1.00', '--period', 'day']);
    expect(keyBudget.out[0]).toBe('budget: 1.000000 per day, resetting at 00:00 UTC');
    for (const [args, flag] of [
      [['--limit', '1', '--period', 'year'], '--period'],
      [['--limit', '1', '--time-zone', 'Mars/Olympus'], '--time-zone'],
      [['--limit', '1', '--soft', '2'], '--soft'],
      [['--limit', 'ten'], '--limit'],
    ] as const) {
      const refused = await run(['keys', 'budget', keyId, ...args]);
      expect(refused.exitCode, args.join(' ')).toBe(2);
      expect(refused.err[0], args.join(' ')).toContain(flag);
    }
    expect((await run(['keys', 'budget', keyId, '--clear'])).out[0]).toBe(`budget removed from ${keyId}`);
    expect((await run(['keys', 'budget', keyId])).out[0]).toBe(`${keyId}: no budget`);
    expect((await run(['keys', 'budget', 'key_nope'])).exitCode).toBe(2);
  });
});

describe('keys create with limits', () => {
  beforeEach(() => writeFileSync(configPath, TIERED_CONFIG));

  it('sets the key’s own limits, never looser than its account’s', async () => {
    await run(['accounts', 'create', '--name', 'acme', '--rpm', '30']);
    const created = await run(['keys', 'create', '--account', 'acme', '--rpm', '10', '--concurrency', '5']);
    expect(created.exitCode, created.err.join('\n')).toBe(0);
    expect(JSON.parse(field(created.out, 'limits'))).toEqual({ requests_per_minute: 10, concurrent_requests: 5 });
    const id = field(created.out, 'id');
    await withTestStore(async (store) => expect((await store.keys.getById(id))?.limits).toEqual({ requests_per_minute: 10, concurrent_requests: 5 }));

    const looser = await run(['keys', 'create', '--account', 'acme', '--rpm', '31']);
    expect(looser.exitCode).toBe(2);
    expect(looser.err[0]).toMatch(/^error: --rpm: must not be looser than the account's 30/);
    const tier = await run(['keys', 'create', '--account', 'acme', '--tpm', '1001']);
    expect(tier.err[0]).toMatch(/^error: --tpm: must not be looser than the account's 1000/);
    expect(JSON.parse((await run(['keys', 'list', '--json'])).out.join(''))).toHaveLength(1);
  });
});

describe('usage command', () => {
  const T0 = Date.UTC(2025, 0, 1, 10, 0, 0);

  function usageRecord(accountId: string, over: Partial<UsageRecord>): UsageRecord {
    return {
      id: `usg_${Math.random().toString(36).slice(2)}`,
      createdAt: T0,
      requestId: 'req_cli',
      accountId,
      keyId: 'key_one',
      endpoint: 'chat.completions',
      model: 'sim-chat',
      deployment: 'sim',
      stream: false,
      promptTokens: 10,
      cachedTokens: 2,
      completionTokens: 5,
      reasoningTokens: 0,
      costMicros: 1500,
      status: 200,
      latencyMs: 10,
      ttftMs: null,
      settle: 'complete',
      errorCode: null,
      ...over,
    };
  }

  it('prints buckets and totals per account, key, model and range; --json as the admin API', async () => {
    const acme = (await run(['accounts', 'create', '--name', 'acme'])).out[0];
    const other = (await run(['accounts', 'create', '--name', 'other'])).out[0];
    await withTestStore((store) =>
      store.usage.insertBatch([
        usageRecord(acme, {}),
        usageRecord(acme, { createdAt: T0 + 60_000, keyId: 'key_two' }),
        usageRecord(acme, { createdAt: T0 + 86_400_000, promptTokens: 1, cachedTokens: 0, completionTokens: 1, costMicros: 7 }),
        usageRecord(other, { createdAt: T0, costMicros: 1 }),
        usageRecord(acme, { createdAt: Date.now() - 3_600_000, costMicros: 3 }),
      ]),
    );

    const table = await run(['usage', '--account', 'acme', '--since', '2025-01-01', '--until', '2025-01-03']);
    expect(table.exitCode, table.err.join('\n')).toBe(0);
    expect(table.out[0]).toMatch(/^DAY \(UTC\)\s+REQUESTS\s+PROMPT\s+CACHED\s+COMPLETION\s+REASONING\s+COST$/);
    expect(table.out.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ['2025-01-01T00:00:00Z', '2', '20', '4', '10', '0', '0.003000'],
      ['2025-01-02T00:00:00Z', '1', '1', '0', '1', '0', '0.000007'],
      ['TOTAL', '3', '21', '4', '11', '0', '0.003007'],
    ]);

    const byKey = await run(['usage', '--account', acme, '--key', 'key_two', '--bucket', 'minute', '--since', '1735725600', '--until', '2025-01-02T00:00:00Z']);
    expect(byKey.out.slice(1).map((l) => l.split(/\s{2,}/)[0])).toEqual(['2025-01-01T10:01:00Z', 'TOTAL']);

    const recent = await run(['usage', '--since', '7d']);
    expect(recent.out.at(-1)!.split(/\s{2,}/)).toEqual(['TOTAL', '1', '10', '2', '5', '0', '0.000003']);

    const json = JSON.parse((await run(['usage', '--account', 'acme', '--model', 'sim-chat', '--since', '2025-01-01', '--until', '2025-01-02', '--bucket', 'hour', '--json'])).out.join('\n'));
    expect(json).toEqual({
      object: 'usage',
      account_id: acme,
      key_id: null,
      model: 'sim-chat',
      start: Date.UTC(2025, 0, 1) / 1000,
      end: Date.UTC(2025, 0, 2) / 1000,
      bucket: 'hour',
      totals: { requests: 2, prompt_tokens: 20, cached_tokens: 4, completion_tokens: 10, reasoning_tokens: 0, total_tokens: 30, cost_micros: 3000, cost: '0.003000' },
      buckets: [{ start: T0 / 1000, requests: 2, prompt_tokens: 20, cached_tokens: 4, completion_tokens: 10, reasoning_tokens: 0, total_tokens: 30, cost_micros: 3000, cost: '0.003000' }],
    });

    const unknown = await run(['usage', '--account', 'nobody']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.err[0]).toMatch(/^error: no account "nobody"/);
  });
});

describe('help for the admin commands', () => {
  it('--help describes each new command and its options', async () => {
    const expected: [string[], RegExp[]][] = [
      [['accounts', 'show'], [/<id\|name>/, /--json/]],
      [['accounts', 'credit'], [/--amount <amount>/, /--reason <text>/, /--kind <kind>/, /--actor <name>/]],
      [['accounts', 'set-tier'], [/<tier>/]],
      [['accounts', 'limits'], [/--rpm <n>/, /--tpm <n>/, /--concurrency <n>/, /--clear/]],
      [['accounts', 'ledger'], [/--limit <n>/, /--json/]],
      [['accounts', 'create'], [/--tier <tier>/, /--credit <amount>/, /--rpm <n>/]],
      [['keys', 'create'], [/--rpm <n>/, /--tpm <n>/, /--concurrency <n>/]],
      [['usage'], [/--account <id\|name>/, /--key <id>/, /--model <id>/, /--since <time>/, /--until <time>/, /--bucket <size>/, /--json/]],
    ];
    for (const [args, patterns] of expected) {
      const result = await run([...args, '--help'], false);
      expect(result.exitCode, args.join(' ')).toBe(0);
      const help = result.out.join('');
      for (const pattern of [/--config <path>/, /--data-dir <dir>/, ...patterns]) expect(help, args.join(' ')).toMatch(pattern);
    }
  });
});
