// o200k_base tokenizers compared by numbers (issue 17, item 1): resident memory added by loading each one,
// its load time, µs per KiB of prompt by kind of text, and its count's error against the real o200k count.
// Each candidate runs in a fresh child process (node --expose-gc), so one's tables never sit in another's RSS.
//
//   npm run bench:tokenizers                 (build, then run; prints a Markdown table, writes nothing)
//   node dist/bench/tokenizers.js [--rounds 3] [--json]
//
// Each candidate's child runs --rounds times (default 3), interleaved; every figure is the median.
//
// Candidates: gpt-tokenizer (the dependency until now), tiktoken (Rust in WASM), js-tiktoken (pure JS),
// Floodgate's own compact BPE (src/accounting/bpe.ts, from dist), and a table-free estimator of tokens from
// counts of characters by class, calibrated here by least squares on half the corpus and scored on the other.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);

type Counter = (text: string) => number;
const CANDIDATES = ['tiktoken-wasm', 'gpt-tokenizer', 'js-tiktoken', 'floodgate-bpe', 'estimator', 'estimator-safe'] as const;
type Candidate = (typeof CANDIDATES)[number];
const CLASSES = ['prose', 'code', 'cjk', 'json'] as const;
/** Samples of each class used to warm up, not timed. */
const WARM = 30;
type TextClass = (typeof CLASSES)[number];

// ---------------------------------------------------------------------------------------------------
// The corpus: 1 KiB (UTF-8) samples of four kinds of prompt, from text on this machine, plus hard cases.

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Cuts `text` into pieces of about `bytes` UTF-8 bytes, on character boundaries. */
function chunks(text: string, bytes: number, limit: number): string[] {
  const out: string[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < text.length && out.length < limit; i++) {
    const c = text.codePointAt(i) as number;
    const width = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (c >= 0x10000) i++;
    size += width;
    if (size >= bytes) {
      out.push(text.slice(start, i + 1));
      start = i + 1;
      size = 0;
    }
  }
  return out;
}

function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, suffix));
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out;
}

function messagesOf(lang: string): string {
  const file = join(ROOT, 'node_modules', 'typescript', 'lib', lang, 'diagnosticMessages.generated.json');
  return Object.values(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>).join('\n');
}

interface Corpus {
  byClass: Record<TextClass, string[]>;
  /** Every text whose count is scored: the samples above and the hard cases. */
  all: string[];
}

function buildCorpus(): Corpus {
  const PER_CLASS = 120;
  const prose = [join(ROOT, 'README.md'), '/work/shared/SPEC.md', '/work/shared/CONVENTIONS.md']
    .map((path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    })
    .join('\n\n');
  const code = filesUnder(join(ROOT, 'src'), '.ts')
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
  const cjk = ['zh-cn', 'ja', 'ko', 'zh-tw'].map(messagesOf).join('\n');
  const byClass: Record<TextClass, string[]> = {
    prose: chunks(prose, 1024, PER_CLASS),
    code: chunks(code, 1024, PER_CLASS),
    cjk: chunks(cjk, 1024, PER_CLASS),
    json: [],
  };
  // Chat request bodies mixing the three, with a tool definition, cut to 1 KiB.
  const rnd = seeded(17);
  const pick = (list: string[]): string => list[Math.floor(rnd() * list.length)];
  let bodies = '';
  for (let i = 0; bodies.length < PER_CLASS * 1400; i++) {
    bodies += JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: pick(byClass.prose).slice(0, 300) },
        { role: 'user', content: i % 3 === 0 ? pick(byClass.cjk).slice(0, 150) : pick(byClass.code).slice(0, 400) },
        { role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: pick(byClass.prose).slice(0, 80), n: i }) } }] },
      ],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' } } } } }],
      temperature: 0.2,
      max_tokens: 512,
    });
  }
  byClass.json = chunks(bodies, 1024, PER_CLASS);
  // Hard cases: other scripts, emoji, combining marks, digit and whitespace runs, special tokens as text, random code points.
  const hard = [
    'مرحبا بالعالم، هذا نص عربي للاختبار. الأرقام ١٢٣٤٥٦٧٨٩٠',
    'Привет, мир! Это проверка токенизатора на кириллице.',
    'नमस्ते दुनिया, यह एक परीक्षण है।',
    'שלום עולם',
    '😀👍🏽👨‍👩‍👧‍👦🇫🇷 emoji 🎉🎉🎉',
    'e\u0301 a\u0308 o\u0302\u0323 Z\u0335\u0321\u031b combining',
    '3.14159265358979323846264338327950288419716939937510',
    ' '.repeat(200) + 'x' + '\n'.repeat(50) + '\t'.repeat(30),
    '<|endoftext|><|im_start|>user<|im_end|><|endofprompt|>',
    'A'.repeat(250),
    'Zm9vYmFyYmF6cXV4'.repeat(15),
    // A byte-order mark inside text (a pasted file): o200k encodes "\ufeff#" as one token (110862);
    // gpt-tokenizer counts three (its regex's \s, JavaScript's, holds U+FEFF, and its table loses token
    // 5574, EF BB BF, to a TextDecoder that strips a BOM).
    '\ufeff# Title\n\nBody text.',
  ];
  for (let k = 0; k < 200; k++) {
    let s = '';
    const n = 1 + Math.floor(rnd() * 120);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      let cp = r < 0.3 ? 32 + Math.floor(rnd() * 95) : r < 0.45 ? 0x80 + Math.floor(rnd() * 0x780) : r < 0.8 ? 0x800 + Math.floor(rnd() * 0xf000) : r < 0.9 ? [32, 10, 9, 13][Math.floor(rnd() * 4)] : 0x10000 + Math.floor(rnd() * 0x20000);
      if (cp >= 0xd800 && cp < 0xe000) cp = 0x2603;
      s += String.fromCodePoint(cp);
    }
    hard.push(s);
  }
  return { byClass, all: [...CLASSES.flatMap((c) => byClass[c]), ...hard] };
}

