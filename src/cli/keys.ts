// `floodgate keys …`: create (the key is printed once), list (hints only), disable, delete — on the store
// directly, through the same repositories and key issuing as the admin API.
import type { Command } from 'commander';
import { issueApiKey } from '../auth/bootstrap.js';
import { apiKeyStatus } from '../store/api-keys.js';
import type { Config } from '../config/load.js';
import {
  addStoreOptions,
  formatTable,
  formatTime,
  processOutput,
  resolveAccount,
  runCliAction,
  UsageError,
  withStore,
  type CliOutput,
  type StoreCommandOptions,
} from './store-context.js';

interface CreateOptions extends StoreCommandOptions {
  account: string;
  name?: string;
  expiresIn?: string;
  expiresAt?: string;
  models?: string;
}

interface ListOptions extends StoreCommandOptions {
  account?: string;
  json?: boolean;
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90m`, `12h`, `30d` (also `s`, `w`) → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!match || Number(match[1]) === 0) throw new UsageError(`bad duration ${JSON.stringify(text)}: expected a positive number and a unit, like 90m, 12h or 30d`);
  return Number(match[1]) * DURATION_UNITS_MS[match[2]];
}

/** When the key expires, from --expires-in or --expires-at; null for never. */
function resolveExpiry(opts: CreateOptions, now: number): number | null {
  if (opts.expiresIn !== undefined && opts.expiresAt !== undefined) throw new UsageError('give --expires-in or --expires-at, not both');
  if (opts.expiresIn !== undefined) return now + parseDuration(opts.expiresIn);
  if (opts.expiresAt !== undefined) {
    const at = Date.parse(opts.expiresAt);
    if (Number.isNaN(at)) throw new UsageError(`bad --expires-at ${JSON.stringify(opts.expiresAt)}: expected an ISO 8601 time, like 2030-01-31T00:00:00Z`);
    if (at <= now) throw new UsageError(`--expires-at ${opts.expiresAt} is in the past`);
    return at;
  }
  return null;
}

function parseModelList(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const models = [...new Set(text.split(',').map((m) => m.trim()).filter((m) => m !== ''))];
  if (models.length === 0) throw new UsageError('--models needs at least one model id (comma-separated)');
  return models;
}

/** Names the catalog knows: ids and aliases. */
function catalogNames(config: Config): Set<string> {
  return new Set(config.models.flatMap((m) => [m.id, ...(m.aliases ?? [])]));
}

export function registerKeysCommands(program: Command, io: CliOutput = processOutput): void {
  const keys = program.command('keys').description('create, list, disable and delete API keys');

  addStoreOptions(
    keys
      .command('create')
      .description('create an API key for an account; the key is printed once and cannot be shown again')
      .requiredOption('--account <id|name>', 'account that owns the key')
      .option('--name <name>', 'a name for the key')
      .option('--expires-in <duration>', 'expire after a duration: 90m, 12h, 30d')
      .option('--expires-at <time>', 'expire at an ISO 8601 time')
      .option('--models <ids>', 'comma-separated model ids the key may use (default: all)'),
  )
    .addHelpText('after', '\nExample:\n  floodgate keys create --account default --name ci --expires-in 30d --models sim-chat,sim-embed')
    .action((opts: CreateOptions) =>
      runCliAction(io, async () => {
        const now = Date.now();
        const expiresAt = resolveExpiry(opts, now);
        const allowedModels = parseModelList(opts.models);
        await withStore(opts, async ({ store, config, pepper }) => {
          const account = await resolveAccount(store, opts.account);
          if (account.status === 'disabled') io.err(`warning: account ${account.name} is disabled: the key gets 403 until the account is enabled`);
          if (allowedModels) {
            const known = catalogNames(config);
            const unknown = allowedModels.filter((m) => !known.has(m));
            if (unknown.length > 0) io.err(`warning: not in the model catalog of ${config.source}: ${unknown.join(', ')}`);
          }
          const { apiKey, record } = await issueApiKey(
            store.keys,
            config.auth.keyPrefix,
            pepper,
            { accountId: account.id, name: opts.name ?? null, expiresAt, allowedModels },
            now,
          );
          io.out(`API key: ${apiKey}`);
          io.out(`id: ${record.id}`);
          io.out(`hint: ${record.hint}`);
          io.out(`account: ${account.id} (${account.name})`);
          io.out(`expires: ${record.expiresAt === null ? 'never' : formatTime(record.expiresAt)}`);
          io.err('The key is shown only this once: store it now.');
        });
      }),
    );

  addStoreOptions(
    keys
      .command('list')
      .description('list API keys (hints only: keys are never stored)')
      .option('--account <id|name>', 'only this account’s keys')
      .option('--json', 'print JSON instead of a table'),
  ).action((opts: ListOptions) =>
    runCliAction(io, () =>
      withStore(opts, async ({ store }) => {
        const account = opts.account === undefined ? undefined : await resolveAccount(store, opts.account);
        const [list, accounts] = await Promise.all([store.keys.list({ accountId: account?.id }), store.accounts.list()]);
        const accountNames = new Map(accounts.map((a) => [a.id, a.name]));
        const now = Date.now();
        if (opts.json) {
          io.out(JSON.stringify(list.map((k) => ({ ...k, accountName: accountNames.get(k.accountId) ?? null, status: apiKeyStatus(k, now) })), null, 2));
          return;
        }
        if (list.length === 0) {
          io.out('no API keys');
          return;
        }
        const rows = list.map((k) => [
          k.id,
          accountNames.get(k.accountId) ?? k.accountId,
          k.name ?? '-',
          k.hint,
          apiKeyStatus(k, now),
          formatTime(k.createdAt),
          formatTime(k.expiresAt),
          k.allowedModels ? k.allowedModels.join(',') : '*',
        ]);
        for (const line of formatTable(['ID', 'ACCOUNT', 'NAME', 'HINT', 'STATUS', 'CREATED', 'EXPIRES', 'MODELS'], rows)) io.out(line);
      }),
    ),
  );

  addStoreOptions(
    keys
      .command('disable')
      .description('disable an API key: requests with it get 403 from then on (within a second on every instance)')
      .argument('<id>', 'key id (key_…)'),
  ).action((id: string, opts: StoreCommandOptions) =>
    runCliAction(io, () =>
      withStore(opts, async ({ store }) => {
        const before = await store.keys.getById(id);
        if (!before) throw new UsageError(`no API key ${JSON.stringify(id)} (see: floodgate keys list)`);
        const after = await store.keys.disable(id);
        if (before.disabledAt !== null) io.out(`${id} (${before.hint}) was already disabled at ${formatTime(before.disabledAt)}`);
        else io.out(`disabled ${id} (${before.hint}) at ${formatTime(after?.disabledAt ?? null)}`);
      }),
    ),
  );

  addStoreOptions(
    keys
      .command('delete')
      .description('delete an API key for good (disable keeps it listed; delete removes it)')
      .argument('<id>', 'key id (key_…)'),
  ).action((id: string, opts: StoreCommandOptions) =>
    runCliAction(io, () =>
      withStore(opts, async ({ store }) => {
        const key = await store.keys.getById(id);
        if (!key || !(await store.keys.delete(id))) throw new UsageError(`no API key ${JSON.stringify(id)} (see: floodgate keys list)`);
        io.out(`deleted ${id} (${key.hint})`);
      }),
    ),
  );
}
