// What the store commands (`keys`, `accounts`, `usage`, `migrate`) share: the --config/--data-dir options, opening
// the store with the resolved pepper, exit codes (2 = bad usage or config, 1 = runtime failure), output.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { openStore } from '../store/database.js';
import type { Store } from '../store/store.js';
import { checkPepper, PepperMismatchError, resolvePepper } from '../auth/bootstrap.js';
import { AdminConflictError, AdminInputError, AdminNotFoundError } from '../admin/errors.js';
import type { AdminContext } from '../admin/operations.js';

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

/**
 * Loads the config (unless the command already has), opens (and migrates) the store, resolves the pepper
 * and checks it against the store's fingerprint (PepperMismatchError),
 * runs `fn`, closes the store.
 */
export async function withStore(opts: StoreCommandOptions, fn: (ctx: StoreContext) => Promise<void>, loaded?: Config): Promise<void> {
  const config = loaded ?? loadCommandConfig(opts);
  const store = await openStore({ url: config.storeUrl, poolSize: config.storePoolSize });
  try {
    const pepper = resolvePepper(config);
    // A key made under another pepper than the server's would never verify: refuse, as serve does.
    await checkPepper(store, config, pepper);
    await fn({ store, config, pepper });
  } finally {
    await store.close();
  }
}

/** The admin operations as the CLI runs them: on the store directly, with nobody to tell but the store. */
export function adminContext(ctx: StoreContext): AdminContext {
  return { store: ctx.store, config: ctx.config, pepper: ctx.pepper };
}

/** Who the CLI records as the actor of ledger entries: `cli:$USER` (else the OS account's name). */
export function cliActor(): string {
  let user = process.env.USER || process.env.USERNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (some containers): the actor is still marked as the CLI.
    }
  }
  return `cli:${user || 'unknown'}`;
}

/**
 * An admin operation's error as the CLI says it: the field it names (`limits.requests_per_minute`) becomes
 * the flag that set it (`--rpm`), per `flags`; the first letter is lowered like the CLI's other messages.
 */
export function adminUsageError(err: AdminInputError | AdminNotFoundError | AdminConflictError, flags: Readonly<Record<string, string>> = {}): UsageError {
  let message = err.message;
  const flag = err.param === null ? undefined : flags[err.param];
  if (flag !== undefined && message.startsWith(`${err.param}: `)) message = `${flag}: ${message.slice(err.param!.length + 2)}`;
  if (/^[A-Z][a-z]/.test(message)) message = message[0].toLowerCase() + message.slice(1);
  return new UsageError(message.replace(/\.$/, ''));
}

/**
 * Runs a command's body and turns what it throws into a message on stderr and the exit code. `flags` maps
 * the admin operations' field names to the command's flags, for their error messages.
 */
export async function runCliAction(io: CliOutput, body: () => Promise<void>, flags: Readonly<Record<string, string>> = {}): Promise<void> {
  try {
    try {
      await body();
    } catch (err) {
      if (err instanceof AdminInputError || err instanceof AdminNotFoundError || err instanceof AdminConflictError) throw adminUsageError(err, flags);
      throw err;
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof PepperMismatchError) {
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
