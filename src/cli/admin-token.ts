// `floodgate admin-token --rotate`: a new generated admin token for an operator who lost it (the old one
// stops working), printed once; with --adopt-pepper, also the way out for a store whose pepper is lost.
import type { Command } from 'commander';
import { openStore } from '../store/database.js';
import { adoptPepper, checkPepper, resolvePepper, rotateAdminToken } from '../auth/bootstrap.js';
import { addStoreOptions, loadCommandConfig, processOutput, runCliAction, UsageError, type CliOutput, type StoreCommandOptions } from './store-context.js';

interface AdminTokenOptions extends StoreCommandOptions {
  rotate?: boolean;
  adoptPepper?: boolean;
}

export function registerAdminTokenCommand(program: Command, io: CliOutput = processOutput): void {
  addStoreOptions(
    program
      .command('admin-token')
      .description('replace the generated admin token: the new one is printed once, the old one stops working')
      .option('--rotate', 'issue a new admin token (required: says that the old one is to stop working)')
      .option('--adopt-pepper', 'the old pepper is lost: make the store take this start’s pepper (keys made under the old one never verify again)'),
  )
    .addHelpText('after', '\nExample:\n  floodgate admin-token --rotate --config floodgate.yaml')
    .action((opts: AdminTokenOptions) =>
      runCliAction(io, async () => {
        if (!opts.rotate) throw new UsageError('nothing to do: pass --rotate to replace the admin token (the old one stops working)');
        const config = loadCommandConfig(opts);
        if (config.auth.adminToken !== undefined) {
          throw new UsageError(`auth.admin_token is set in the config (${config.source}): the admin token is the configured one; change it there`);
        }
        const store = await openStore({ url: config.storeUrl, poolSize: 1 });
        try {
          const pepper = resolvePepper(config);
          // Adopting first: the token below is hashed under this pepper, so both must hold together.
          if (opts.adoptPepper) await adoptPepper(store, pepper);
          else await checkPepper(store, config, pepper);
          const token = await rotateAdminToken(store, pepper);
          if (opts.adoptPepper) io.err('The store now takes this pepper: API keys made under the old one no longer verify; issue new ones (floodgate keys create).');
          io.out(`Admin token: ${token}`);
          io.err('The token is shown only this once: store it now. The previous admin token no longer works.');
        } finally {
          await store.close();
        }
      }),
    );
}