// ---------------------------------------------------------------------------------------------------
// The estimator: tokens ≈ Σ weight × characters of each class.

const FEATURES = ['ascii letters', 'ascii digits', 'ascii punctuation', 'whitespace', '2-byte (Latin, Cyrillic, Arabic…)', '3-byte (CJK, Indic…)', '4-byte (emoji…)'];

function features(text: string): number[] {
  const f = [0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) f[0]++;
      else if (c >= 48 && c <= 57) f[1]++;
      else if (c === 32 || c === 9 || c === 10 || c === 13) f[3]++;
      else f[2]++;
    } else if (c < 0x800) f[4]++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      f[6]++;
      i++;
    } else f[5]++;
  }
  return f;
}

/** Least squares (normal equations, Gauss-Jordan), weights clamped at zero. */
function fit(rows: number[][], targets: number[]): number[] {
  const k = rows[0].length;
  const a = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  rows.forEach((x, r) => {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) a[i][j] += x[i] * x[j];
      a[i][k] += x[i] * targets[r];
    }
  });
  for (let i = 0; i < k; i++) a[i][i] += 1e-6;
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    for (let r = 0; r < k; r++) {
      if (r === col || a[col][col] === 0) continue;
      const factor = a[r][col] / a[col][col];
      for (let j = col; j <= k; j++) a[r][j] -= factor * a[col][j];
    }
  }
  return a.map((row, i) => Math.max(0, row[i] === 0 ? 0 : row[k] / row[i]));
}

function estimator(weights: number[]): Counter {
  return (text) => {
    const f = features(text);
    let total = 0;
    for (let i = 0; i < f.length; i++) total += weights[i] * f[i];
    return Math.max(1, Math.ceil(total));
  };
}

// ---------------------------------------------------------------------------------------------------
// One candidate, in a child process.

interface ChildResult {
  candidate: Candidate;
  loadMs: number;
  rssBaseMb: number;
  rssAddedMb: number;
  /** After counting the whole corpus (merge caches grown). */
  rssAddedAfterUseMb: number;
  /** Live heap and external memory added, after use: tables plus caches, without the collector's slack. */
  liveAddedAfterUseMb: number;
  usPerKiB: Record<TextClass, number>;
  usPerKiBAgain: Record<TextClass, number>;
  counts: number[];
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Live JavaScript objects and buffers (after a full GC): what a candidate retains, without the heap's slack. */
function liveMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.external) / 1024 / 1024;
}

