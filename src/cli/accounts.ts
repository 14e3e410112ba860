// `floodgate accounts …`: create, list, disable and enable accounts, on the store directly.
import type { Command } from 'commander';
import type { AccountStatus } from '../store/accounts.js';
import { AlreadyExistsError } from '../store/store.js';
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
  name: string;
  tier?: string;
}

interface ListOptions extends StoreCommandOptions {
  json?: boolean;
}

const MAX_NAME_LENGTH = 128;

/** Micro-units as a decimal amount: 12500000 → `12.500000`. */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

function checkName(label: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.length > MAX_NAME_LENGTH) throw new UsageError(`${label} must be 1–${MAX_NAME_LENGTH} characters`);
  return trimmed;
}

export function registerAccountsCommands(program: Command, io: CliOutput = processOutput): void {
  const accounts = program.command('accounts').description('create, list, disable and enable accounts');

  addStoreOptions(
    accounts
      .command('create')
      .description('create an account; prints its id')
      .requiredOption('--name <name>', 'unique account name')
      .option('--tier <tier>', 'limits tier', 'default'),
  ).action((opts: CreateOptions) =>
    runCliAction(io, async () => {
      const name = checkName('--name', opts.name);
      const tier = checkName('--tier', opts.tier ?? 'default');
      await withStore(opts, async ({ store }) => {
        try {
          const account = await store.accounts.create({ name, tier });
          io.out(account.id);
        } catch (err) {
          if (err instanceof AlreadyExistsError) throw new UsageError(err.message);
          throw err;
        }
      });
    }),
  );

  addStoreOptions(
    accounts
      .command('list')
      .description('list accounts with tier, status and balance')
      .option('--json', 'print JSON instead of a table'),
  ).action((opts: ListOptions) =>
    runCliAction(io, () =>
      withStore(opts, async ({ store }) => {
        const list = await store.accounts.list();
        if (opts.json) {
          io.out(JSON.stringify(list, null, 2));
          return;
        }
        if (list.length === 0) {
          io.out('no accounts');
          return;
        }
        const rows = list.map((a) => [a.id, a.name, a.tier, a.status, formatMicros(a.balanceMicros), formatTime(a.createdAt)]);
        for (const line of formatTable(['ID', 'NAME', 'TIER', 'STATUS', 'BALANCE', 'CREATED'], rows)) io.out(line);
      }),
    ),
  );

  const setStatus = (status: AccountStatus, verb: string) => (idOrName: string, opts: StoreCommandOptions) =>
    runCliAction(io, () =>
      withStore(opts, async ({ store }) => {
        const account = await resolveAccount(store, idOrName);
        await store.accounts.setStatus(account.id, status);
        io.out(account.status === status ? `${account.id} (${account.name}) is already ${status}` : `${verb} ${account.id} (${account.name})`);
      }),
    );

  addStoreOptions(
    accounts
      .command('disable')
      .description('disable an account: every key of it gets 403 (within a second on every instance)')
      .argument('<id|name>', 'account id (acct_…) or name'),
  ).action(setStatus('disabled', 'disabled'));

  addStoreOptions(
    accounts
      .command('enable')
      .description('enable a disabled account')
      .argument('<id|name>', 'account id (acct_…) or name'),
  ).action(setStatus('active', 'enabled'));
}
