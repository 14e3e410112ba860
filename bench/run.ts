// `npm run bench`: what Floodgate costs its users (SPEC §15), measured in one run on this machine against
// the simulator as a separate upstream process (zero think time), beside three baselines: the upstream
// called directly, a bare Fastify+undici pass-through, and the Portkey open-source gateway.
// Everything listens on 127.0.0.1, every phase is bounded in time, every process is stopped at the end.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setMaxListeners } from 'node:events';
import autocannon from 'autocannon';
import { Client, Pool } from 'undici';
import { benchDatabase } from './database.js';
import { benchConfig, CLI, freePort, RESULTS, ROOT, rssMb, runBounded, startGateway, startProcess, stopAll, stopProcess } from './processes.js';
import { Redis } from 'ioredis';

const PASSTHROUGH = join(ROOT, 'dist', 'bench', 'passthrough.js');
const PORTKEY_DIR = join(tmpdir(), 'floodgate-bench-portkey');
const PORTKEY_VERSION = '1.15.2';

const quick = process.argv.includes('--quick');
const skipPortkey = process.argv.includes('--no-portkey') || quick;
// A second Floodgate on the scale-out stores (PostgreSQL + Redis on this machine), measured beside the
// embedded default; on in full runs, `--scale-out` adds it to a quick one, `--no-scale-out` leaves it out.
const scaleOut = process.argv.includes('--scale-out') || (!quick && !process.argv.includes('--no-scale-out'));
const REDIS_URL = process.env.FLOODGATE_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const DURATION = { seqRoundMs: quick ? 400 : 2500, rounds: quick ? 1 : 3, loadS: quick ? 1 : 4, loadRounds: quick ? 1 : 2, streams: quick ? 50 : 600, openStreams: quick ? 100 : 1000 };

// ── targets ────────────────────────────────────────────────────────────────────────────────────────

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  model: string;
  /** The endpoint measured, when not chat completions (the Responses API's row). */
  door?: { path: string; body: (target: Target) => string };
}

const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly and precisely.' },
  { role: 'user', content: 'Explain in two sentences why a gateway in front of inference backends should add as little latency as possible.' },
];

function chatBody(target: Target, stream: boolean): string {
  return JSON.stringify({ model: target.model, messages: MESSAGES, max_tokens: 32, temperature: 0.7, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
}

/** The same conversation through the Responses API (SPEC §17), nothing stored: the door's translation cost alone. */
function responsesBody(target: Target): string {
  return JSON.stringify({ model: target.model, instructions: MESSAGES[0].content, input: MESSAGES[1].content, max_output_tokens: 32, temperature: 0.7, store: false });
}

/** A target's non-streamed request: chat completions, or its door's. */
function request(target: Target): { path: string; body: string } {
  return target.door ? { path: target.door.path, body: target.door.body(target) } : { path: '/v1/chat/completions', body: chatBody(target, false) };
}

// ── measurements ───────────────────────────────────────────────────────────────────────────────────

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

interface LatencyStats {
  n: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50_ms: round3(percentile(sorted, 50)), p99_ms: round3(percentile(sorted, 99)), mean_ms: round3(sorted.reduce((a, b) => a + b, 0) / sorted.length) };
}

/** One connection, one request at a time, for `ms`: latencies measured with the monotonic clock. */
async function sequential(target: Target, ms: number, into: number[]): Promise<void> {
  const client = new Client(target.url, { keepAliveTimeout: 30_000 });
  const { path, body } = request(target);
  const headers = { 'content-type': 'application/json', ...target.headers };
  try {
    for (let i = 0; i < 50; i++) await (await client.request({ method: 'POST', path, headers, body })).body.dump();
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await client.request({ method: 'POST', path, headers, body });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${target.name}: HTTP ${res.statusCode}`);
      into.push(performance.now() - t0);
    }
  } finally {
    await client.close();
  }
}

/** One stream at a time: time to the first body byte and to the end. */
async function streaming(target: Target, count: number): Promise<{ ttfb: LatencyStats; total: LatencyStats }> {
  const client = new Client(target.url, { keepAliveTimeout: 30_000 });
  const body = chatBody(target, true);
  const headers = { 'content-type': 'application/json', ...target.headers };
  const ttfb: number[] = [];
  const total: number[] = [];
  try {
    for (let i = 0; i < count + 20; i++) {
      const t0 = performance.now();
      const res = await client.request({ method: 'POST', path: '/v1/chat/completions', headers, body });
      let first = 0;
      let text = '';
      for await (const chunk of res.body) {
        if (first === 0) first = performance.now() - t0;
        text += (chunk as Buffer).toString();
      }
      if (res.statusCode !== 200 || !text.includes('[DONE]')) throw new Error(`${target.name}: stream failed (${res.statusCode})`);
      if (i >= 20) {
        ttfb.push(first);
        total.push(performance.now() - t0);
      }
    }
  } finally {
    await client.close();
  }
  return { ttfb: stats(ttfb), total: stats(total) };
}

interface LoadResult {
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non_2xx: number;
}

async function load(target: Target, connections: number, seconds: number): Promise<LoadResult> {
  const { path, body } = request(target);
  const result = await autocannon({
    url: `${target.url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body,
    connections,
    duration: seconds,
  });
  return {
    requests_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non_2xx: result.non2xx,
  };
}

function meanLoad(runs: LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number): number => Math.round((runs.reduce((sum, r) => sum + pick(r), 0) / runs.length) * 10) / 10;
  return {
    requests_per_s: Math.round(mean((r) => r.requests_per_s)),
    p50_ms: mean((r) => r.p50_ms),
    p99_ms: mean((r) => r.p99_ms),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    non_2xx: runs.reduce((sum, r) => sum + r.non_2xx, 0),
  };
}

