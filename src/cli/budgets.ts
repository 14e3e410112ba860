// `floodgate accounts budget …`, `floodgate keys budget …` and `floodgate accounts billing …`: show, set
// and clear the budget of an account or a key, and an account's billing mode — on the store directly,
// through the operations the admin API and the portal run (admin/budgets.ts).
import type { Command } from 'commander';
import type { BudgetScope } from '../store/budgets.js';
import { billingModeOf, budgetView, checkBudget, deleteBudget, findBudget, setBudget, type BudgetStatus } from '../admin/budgets.js';
import { checkAccountPatch, findAccount, updateAccount } from '../admin/operations.js';
import { formatMicros } from '../admin/money.js';
import { formatResetTime } from '../accounting/budget-period.js';
import { addStoreOptions, adminContext, formatTime, loadCommandConfig, processOutput, runCliAction, UsageError, withStore, type CliOutput, type StoreCommandOptions } from './store-context.js';

interface BudgetOptions extends StoreCommandOptions {
  limit?: string;
  soft?: string;
  period?: string;
  resetTime?: string;
  timeZone?: string;
  clear?: boolean;
  json?: boolean;
}

const BUDGET_FLAGS = { limit: '--limit', soft_limit: '--soft', period: '--period', reset_time: '--reset-time', time_zone: '--time-zone' };

/** Two lines a person reads: the budget, then where its period stands. */
function describeBudget(status: BudgetStatus): string[] {
  const b = status.budget;
  const soft = b.softLimitMicros === null ? '' : `, alert at ${formatMicros(b.softLimitMicros)}`;
  const period = b.period === 'none' ? 'in total' : `per ${b.period}, resetting at ${formatResetTime(b.resetMinutes)} ${b.timeZone}`;
  const resets = Number.isFinite(status.periodEnd) ? `, resets ${formatTime(status.periodEnd)}` : '';
  return [`budget: ${formatMicros(b.limitMicros)} ${period}${soft}`, `this period: spent ${formatMicros(status.spentMicros)}, left ${formatMicros(Math.max(0, b.limitMicros - status.spentMicros))}${resets}`];
}

function addBudgetCommand(parent: Command, scope: BudgetScope, io: CliOutput): void {
  const what = scope === 'account' ? 'account' : 'API key';
  addStoreOptions(
    parent
      .command('budget')
      .description(`show, set or clear the ${what}'s budget: a cap in money per period, reserved like a balance (402 budget_exceeded when a request may not fit)`)
      .argument(scope === 'account' ? '<id|name>' : '<key-id>', scope === 'account' ? 'account id (acct_…) or name' : 'key id (key_…)')
      .option('--limit <amount>', 'the cap per period in currency units, e.g. 100.00 (sets the budget)')
      .option('--soft <amount>', 'spend at which the budget.threshold_reached webhook fires')
      .option('--period <period>', 'day, week (Monday to Monday), month or none', 'month')
      .option('--reset-time <HH:MM>', 'when a period starts, local time', '00:00')
      .option('--time-zone <zone>', 'IANA time zone of the reset time', 'UTC')
      .option('--clear', 'remove the budget (what was spent stays on record)')
      .option('--json', 'print JSON (as the admin API)'),
  )
    .addHelpText('after', `\nExamples:\n  floodgate ${scope === 'account' ? 'accounts budget acme' : 'keys budget key_…'} --limit 1.00 --period day --soft 0.80\n  floodgate ${scope === 'account' ? 'accounts budget acme --limit 500 --period month --reset-time 06:00 --time-zone Europe/Berlin' : 'keys budget key_… --clear'}`)
    .action((ref: string, opts: BudgetOptions) =>
      runCliAction(
        io,
        async () => {
          if (opts.clear && opts.limit !== undefined) throw new UsageError('give --limit or --clear, not both');
          const spec = opts.limit === undefined ? undefined : checkBudget({ limit: opts.limit, soft_limit: opts.soft, period: opts.period, reset_time: opts.resetTime, time_zone: opts.timeZone });
          if (spec === undefined && opts.soft !== undefined) throw new UsageError('--soft needs --limit (a budget is set whole)');
          await withStore(opts, async (ctx) => {
            const admin = adminContext(ctx);
            const owner = { scope, ref };
            if (opts.clear) {
              await deleteBudget(admin, owner);
              io.out(`budget removed from ${ref}`);
              return;
            }
            const status = spec === undefined ? await findBudget(admin, owner) : await setBudget(admin, owner, spec);
            if (status === undefined) {
              io.out(opts.json ? 'null' : `${ref}: no budget`);
              return;
            }
            if (opts.json) io.out(JSON.stringify(budgetView(status), null, 2));
            else for (const line of describeBudget(status)) io.out(line);
          });
        },
        BUDGET_FLAGS,
      ),
    );
}

/** Adds `budget` to `accounts` and `keys`, and `billing` to `accounts`. */
export function registerBudgetCommands(program: Command, io: CliOutput = processOutput): void {
  const group = (name: string): Command => {
    const found = program.commands.find((c) => c.name() === name);
    if (found === undefined) throw new Error(`the ${name} commands must be registered first`);
    return found;
  };
  const accounts = group('accounts');
  addBudgetCommand(accounts, 'account', io);
  addBudgetCommand(group('keys'), 'key', io);

  addStoreOptions(
    accounts
      .command('billing')
      .description('show or set an account’s billing mode: prepaid (reserves against the balance) or postpaid (costs recorded, no balance needed); "tier" follows its tier’s mode')
      .argument('<id|name>', 'account id (acct_…) or name')
      .argument('[mode]', 'prepaid, postpaid or tier'),
  ).action((ref: string, mode: string | undefined, opts: StoreCommandOptions) =>
    runCliAction(
      io,
      async () => {
        const config = loadCommandConfig(opts);
        const patch = mode === undefined ? undefined : checkAccountPatch(config, { billing: mode === 'tier' ? null : mode });
        await withStore(
          opts,
          async (ctx) => {
            const admin = adminContext(ctx);
            const account = patch === undefined ? await findAccount(admin, ref) : (await updateAccount(admin, ref, patch)).after;
            const source = account.billing !== null ? 'its own' : config.billing.tiers[account.tier] !== undefined ? `tier ${account.tier}` : 'the config’s billing.mode';
            io.out(`${account.id} (${account.name}): ${billingModeOf(config, account)} (${source})`);
          },
          config,
        );
      },
      { billing: '[mode]' },
    ),
  );
}
