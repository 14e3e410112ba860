// `floodgate serve`: loads the config, starts the gateway, prints first-start credentials once, and
// shuts down cleanly on SIGTERM / SIGINT.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { startGateway } from '../gateway.js';
import { parsePort } from './options.js';
import { closeOnSignals } from './shutdown.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve the OpenAI-compatible API (the embedded default when no config is given).')
    .option('--config <path>', 'config file (default: $FLOODGATE_CONFIG, ./floodgate.yaml, else the embedded default)')
    .option('--host <host>', 'address to listen on (overrides server.host)')
    .option('--port <port>', 'port to listen on (overrides server.port)', parsePort)
    .option('--data-dir <dir>', 'data directory for the embedded store and generated secrets (overrides data_dir)')
    .action(async (opts: { config?: string; host?: string; port?: number; dataDir?: string }) => {
      const config = loadConfig(opts.config, { host: opts.host, port: opts.port, dataDir: opts.dataDir });
      const gateway = await startGateway(config);
      const out: string[] = [];
      if (gateway.firstStart.apiKey) out.push(`API key: ${gateway.firstStart.apiKey}`);
      if (gateway.firstStart.adminToken) out.push(`Admin token: ${gateway.firstStart.adminToken}`);
      out.push(`Floodgate listening on ${gateway.url}${config.server.basePath} (config: ${config.source})`);
      process.stdout.write(`${out.join('\n')}\n`);
      closeOnSignals(() => gateway.close());
    });
}
