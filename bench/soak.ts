// `npm run bench:soak`: is the gateway's memory flat, and its event loop free, under hours of steady
// traffic? Starts the simulator (a fast one and a slow one, as separate processes) and Floodgate on the
// embedded default with the bench's config (bench/processes.ts: auth, limits, billing, info logging on),
// then drives a bounded, steady, mixed load for --minutes at --rate requests per second — non-streamed
// chat, streamed chat, embeddings, and a few requests that must fail (a malformed body, an unknown
// model) — beside --streams slow streams held open, each replaced by a new one when it ends. Every
// --sample-s it reads the gateway's resident set (/proc/<pid>/status) and its /metrics: prom-client's
// event-loop delay (p50, p99, max over the interval since the previous scrape, which resets it), heap
// in use, open streams. It writes <out>.json (every sample and a summary) and <out>.svg (a plot drawn
// here), and prints whether RSS is flat: the slope of a least-squares line over the run's second half,
// in MB per hour, and its max minus min. Everything listens on 127.0.0.1; every process started is
// stopped at the end, on Ctrl-C / SIGTERM too, and a timer bounds the whole run.
//
//   node dist/bench/soak.js [--minutes 60] [--rate 300] [--streams 100] [--sample-s 10] [--out bench/results/soak]
//   node dist/bench/soak.js --plot bench/results/soak.json   (draws a saved run's SVG again)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setMaxListeners } from 'node:events';
import { Client, Pool } from 'undici';
import { benchConfig, CLI, RESULTS, rssMb, runBounded, startGateway, startProcess, stopAll } from './processes.js';

const KNOWN = new Set(['--minutes', '--rate', '--streams', '--sample-s', '--out', '--plot']);
const unknown = process.argv.slice(2).filter((a, i, all) => a.startsWith('-') && !KNOWN.has(a) && !KNOWN.has(all[i - 1] ?? ''));
if (unknown.length > 0) {
  process.stderr.write(`soak: unknown option ${unknown.join(' ')}\nusage: node dist/bench/soak.js [--minutes 60] [--rate 300] [--streams 100] [--sample-s 10] [--out <path>] | --plot <soak.json>\n`);
  process.exit(unknown.some((a) => a === '--help' || a === '-h') ? 0 : 2);
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const outIndex = process.argv.indexOf('--out');
const OUT = outIndex >= 0 ? resolve(process.argv[outIndex + 1]) : join(RESULTS, 'soak');
const MINUTES = flag('minutes', 60);
const RATE = flag('rate', 300);
const STREAMS = Math.round(flag('streams', 100));
const SAMPLE_S = flag('sample-s', 10);
/** Requests in flight beyond this are not sent (counted as skipped): the load stays bounded if the gateway slows. */
const MAX_IN_FLIGHT = 1000;
/** Every request's bound: an answer not complete by then is an error. */
const REQUEST_TIMEOUT_MS = 60_000;
/**
 * prom-client samples the event loop with monitorEventLoopDelay at its default resolution, 10 ms (the
 * gateway sets no other), and that histogram records the whole time between its timer's firings: an idle
 * loop reads about 10 ms. The delay is what exceeds it.
 */
const EVENT_LOOP_RESOLUTION_MS = 10;
/** RSS is called flat when its second-half slope is at most this. */
const FLAT_MB_PER_HOUR = 10;

// ── the mix ────────────────────────────────────────────────────────────────────────────────────────

type Kind = 'chat' | 'stream' | 'embeddings' | 'bad_request' | 'unknown_model';

const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly and precisely.' },
  { role: 'user', content: 'Explain in two sentences why a gateway in front of inference backends should add as little latency as possible.' },
];