/** Opens `count` slow streams at once, waits until every one has its first bytes, reads the gateway's RSS. */
async function openStreams(target: Target, pid: number, count: number): Promise<{ open: number; rss_mb: number }> {
  const pool = new Pool(target.url, { connections: count, keepAliveTimeout: 30_000 });
  const controller = new AbortController();
  setMaxListeners(count + 10, controller.signal);
  const body = JSON.stringify({ model: target.model, messages: MESSAGES, max_tokens: 64, stream: true });
  let open = 0;
  const pending = Array.from({ length: count }, async () => {
    try {
      const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...target.headers }, body, signal: controller.signal });
      for await (const _chunk of res.body) {
        open++;
        break;
      }
      await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    } catch {
      // aborted at the end
    }
  });
  const deadline = performance.now() + 30_000;
  while (open < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  const rss = rssMb(pid);
  controller.abort();
  await Promise.allSettled(pending);
  await pool.destroy();
  return { open, rss_mb: rss };
}

// ── Portkey ────────────────────────────────────────────────────────────────────────────────────────

/** Installs @portkey-ai/gateway into a scratch folder (outside the repo), with the @hono/node-server override its streams need. */
function installPortkey(): string | undefined {
  const entry = join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (existsSync(entry)) return entry;
  mkdirSync(PORTKEY_DIR, { recursive: true });
  writeFileSync(
    join(PORTKEY_DIR, 'package.json'),
    JSON.stringify({ name: 'floodgate-bench-portkey', private: true, dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION }, overrides: { '@hono/node-server': '^2.0.0' } }),
  );
  const res = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: PORTKEY_DIR, encoding: 'utf8', timeout: 180_000 });
  if (res.status !== 0 || !existsSync(entry)) {
    process.stderr.write(`Portkey could not be installed (npm exit ${res.status}): ${(res.stderr ?? '').slice(-500)}\n`);
    return undefined;
  }
  return entry;
}

