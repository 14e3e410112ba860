// `floodgate serve`: loads the config, starts the gateway, prints first-start credentials once, and
// shuts down cleanly on SIGTERM / SIGINT. With `--workers N` (N > 1) the work is split between a primary
// and N worker processes (cli/workers).
import cluster from 'node:cluster';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/load.js';
import { startGateway } from '../gateway.js';
import { parsePort } from './options.js';
import { closeOnSignals } from './shutdown.js';
import { parseWorkers, runPrimary, runWorker } from './workers.js';
import { DEFAULT_ACCOUNT_NAME } from '../auth/bootstrap.js';

/**
 * The one command that credits the first account, for a priced catalog whose accounts start empty
 * (`billing.initial_credit` 0): printed beside the first key, so that a 402 is never the first surprise.
 */
export function creditCommand(config: Config, opts: { config?: string; dataDir?: string }): string | undefined {
  if (config.billing.initialCreditMicros > 0) return undefined;
  const priced = config.models.some((m) => Object.values(m.pricing ?? {}).some((price) => price > 0));
  if (!priced) return undefined;
  const where = [opts.config === undefined ? '' : ` --config ${opts.config}`, opts.dataDir === undefined ? '' : ` --data-dir ${opts.dataDir}`].join('');
  return `floodgate accounts credit ${DEFAULT_ACCOUNT_NAME} --amount 25.00 --reason "first top-up"${where}`;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve the OpenAI-compatible API (the embedded default when no config is given).')
    .option('--config <path>', 'config file (default: $FLOODGATE_CONFIG, ./floodgate.yaml, else the embedded default)')
    .option('--host <host>', 'address to listen on (overrides $FLOODGATE_HOST and server.host)')
    .option('--port <port>', 'port to listen on (overrides $FLOODGATE_PORT and server.port)', parsePort)
    .option('--data-dir <dir>', 'data directory for the embedded store and generated secrets (overrides data_dir)')
    .option('--workers <n>', 'processes serving the port (0 or "auto": one per CPU); more than 1 needs redis.url', parseWorkers, 1)
    .action(async (opts: { config?: string; host?: string; port?: number; dataDir?: string; workers: number }) => {
      const config = loadConfig(opts.config, { host: opts.host, port: opts.port, dataDir: opts.dataDir });
      // A forked worker runs this same command line.
      if (cluster.isWorker) return runWorker(config);
      if (opts.workers > 1) return runPrimary(config, opts.workers);
      const gateway = await startGateway(config);
      const out: string[] = [];
      if (gateway.firstStart.apiKey) {
        out.push(`API key: ${gateway.firstStart.apiKey}`);
        const credit = creditCommand(config, opts);
        if (credit !== undefined) out.push(`Its account "${DEFAULT_ACCOUNT_NAME}" has no credit and the catalog is priced; credit it with: ${credit}`);
      }
      if (gateway.firstStart.adminToken) out.push(`Admin token: ${gateway.firstStart.adminToken}`);
      if (config.portal.enabled) out.push(`Portal: ${gateway.url}${config.portal.path}`);
      out.push(`Floodgate listening on ${gateway.url}${config.server.basePath} (config: ${config.source})`);
      process.stdout.write(`${out.join('\n')}\n`);
      closeOnSignals(() => gateway.close());
    });
}