/** Out of every 100 requests: 60 chat, 20 streamed chat, 15 embeddings, 3 malformed, 2 for an unknown model. */
const MIX: { kind: Kind; per100: number; path: string; body: string; status: number }[] = [
  { kind: 'chat', per100: 60, path: '/v1/chat/completions', body: JSON.stringify({ model: 'bench-model', messages: MESSAGES, max_tokens: 32 }), status: 200 },
  {
    kind: 'stream',
    per100: 20,
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'bench-model', messages: MESSAGES, max_tokens: 32, stream: true, stream_options: { include_usage: true } }),
    status: 200,
  },
  { kind: 'embeddings', per100: 15, path: '/v1/embeddings', body: JSON.stringify({ model: 'bench-embed', input: ['a steady load', 'for an hour'] }), status: 200 },
  { kind: 'bad_request', per100: 3, path: '/v1/chat/completions', body: JSON.stringify({ model: 'bench-model', messages: 'not a list' }), status: 400 },
  { kind: 'unknown_model', per100: 2, path: '/v1/chat/completions', body: JSON.stringify({ model: 'no-such-model', messages: MESSAGES }), status: 404 },
];
const SLOTS: (typeof MIX)[number][] = MIX.flatMap((m) => Array.from({ length: m.per100 }, () => m));
// Spread each kind over the 100 slots rather than in runs: slot i takes the (i * 37 mod 100)th entry.
const PATTERN = Array.from({ length: 100 }, (_, i) => SLOTS[(i * 37) % 100]);

interface Counts {
  sent: number;
  ok: number;
  /** An answer other than the one expected (a status, a stream without [DONE]) or a transport error. */
  errors: number;
}

const counts: Record<Kind | 'slow_stream', Counts> = {
  chat: { sent: 0, ok: 0, errors: 0 },
  stream: { sent: 0, ok: 0, errors: 0 },
  embeddings: { sent: 0, ok: 0, errors: 0 },
  bad_request: { sent: 0, ok: 0, errors: 0 },
  unknown_model: { sent: 0, ok: 0, errors: 0 },
  slow_stream: { sent: 0, ok: 0, errors: 0 },
};
let skipped = 0;
let inFlight = 0;
let openSlow = 0;
const errorExamples: string[] = [];
/** Non-streamed chat latencies since the last sample (ms). */
let chatLatencies: number[] = [];

function noteError(what: string): void {
  if (errorExamples.length < 10) errorExamples.push(what);
}

function totals(): Counts {
  const all = Object.values(counts);
  return { sent: all.reduce((s, c) => s + c.sent, 0), ok: all.reduce((s, c) => s + c.ok, 0), errors: all.reduce((s, c) => s + c.errors, 0) };
}

// ── the load ───────────────────────────────────────────────────────────────────────────────────────

async function one(pool: Pool, headers: Record<string, string>, entry: (typeof MIX)[number], signal: AbortSignal): Promise<void> {
  const c = counts[entry.kind];
  c.sent++;
  inFlight++;
  const t0 = performance.now();
  try {
    const res = await pool.request({ method: 'POST', path: entry.path, headers, body: entry.body, signal });
    const text = await res.body.text();
    const complete = entry.kind !== 'stream' || text.includes('data: [DONE]');
    if (res.statusCode === entry.status && complete) {
      c.ok++;
      if (entry.kind === 'chat') chatLatencies.push(performance.now() - t0);
    } else {
      c.errors++;
      noteError(`${entry.kind}: HTTP ${res.statusCode}${complete ? '' : ' (stream without [DONE])'}`);
    }
  } catch (err) {
    if (signal.aborted) return;
    c.errors++;
    noteError(`${entry.kind}: ${(err as Error).message}`);
  } finally {
    inFlight--;
  }
}

/** Sends RATE requests per second, on a schedule (not in reply to answers), until `signal` ends it. */
function steadyLoad(pool: Pool, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  const start = performance.now();
  let issued = 0;
  return new Promise((done) => {
    const tick = (): void => {
      const due = Math.floor(((performance.now() - start) / 1000) * RATE);
      while (issued < due) {
        const entry = PATTERN[issued % PATTERN.length];
        issued++;
        if (inFlight >= MAX_IN_FLIGHT) skipped++;
        else void one(pool, headers, entry, signal);
      }
    };
    const timer = setInterval(tick, 5);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        done();
      },
      { once: true },
    );
  });
}

