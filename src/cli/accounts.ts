// `floodgate accounts …`: create, list, show, disable and enable accounts, credit them, set their tier and
// limits, read their ledger — on the store directly, through the admin operations the admin API runs.
import { billingModeOf } from '../admin/budgets.js';
import type { Command } from 'commander';
import type { AccountRecord, AccountStatus } from '../store/accounts.js';
import {
  checkAccountPatch,
  checkLedgerEntry,
  checkLedgerPage,
  checkNewAccount,
  createAccount,
  effectiveAccountLimits,
  findAccount,
  listAccounts,
  listLedger,
  recordLedgerEntry,
  updateAccount,
} from '../admin/operations.js';
import { formatMicros } from '../admin/money.js';
import { accountView, ledgerEntryView, listView } from '../admin/views.js';
import type { Config } from '../config/load.js';
import { addLimitOptions, LIMIT_FLAGS, limitsFromFlags, type LimitFlagOptions } from './options.js';
import {
  adminContext,
  addStoreOptions,
  cliActor,
  formatTable,
  formatTime,
  loadCommandConfig,
  processOutput,
  runCliAction,
  UsageError,
  withStore,
  type CliOutput,
  type StoreCommandOptions,
} from './store-context.js';

export { formatMicros };

interface CreateOptions extends StoreCommandOptions, LimitFlagOptions {
  name: string;
  tier?: string;
  credit?: string;
}

interface JsonOptions extends StoreCommandOptions {
  json?: boolean;
}

interface CreditOptions extends StoreCommandOptions {
  amount?: string;
  amountMicros?: string;
  reason: string;
  kind?: string;
  actor?: string;
}

interface LimitsOptions extends StoreCommandOptions, LimitFlagOptions {
  clear?: boolean;
}

interface LedgerOptions extends JsonOptions {
  limit?: string;
  before?: string;
}

const MAX_NAME_LENGTH = 128;
const LIMIT_LABELS = { requests_per_minute: 'requests/min', tokens_per_minute: 'tokens/min', concurrent_requests: 'concurrent' } as const;

function checkName(label: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.length > MAX_NAME_LENGTH) throw new UsageError(`${label} must be 1–${MAX_NAME_LENGTH} characters`);
  return trimmed;
}

