#!/usr/bin/env node
// The `floodgate` CLI: serve, simulate, migrate, keys, accounts, usage, admin-token. Exit codes: 0 success,
// 1 runtime failure, 2 bad usage, bad config or a pepper the store was not made with (SPEC §1).
import { Command, CommanderError } from 'commander';
import { ConfigError } from './config/load.js';
import { PepperMismatchError } from './auth/bootstrap.js';
import { registerServeCommand } from './cli/serve.js';
import { registerSimulateCommand } from './cli/simulate.js';
import { registerMigrateCommand } from './cli/migrate.js';
import { registerKeysCommands } from './cli/keys.js';
import { registerAccountsCommands } from './cli/accounts.js';
import { registerBudgetCommands } from './cli/budgets.js';
import { registerUsageCommand } from './cli/usage.js';
import { registerAdminTokenCommand } from './cli/admin-token.js';
import { PACKAGE_VERSION } from './version.js';


const program = new Command('floodgate')
  .description('Floodgate: an OpenAI-compatible inference API gateway.')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit')
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerSimulateCommand(program);
registerMigrateCommand(program);
registerKeysCommands(program);
registerAccountsCommands(program);
registerBudgetCommands(program);
registerUsageCommand(program);
registerAdminTokenCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version are "errors" with exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof PepperMismatchError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError) {
    process.stderr.write(`error: bad config: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