/** One of the held streams: a slow stream read to its end, then the next, until `signal` ends it. */
async function slowStream(pool: Pool, headers: Record<string, string>, index: number, signal: AbortSignal): Promise<void> {
  // Started spread over the first 10 s, and of different lengths (15–30 s at 2 tokens/s), so they end and
  // are replaced steadily rather than in waves.
  await new Promise((r) => setTimeout(r, (index * 10_000) / STREAMS));
  const body = JSON.stringify({ model: 'slow-model', messages: MESSAGES, max_tokens: 30 + (index % 31), stream: true });
  const c = counts.slow_stream;
  while (!signal.aborted) {
    c.sent++;
    openSlow++;
    try {
      const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body, signal });
      const text = await res.body.text();
      if (res.statusCode === 200 && text.includes('data: [DONE]')) c.ok++;
      else {
        c.errors++;
        noteError(`slow stream: HTTP ${res.statusCode}`);
      }
    } catch (err) {
      if (signal.aborted) break;
      c.errors++;
      noteError(`slow stream: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      openSlow--;
    }
  }
}

// ── samples ────────────────────────────────────────────────────────────────────────────────────────

interface Sample {
  t_s: number;
  rss_mb: number;
  heap_used_mb: number | null;
  /** Event-loop delay over the interval since the previous sample (prom-client's monitorEventLoopDelay, less its 10 ms resolution). */
  event_loop_p50_ms: number | null;
  event_loop_p99_ms: number | null;
  event_loop_max_ms: number | null;
  /** The gateway's own count of streams in flight, and this client's count of slow streams open. */
  streams_in_flight: number | null;
  slow_streams_open: number;
  /** Requests answered (as expected or not) per second over the interval, and the totals so far. */
  requests_per_s: number;
  done: number;
  errors: number;
  skipped: number;
  /** Non-streamed chat as this client saw it over the interval. */
  chat_p50_ms: number | null;
  chat_p99_ms: number | null;
}

function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([^\\s]+)`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

const round = (n: number | null, digits = 3): number | null => (n === null || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits);

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function scrape(client: Client): Promise<string> {
  const res = await client.request({ method: 'GET', path: '/metrics', headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${res.statusCode}`);
  return text;
}

// ── the summary ────────────────────────────────────────────────────────────────────────────────────

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / points.length;
  const my = points.reduce((s, p) => s + p.y, 0) / points.length;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? null : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

function trend(samples: Sample[], pick: (s: Sample) => number | null): { first: number | null; last: number | null; min: number | null; max: number | null; max_minus_min: number | null; second_half_slope_mb_per_hour: number | null; second_half_max_minus_min: number | null } {
  const values = samples.map((s) => ({ x: s.t_s / 3600, y: pick(s) })).filter((p): p is { x: number; y: number } => p.y !== null);
  const half = values.filter((p) => p.x >= (samples.at(-1)?.t_s ?? 0) / 3600 / 2);
  const ys = values.map((p) => p.y);
  const halfYs = half.map((p) => p.y);
  return {
    first: round(ys[0] ?? null, 1),
    last: round(ys.at(-1) ?? null, 1),
    min: round(ys.length ? Math.min(...ys) : null, 1),
    max: round(ys.length ? Math.max(...ys) : null, 1),
    max_minus_min: round(ys.length ? Math.max(...ys) - Math.min(...ys) : null, 1),
    second_half_slope_mb_per_hour: round(slope(half), 1),
    second_half_max_minus_min: round(halfYs.length ? Math.max(...halfYs) - Math.min(...halfYs) : null, 1),
  };
}

// ── the plot ───────────────────────────────────────────────────────────────────────────────────────

function niceStep(range: number, ticks: number): number {
  const raw = range / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10) * power;
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number): string => String(Math.round(n * 100) / 100);

interface Series {
  label: string;
  color: string;
  dash?: string;
  width: number;
  points: { x: number; y: number }[];
}

/** One panel: axes from 0, ticks, gridlines, the series as polylines, a legend at the top right. */
function panel(o: { x: number; y: number; w: number; h: number; xMax: number; yLabel: string; series: Series[]; showX: boolean }): string {
  const allY = o.series.flatMap((s) => s.points.map((p) => p.y));
  const yTop = Math.max(1e-9, ...allY) * 1.1;
  const yStep = niceStep(yTop, 4);
  const yMax = Math.ceil(yTop / yStep) * yStep;
  const xStep = niceStep(o.xMax, 6);
  const px = (x: number): number => o.x + (x / o.xMax) * o.w;
  const py = (y: number): number => o.y + o.h - (y / yMax) * o.h;
  const parts: string[] = [`<rect x="${o.x}" y="${o.y}" width="${o.w}" height="${o.h}" fill="#fff" stroke="#999"/>`];
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const y = fmt(py(v));
    parts.push(`<line x1="${o.x}" x2="${o.x + o.w}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`, `<text x="${o.x - 6}" y="${fmt(py(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let v = 0; v <= o.xMax + 1e-9; v += xStep) {
    const x = fmt(px(v));
    parts.push(`<line x1="${x}" x2="${x}" y1="${o.y}" y2="${o.y + o.h}" stroke="#f0f0f0"/>`);
    if (o.showX) parts.push(`<text x="${x}" y="${o.y + o.h + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  parts.push(`<text transform="translate(${o.x - 44} ${o.y + o.h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p) => `${fmt(px(p.x))},${fmt(py(p.y))}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${d}"/>`);
  }
  // The legend over the lines, on a light box.
  const lx = o.x + o.w - 190;
  parts.push(`<rect x="${lx - 6}" y="${o.y + 3}" width="190" height="${o.series.length * 16 + 4}" fill="#fff" fill-opacity="0.85"/>`);
  o.series.forEach((s, i) => {
    const ly = o.y + 14 + i * 16;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="${Math.max(2, s.width)}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<text x="${lx + 28}" y="${ly}">${escapeXml(s.label)}</text>`,
    );
  });
  return parts.join('\n');
}

function renderSvg(r: SoakResult): string {
  const W = 760;
  const H = 470;
  const left = 70;
  const plotW = W - left - 24;
  const xMax = Math.max(r.samples.at(-1)?.t_s ?? 0, 60) / 60;
  const at = (pick: (s: Sample) => number | null): { x: number; y: number }[] =>
    r.samples.flatMap((s) => {
      const y = pick(s);
      return y === null ? [] : [{ x: s.t_s / 60, y }];
    });
  const rss = r.summary.rss_mb;
  const title = 'Floodgate soak: resident memory and event-loop delay';
  const sub1 = `${r.date.slice(0, 16).replace('T', ' ')} UTC · ${fmt(r.settings.duration_min)} min at ${r.settings.rate} req/s (60% chat, 20% streamed, 15% embeddings, 5% errors) + ${r.settings.streams} slow streams held${r.interrupted ? ' · interrupted' : ''}`;
  const sub2 = `${r.machine.cores} cores (${r.machine.cpu ?? '?'}), ${r.machine.memory_gb} GB, Node ${r.machine.node} · RSS ${rss.first} → ${rss.last} MB, range ${rss.max_minus_min} MB, second-half slope ${rss.second_half_slope_mb_per_hour ?? '—'} MB/h`;
  const top = panel({
    x: left,
    y: 78,
    w: plotW,
    h: 150,
    xMax,
    yLabel: 'MB',
    showX: false,
    series: [
      { label: 'gateway RSS (MB)', color: '#1f5fbf', width: 2, points: at((s) => s.rss_mb) },
      { label: 'JS heap in use (MB)', color: '#7a7a7a', width: 1.5, dash: '5 3', points: at((s) => s.heap_used_mb) },
    ],
  });
  const bottom = panel({
    x: left,
    y: 262,
    w: plotW,
    h: 150,
    xMax,
    yLabel: 'ms',
    showX: true,
    series: [
      { label: 'event-loop delay p99 (ms)', color: '#d0661a', width: 2, points: at((s) => s.event_loop_p99_ms) },
      { label: 'event-loop delay max (ms)', color: '#e9b48c', width: 1, points: at((s) => s.event_loop_max_ms) },
    ],
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#222">`,
    `<rect width="${W}" height="${H}" fill="#fafafa"/>`,
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="44">${escapeXml(sub1)}</text>`,
    `<text x="${left}" y="60">${escapeXml(sub2)}</text>`,
    top,
    `<text x="${left + 4}" y="${78 + 150 + 16}" font-size="10" fill="#666">each point: /proc/&lt;pid&gt;/status VmRSS and /metrics, every ${r.settings.sample_s} s</text>`,
    bottom,
    `<text x="${left + plotW / 2}" y="${H - 22}" text-anchor="middle">minutes</text>`,
    `<text x="${left}" y="${H - 6}" font-size="10" fill="#666">event-loop delay: the gateway's /metrics (prom-client monitorEventLoopDelay per interval between scrapes, less its 10 ms resolution) · bench/soak.ts</text>`,
    '</svg>',
    '',
  ].join('\n');
}

// ── the run ────────────────────────────────────────────────────────────────────────────────────────

interface SoakResult {
  date: string;
  interrupted: boolean;
  machine: { cores: number; cpu: string | undefined; memory_gb: number; node: string; platform: string };
  settings: { duration_min: number; planned_min: number; rate: number; streams: number; sample_s: number; mix_per_100: Record<string, number>; max_in_flight: number };
  event_loop_source: string;
  samples: Sample[];
  summary: {
    rss_mb: ReturnType<typeof trend>;
    heap_used_mb: ReturnType<typeof trend>;
    rss_flat: boolean | null;
    flat_rule: string;
    event_loop_ms: { p99_median: number | null; p99_max: number | null; max_max: number | null };
    counts: typeof counts;
    skipped: number;
    error_examples: string[];
  };
}

const stopSignal = new AbortController();
// One listener per request in flight and per held stream.
setMaxListeners(MAX_IN_FLIGHT + STREAMS + 50, stopSignal.signal);
let interrupted = false;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'floodgate-soak-'));
  const samples: Sample[] = [];
  const started = new Date();
  try {
    const sim = await startProcess('simulator', [CLI, 'simulate', '--port', '0', '--ttft-ms', '0', '--tokens-per-second', '0'], /Simulator listening/);
    const slowSim = await startProcess('slow simulator', [CLI, 'simulate', '--port', '0', '--ttft-ms', '0', '--tokens-per-second', '2'], /Simulator listening/);
    const configFile = join(work, 'floodgate.yaml');
    writeFileSync(
      configFile,
      benchConfig({
        dataDir: join(work, 'data'),
        simUrl: sim.url,
        slowUrl: slowSim.url,
        models: ['  - { id: bench-embed, category: embeddings, context_length: 8192, pricing: { input: 0.02 }, deployments: [{ provider: sim }] }'],
      }),
    );
    // The gateway logs at info to this file, emptied at every sample so an hour's log takes no disk.
    const gatewayLog = join(work, 'gateway.log');
    const { proc: gateway, apiKey } = await startGateway('floodgate', configFile, gatewayLog);
    const pid = gateway.child.pid!;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    const pool = new Pool(gateway.url, { connections: 64, keepAliveTimeout: 30_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    const slowPool = new Pool(gateway.url, { connections: STREAMS, keepAliveTimeout: 30_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    const metrics = new Client(gateway.url, { keepAliveTimeout: 30_000 });
    await scrape(metrics); // resets the event-loop histogram: the first sample covers the load only

    process.stderr.write(`soak: ${MINUTES} min at ${RATE} req/s + ${STREAMS} slow streams against ${gateway.url} (pid ${pid}), a sample every ${SAMPLE_S} s\n`);
    const t0 = performance.now();
    const load = steadyLoad(pool, headers, stopSignal.signal);
    const streams = Array.from({ length: STREAMS }, (_, i) => slowStream(slowPool, headers, i, stopSignal.signal));

    let last = { t: t0, done: 0 };
    const sample = async (): Promise<void> => {
      const now = performance.now();
      let rss: number;
      try {
        rss = rssMb(pid);
      } catch {
        return; // the gateway is gone (a signal reached it first)
      }
      const text = await scrape(metrics).catch((err: unknown) => {
        noteError(`metrics: ${(err as Error).message}`);
        return '';
      });
      const all = totals();
      const done = all.ok + all.errors;
      const delay = (v: number | null): number | null => (v === null ? null : round(Math.max(0, v * 1000 - EVENT_LOOP_RESOLUTION_MS)));
      const heap = metricValue(text, 'floodgate_nodejs_heap_size_used_bytes');
      const s: Sample = {
        t_s: Math.round((now - t0) / 100) / 10,
        rss_mb: rss,
        heap_used_mb: heap === null ? null : round(heap / 2 ** 20, 1),
        event_loop_p50_ms: delay(metricValue(text, 'floodgate_nodejs_eventloop_lag_p50_seconds')),
        event_loop_p99_ms: delay(metricValue(text, 'floodgate_nodejs_eventloop_lag_p99_seconds')),
        event_loop_max_ms: delay(metricValue(text, 'floodgate_nodejs_eventloop_lag_max_seconds')),
        streams_in_flight: metricValue(text, 'floodgate_streams_in_flight'),
        slow_streams_open: openSlow,
        requests_per_s: Math.round((done - last.done) / ((now - last.t) / 1000)),
        done,
        errors: all.errors,
        skipped,
        chat_p50_ms: round(percentile(chatLatencies, 50)),
        chat_p99_ms: round(percentile(chatLatencies, 99)),
      };
      chatLatencies = [];
      last = { t: now, done };
      samples.push(s);
      try {
        truncateSync(gatewayLog, 0);
      } catch {
        // gone already
      }
      process.stderr.write(
        `${(s.t_s / 60).toFixed(1)} min: RSS ${s.rss_mb} MB, heap ${s.heap_used_mb} MB, event loop p99 ${s.event_loop_p99_ms} ms (max ${s.event_loop_max_ms}), ${s.requests_per_s} req/s, ${s.streams_in_flight} streams, ${done} done, ${s.errors} errors, ${skipped} skipped\n`,
      );
    };

    // Sample on a fixed schedule until the time is up (or a signal ends the run early).
    const end = t0 + MINUTES * 60_000;
    for (let next = t0 + SAMPLE_S * 1000; next <= end + 1 && !stopSignal.signal.aborted; next += SAMPLE_S * 1000) {
      await new Promise<void>((r) => {
        const early = (): void => {
          clearTimeout(timer);
          r();
        };
        const timer = setTimeout(() => {
          stopSignal.signal.removeEventListener('abort', early);
          r();
        }, Math.max(0, next - performance.now()));
        stopSignal.signal.addEventListener('abort', early, { once: true });
      });
      if (stopSignal.signal.aborted) break;
      await sample();
    }
    const ranMs = performance.now() - t0;
    stopSignal.abort();
    await load;
    // In-flight requests are aborted with the signal; give them a moment to settle.
    await Promise.race([Promise.allSettled(streams), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.allSettled([pool.destroy(), slowPool.destroy(), metrics.destroy()]);

    const rss = trend(samples, (s) => s.rss_mb);
    const p99s = samples.map((s) => s.event_loop_p99_ms).filter((v): v is number => v !== null);
    const maxes = samples.map((s) => s.event_loop_max_ms).filter((v): v is number => v !== null);
    const result: SoakResult = {
      date: started.toISOString(),
      interrupted,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
      settings: {
        duration_min: Math.round(ranMs / 600) / 100,
        planned_min: MINUTES,
        rate: RATE,
        streams: STREAMS,
        sample_s: SAMPLE_S,
        mix_per_100: Object.fromEntries(MIX.map((m) => [m.kind, m.per100])),
        max_in_flight: MAX_IN_FLIGHT,
      },
      event_loop_source: `the gateway's /metrics: floodgate_nodejs_eventloop_lag_{p50,p99,max}_seconds (prom-client's monitorEventLoopDelay, reset at each scrape, so each sample covers the interval since the previous one), less the histogram's ${EVENT_LOOP_RESOLUTION_MS} ms resolution (an idle loop reads about ${EVENT_LOOP_RESOLUTION_MS} ms)`,
      samples,
      summary: {
        rss_mb: rss,
        heap_used_mb: trend(samples, (s) => s.heap_used_mb),
        rss_flat: rss.second_half_slope_mb_per_hour === null ? null : Math.abs(rss.second_half_slope_mb_per_hour) <= FLAT_MB_PER_HOUR,
        flat_rule: `RSS is flat when the least-squares slope over the run's second half is within ±${FLAT_MB_PER_HOUR} MB/hour (meaningful for runs of 30 minutes and more)`,
        event_loop_ms: { p99_median: percentile(p99s, 50), p99_max: p99s.length ? Math.max(...p99s) : null, max_max: maxes.length ? Math.max(...maxes) : null },
        counts,
        skipped,
        error_examples: errorExamples,
      },
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(`${OUT}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${OUT}.svg`, renderSvg(result));
    const all = totals();
    const h = result.summary.heap_used_mb;
    process.stdout.write(
      [
        `Floodgate soak — ${result.date}, ${result.settings.duration_min} min${interrupted ? ' (interrupted)' : ''} at ${RATE} req/s + ${STREAMS} slow streams, ${result.machine.cores} cores, Node ${result.machine.node}`,
        `requests: ${all.sent} sent, ${all.ok} answered as expected, ${all.errors} unexpected (${errorExamples.slice(0, 3).join('; ') || 'none'}), ${skipped} skipped (over ${MAX_IN_FLIGHT} in flight)`,
        `RSS: ${rss.first} → ${rss.last} MB (min ${rss.min}, max ${rss.max}, max − min ${rss.max_minus_min} MB); second half: slope ${rss.second_half_slope_mb_per_hour} MB/hour, max − min ${rss.second_half_max_minus_min} MB → ${result.summary.rss_flat === null ? 'too few samples to judge' : result.summary.rss_flat ? 'flat' : 'NOT flat'} (±${FLAT_MB_PER_HOUR} MB/h${MINUTES < 30 ? '; a run this short says little' : ''})`,
        `JS heap in use: ${h.first} → ${h.last} MB; second-half slope ${h.second_half_slope_mb_per_hour} MB/hour`,
        `event-loop delay (from /metrics): p99 median ${result.summary.event_loop_ms.p99_median} ms, worst p99 ${result.summary.event_loop_ms.p99_max} ms, worst max ${result.summary.event_loop_ms.max_max} ms`,
        `wrote ${OUT}.json and ${OUT}.svg`,
        '',
      ].join('\n'),
    );
  } finally {
    stopSignal.abort();
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

// `--plot <soak.json>`: draw a saved run's SVG again (beside it), start nothing.
const plotIndex = process.argv.indexOf('--plot');
if (plotIndex >= 0) {
  const file = resolve(process.argv[plotIndex + 1]);
  writeFileSync(file.replace(/\.json$/, '') + '.svg', renderSvg(JSON.parse(readFileSync(file, 'utf8')) as SoakResult));
  process.exit(0);
}

// Ctrl-C / SIGTERM: end the load now, write what was sampled (marked interrupted), stop every process.
// A second signal stops the processes and exits at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      void stopAll().then(() => process.exit(130));
      return;
    }
    interrupted = true;
    process.stderr.write(`soak: ${signal}, stopping…\n`);
    stopSignal.abort();
  });
}

// Its output closed (piped into `head`, a terminal gone): end the run as on Ctrl-C rather than die with
// the processes still running.
process.stdout.on('error', () => {
  interrupted = true;
  stopSignal.abort();
});

// The whole run is bounded: its minutes, plus start-up and wind-down.
runBounded('soak', main, MINUTES * 60_000 + 120_000);