async function load(candidate: Candidate, weights: number[]): Promise<Counter> {
  switch (candidate) {
    case 'gpt-tokenizer': {
      // As src/accounting/tokenizer.ts loaded it until now: the CJS build, synchronously.
      const enc = require('gpt-tokenizer/encoding/o200k_base') as { countTokens(text: string, options: object): number };
      const options = { disallowedSpecial: new Set<string>() };
      return (text) => enc.countTokens(text, options);
    }
    case 'tiktoken-wasm': {
      const { get_encoding } = await import('tiktoken');
      const enc = get_encoding('o200k_base');
      return (text) => enc.encode_ordinary(text).length;
    }
    case 'js-tiktoken': {
      const { Tiktoken } = await import('js-tiktoken/lite');
      const ranks = (await import('js-tiktoken/ranks/o200k_base')).default;
      const enc = new Tiktoken(ranks);
      return (text) => enc.encode(text, [], []).length;
    }
    case 'floodgate-bpe': {
      const bpe = (await import(pathToFileURL(join(ROOT, 'dist', 'accounting', 'bpe.js')).href)) as { loadO200k(): { count(text: string): number } };
      const enc = bpe.loadO200k();
      return (text) => enc.count(text);
    }
    case 'estimator':
    case 'estimator-safe':
      return estimator(weights);
  }
}

async function child(candidate: Candidate, weights: number[]): Promise<void> {
  const corpus = buildCorpus();
  const rssBase = rssMb();
  const liveBase = liveMb();
  const t0 = performance.now();
  const count = await load(candidate, weights);
  count('warm the first call too');
  const loadMs = performance.now() - t0;
  const rssLoaded = rssMb();
  const usPerKiB = {} as Record<TextClass, number>;
  const usPerKiBAgain = {} as Record<TextClass, number>;
  // Warm-up (the JIT's tiers, and whatever caches a candidate keeps) on the first WARM samples of every
  // class, five times; then the rest are timed: once as text never seen (but words seen), once again.
  for (let pass = 0; pass < 5; pass++) for (const cls of CLASSES) for (const s of corpus.byClass[cls].slice(0, WARM)) count(s);
  for (const cls of CLASSES) {
    const samples = corpus.byClass[cls].slice(WARM);
    const bytes = samples.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
    for (const target of [usPerKiB, usPerKiBAgain]) {
      const start = process.hrtime.bigint();
      for (const s of samples) count(s);
      const ns = Number(process.hrtime.bigint() - start);
      target[cls] = ns / 1000 / (bytes / 1024);
    }
  }
  const counts = corpus.all.map((t) => count(t));
  const rssUsed = rssMb();
  const liveUsed = liveMb();
  const result: ChildResult = {
    candidate,
    loadMs,
    rssBaseMb: rssBase,
    rssAddedMb: rssLoaded - rssBase,
    rssAddedAfterUseMb: rssUsed - rssBase,
    liveAddedAfterUseMb: liveUsed - liveBase,
    usPerKiB,
    usPerKiBAgain,
    counts,
  };
  process.stdout.write(JSON.stringify(result));
}

