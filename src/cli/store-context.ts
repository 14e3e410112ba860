// What the store commands (`keys`, `accounts`, `migrate`) share: the --config/--data-dir options, opening
// the store with the resolved pepper, exit codes (2 = bad usage or config, 1 = runtime failure), output.
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { openStore } from '../store/database.js';
import type { Store } from '../store/store.js';
import type { AccountRecord } from '../store/accounts.js';
import { resolvePepper } from '../auth/bootstrap.js';

export interface StoreCommandOptions {
  config?: string;
  dataDir?: string;
}

export interface StoreContext {
  store: Store;
  config: Config;
  pepper: string;
}

/** Where command output goes; tests pass their own. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const processOutput: CliOutput = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** The user asked for something that cannot be: exit 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Adds the options every store command takes. */
export function addStoreOptions(command: Command): Command {
  return command
    .option('--config <path>', 'config file (default: $FLOODGATE_CONFIG, ./floodgate.yaml, or the embedded default)')
    .option('--data-dir <dir>', 'data directory (overrides the config)');
}

export function loadCommandConfig(opts: StoreCommandOptions): Config {
  return loadConfig(opts.config, opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
}

/** Loads the config, opens (and migrates) the store, resolves the pepper, runs `fn`, closes the store. */
export async function withStore(opts: StoreCommandOptions, fn: (ctx: StoreContext) => Promise<void>): Promise<void> {
  const config = loadCommandConfig(opts);
  const store = await openStore({ url: config.storeUrl });
  try {
    await fn({ store, config, pepper: resolvePepper(config) });
  } finally {
    await store.close();
  }
}

/** The account a user named by id or name; unknown is a usage error. */
export async function resolveAccount(store: Store, idOrName: string): Promise<AccountRecord> {
  const account = await store.accounts.findByIdOrName(idOrName);
  if (!account) throw new UsageError(`no account ${JSON.stringify(idOrName)} (see: floodgate accounts list)`);
  return account;
}

/** Runs a command's body and turns what it throws into a message on stderr and the exit code. */
export async function runCliAction(io: CliOutput, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`error: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

/** Milliseconds since the epoch as `2025-01-31T12:00:00Z`; `-` for none. */
export function formatTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Left-aligned columns separated by two spaces, header first. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}
