// `floodgate simulate`: runs the built-in simulator as a standalone OpenAI-compatible upstream for tests,
// benchmarks and demos. Prints one line, `Simulator listening on http://HOST:PORT`, once it listens.
import { Ajv } from 'ajv';
import type { Command } from 'commander';
import { ConfigError, formatSchemaErrors, readYamlFile } from '../config/load.js';
import { SimulatorSettingsSchema, type SimulatorSettings } from '../config/schema.js';
import { startSimulatorServer, type SimulatorAccess } from '../providers/simulator/server.js';
import { parseErrorStatus, parseFraction, parseNonNegativeInt, parseNonNegativeNumber, parsePort, parsePositiveInt } from './options.js';
import { closeOnSignals } from './shutdown.js';

interface SimulateOptions {
  host: string;
  port: number;
  config?: string;
  ttftMs?: number;
  tokensPerSecond?: number;
  embeddingDimensions?: number;
  errorRate?: number;
  errorStatus?: number;
  latencyMs?: number;
  hang?: boolean;
  breakAfterTokens?: number;
  videoMs?: number;
  basePath?: string;
  requireHeader: string[];
  requireQuery: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--base-path`, `--require-header name:value`, `--require-query name=value`: what a request must look like, or undefined. */
export function simulatorAccessFromOptions(opts: Pick<SimulateOptions, 'basePath' | 'requireHeader' | 'requireQuery'>): SimulatorAccess | undefined {
  const access: SimulatorAccess = {};
  if (opts.basePath !== undefined) {
    if (!/^\/[^?#\s]*$/.test(opts.basePath)) throw new ConfigError(`--base-path: must be a path starting with /; got ${JSON.stringify(opts.basePath)}`);
    access.basePath = opts.basePath;
  }
  for (const h of opts.requireHeader) {
    const at = h.indexOf(':');
    if (at < 1) throw new ConfigError(`--require-header: expected name:value; got ${JSON.stringify(h)}`);
    (access.headers ??= {})[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  for (const p of opts.requireQuery) {
    const at = p.indexOf('=');
    if (at < 1) throw new ConfigError(`--require-query: expected name=value; got ${JSON.stringify(p)}`);
    (access.query ??= {})[p.slice(0, at)] = p.slice(at + 1);
  }
  return Object.keys(access).length === 0 ? undefined : access;
}

const validateSettings = new Ajv({ allErrors: true, strict: false }).compile<SimulatorSettings>(SimulatorSettingsSchema);

function checkSettings(doc: unknown, source: string): SimulatorSettings {
  if (!validateSettings(doc)) throw new ConfigError(`${source}:\n${formatSchemaErrors(validateSettings.errors, doc)}`);
  return doc;
}

/** The file's settings (if any) with the flags on top. */
export function simulatorSettingsFromOptions(opts: SimulateOptions): SimulatorSettings {
  const base = opts.config === undefined ? {} : checkSettings(readYamlFile(opts.config, 'simulator config') ?? {}, opts.config);
  const settings: SimulatorSettings = { ...base };
  if (opts.ttftMs !== undefined) settings.ttft_ms = opts.ttftMs;
  if (opts.tokensPerSecond !== undefined) settings.tokens_per_second = opts.tokensPerSecond;
  if (opts.embeddingDimensions !== undefined) settings.embedding_dimensions = opts.embeddingDimensions;
  if (opts.videoMs !== undefined) settings.video_ms = opts.videoMs;
  const faults = { ...(base.faults ?? {}) };
  if (opts.errorRate !== undefined) faults.error_rate = opts.errorRate;
  if (opts.errorStatus !== undefined) faults.error_status = opts.errorStatus;
  if (opts.latencyMs !== undefined) faults.latency_ms = opts.latencyMs;
  if (opts.hang === true) faults.hang = true;
  if (opts.breakAfterTokens !== undefined) faults.break_after_tokens = opts.breakAfterTokens;
  if (Object.keys(faults).length > 0) settings.faults = faults;
  return checkSettings(settings, 'simulator settings');
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'Run the built-in simulator, a deterministic fake LLM backend (not a model), as a standalone ' +
        "OpenAI-compatible server (chat, completions, embeddings, images, speech, transcriptions, video jobs, models), also speaking Anthropic's Messages API (POST /v1/messages), for tests, benchmarks and demos.",
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort, 8090)
    .option('--config <path>', 'YAML file whose top level is a simulator settings object (ttft_ms, tokens_per_second, output_tokens, faults, …); flags override it')
    .option('--ttft-ms <ms>', 'time to first token, in milliseconds', parseNonNegativeInt)
    .option('--tokens-per-second <n>', 'streaming pace (0 = as fast as possible)', parseNonNegativeNumber)
    .option('--embedding-dimensions <n>', 'length of embedding vectors (default 1024)', parsePositiveInt)
    .option('--video-ms <ms>', 'how long a video job takes from queued to completed (default 2000)', parseNonNegativeInt)
    .option('--error-rate <fraction>', 'fault: fraction of requests (0-1) answered with --error-status', parseFraction)
    .option('--error-status <status>', 'fault: HTTP status of injected errors (default 500)', parseErrorStatus)
    .option('--latency-ms <ms>', 'fault: extra delay before every answer', parseNonNegativeInt)
    .option('--hang', 'fault: never answer; keep connections open until the client leaves')
    .option('--break-after-tokens <n>', 'fault: drop the connection after this many output tokens', parseNonNegativeInt)
    .option('--base-path <path>', "stand in for a cloud service: serve the API under this path instead of /v1 (e.g. /openai/deployments/gpt-4o); other paths are 404s")
    .option('--require-header <name:value>', 'stand in for a cloud service: answer 401 unless the request carries this header with this value (repeatable)', collect, [])
    .option('--require-query <name=value>', 'stand in for a cloud service: answer 404 unless the request carries this query parameter with this value (repeatable)', collect, [])
    .action(async (opts: SimulateOptions) => {
      const settings = simulatorSettingsFromOptions(opts);
      const access = simulatorAccessFromOptions(opts);
      const server = await startSimulatorServer({ host: opts.host, port: opts.port, settings, access });
      process.stdout.write(`Simulator listening on ${server.url}\n`);
      closeOnSignals(() => server.close());
    });
}