/** Portkey listens on every interface; this preload pins its server to the loopback address. */
function loopbackPreload(): string {
  const file = join(PORTKEY_DIR, 'bind-loopback.mjs');
  writeFileSync(
    file,
    "import net from 'node:net';\nconst listen = net.Server.prototype.listen;\nnet.Server.prototype.listen = function (...args) {\n  if (typeof args[0] === 'number') return listen.call(this, args[0], '127.0.0.1', ...args.slice(1).filter((a) => typeof a === 'function'));\n  if (args[0] && typeof args[0] === 'object' && !args[0].path) args[0] = { ...args[0], host: '127.0.0.1' };\n  return listen.apply(this, args);\n};\n",
  );
  return file;
}

// ── --workers: throughput with 1 and 2 gateway processes ──────────────────────────────────────────

const workersMode = process.argv.includes('--workers');

interface WorkersResult {
  1: number;
  2: number;
  ratio: number | null;
  load: { 1: LoadResult; 2: LoadResult };
  note: string;
  single_process_embedded?: number;
}

/**
 * `serve --workers 1` and `--workers 2` on the same config — the one more than one worker needs: limits and
 * reservations in Redis (a key prefix of this run's), the embedded store — each under the throughput
 * phase's load (50 connections, `DURATION.loadS` s), in interleaved rounds (at least two).
 */
async function measureWorkers(work: string, config: (dataDir: string, extra?: string[]) => string, redisPrefix: string): Promise<WorkersResult> {
  const counts = [1, 2] as const;
  const gateways: Partial<Record<1 | 2, { target: Target; stop(): Promise<void> }>> = {};
  try {
    for (const n of counts) {
      const file = join(work, `workers-${n}.yaml`);
      writeFileSync(file, config(join(work, `data-workers-${n}`), [`redis: { url: "${REDIS_URL}", key_prefix: "${redisPrefix}workers-${n}:" }`]));
      const { proc, apiKey } = await startGateway(`floodgate --workers ${n}`, file, join(work, `workers-${n}.log`), ['--workers', String(n)]);
      gateways[n] = { target: { name: `Floodgate --workers ${n}`, url: proc.url, headers: { authorization: `Bearer ${apiKey}` }, model: 'bench-model' }, stop: () => stopProcess(proc) };
    }
    const runs: Record<1 | 2, LoadResult[]> = { 1: [], 2: [] };
    for (let r = 0; r < Math.max(2, DURATION.loadRounds); r++) for (const n of counts) runs[n].push(await load(gateways[n]!.target, 50, DURATION.loadS));
    const one = meanLoad(runs[1]);
    const two = meanLoad(runs[2]);
    return {
      1: one.requests_per_s,
      2: two.requests_per_s,
      ratio: ratio(two.requests_per_s, one.requests_per_s),
      load: { 1: one, 2: two },
      note: `${cpus().length} cores shared by the workers, the load generator (this process) and the simulator: not the scaling a machine with cores to spare would show`,
    };
  } finally {
    for (const n of counts) await gateways[n]?.stop();
  }
}

// ── the run ────────────────────────────────────────────────────────────────────────────────────────