function runChild(candidate: Candidate, weights: number[]): ChildResult {
  const out = execFileSync(process.execPath, ['--expose-gc', import.meta.filename, '--child', candidate, JSON.stringify(weights)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as ChildResult;
}

// ---------------------------------------------------------------------------------------------------

interface ErrorStats {
  exact: number;
  /** Most below the real count, as a fraction (−0.2 = 20 % under); 0 when never under. */
  worstUnder: number;
  worstOver: number;
  meanAbs: number;
  /** Total over the corpus against the real total. */
  total: number;
}

function errors(counts: number[], real: number[], indices: number[]): ErrorStats {
  let exact = 0;
  let worstUnder = 0;
  let worstOver = 0;
  let sumAbs = 0;
  let total = 0;
  let realTotal = 0;
  for (const i of indices) {
    const e = (counts[i] - real[i]) / real[i];
    if (counts[i] === real[i]) exact++;
    worstUnder = Math.min(worstUnder, e);
    worstOver = Math.max(worstOver, e);
    sumAbs += Math.abs(e);
    total += counts[i];
    realTotal += real[i];
  }
  return { exact: exact / indices.length, worstUnder, worstOver, meanAbs: sumAbs / indices.length, total: total / realTotal - 1 };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await child(args[1] as Candidate, JSON.parse(args[2] ?? '[]') as number[]);
    return;
  }
  const corpus = buildCorpus();
  // The real o200k count: tiktoken's, OpenAI's own Rust core (gpt-tokenizer miscounts U+FEFF, see below).
  const reference = runChild('tiktoken-wasm', []);
  const real = reference.counts;
  // Calibrate the estimator on the even-indexed texts, score it on the odd-indexed.
  const even = corpus.all.map((_, i) => i).filter((i) => i % 2 === 0);
  const odd = corpus.all.map((_, i) => i).filter((i) => i % 2 === 1);
  const weights = fit(
    even.map((i) => features(corpus.all[i])),
    even.map((i) => real[i]),
  );
  // The safe variant: the same weights scaled until no calibration text is under its real count.
  const scale = Math.max(...even.map((i) => real[i] / estimator(weights)(corpus.all[i])));
  const safeWeights = weights.map((w) => w * scale);
  // Rounds interleaved (every candidate once, then again…); each figure is the median over the rounds.
  const rounds = Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 3);
  const runs = new Map<Candidate, ChildResult[]>([['tiktoken-wasm', [reference]]]);
  for (let round = 0; round < rounds; round++) {
    for (const candidate of CANDIDATES) {
      if (round === 0 && candidate === 'tiktoken-wasm') continue;
      try {
        const list = runs.get(candidate) ?? [];
        list.push(runChild(candidate, candidate === 'estimator-safe' ? safeWeights : weights));
        runs.set(candidate, list);
      } catch (err) {
        if (round === 0) console.error(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const perClass = (list: ChildResult[], key: 'usPerKiB' | 'usPerKiBAgain'): Record<TextClass, number> =>
    Object.fromEntries(CLASSES.map((c) => [c, median(list.map((r) => r[key][c]))])) as Record<TextClass, number>;
  const results: ChildResult[] = [...runs.values()].map((list) => ({
    candidate: list[0].candidate,
    loadMs: median(list.map((r) => r.loadMs)),
    rssBaseMb: median(list.map((r) => r.rssBaseMb)),
    rssAddedMb: median(list.map((r) => r.rssAddedMb)),
    rssAddedAfterUseMb: median(list.map((r) => r.rssAddedAfterUseMb)),
    liveAddedAfterUseMb: median(list.map((r) => r.liveAddedAfterUseMb)),
    usPerKiB: perClass(list, 'usPerKiB'),
    usPerKiBAgain: perClass(list, 'usPerKiBAgain'),
    counts: list[0].counts,
  }));
  const all = corpus.all.map((_, i) => i);
  const table = results.map((r) => ({
    candidate: r.candidate,
    loadMs: r.loadMs,
    rssAddedMb: r.rssAddedMb,
    rssAddedAfterUseMb: r.rssAddedAfterUseMb,
    liveAddedAfterUseMb: r.liveAddedAfterUseMb,
    usPerKiB: r.usPerKiB,
    usPerKiBAgain: r.usPerKiBAgain,
    error: errors(r.counts, real, r.candidate.startsWith('estimator') ? odd : all),
  }));
  if (args.includes('--json')) {
    console.log(JSON.stringify({ texts: corpus.all.length, estimatorWeights: Object.fromEntries(FEATURES.map((f, i) => [f, weights[i]])), table }, null, 2));
    return;
  }
  const bytes = Object.fromEntries(CLASSES.map((c) => [c, corpus.byClass[c].length]));
  console.log(`Medians of ${rounds} interleaved rounds. Corpus: ${corpus.all.length} texts (1 KiB samples: ${JSON.stringify(bytes)}, plus ${corpus.all.length - CLASSES.reduce((s, c) => s + bytes[c], 0)} hard cases). Node ${process.version}.`);
  console.log('µs per KiB (after a warm-up on other samples of each class): first pass over text not seen before (second pass over the same, caches warm). Error against the real o200k count (tiktoken\'s, OpenAI\'s Rust core) per text.\n');
  console.log('| candidate | RSS added, loaded | RSS added, after use | live heap+external after use | load ms | prose µs/KiB | code | CJK | JSON | exact texts | worst under | worst over | mean abs error |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of table) {
    const us = (c: TextClass): string => `${r.usPerKiB[c].toFixed(0)} (${r.usPerKiBAgain[c].toFixed(0)})`;
    console.log(
      `| ${r.candidate} | ${r.rssAddedMb.toFixed(1)} MB | ${r.rssAddedAfterUseMb.toFixed(1)} MB | ${r.liveAddedAfterUseMb.toFixed(1)} MB | ${r.loadMs.toFixed(0)} | ${us('prose')} | ${us('code')} | ${us('cjk')} | ${us('json')} | ${(r.error.exact * 100).toFixed(1)} % | ${pct(r.error.worstUnder)} | ${pct(r.error.worstOver)} | ${(r.error.meanAbs * 100).toFixed(1)} % |`,
    );
  }
  console.log(`\nEstimator (scored on the half it was not fitted on): tokens per character — ${FEATURES.map((f, i) => `${f} ${weights[i].toFixed(3)}`).join(', ')}; the safe variant scales these by ${scale.toFixed(2)} (no calibration text under).`);
}

await main();
