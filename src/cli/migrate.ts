// `floodgate migrate`: brings the store's schema up to date and says what ran (serve does the same on start).
import type { Command } from 'commander';
import { openStore } from '../store/database.js';
import { migrateToLatest } from '../store/migrations.js';
import { addStoreOptions, loadCommandConfig, processOutput, runCliAction, type CliOutput, type StoreCommandOptions } from './store-context.js';

export function registerMigrateCommand(program: Command, io: CliOutput = processOutput): void {
  addStoreOptions(program.command('migrate').description('apply pending store migrations and list what ran')).action((opts: StoreCommandOptions) =>
    runCliAction(io, async () => {
      const config = loadCommandConfig(opts);
      const store = await openStore({ url: config.storeUrl, poolSize: config.storePoolSize, migrate: false });
      try {
        const ran = await migrateToLatest(store.db);
        if (ran.length === 0) io.out('store is up to date: no migrations to run');
        for (const name of ran) io.out(`applied ${name}`);
      } finally {
        await store.close();
      }
    }),
  );
}
