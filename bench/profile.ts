// `npm run bench:profile`: where a chat request's CPU time goes (issue 17, SPEC §15). The gateway (the
// bench's config: auth, validation, limits, billing with reservations, usage records, info logging and
// metrics all on) and the bare pass-through run under V8's sampling profiler (`--cpu-prof`) while the same
// load as the bench's throughput phase goes through each; every sample is then charged to the pipeline
// stage of the nearest frame on its stack that belongs to one (a socket write under the Fastify reply is
// "respond", under undici "upstream HTTP client"), and the stages are divided by the requests served.
// Prints the table, writes bench/results/profile.json and a flame graph of the gateway's main thread
// (bench/results/profile-flame.svg). Figures are µs of the gateway's main thread per request, under load on
// this machine (the load generator and the simulator share its cores): a breakdown, not a latency.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchConfig, CLI, RESULTS, ROOT, runBounded, startProcess, stopAll, stopProcess } from './processes.js';

const SECONDS = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;
const CONNECTIONS = 50;
const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly and precisely.' },
  { role: 'user', content: 'Explain in two sentences why a gateway in front of inference backends should add as little latency as possible.' },
];
const BODY = JSON.stringify({ model: 'bench-model', messages: MESSAGES, max_tokens: 32, temperature: 0.7 });

// ── the profile ────────────────────────────────────────────────────────────────────────────────────

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame's file, shortened: `nm:<package>/…` for dependencies, `fg:<path>` for ours, node's own as they are. */
function where(url: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, 'nm:')
    .replace(/.*\/dist\//, 'fg:');
}

