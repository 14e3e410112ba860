// Cluster metrics (src/metrics/cluster.ts) with real node:cluster workers: a scrape on one worker gets
// every ready worker's registry merged by the primary (sums, and a gauge's own aggregator), plus the
// primary's; a worker that never shared its registry (still starting) does not hold the scrape up; one
// that has exited (even killed outright) keeps its counters and histograms in the merge — as collected at
// the last scrape before its death: the primary collects at scrapes only — but not its gauges, and a
// replacement's counts add to them, so no merged counter ever goes down. The workers run the module transpiled on its own (it imports only
// node:cluster and prom-client), from a directory under node_modules so that prom-client resolves.
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveClusterMetrics } from '../../src/metrics/cluster.js';
import { REPO_ROOT } from '../helpers/gateway.js';

const WORKER_SCRIPT = `
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { fetchClusterMetrics, shareWorkerMetrics } from './cluster.mjs';

const n = Number(process.env.WORKER_N);
const registry = new Registry();
new Counter({ name: 'test_requests_total', help: 'requests', labelNames: ['model'], registers: [registry] }).labels('m').inc(n);
new Gauge({ name: 'test_breaker_state', help: 'worst state', aggregator: 'max', registers: [registry] }).set(n);
new Histogram({ name: 'test_duration_seconds', help: 'durations', buckets: [3], registers: [registry] }).observe(n);
if (process.env.SHARE === '1') shareWorkerMetrics(registry);
process.on('message', (message) => {
  if (message?.type !== 'test:scrape') return;
  fetchClusterMetrics(5000).then(
    (text) => process.send({ type: 'test:scraped', text }),
    (err) => process.send({ type: 'test:scraped', error: String(err) }),
  );
});
process.send({ type: 'test:up' });
`;

let dir: string;
let stop: (() => void) | undefined;
const workers = new Map<number, Worker>();

function fork(n: number, share: boolean): Promise<Worker> {
  const worker = cluster.fork({ WORKER_N: String(n), SHARE: share ? '1' : '0' });
  workers.set(n, worker);
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: { type?: string }) => {
      if (message?.type === 'test:up') resolve(worker);
    });
  });
}

function scrapeOn(worker: Worker): Promise<string> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; text?: string; error?: string }) => {
      if (message?.type !== 'test:scraped') return;
      worker.off('message', onMessage);
      if (message.text !== undefined) resolve(message.text);
      else reject(new Error(message.error));
    };
    worker.on('message', onMessage);
    worker.send({ type: 'test:scrape' });
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  const cache = join(REPO_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(join(cache, 'floodgate-metrics-cluster-'));
  const source = readFileSync(join(REPO_ROOT, 'src', 'metrics', 'cluster.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } }).outputText;
  writeFileSync(join(dir, 'cluster.mjs'), js);
  writeFileSync(join(dir, 'worker.mjs'), WORKER_SCRIPT);
  cluster.setupPrimary({ exec: join(dir, 'worker.mjs'), silent: false });

  const primary = new Registry();
  new Counter({ name: 'test_primary_total', help: 'the primary', registers: [primary] }).inc(5);
  stop = serveClusterMetrics({ timeoutMs: 2000, registries: [primary] });
  await Promise.all([fork(1, true), fork(2, true), fork(7, false)]);
});

afterAll(async () => {
  stop?.();
  await Promise.all(
    [...workers.values()].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.kill();
        }),
    ),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('cluster metrics', () => {
  it('merges every ready worker and the primary, whichever worker is scraped', async () => {
    for (const n of [1, 2]) {
      const started = performance.now();
      const text = await scrapeOn(workers.get(n)!);
      // The worker that never shared its registry (7) is not waited for, nor counted.
      expect(performance.now() - started).toBeLessThan(1500);
      expect(sample(text, 'test_requests_total{model="m"}')).toBe(3);
      expect(sample(text, 'test_breaker_state')).toBe(2);
      expect(sample(text, 'test_primary_total')).toBe(5);
    }
  });

  it("keeps a killed worker's counters and histograms (not its gauges), and adds its replacement's", async () => {
    // The scrape before the death is what the primary keeps of worker 2 (it collects at scrapes only).
    const before = await scrapeOn(workers.get(1)!);
    expect(sample(before, 'test_requests_total{model="m"}')).toBe(3);
    const gone = workers.get(2)!;
    await new Promise<void>((resolve) => {
      gone.once('exit', () => resolve());
      gone.process.kill('SIGKILL');
    });
    const after = await scrapeOn(workers.get(1)!);
    expect(sample(after, 'test_requests_total{model="m"}')).toBe(3);
    expect(sample(after, 'test_duration_seconds_count')).toBe(2);
    expect(sample(after, 'test_duration_seconds_bucket{le="3"}')).toBe(2);
    expect(sample(after, 'test_duration_seconds_sum')).toBe(3);
    // Its gauge went with it: the worst breaker state is worker 1's now.
    expect(sample(after, 'test_breaker_state')).toBe(1);
    expect(sample(after, 'test_primary_total')).toBe(5);

    // The replacement counts from zero; the merge goes on from where it was.
    const replacement = await fork(4, true);
    let text = '';
    for (let i = 0; i < 40 && sample(text, 'test_breaker_state') !== 4; i++) {
      text = await scrapeOn(replacement);
      if (sample(text, 'test_breaker_state') !== 4) await new Promise((r) => setTimeout(r, 25));
    }
    expect(sample(text, 'test_requests_total{model="m"}')).toBe(7);
    expect(sample(text, 'test_duration_seconds_count')).toBe(3);
    expect(sample(text, 'test_duration_seconds_bucket{le="3"}')).toBe(2);
    expect(sample(text, 'test_breaker_state')).toBe(4);
  });

  it('keeps a worker that exits gracefully once, though it is gone twice (disconnect, then exit)', async () => {
    const gone = workers.get(4)!;
    await new Promise<void>((resolve) => {
      gone.once('exit', () => resolve());
      gone.kill();
    });
    const text = await scrapeOn(workers.get(1)!);
    expect(sample(text, 'test_requests_total{model="m"}')).toBe(7);
    expect(sample(text, 'test_breaker_state')).toBe(1);
  });
});
