// The benchmarks' processes: start a server (simulator, gateway, baseline) and wait for its ready line,
// read a process's resident memory, stop everything started, and the gateway's bench config. Shared by
// `npm run bench` (bench/run.ts) and `npm run bench:soak` (bench/soak.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'main.js');
export const RESULTS = join(ROOT, 'bench', 'results');

export interface Proc {
  name: string;
  url: string;
  child: ChildProcess;
  /** What it printed on stdout up to its ready line (or its log file then, when it logs to a file). */
  startup: string;
}
const procs: Proc[] = [];

/** Starts a server process and waits (bounded) for its ready line on stdout (or in its log file); the URL is read from that line unless given. */
export function startProcess(name: string, args: string[], ready: RegExp, opts: { env?: NodeJS.ProcessEnv; logFile?: string; timeoutMs?: number; url?: string } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const out = opts.logFile ? openSync(opts.logFile, 'a') : 'pipe';
    const child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', out, 'pipe'] });
    let text = '';
    let stderr = '';
    let started = false;
    // Kept bounded: a long-running process's output is read and dropped once it is up.
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const check = (): boolean => {
      const source = opts.logFile ? readFileSync(opts.logFile, 'utf8') : text;
      const line = source.split('\n').find((l) => ready.test(l));
      const url = line ? (opts.url ?? /(http:\/\/[^\s/]+)/.exec(line)?.[1]) : undefined;
      if (!url) return false;
      started = true;
      clearInterval(poll);
      clearTimeout(timer);
      const proc = { name, url, child, startup: source };
      procs.push(proc);
      resolve(proc);
      return true;
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (started) return;
      text += d.toString();
      check();
    });
    const poll = setInterval(check, 50);
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
}

/** Stops one process: SIGTERM, then SIGKILL after 5 s. */
export function stopProcess(p: Proc): Promise<void> {
  return new Promise<void>((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    const force = setTimeout(() => p.child.kill('SIGKILL'), 5000);
    p.child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    p.child.kill('SIGTERM');
  });
}

/** Stops every process started here. */
export async function stopAll(): Promise<void> {
  await Promise.all(procs.map(stopProcess));
}

/**
 * Runs a bench script's `main` bounded in time: past `boundMs` every process is stopped and the script
 * exits 1; a failure is printed, the processes stopped, exit 1; success exits 0.
 */
export function runBounded(name: string, main: () => Promise<void>, boundMs: number): void {
  const hardStop = setTimeout(() => {
    process.stderr.write(`${name} exceeded its time bound; stopping\n`);
    void stopAll().then(() => process.exit(1));
  }, boundMs);
  hardStop.unref();
  main().then(
    () => process.exit(0),
    async (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await stopAll();
      process.exit(1);
    },
  );
}

/** A process's resident set (VmRSS) in MB, one decimal. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The gateway's bench config: the embedded default store in `dataDir` (unless `extra` sets another),
 * info logging, limits and prepaid billing on with figures the load cannot reach (every request pays
 * for the buckets, the reservation and its usage record, and none is refused); `bench-model` on the
 * fast simulator, `slow-model` on the slow one, and any `models` lines added.
 */
export function benchConfig(o: { dataDir: string; simUrl: string; slowUrl: string; extra?: string[]; models?: string[] }): string {
  return [
    'server: { host: 127.0.0.1, port: 0 }',
    `data_dir: ${o.dataDir}`,
    ...(o.extra ?? []),
    'logging: { level: info }',
    'limits: { default_tier: bench, tiers: { bench: { requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, concurrent_requests: 100000 } } }',
    'billing: { initial_credit: 1000000 }',
    'providers:',
    `  sim: { type: openai, base_url: "${o.simUrl}/v1" }`,
    `  slow: { type: openai, base_url: "${o.slowUrl}/v1" }`,
    'models:',
    '  - { id: bench-model, category: text, context_length: 32768, max_output_tokens: 4096, defaults: { max_tokens: 256 }, pricing: { input: 0.5, output: 1.5 }, deployments: [{ provider: sim }] }',
    '  - { id: slow-model, category: text, defaults: { max_tokens: 256 }, deployments: [{ provider: slow }] }',
    ...(o.models ?? []),
    '',
  ].join('\n');
}

/** Starts `floodgate serve` on a config file, logging to `logFile`; its URL and the first start's API key. */
export async function startGateway(name: string, configFile: string, logFile: string, args: string[] = []): Promise<{ proc: Proc; apiKey: string }> {
  const proc = await startProcess(name, [CLI, 'serve', '--config', configFile, ...args], /Floodgate listening on/, { logFile });
  const apiKey = /API key: (\S+)/.exec(proc.startup)?.[1];
  if (!apiKey) throw new Error(`${name} printed no API key`);
  return { proc, apiKey };
}