/** The stages, in the order a request meets them; the first rule matching the nearest frame wins. */
const STAGES: { stage: string; match: (fn: string, file: string) => boolean }[] = [
  { stage: 'garbage collection', match: (fn) => fn === '(garbage collector)' },
  { stage: 'idle', match: (fn) => fn === '(idle)' },
  { stage: 'log (request line)', match: (_, f) => /nm:pino|observability\/(request-log|logger|log-destination|redact)/.test(f) },
  { stage: 'metrics', match: (_, f) => /nm:prom-client|fg:metrics\//.test(f) },
  { stage: 'headers (rate limits)', match: (_, f) => /fg:limits\/headers/.test(f) },
  { stage: 'parse (request JSON)', match: (_, f) => /fg:http\/json-body|fastify\/lib\/content-type-parser/.test(f) },
  { stage: 'auth (key lookup)', match: (_, f) => /fg:http\/auth|fg:auth\//.test(f) },
  { stage: 'validate', match: (_, f) => /fg:openai\/(validate|normalize)|fg:validation\/|nm:ajv/.test(f) },
  { stage: 'resolve (model)', match: (_, f) => /fg:routing\/catalog/.test(f) },
  { stage: 'count tokens', match: (_, f) => /fg:accounting\/(tokenizer|bpe)|nm:gpt-tokenizer/.test(f) },
  { stage: 'admit (limits, reservation)', match: (_, f) => /fg:api\/(admission|output-cap)|fg:limits\/|balance-book/.test(f) },
  { stage: 'route (breakers, retries)', match: (_, f) => /fg:routing\//.test(f) },
  { stage: 'settle (cost, usage record)', match: (_, f) => /fg:accounting\/|fg:store\/|nm:kysely|nm:better-sqlite3/.test(f) },
  { stage: 'forward + relay: provider', match: (_, f) => /fg:providers\/|nm:eventsource-parser/.test(f) },
  { stage: 'forward + relay: undici (HTTP client, its socket writes)', match: (_, f) => /nm:undici/.test(f) },
  { stage: 'relay (streams)', match: (_, f) => /fg:api\/stream-relay|fg:openai\/sse/.test(f) },
  { stage: 'pipeline (inference, hooks)', match: (_, f) => /fg:api\/|fg:doors\/|fg:http\/|fg:observability\/|fg:gateway|fg:bench\/passthrough/.test(f) },
  { stage: 'respond: Fastify', match: (_, f) => /nm:fastify|nm:find-my-way|nm:avvio|nm:light-my-request/.test(f) },
  { stage: 'respond: node:http (its socket writes)', match: (_, f) => /^node:_http_/.test(f) },
];
const OTHER = 'runtime (microtasks, timers, streams)';

export interface StageRow {
  stage: string;
  us_per_request: number;
  share: number;
}

/**
 * Charges a profile's samples to stages, within the window from the first to the last sample that ran
 * `handler` (start-up and shutdown left out). Idle time is not counted in the total.
 */
export function stageBreakdown(profile: CpuProfile, requests: number, handler: (frame: CallFrame) => boolean): { busy_us_per_request: number; stages: StageRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const inHandler = new Map<number, boolean>();
  const ancestors = (id: number, visit: (node: ProfileNode) => boolean): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (visit(byId.get(cur)!)) return true;
    return false;
  };
  const handled = (id: number): boolean => {
    let known = inHandler.get(id);
    if (known === undefined) inHandler.set(id, (known = ancestors(id, (n) => handler(n.callFrame))));
    return known;
  };
  const stage = (id: number): string => {
    let known = stageOf.get(id);
    if (known === undefined) {
      known = OTHER;
      ancestors(id, (n) => {
        const rule = STAGES.find((s) => s.match(n.callFrame.functionName, where(n.callFrame.url)));
        if (rule) known = rule.stage;
        return rule !== undefined;
      });
      stageOf.set(id, known);
    }
    return known;
  };
  const first = profile.samples.findIndex(handled);
  let last = profile.samples.length - 1;
  while (last > first && !handled(profile.samples[last])) last--;
  const totals = new Map<string, number>();
  for (let i = Math.max(first, 0); i <= last; i++) {
    const s = stage(profile.samples[i]);
    totals.set(s, (totals.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  totals.delete('idle');
  const busy = [...totals.values()].reduce((a, b) => a + b, 0);
  const stages = [...totals]
    .map(([name, us]) => ({ stage: name, us_per_request: Math.round((us / requests) * 10) / 10, share: Math.round((us / busy) * 1000) / 1000 }))
    .sort((a, b) => b.us_per_request - a.us_per_request);
  return { busy_us_per_request: Math.round((busy / requests) * 10) / 10, stages };
}

// ── the flame graph ────────────────────────────────────────────────────────────────────────────────

/** A flame graph of the profile as an SVG: frames below 0.3% of the busy time, or deeper than 32, are left out. */
export function flameGraph(profile: CpuProfile, title: string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = new Map<number, number>();
  const sum = (id: number): number => {
    const node = byId.get(id)!;
    let t = self.get(id) ?? 0;
    for (const c of node.children ?? []) t += sum(c);
    total.set(id, t);
    return t;
  };
  const root = profile.nodes[0];
  sum(root.id);
  const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)').reduce((t, n) => t + (total.get(n.id) ?? 0), 0);
  const busy = (total.get(root.id) ?? 0) - idle;
  const width = 1200;
  const rowH = 16;
  const rects: string[] = [];
  let depthMax = 0;
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const draw = (id: number, x: number, depth: number): void => {
    const node = byId.get(id)!;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') return;
    const t = total.get(id) ?? 0;
    const w = (t / busy) * width;
    if (t / busy < 0.003 || depth > 32) return;
    depthMax = Math.max(depthMax, depth);
    if (depth > 0) {
      const file = where(node.callFrame.url);
      const label = `${fn || '(anonymous)'} ${file ? `${file}:${node.callFrame.lineNumber + 1}` : ''}`.trim();
      const hue = file.startsWith('fg:') ? 20 : file.startsWith('nm:') ? 200 : 90;
      rects.push(
        `<g><title>${escape(label)} — ${((t / busy) * 100).toFixed(1)}%</title><rect x="${x.toFixed(1)}" y="${(depth - 1) * rowH}" width="${Math.max(w - 0.5, 0.5).toFixed(1)}" height="${rowH - 1}" fill="hsl(${hue},70%,${60 + (depth % 3) * 6}%)"/>` +
          (w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${(depth - 1) * rowH + 12}" font-size="10" font-family="monospace">${escape(label.slice(0, Math.floor(w / 6.2)))}</text>` : '') +
          '</g>',
      );
    }
    let cx = x;
    for (const c of node.children ?? []) {
      draw(c, cx, depth + 1);
      const ct = byId.get(c)!.callFrame.functionName;
      if (ct !== '(idle)' && ct !== '(program)') cx += ((total.get(c) ?? 0) / busy) * width;
    }
  };
  draw(root.id, 0, 0);
  const height = depthMax * rowH + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<g transform="translate(0,30)">${rects.join('')}</g>`,
    `<text x="4" y="18" font-size="13" font-family="sans-serif">${escape(title)} (icicle: callers above callees; orange ours, blue dependencies, green Node; hover for names)</text>`,
    '</svg>',
  ].join('\n');
}

// ── the run ────────────────────────────────────────────────────────────────────────────────────────

/** The main thread's profile in a --cpu-prof directory: the largest file (a worker thread's is smaller). */
function mainProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no profile was written in ${dir}`);
  files.sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size);
  return JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as CpuProfile;
}

async function drive(url: string, headers: Record<string, string>): Promise<number> {
  const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY, connections: CONNECTIONS, duration: SECONDS });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`the load got ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result.requests.total;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'floodgate-profile-'));
  try {
    const sim = await startProcess('simulator', [CLI, 'simulate', '--port', '0', '--ttft-ms', '0', '--tokens-per-second', '0'], /Simulator listening/);
    const configFile = join(work, 'floodgate.yaml');
    writeFileSync(configFile, benchConfig({ dataDir: join(work, 'data'), simUrl: sim.url, slowUrl: sim.url }));
    const gatewayProf = join(work, 'gateway-prof');
    const passthroughProf = join(work, 'passthrough-prof');
    mkdirSync(gatewayProf);
    mkdirSync(passthroughProf);

    const gateway = await startProcess('floodgate', [`--cpu-prof`, `--cpu-prof-dir=${gatewayProf}`, CLI, 'serve', '--config', configFile], /Floodgate listening on/, { logFile: join(work, 'gateway.log') });
    const apiKey = /API key: (\S+)/.exec(gateway.startup)?.[1];
    if (!apiKey) throw new Error('the gateway printed no API key');
    const gatewayRequests = await drive(`${gateway.url}/v1/chat/completions`, { authorization: `Bearer ${apiKey}` });
    await stopProcess(gateway);

    const passthrough = await startProcess('pass-through', [`--cpu-prof`, `--cpu-prof-dir=${passthroughProf}`, join(ROOT, 'dist', 'bench', 'passthrough.js'), '--upstream', sim.url, '--port', '0'], /Passthrough listening/);
    const passthroughRequests = await drive(`${passthrough.url}/v1/chat/completions`, { authorization: 'Bearer x' });
    await stopProcess(passthrough);

    const gatewayProfile = mainProfile(gatewayProf);
    const gw = stageBreakdown(gatewayProfile, gatewayRequests, (f) => f.functionName === 'runInference');
    const pt = stageBreakdown(mainProfile(passthroughProf), passthroughRequests, (f) => f.url.endsWith('/bench/passthrough.js'));
    const result = {
      date: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      load: { connections: CONNECTIONS, seconds: SECONDS, requests: { gateway: gatewayRequests, passthrough: passthroughRequests } },
      gateway: gw,
      passthrough: pt,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'profile.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(RESULTS, 'profile-flame.svg'), flameGraph(gatewayProfile, `Floodgate main thread, chat completions under ${CONNECTIONS} connections for ${SECONDS} s, ${result.date.slice(0, 10)}`));

    const ptByStage = new Map(pt.stages.map((s) => [s.stage, s.us_per_request]));
    const lines = [
      `CPU of the main thread per chat request under ${CONNECTIONS} connections (${gatewayRequests} requests through the gateway, ${passthroughRequests} through the pass-through):`,
      '',
      '| stage | Floodgate µs | share | pass-through µs |',
      '|---|---:|---:|---:|',
      ...gw.stages.map((s) => `| ${s.stage} | ${s.us_per_request} | ${(s.share * 100).toFixed(1)}% | ${ptByStage.get(s.stage) ?? '—'} |`),
      `| **total (busy)** | **${gw.busy_us_per_request}** | 100% | **${pt.busy_us_per_request}** |`,
      '',
      `Written: bench/results/profile.json, bench/results/profile-flame.svg`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('profile.js')) runBounded('the profile run', main, (SECONDS * 2 + 120) * 1000);
