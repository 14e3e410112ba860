// The portal's usage charts at scale (issue 14): 1,000,000 usage records over 30 days, stored through the
// real usage batch (records, hourly rollup, debits) in a temporary SQLite file and a fresh PostgreSQL
// database, then the 30-day chart's queries timed (median of several runs). Target: ≤ 200 ms on both.
// Run: `npm run bench:usage` (FLOODGATE_BENCH_PG names the PostgreSQL server; USAGE_BENCH_RECORDS the count).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { benchDatabase } from './database.js';

// The bench is compiled on its own (rootDir bench/), so it loads the built store at run time and names
// only what it uses of it.
interface BenchRecord {
  id: string;
  createdAt: number;
  requestId: string;
  accountId: string;
  keyId: string;
  endpoint: string;
  model: string;
  deployment: string | null;
  stream: boolean;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costMicros: number;
  status: number;
  latencyMs: number;
  ttftMs: number | null;
  settle: string;
  errorCode: string | null;
}

interface SeriesQuery {
  accountId?: string;
  from: number;
  to: number;
  bucket: 'hour' | 'day';
  groupBy: 'none' | 'model' | 'key' | 'account';
}

interface BenchStore {
  accounts: { create(input: { name: string }): Promise<{ id: string }> };
  usage: {
    insertBatch(records: readonly BenchRecord[]): Promise<void>;
    buckets(filter: { accountId?: string; from?: number; to?: number }, bucketMs: number): Promise<unknown[]>;
  };
  usageRollup: { series(query: SeriesQuery): Promise<{ name: string; points: unknown[] }[]> };
  close(): Promise<void>;
}

interface StoreModule {
  openStore(opts: { url: string }): Promise<BenchStore>;
}

const ROOT = join(import.meta.dirname, '..', '..');
const RECORDS = Number(process.env.USAGE_BENCH_RECORDS ?? 1_000_000);
const ACCOUNTS = 5;
const KEYS_PER_ACCOUNT = 4;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b', 'text-embedding-3-small', 'whisper-1'];
const DAYS = 30;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const BATCH = 2000;
const RUNS = 9;

/** A small deterministic generator, so both stores get the same records. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function fill(store: BenchStore, accountIds: string[], start: number): Promise<number> {
  const random = mulberry32(14);
  const began = performance.now();
  const step = (DAYS * DAY_MS) / RECORDS;
  for (let i = 0; i < RECORDS; i += BATCH) {
    const batch: BenchRecord[] = [];
    for (let j = i; j < Math.min(RECORDS, i + BATCH); j++) {
      // Skewed towards the first account and the first models, as real traffic is.
      const account = Math.min(ACCOUNTS - 1, Math.floor(random() ** 2 * ACCOUNTS));
      const prompt = 50 + Math.floor(random() * 2000);
      const completion = Math.floor(random() * 800);
      batch.push({
        id: `usg_${j}`,
        createdAt: Math.floor(start + j * step),
        requestId: `req_${j}`,
        accountId: accountIds[account],
        keyId: `key_${account}_${Math.floor(random() * KEYS_PER_ACCOUNT)}`,
        endpoint: 'chat',
        model: MODELS[Math.floor(random() ** 1.5 * MODELS.length)],
        deployment: null,
        stream: random() < 0.5,
        promptTokens: prompt,
        cachedTokens: random() < 0.3 ? Math.floor(prompt / 2) : 0,
        completionTokens: completion,
        reasoningTokens: 0,
        costMicros: prompt * 2 + completion * 8,
        status: random() < 0.02 ? 429 : 200,
        latencyMs: 100 + Math.floor(random() * 3000),
        ttftMs: 50 + Math.floor(random() * 500),
        settle: 'complete',
        errorCode: null,
      });
    }
    await store.usage.insertBatch(batch);
    if ((i / BATCH) % 50 === 0) process.stderr.write(`\r  ${i.toLocaleString('en-US')} / ${RECORDS.toLocaleString('en-US')} records`);
  }
  process.stderr.write('\r' + ' '.repeat(60) + '\r');
  return (performance.now() - began) / 1000;
}

async function median(run: () => Promise<unknown>, runs = RUNS): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Figures {
  store: string;
  fillSeconds: number;
  hourByModel: number;
  dayByModel: number;
  dayByKey: number;
  adminByModel: number;
  recordsScan: number;
}

async function measure(name: string, url: string, storeModule: StoreModule): Promise<Figures> {
  const store = await storeModule.openStore({ url });
  try {
    const accountIds: string[] = [];
    for (let a = 0; a < ACCOUNTS; a++) accountIds.push((await store.accounts.create({ name: `bench-${a}` })).id);
    const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const from = to - DAYS * DAY_MS;
    process.stderr.write(`${name}: storing ${RECORDS.toLocaleString('en-US')} usage records in batches of ${BATCH}\n`);
    const fillSeconds = await fill(store, accountIds, from);
    const one = accountIds[0];
    const chart = (bucket: 'hour' | 'day', groupBy: SeriesQuery['groupBy'], accountId: string | undefined = one) => () => store.usageRollup.series({ accountId, from, to, bucket, groupBy });
    const points = (await chart('hour', 'model')()).reduce((n, s) => n + s.points.length, 0);
    if (points === 0) throw new Error('the chart query found no usage: the rollup did not run');
    return {
      store: name,
      fillSeconds,
      hourByModel: await median(chart('hour', 'model')),
      dayByModel: await median(chart('day', 'model')),
      dayByKey: await median(chart('day', 'key')),
      adminByModel: await median(chart('day', 'model', undefined)),
      // What the chart would cost without the rollup: the same 30 days summed from the records.
      recordsScan: await median(() => store.usage.buckets({ accountId: one, from, to }, HOUR_MS), 3),
    };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const storeModule = (await import(pathToFileURL(join(ROOT, 'dist', 'store', 'database.js')).href)) as StoreModule;
  const results: Figures[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'floodgate-usage-bench-'));
  try {
    results.push(await measure('sqlite', `sqlite:${join(dir, 'bench.db')}`, storeModule));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const database = await benchDatabase('usage');
  try {
    results.push(await measure('postgres', database.url, storeModule));
  } finally {
    await database.drop();
  }

  const ms = (v: number) => v.toFixed(1).padStart(8);
  console.log(`\n${RECORDS.toLocaleString('en-US')} usage records over ${DAYS} days, ${ACCOUNTS} accounts × ${KEYS_PER_ACCOUNT} keys, ${MODELS.length} models; median of ${RUNS} runs (ms)\n`);
  console.log('store     fill (s)  30d hour×model  30d day×model  30d day×key  admin 30d day×model  (records scan, hour)');
  for (const r of results) {
    console.log(`${r.store.padEnd(9)} ${r.fillSeconds.toFixed(0).padStart(8)}  ${ms(r.hourByModel).padStart(14)}  ${ms(r.dayByModel).padStart(13)}  ${ms(r.dayByKey).padStart(11)}  ${ms(r.adminByModel).padStart(19)}  ${ms(r.recordsScan).padStart(20)}`);
  }
  const worst = Math.max(...results.map((r) => Math.max(r.hourByModel, r.dayByModel, r.dayByKey)));
  console.log(`\none account's 30-day chart: worst median ${worst.toFixed(1)} ms (target ≤ 200 ms): ${worst <= 200 ? 'met' : 'NOT met'}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
