// `floodgate keys …`: create (the key is printed once), list (hints only), disable, delete — on the store
// directly, through the admin operations the admin API runs.
import type { Command } from 'commander';
import { apiKeyStatus } from '../store/api-keys.js';
import { checkNewKey, createKey, deleteKey, disableKey, listKeys } from '../admin/operations.js';
import { addLimitOptions, LIMIT_FLAGS, limitsFromFlags, type LimitFlagOptions } from './options.js';
import {
  adminContext,
  addStoreOptions,
  formatTable,
  formatTime,
  processOutput,
  runCliAction,
  UsageError,
  withStore,
  type CliOutput,
  type StoreCommandOptions,
} from './store-context.js';

export { parseDuration } from '../admin/time.js';

interface CreateOptions extends StoreCommandOptions, LimitFlagOptions {
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

const CREATE_FLAGS = { ...LIMIT_FLAGS, name: '--name', expires_in: '--expires-in', expires_at: '--expires-at', allowed_models: '--models' };

function parseModelList(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const models = [...new Set(text.split(',').map((m) => m.trim()).filter((m) => m !== ''))];
  if (models.length === 0) throw new UsageError('--models needs at least one model id (comma-separated)');
  return models;
}

export function registerKeysCommands(program: Command, io: CliOutput = processOutput): void {
  const keys = program.command('keys').description('create, list, disable and delete API keys');

  addStoreOptions(
    addLimitOptions(
      keys
        .command('create')
        .description('create an API key for an account; the key is printed once and cannot be shown again')
        .requiredOption('--account <id|name>', 'account that owns the key')
        .option('--name <name>', 'a name for the key')
        .option('--expires-in <duration>', 'expire after a duration: 90m, 12h, 30d')
        .option('--expires-at <time>', 'expire at a time: ISO 8601 with a zone (2030-01-31T00:00:00Z) or unix seconds')
        .option('--models <ids>', 'comma-separated model ids the key may use (default: all)'),
      'for this key (never looser than its account’s)',
    ),
  )
    .addHelpText('after', '\nExample:\n  floodgate keys create --account default --name ci --expires-in 30d --models sim-chat,sim-embed --rpm 30')
    .action((opts: CreateOptions) =>
      runCliAction(
        io,
        async () => {
          const now = Date.now();
          const spec = checkNewKey(
            { name: opts.name?.trim(), expires_in: opts.expiresIn, expires_at: opts.expiresAt, allowed_models: parseModelList(opts.models), limits: limitsFromFlags(opts) },
            now,
          );
          await withStore(opts, async (ctx) => {
            const { apiKey, record, account, warnings } = await createKey(adminContext(ctx), opts.account, spec, now);
            for (const warning of warnings) io.err(`warning: ${warning}`);
            io.out(`API key: ${apiKey}`);
            io.out(`id: ${record.id}`);
            io.out(`hint: ${record.hint}`);
            io.out(`account: ${account.id} (${account.name})`);
            io.out(`expires: ${record.expiresAt === null ? 'never' : formatTime(record.expiresAt)}`);
            if (record.limits) io.out(`limits: ${JSON.stringify(record.limits)}`);
            io.err('The key is shown only this once: store it now.');
          });
        },
        CREATE_FLAGS,
      ),
    );

  addStoreOptions(
    keys
      .command('list')
      .description('list API keys (hints only: keys are never stored)')
      .option('--account <id|name>', 'only this account’s keys')
      .option('--json', 'print JSON instead of a table'),
  ).action((opts: ListOptions) =>
    runCliAction(io, () =>
      withStore(opts, async (ctx) => {
        const { store } = ctx;
        const [list, accounts] = await Promise.all([listKeys(adminContext(ctx), { account: opts.account }), store.accounts.list()]);
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
      withStore(opts, async (ctx) => {
        const { before, after } = await disableKey(adminContext(ctx), id);
        if (before.disabledAt !== null) io.out(`${id} (${before.hint}) was already disabled at ${formatTime(before.disabledAt)}`);
        else io.out(`disabled ${id} (${before.hint}) at ${formatTime(after.disabledAt)}`);
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
      withStore(opts, async (ctx) => {
        const key = await deleteKey(adminContext(ctx), id);
        io.out(`deleted ${id} (${key.hint})`);
      }),
    ),
  );
}