async function deleteRedisPrefix(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

function ratio(a: number, b: number): number | null {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? Math.round((a / b) * 1000) / 1000 : null;
}

async function main(): Promise<void> {
  if (!existsSync(CLI) || !existsSync(PASSTHROUGH)) throw new Error('run `npm run build` first (npm run bench does)');
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'floodgate-bench-'));
  const notes: string[] = [];
  let database: { url: string; drop(): Promise<void> } | undefined;
  const redisPrefix = `floodgate-bench-${process.pid}-${Date.now()}:`;
  try {
    const sim = await startProcess('simulator', [CLI, 'simulate', '--port', '0', '--ttft-ms', '0', '--tokens-per-second', '0'], /Simulator listening/);
    const slowSim = await startProcess('slow simulator', [CLI, 'simulate', '--port', '0', '--ttft-ms', '0', '--tokens-per-second', '2'], /Simulator listening/);
    const configFile = join(work, 'floodgate.yaml');
    // Limits and billing on, with figures the load cannot reach (bench/processes.ts).
    const config = (dataDir: string, extra: string[] = []): string => benchConfig({ dataDir, simUrl: sim.url, slowUrl: slowSim.url, extra });
    writeFileSync(configFile, config(join(work, 'data')));
    const gatewayLog = join(work, 'gateway.log');
    const { proc: gateway, apiKey } = await startGateway('floodgate', configFile, gatewayLog);
    let scaleOutTarget: Target | undefined;
    if (scaleOut) {
      try {
        database = await benchDatabase('scale_out');
        const scaleFile = join(work, 'scale-out.yaml');
        writeFileSync(scaleFile, config(join(work, 'data-scale-out'), [`store: { url: "${database.url}" }`, `redis: { url: "${REDIS_URL}", key_prefix: "${redisPrefix}" }`]));
        const scaleLog = join(work, 'scale-out.log');
        const { proc: scaled, apiKey: scaleKey } = await startGateway('floodgate (PostgreSQL + Redis)', scaleFile, scaleLog);
        scaleOutTarget = { name: 'Floodgate PG+Redis', url: scaled.url, headers: { authorization: `Bearer ${scaleKey}` }, model: 'bench-model' };
      } catch (err) {
        notes.push(`Floodgate on PostgreSQL + Redis not measured: ${(err as Error).message.slice(0, 200)}`);
      }
    }
    const passthrough = await startProcess('pass-through', [PASSTHROUGH, '--port', '0', '--upstream', sim.url], /Passthrough listening/);

    const targets: Record<string, Target> = {
      direct: { name: 'direct', url: sim.url, headers: { authorization: 'Bearer bench' }, model: 'bench-model' },
      passthrough: { name: 'bare pass-through', url: passthrough.url, headers: { authorization: 'Bearer bench' }, model: 'bench-model' },
      floodgate: { name: 'Floodgate', url: gateway.url, headers: { authorization: `Bearer ${apiKey}` }, model: 'bench-model' },
    };
    if (scaleOutTarget) targets.scaleout = scaleOutTarget;
    // The Responses API's door on the same gateway: its added latency and throughput beside chat's.
    targets.responses = { ...targets.floodgate, name: 'Floodgate /v1/responses', door: { path: '/v1/responses', body: responsesBody } };
    const measured = ['direct', 'passthrough', 'floodgate', 'responses', ...(scaleOutTarget ? ['scaleout'] : [])];
    // Streams are measured on chat completions (the door's stream events are their own format).
    const streamed = measured.filter((key) => targets[key].door === undefined);

    if (skipPortkey) notes.push(quick ? 'Portkey skipped in --quick mode.' : 'Portkey skipped (--no-portkey).');
    else {
      const entry = installPortkey();
      if (entry) {
        try {
          const port = await freePort();
          const pk = await startProcess('portkey', ['--import', loopbackPreload(), entry, `--port=${port}`, '--headless'], /Ready for connections/, {
            env: { NODE_ENV: 'production' },
            url: `http://127.0.0.1:${port}`,
          });
          targets.portkey = { name: 'Portkey', url: pk.url, headers: { authorization: 'Bearer bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${sim.url}/v1` }, model: 'bench-model' };
        } catch (err) {
          notes.push(`Portkey did not start: ${(err as Error).message.slice(0, 200)}`);
        }
      } else notes.push('Portkey could not be installed; its column is empty.');
    }

    // 1 + 5: sequential latency, the targets interleaved in rounds so drift hits them alike.
    process.stderr.write('sequential latency…\n');
    const seqSamples: Record<string, number[]> = {};
    for (const key of measured) seqSamples[key] = [];
    for (let r = 0; r < DURATION.rounds; r++) {
      for (const key of measured) await sequential(targets[key], DURATION.seqRoundMs, seqSamples[key]);
    }
    const sequentialStats = Object.fromEntries(Object.entries(seqSamples).map(([k, v]) => [k, stats(v)]));

    // 3: streaming, one at a time.
    process.stderr.write('streaming…\n');
    const streamStats: Record<string, { ttfb: LatencyStats; total: LatencyStats }> = {};
    for (const key of streamed) streamStats[key] = await streaming(targets[key], DURATION.streams);

    // 2 + 4 + 5: 50 connections.
    process.stderr.write('50 connections…\n');
    const rssBeforeLoad = rssMb(gateway.child.pid!);
    // In rounds too, each target's figures the mean of its rounds, so drift on a shared machine hits all alike.
    const loadRuns: Record<string, LoadResult[]> = {};
    for (let r = 0; r < DURATION.loadRounds; r++) {
      for (const key of Object.keys(targets)) (loadRuns[key] ??= []).push(await load(targets[key], 50, DURATION.loadS));
    }
    const loadStats = Object.fromEntries(Object.entries(loadRuns).map(([key, runs]) => [key, meanLoad(runs)]));
    const rssAfterLoad = rssMb(gateway.child.pid!);
    let workers: WorkersResult | undefined;
    if (workersMode) {
      process.stderr.write('--workers 1 and 2…\n');
      // Beside it, for scale: the single process on the embedded default (no Redis), from the phase above.
      workers = { ...(await measureWorkers(work, config, redisPrefix)), single_process_embedded: loadStats.floodgate.requests_per_s };
    }

    // 6: memory with many slow streams open at once.
    process.stderr.write(`${DURATION.openStreams} open streams…\n`);
    const idleRss = rssMb(gateway.child.pid!);
    const streamsOpen = await openStreams({ ...targets.floodgate, model: 'slow-model' }, gateway.child.pid!, DURATION.openStreams);

    const added = (key: string, p: 'p50_ms' | 'p99_ms') => round3(sequentialStats[key][p] - sequentialStats.direct[p]);
    const result = {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
      settings: DURATION,
      sequential: sequentialStats,
      added_latency_ms: {
        passthrough: { p50: added('passthrough', 'p50_ms'), p99: added('passthrough', 'p99_ms') },
        floodgate: { p50: added('floodgate', 'p50_ms'), p99: added('floodgate', 'p99_ms') },
        responses: { p50: added('responses', 'p50_ms'), p99: added('responses', 'p99_ms') },
        ...(scaleOutTarget ? { scaleout: { p50: added('scaleout', 'p50_ms'), p99: added('scaleout', 'p99_ms') } } : {}),
      },
      streaming: streamStats,
      added_ttfb_ms: { passthrough: round3(streamStats.passthrough.ttfb.p50_ms - streamStats.direct.ttfb.p50_ms), floodgate: round3(streamStats.floodgate.ttfb.p50_ms - streamStats.direct.ttfb.p50_ms) },
      load_50: loadStats,
      memory_mb: { before_load: rssBeforeLoad, after_load: rssAfterLoad, idle: idleRss, open_streams: streamsOpen.open, with_open_streams: streamsOpen.rss_mb },
      ratios: {
        throughput_floodgate_over_direct: ratio(loadStats.floodgate.requests_per_s, loadStats.direct.requests_per_s),
        throughput_floodgate_over_passthrough: ratio(loadStats.floodgate.requests_per_s, loadStats.passthrough.requests_per_s),
        throughput_floodgate_over_portkey: loadStats.portkey ? ratio(loadStats.floodgate.requests_per_s, loadStats.portkey.requests_per_s) : null,
        added_p50_floodgate_over_passthrough: ratio(added('floodgate', 'p50_ms'), added('passthrough', 'p50_ms')),
        added_p99_floodgate_over_passthrough: ratio(added('floodgate', 'p99_ms'), added('passthrough', 'p99_ms')),
        throughput_responses_over_chat: ratio(loadStats.responses.requests_per_s, loadStats.floodgate.requests_per_s),
        added_p50_responses_over_chat: ratio(added('responses', 'p50_ms'), added('floodgate', 'p50_ms')),
        ...(scaleOutTarget
          ? {
              throughput_scaleout_over_embedded: ratio(loadStats.scaleout.requests_per_s, loadStats.floodgate.requests_per_s),
              added_p50_scaleout_over_embedded: ratio(added('scaleout', 'p50_ms'), added('floodgate', 'p50_ms')),
              added_p99_scaleout_over_embedded: ratio(added('scaleout', 'p99_ms'), added('floodgate', 'p99_ms')),
              added_ttfb_scaleout_ms: round3(streamStats.scaleout.ttfb.p50_ms - streamStats.direct.ttfb.p50_ms),
            }
          : {}),
      },
      ...(workers ? { workers } : {}),
      notes,
      duration_s: Math.round((Date.now() - started) / 1000),
    };

    mkdirSync(RESULTS, { recursive: true });
    const json = JSON.stringify(result, null, 2);
    writeFileSync(join(RESULTS, quick ? 'quick.json' : 'latest.json'), `${json}\n`);
    process.stdout.write(`${markdown(result)}\n`);
  } finally {
    await stopAll();
    await database?.drop().catch(() => undefined);
    if (scaleOut || workersMode) await deleteRedisPrefix(redisPrefix).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

function markdown(r: any): string {
  const cell = (v: unknown): string => (v === undefined || v === null || Number.isNaN(v) ? '—' : String(v));
  const lines = [
    `Floodgate benchmark (${r.mode}) — ${r.date}, ${r.machine.cores} cores (${r.machine.cpu}), Node ${r.machine.node}`,
    '',
    '| measure | direct | bare pass-through | Floodgate | Portkey |',
    '|---|---|---|---|---|',
    `| sequential p50 / p99 (ms) | ${r.sequential.direct.p50_ms} / ${r.sequential.direct.p99_ms} | ${r.sequential.passthrough.p50_ms} / ${r.sequential.passthrough.p99_ms} | ${r.sequential.floodgate.p50_ms} / ${r.sequential.floodgate.p99_ms} | — |`,
    `| added latency p50 / p99 (ms) | — | ${r.added_latency_ms.passthrough.p50} / ${r.added_latency_ms.passthrough.p99} | ${r.added_latency_ms.floodgate.p50} / ${r.added_latency_ms.floodgate.p99} | — |`,
    `| stream TTFB p50 (ms) | ${r.streaming.direct.ttfb.p50_ms} | ${r.streaming.passthrough.ttfb.p50_ms} | ${r.streaming.floodgate.ttfb.p50_ms} | — |`,
    `| stream last byte p50 (ms) | ${r.streaming.direct.total.p50_ms} | ${r.streaming.passthrough.total.p50_ms} | ${r.streaming.floodgate.total.p50_ms} | — |`,
    `| added TTFB p50 (ms) | — | ${r.added_ttfb_ms.passthrough} | ${r.added_ttfb_ms.floodgate} | — |`,
    `| 50 connections: req/s | ${r.load_50.direct.requests_per_s} | ${r.load_50.passthrough.requests_per_s} | ${r.load_50.floodgate.requests_per_s} | ${cell(r.load_50.portkey?.requests_per_s)} |`,
    `| 50 connections: p50 / p99 (ms) | ${r.load_50.direct.p50_ms} / ${r.load_50.direct.p99_ms} | ${r.load_50.passthrough.p50_ms} / ${r.load_50.passthrough.p99_ms} | ${r.load_50.floodgate.p50_ms} / ${r.load_50.floodgate.p99_ms} | ${cell(r.load_50.portkey?.p50_ms)} / ${cell(r.load_50.portkey?.p99_ms)} |`,
    `| 50 connections: errors / non-2xx | ${r.load_50.direct.errors} / ${r.load_50.direct.non_2xx} | ${r.load_50.passthrough.errors} / ${r.load_50.passthrough.non_2xx} | ${r.load_50.floodgate.errors} / ${r.load_50.floodgate.non_2xx} | ${cell(r.load_50.portkey?.errors)} / ${cell(r.load_50.portkey?.non_2xx)} |`,
    '',
    '| ratio | value | target (SPEC §15) |',
    '|---|---|---|',
    `| throughput Floodgate / direct | ${cell(r.ratios.throughput_floodgate_over_direct)} | — |`,
    `| throughput Floodgate / bare pass-through | ${cell(r.ratios.throughput_floodgate_over_passthrough)} | ≥ 0.70 |`,
    `| throughput Floodgate / Portkey | ${cell(r.ratios.throughput_floodgate_over_portkey)} | ≥ 5 |`,
    `| added p50 Floodgate / bare pass-through | ${cell(r.ratios.added_p50_floodgate_over_passthrough)} | ≤ 1.5 |`,
    `| added p99 Floodgate / bare pass-through | ${cell(r.ratios.added_p99_floodgate_over_passthrough)} | ≤ 1.5 |`,
    '',
    '| Floodgate through the Responses API (`POST /v1/responses`, translated to chat) | value |',
    '|---|---|',
    `| sequential p50 / p99 (ms) | ${r.sequential.responses.p50_ms} / ${r.sequential.responses.p99_ms} |`,
    `| added latency p50 / p99 (ms) | ${r.added_latency_ms.responses.p50} / ${r.added_latency_ms.responses.p99} |`,
    `| 50 connections: req/s, p50 / p99 (ms) | ${r.load_50.responses.requests_per_s}, ${r.load_50.responses.p50_ms} / ${r.load_50.responses.p99_ms} |`,
    `| 50 connections: errors / non-2xx | ${r.load_50.responses.errors} / ${r.load_50.responses.non_2xx} |`,
    `| throughput / chat completions | ${cell(r.ratios.throughput_responses_over_chat)} |`,
    `| added p50 / chat completions | ${cell(r.ratios.added_p50_responses_over_chat)} |`,
    '',
    `Gateway memory: ${r.memory_mb.before_load} MB before load, ${r.memory_mb.after_load} MB after it; ${r.memory_mb.with_open_streams} MB with ${r.memory_mb.open_streams} streams open (target ≤ 150 MB with 1,000).`,
  ];
  if (r.load_50.scaleout) {
    lines.push(
      '',
      '| Floodgate on PostgreSQL + Redis | value |',
      '|---|---|',
      `| sequential p50 / p99 (ms) | ${r.sequential.scaleout.p50_ms} / ${r.sequential.scaleout.p99_ms} |`,
      `| added latency p50 / p99 (ms) | ${r.added_latency_ms.scaleout.p50} / ${r.added_latency_ms.scaleout.p99} |`,
      `| added TTFB p50 (ms) | ${r.ratios.added_ttfb_scaleout_ms} |`,
      `| 50 connections: req/s, p50 / p99 (ms) | ${r.load_50.scaleout.requests_per_s}, ${r.load_50.scaleout.p50_ms} / ${r.load_50.scaleout.p99_ms} |`,
      `| 50 connections: errors / non-2xx | ${r.load_50.scaleout.errors} / ${r.load_50.scaleout.non_2xx} |`,
      `| throughput / embedded default | ${cell(r.ratios.throughput_scaleout_over_embedded)} |`,
      `| added p50 / p99 vs embedded default | ${cell(r.ratios.added_p50_scaleout_over_embedded)} / ${cell(r.ratios.added_p99_scaleout_over_embedded)} |`,
    );
  }
  if (r.workers) {
    lines.push(
      '',
      `Workers (\`serve --workers N\`, limits in Redis, 50 connections): 1 worker ${r.workers[1]} req/s, 2 workers ${r.workers[2]} req/s, ratio ${cell(r.workers.ratio)} (one process on the embedded default, no Redis: ${cell(r.workers.single_process_embedded)} req/s) — ${r.workers.note}.`,
    );
  }
  for (const note of r.notes) lines.push(`Note: ${note}`);
  lines.push(`Run took ${r.duration_s} s. JSON: bench/results/${r.mode === 'quick' ? 'quick' : 'latest'}.json`);
  return lines.join('\n');
}

runBounded('benchmark', main, (quick ? 120_000 : 170_000) + (workersMode ? 60_000 : 0));