/** `requests/min 60 (tier), tokens/min 5000 (own)`; `none` when nothing limits the account. */
function describeLimits(config: Config, account: AccountRecord): string {
  const applied = effectiveAccountLimits(config, account);
  const own = account.limits ?? {};
  const parts = (Object.keys(LIMIT_LABELS) as (keyof typeof LIMIT_LABELS)[])
    .filter((f) => applied[f] !== undefined)
    .map((f) => `${LIMIT_LABELS[f]} ${applied[f]} (${own[f] !== undefined ? 'own' : `tier ${account.tier}`})`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** Integers from flags as the operations take them; anything else goes on as text for the schema to refuse. */
function integerOrText(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  return /^-?\d{1,16}$/.test(text) ? Number(text) : text;
}

export function registerAccountsCommands(program: Command, io: CliOutput = processOutput): void {
  const accounts = program.command('accounts').description('create, list, show, disable and enable accounts; credit them; set their tier and limits');

  addStoreOptions(
    addLimitOptions(
      accounts
        .command('create')
        .description('create an account; prints its id')
        .requiredOption('--name <name>', 'unique account name')
        .option('--tier <tier>', 'limits tier (default: the config’s limits.default_tier)')
        .option('--credit <amount>', 'initial credit in currency units, e.g. 25.00 (a ledger entry)'),
      '(overrides the tier)',
    ),
  ).action((opts: CreateOptions) =>
    runCliAction(
      io,
      async () => {
        const name = checkName('--name', opts.name);
        const config = loadCommandConfig(opts);
        const spec = checkNewAccount(config, { name, tier: opts.tier?.trim(), limits: limitsFromFlags(opts), initial_credit: opts.credit });
        await withStore(
          opts,
          async (ctx) => {
            const { account } = await createAccount(adminContext(ctx), spec, cliActor());
            io.out(account.id);
          },
          config,
        );
      },
      { ...LIMIT_FLAGS, name: '--name', tier: '--tier', initial_credit: '--credit' },
    ),
  );

  addStoreOptions(
    accounts
      .command('list')
      .description('list accounts with tier, status and balance')
      .option('--json', 'print JSON instead of a table'),
  ).action((opts: JsonOptions) =>
    runCliAction(io, () =>
      withStore(opts, async (ctx) => {
        const list = await listAccounts(adminContext(ctx));
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

  addStoreOptions(
    accounts
      .command('show')
      .description('show an account: tier, status, balance, the limits that apply, its keys')
      .argument('<id|name>', 'account id (acct_…) or name')
      .option('--json', 'print JSON (as the admin API’s GET /admin/v1/accounts/:id)'),
  ).action((ref: string, opts: JsonOptions) =>
    runCliAction(io, () =>
      withStore(opts, async (ctx) => {
        const account = await findAccount(adminContext(ctx), ref);
        if (opts.json) {
          io.out(JSON.stringify(accountView(account, effectiveAccountLimits(ctx.config, account), billingModeOf(ctx.config, account)), null, 2));
          return;
        }
        const keys = await ctx.store.keys.list({ accountId: account.id });
        io.out(`id: ${account.id}`);
        io.out(`name: ${account.name}`);
        io.out(`tier: ${account.tier}`);
        io.out(`status: ${account.status}`);
        io.out(`balance: ${formatMicros(account.balanceMicros)}`);
        io.out(`billing: ${billingModeOf(ctx.config, account)}`);
        io.out(`limits: ${describeLimits(ctx.config, account)}`);
        io.out(`keys: ${keys.length}`);
        io.out(`created: ${formatTime(account.createdAt)}`);
      }),
    ),
  );

  const setStatus = (status: AccountStatus, verb: string) => (ref: string, opts: StoreCommandOptions) =>
    runCliAction(io, () =>
      withStore(opts, async (ctx) => {
        const { before } = await updateAccount(adminContext(ctx), ref, { status });
        io.out(before.status === status ? `${before.id} (${before.name}) is already ${status}` : `${verb} ${before.id} (${before.name})`);
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

  addStoreOptions(
    accounts
      .command('credit')
      .description('add a ledger entry: a credit (top-up), a refund, or an adjustment (either sign) with its reason')
      .argument('<id|name>', 'account id (acct_…) or name')
      .option('--amount <amount>', 'amount in currency units, exactly, at most 6 decimals: 10.50 (negative only for adjustments)')
      .option('--amount-micros <n>', 'amount in micro-units instead (1 USD = 1000000)')
      .requiredOption('--reason <text>', 'why: kept with the entry')
      .option('--kind <kind>', 'credit, refund or adjustment', 'credit')
      .option('--actor <name>', 'who made the change (default: cli:$USER)'),
  )
    .addHelpText('after', '\nExamples:\n  floodgate accounts credit acme --amount 25.00 --reason "invoice 1042"\n  floodgate accounts credit acme --amount -3.20 --kind adjustment --reason "double charge on 2025-01-31"')
    .action((ref: string, opts: CreditOptions) =>
      runCliAction(
        io,
        async () => {
          const spec = checkLedgerEntry({ amount: opts.amount, amount_micros: integerOrText(opts.amountMicros), kind: opts.kind, reason: opts.reason, actor: opts.actor }, cliActor());
          await withStore(opts, async (ctx) => {
            const { account, entry } = await recordLedgerEntry(adminContext(ctx), ref, spec);
            io.out(`${entry.kind} ${formatMicros(entry.amountMicros)} on ${account.id} (${account.name}): balance ${formatMicros(entry.balanceAfterMicros)}`);
            io.out(`entry: ${entry.id}`);
          });
        },
        { amount: '--amount', amount_micros: '--amount-micros', reason: '--reason', kind: '--kind', actor: '--actor' },
      ),
    );

  addStoreOptions(
    accounts
      .command('set-tier')
      .description('move an account to another configured tier (its limits apply at once)')
      .argument('<id|name>', 'account id (acct_…) or name')
      .argument('<tier>', 'a tier from the config’s limits.tiers'),
  ).action((ref: string, tier: string, opts: StoreCommandOptions) =>
    runCliAction(
      io,
      async () => {
        const config = loadCommandConfig(opts);
        const patch = checkAccountPatch(config, { tier });
        await withStore(
          opts,
          async (ctx) => {
            const { before, after } = await updateAccount(adminContext(ctx), ref, patch);
            io.out(before.tier === after.tier ? `${after.id} (${after.name}) is already on tier ${after.tier}` : `${after.id} (${after.name}): tier ${before.tier} → ${after.tier}`);
            io.out(`limits: ${describeLimits(config, after)}`);
          },
          config,
        );
      },
      { tier: '<tier>' },
    ),
  );

  addStoreOptions(
    addLimitOptions(
      accounts
        .command('limits')
        .description('show or override an account’s limits (figures not given keep their value; --clear drops every override first)')
        .argument('<id|name>', 'account id (acct_…) or name')
        .option('--clear', 'drop the account’s overrides: its tier’s limits apply'),
      '(override)',
    ),
  )
    .addHelpText('after', '\nExamples:\n  floodgate accounts limits acme                 # show\n  floodgate accounts limits acme --rpm 120 --concurrency 10\n  floodgate accounts limits acme --clear')
    .action((ref: string, opts: LimitsOptions) =>
      runCliAction(
        io,
        async () => {
          const config = loadCommandConfig(opts);
          const given = limitsFromFlags(opts);
          // Checked before the store opens; merged with the current overrides once it is.
          if (given !== undefined) checkAccountPatch(config, { limits: given });
          await withStore(
            opts,
            async (ctx) => {
              const admin = adminContext(ctx);
              let account = await findAccount(admin, ref);
              if (given !== undefined || opts.clear) {
                const base = opts.clear ? {} : (account.limits ?? {});
                account = (await updateAccount(admin, account.id, checkAccountPatch(config, { limits: { ...base, ...given } }))).after;
              }
              io.out(`${account.id} (${account.name}), tier ${account.tier}`);
              io.out(`overrides: ${account.limits === null ? 'none' : JSON.stringify(account.limits)}`);
              io.out(`limits: ${describeLimits(config, account)}`);
            },
            config,
          );
        },
        LIMIT_FLAGS,
      ),
    );

  addStoreOptions(
    accounts
      .command('ledger')
      .description('list an account’s ledger entries (credits, refunds, adjustments), newest first')
      .argument('<id|name>', 'account id (acct_…) or name')
      .option('--limit <n>', 'at most this many entries (1-1000)', '100')
      .option('--before <time>', 'only entries before this time (unix seconds or ISO 8601)')
      .option('--json', 'print JSON (as the admin API’s GET /admin/v1/accounts/:id/ledger)'),
  ).action((ref: string, opts: LedgerOptions) =>
    runCliAction(
      io,
      async () => {
        const page = checkLedgerPage({ limit: opts.limit, before: opts.before });
        await withStore(opts, async (ctx) => {
          const result = await listLedger(adminContext(ctx), ref, page);
          if (opts.json) {
            io.out(JSON.stringify(listView(result.items.map(ledgerEntryView), result), null, 2));
            return;
          }
          if (result.items.length === 0) {
            io.out(`no ledger entries for ${result.account.id} (${result.account.name})`);
            return;
          }
          const rows = result.items.map((e) => [formatTime(e.createdAt), e.kind, formatMicros(e.amountMicros), formatMicros(e.balanceAfterMicros), e.actor, e.reason]);
          for (const line of formatTable(['TIME', 'KIND', 'AMOUNT', 'BALANCE', 'ACTOR', 'REASON'], rows)) io.out(line);
          if (result.hasMore) io.out(`more: --before ${result.nextBefore! / 1000}`);
        });
      },
      { limit: '--limit', before: '--before' },
    ),
  );
}
