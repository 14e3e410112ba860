// Every example in the docs is run (issue 19 item 4), so that a doc cannot rot. The fenced blocks of
// README.md and docs/*.md (but the generated configuration.md and errors.md) are read by language:
// - ```sh / ```bash: a block with curl lines is run by bash against a real gateway (the built CLI's
//   `floodgate serve` on the embedded default and its simulator, 127.0.0.1, a free port, a fresh data
//   directory), its `http://127.0.0.1:8080` replaced by that gateway's address and its `VAR=fk-…`
//   placeholders by what the first start printed; every curl must answer 2xx. A block of `npx floodgate …`
//   commands is run by the built CLI on a fresh data directory of its own. A block of npm / build / bench
//   commands is not run (they build the project, serve on the default port or run a benchmark) but must
//   be only that; any other block fails until it is made runnable or marked `# excerpt`.
// - ```js / ```javascript / ```mjs: written to an .mjs file under node_modules/.cache (so that `openai`
//   and `@anthropic-ai/sdk` resolve as in a user's project) and run by node against the same gateway.
// - ```python / ```py: compiled (`python3 -m py_compile`), and run against the gateway when python3 has
//   the `openai` package (else that test says it is skipped and why).
// - ```yaml / ```yml: checked by the config loader (resolveConfig) as the embedded default with the
//   block's top-level sections in place of its own (a block with `providers` or `models` brings the whole
//   catalog); `${VAR}`s without a default are given a value.
// - The first-start output shown in an unlabelled block (`API key: fk-…` …) must match what `serve` prints.
// A block whose first line is `# excerpt` is an excerpt, not run, and listed in the output.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveConfig } from '../../src/config/load.js';
import { EMBEDDED_DEFAULT } from '../../src/config/embedded-default.js';
import type { SimulatorProviderConfig } from '../../src/config/schema.js';
import { CLI, REPO_ROOT, spawnServer, type ChildServer } from '../helpers/gateway.js';
import { printedValue } from '../helpers/examples.js';

const run = promisify(execFile);

/** The address the docs' examples use; replaced by the test gateway's. */
const DOC_BASE = 'http://127.0.0.1:8080';

const PAGES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'configuration.md' && f !== 'errors.md').sort().map((f) => `docs/${f}`)];

type Lang = 'sh' | 'js' | 'python' | 'yaml' | 'text';
const LANGS: Record<string, Lang> = { sh: 'sh', bash: 'sh', shell: 'sh', js: 'js', javascript: 'js', mjs: 'js', python: 'python', py: 'python', yaml: 'yaml', yml: 'yaml', '': 'text' };

interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: Lang;
  code: string;
  where: string;
}

/** The fenced code blocks of a markdown page, in the languages above (others are left out). */
function codeBlocks(page: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    const lang = LANGS[info.toLowerCase()];
    if (lang !== undefined) blocks.push({ page, line: i + 1, lang, code: body.join('\n'), where: `${page}:${i + 1} (${info || 'plain'})` });
    i = j;
  }
  return blocks;
}

const BLOCKS = PAGES.flatMap((page) => codeBlocks(page, readFileSync(join(REPO_ROOT, page), 'utf8')));

const isExcerpt = (b: Block) => /^\s*(#|\/\/)\s*excerpt\b/i.test(b.code);

/** A shell block's commands: continuation lines joined, blank and comment-only lines dropped. */
function shellCommands(code: string): string[] {
  return code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** How many times a shell block calls curl (a command of its own, or inside `$(…)`). */
function curlCalls(code: string): number {
  return shellCommands(code).reduce((n, command) => n + (command.match(/(?:^|\$\(|[;&|]\s*)curl\s/g)?.length ?? 0), 0);
}

type ShellKind = 'curl' | 'cli' | 'build' | 'excerpt' | 'unknown';
function shellKind(b: Block): ShellKind {
  if (isExcerpt(b)) return 'excerpt';
  const commands = shellCommands(b.code);
  if (curlCalls(b.code) > 0) return 'curl';
  if (commands.length > 0 && commands.every((c) => /^npx floodgate\s/.test(c))) return 'cli';
  // Building, serving on the default port, the suite or a benchmark: not run here (the suite itself is
  // what builds, and the benchmarks have their own tests).
  if (commands.length > 0 && commands.every((c) => /^(?:[A-Z_]+=\S+\s+)*(?:npm\s|node dist\/bench\/)/.test(c))) return 'build';
  return 'unknown';
}

const SH = BLOCKS.filter((b) => b.lang === 'sh');
const JS = BLOCKS.filter((b) => b.lang === 'js' && !isExcerpt(b));
const PY = BLOCKS.filter((b) => b.lang === 'python' && !isExcerpt(b));
const YAML = BLOCKS.filter((b) => b.lang === 'yaml' && !isExcerpt(b));
const FIRST_START = BLOCKS.filter((b) => b.lang === 'text' && /^API key: /.test(b.code));
const EXCERPTS = BLOCKS.filter(isExcerpt);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Placeholders in a command that stand for an id an earlier command of the block printed. */
const ID_PLACEHOLDERS: Record<string, string> = { 'key_…': 'key_[A-Za-z0-9]{20}' };

/**
 * The process environment without proxies (everything here talks to 127.0.0.1 only) and without any
 * FLOODGATE_* variable of the outer shell (a config, port or key there would change what is run).
 */
function localEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name) && !name.startsWith('FLOODGATE_')));
  return { ...env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', ...extra };
}

// curl and npx as the blocks call them: curl only to the test gateway, silent but for errors, failing on
// an HTTP error (with its body), each status on stderr; `npx floodgate` as the built CLI on the block's
// data directory. Everything they print is also kept in $FG_LOG for `fg_last`, which finds an id.
const PRELUDE = [
  'set -euo pipefail',
  'curl() {',
  '  local arg url=""',
  '  for arg in "$@"; do',
  '    case "$arg" in',
  '      http://*|https://*)',
  '        case "$arg" in "$FG_BASE"/*) url="$arg" ;; *) echo "docs example: $arg is not the test gateway" >&2; return 97 ;; esac ;;',
  '    esac',
  '  done',
  '  [ -n "$url" ] || { echo "docs example: a curl without the test gateway\'s URL" >&2; return 97; }',
  '  command curl -sS --fail-with-body -w \'%{stderr}HTTP %{http_code}\\n\' "$@" | tee -a "$FG_LOG"',
  '}',
  'npx() {',
  '  [ "$1" = floodgate ] || { echo "docs example: npx $1 is not run here" >&2; return 97; }',
  '  shift',
  '  "$FG_NODE" "$FG_CLI" "$@" --data-dir "$FG_DATA_DIR" | tee -a "$FG_LOG"',
  '}',
  'fg_last() { grep -oE "$1" "$FG_LOG" | tail -n 1; }',
  '',
].join('\n');

/**
 * The block as a bash script: the docs' address replaced by `base`, `VAR=…` placeholder lines dropped
 * (the variable must be one of `vars`, which the environment gives), `key_…` replaced by the last key id
 * printed. A placeholder left over is an error: the test would not know what to put there.
 */
function shellScript(b: Block, base: string, vars: Record<string, string>): string {
  const lines: string[] = [];
  for (const line of b.code.split('\n')) {
    const assignment = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=\S*…\S*\s*(?:#.*)?$/.exec(line);
    if (assignment) {
      if (!(assignment[1] in vars)) throw new Error(`${b.where}: the placeholder ${assignment[1]}=… is not one the test fills in (${Object.keys(vars).join(', ')})`);
      continue;
    }
    let out = line.split(DOC_BASE).join(base);
    for (const [placeholder, pattern] of Object.entries(ID_PLACEHOLDERS)) out = out.split(placeholder).join(`$(fg_last '${pattern}')`);
    const code = out.replace(/(^|\s)#.*$/, '');
    if (code.includes('…')) throw new Error(`${b.where}: a placeholder the test cannot fill in: ${line.trim()}`);
    lines.push(out);
  }
  return PRELUDE + lines.join('\n') + '\n';
}

/** What a curl block's answers must hold, by what the block asks for. */
const CURL_CHECKS: [RegExp, RegExp][] = [
  [/\/v1\/chat\/completions/, /"object":"chat\.completion"/],
  [/"stream": ?true/, /^data: \[DONE\]$/m],
  [/-X POST \S*\/admin\/v1\/accounts /, /"object":"account"/],
  [/\/credits /, /"balance":"\d+\.\d{6}"/],
  [/\/accounts\/[^/\s]+\/keys /, /"key":"fk-[A-Za-z0-9]{40}"/],
  [/\/disable /, /"status":"disabled"/],
  [/\/admin\/v1\/usage/, /"object":"usage"/],
  [/\/api\/session\/admin/, /"csrf_token":"/],
  [/\/redemption-codes/, /"codes":\[/],
];

/** What a CLI block's output must hold, by the commands it runs. */
const CLI_CHECKS: [RegExp, RegExp][] = [
  [/keys create/, /^API key: fk-[A-Za-z0-9]{40}$/m],
  [/keys disable/, /^disabled key_/m],
  [/accounts credit/, /balance \d+\.\d{6}/],
  [/\bmigrate\b/, /migrations|up to date/],
];

interface ExecError {
  code?: number | string;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}
/** A failed run, with what it printed (not the script: the block is in the docs at `where`). */
function failure(b: Block, err: ExecError): Error {
  return new Error(`${b.where} failed (exit ${String(err.code ?? err.signal)})\nstdout:\n${err.stdout ?? ''}\nstderr:\n${err.stderr ?? ''}`);
}

const tempDirs: string[] = [];
function tempDir(parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'floodgate-docs-'));
  tempDirs.push(dir);
  return dir;
}

let server: ChildServer;
let apiKey: string;
let adminToken: string;
/** Where the JS and Python examples are written: inside the repository, so that imports resolve from its node_modules. */
let scriptDir: string;

beforeAll(async () => {
  const cache = join(REPO_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  scriptDir = tempDir(cache);
  const dataDir = tempDir();
  // `floodgate serve` as the README starts it (the embedded default: no config file in its folder), on a free port.
  server = await spawnServer(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/, {
    env: localEnv(),
    cwd: tempDir(),
    what: 'floodgate serve',
  });
  apiKey = printedValue(server, 'API key') ?? '';
  adminToken = printedValue(server, 'Admin token') ?? '';
  expect(apiKey).toMatch(/^fk-/);
  expect(adminToken).toMatch(/^fga_/);
});

afterAll(async () => {
  await server?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('the docs’ examples', () => {
  it('are found: curl, JavaScript, Python and config examples, each block classified', () => {
    const kinds = SH.map((b) => [b.where, shellKind(b)] as const);
    expect(kinds.filter(([, k]) => k === 'curl').length).toBeGreaterThanOrEqual(3);
    expect(JS.length).toBeGreaterThanOrEqual(2);
    expect(PY.length).toBeGreaterThanOrEqual(1);
    expect(YAML.length).toBeGreaterThanOrEqual(5);
    expect(FIRST_START.length).toBeGreaterThanOrEqual(1);
    // A shell block is run, or is build/bench commands, or says it is an excerpt: nothing else.
    expect(kinds.filter(([, k]) => k === 'unknown').map(([where]) => where)).toEqual([]);
    const notRun = [...kinds.filter(([, k]) => k === 'build' || k === 'excerpt').map(([w, k]) => `${w}: ${k}`), ...EXCERPTS.filter((b) => b.lang !== 'sh').map((b) => `${b.where}: excerpt`)];
    console.log(`docs examples not run:\n  ${notRun.join('\n  ')}`);
  });

  for (const b of FIRST_START) {
    it(`${b.where}: the first start's output is what serve prints`, () => {
      for (const line of b.code.split('\n').filter((l) => l.trim() !== '')) {
        // `…` stands for anything without a space; the docs' address for the test gateway's.
        const body = line
          .trim()
          .split(DOC_BASE)
          .map((part) => part.split('…').map(escapeRegExp).join('\\S+'))
          .join(escapeRegExp(server.url));
        const pattern = new RegExp(`^${body}$`);
        expect(
          server.output.some((out) => pattern.test(out)),
          `${b.where}: "${line}" is not in the output:\n${server.output.join('\n')}`,
        ).toBe(true);
      }
    });
  }

  for (const b of SH.filter((b) => shellKind(b) === 'curl')) {
    it(`${b.where}: the curl commands answer 2xx`, async () => {
      const cwd = tempDir();
      const log = join(cwd, 'fg.log');
      writeFileSync(log, '');
      const vars = { FLOODGATE_API_KEY: apiKey, ADMIN: adminToken };
      const script = shellScript(b, server.url, vars);
      const result = await run('bash', ['-c', script], {
        cwd,
        env: localEnv({ ...vars, FG_BASE: server.url, FG_LOG: log, FG_NODE: process.execPath, FG_CLI: CLI, FG_DATA_DIR: join(cwd, 'data') }),
        timeout: 30_000,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: ExecError) => {
        throw failure(b, err);
      });
      const statuses = [...result.stderr.matchAll(/^HTTP (\d{3})$/gm)].map((m) => Number(m[1]));
      expect(statuses.length, `${b.where}: one status per curl\n${result.stderr}`).toBe(curlCalls(b.code));
      // Every answer, also those a command substitution took in (the log has them all).
      const answers = readFileSync(log, 'utf8');
      for (const status of statuses) expect(status, answers).toBeGreaterThanOrEqual(200);
      for (const status of statuses) expect(status, answers).toBeLessThan(300);
      for (const [asks, holds] of CURL_CHECKS) if (asks.test(b.code)) expect(answers, `${b.where}: ${String(asks)}`).toMatch(holds);
    });
  }

  for (const b of SH.filter((b) => shellKind(b) === 'cli')) {
    it(
      `${b.where}: the CLI commands run on a fresh store`,
      async () => {
        const cwd = tempDir();
        const log = join(cwd, 'fg.log');
        writeFileSync(log, '');
        const script = shellScript(b, server.url, {});
        const result = await run('bash', ['-c', script], {
          cwd,
          env: localEnv({ USER: 'docs', FG_BASE: server.url, FG_LOG: log, FG_NODE: process.execPath, FG_CLI: CLI, FG_DATA_DIR: join(cwd, 'data') }),
          timeout: 60_000,
          maxBuffer: 16 * 1024 * 1024,
        }).catch((err: ExecError) => {
          throw failure(b, err);
        });
        for (const [asks, holds] of CLI_CHECKS) if (asks.test(b.code)) expect(result.stdout, `${b.where}: ${String(asks)}`).toMatch(holds);
      },
      60_000,
    );
  }

  for (const b of JS) {
    it(`${b.where}: the JavaScript runs with node against the gateway`, async () => {
      expect(b.code, `${b.where}: the example should use ${DOC_BASE}`).toContain(DOC_BASE);
      const file = join(scriptDir, `${b.page.replace(/\W/g, '-')}-${b.line}.mjs`);
      writeFileSync(file, b.code.split(DOC_BASE).join(server.url));
      const { stdout } = await run(process.execPath, [file], { cwd: scriptDir, env: localEnv({ FLOODGATE_API_KEY: apiKey }), timeout: 30_000 }).catch(
        (err: ExecError) => {
          throw failure(b, err);
        },
      );
      const lines = stdout.split('\n').filter((l) => l.trim() !== '');
      // One printed line per console.log / stream at least, and nothing empty where an answer should be.
      expect(lines.length, stdout).toBeGreaterThanOrEqual((b.code.match(/console\.log\(/g) ?? []).length);
      if (/embeddings\.create/.test(b.code)) expect(lines.at(-1), stdout).toBe(String((EMBEDDED_DEFAULT.providers.sim as SimulatorProviderConfig).embedding_dimensions));
      if (/stream: true/.test(b.code)) expect(lines.length, stdout).toBeGreaterThanOrEqual((b.code.match(/console\.log\(/g) ?? []).length + 1);
      if (/messages\.create/.test(b.code)) expect(stdout).toMatch(/type: 'text'/);
    });
  }

  const pythonHasOpenAI = spawnSync('python3', ['-c', 'import openai'], { stdio: 'ignore' }).status === 0;

  for (const b of PY) {
    it(`${b.where}: the Python compiles`, async () => {
      const file = join(scriptDir, `${b.page.replace(/\W/g, '-')}-${b.line}.py`);
      writeFileSync(file, b.code);
      await run('python3', ['-m', 'py_compile', file], { timeout: 20_000 }).catch((err: { stderr?: string; message: string }) => {
        throw new Error(`${b.where} does not compile: ${err.message}\n${err.stderr ?? ''}`);
      });
    });

    it.skipIf(!pythonHasOpenAI)(
      `${b.where}: the Python runs against the gateway${pythonHasOpenAI ? '' : ' (skipped: python3 has no `openai` package here; pip install openai to run it)'}`,
      async () => {
        expect(b.code, `${b.where}: the example should use ${DOC_BASE}`).toContain(DOC_BASE);
        const file = join(scriptDir, `${b.page.replace(/\W/g, '-')}-${b.line}-run.py`);
        writeFileSync(file, b.code.split(DOC_BASE).join(server.url));
        const { stdout } = await run('python3', [file], { cwd: scriptDir, env: localEnv({ FLOODGATE_API_KEY: apiKey }), timeout: 30_000 }).catch(
          (err: ExecError) => {
            throw failure(b, err);
          },
        );
        const lines = stdout.split('\n').filter((l) => l.trim() !== '');
        expect(lines.length, stdout).toBeGreaterThanOrEqual((b.code.match(/^print\(.+\)$/gm) ?? []).length);
      },
    );
  }

  for (const b of YAML) {
    it(`${b.where}: the config is accepted by the config loader`, () => {
      const doc = parse(b.code) as Record<string, unknown> | null;
      expect(doc !== null && typeof doc === 'object' && !Array.isArray(doc), `${b.where}: not a YAML mapping`).toBe(true);
      const base: Record<string, unknown> = structuredClone(EMBEDDED_DEFAULT);
      // A block with a catalog brings the whole of it: the default's simulator and models go.
      if ('providers' in doc! || 'models' in doc!) {
        delete base.providers;
        delete base.models;
      }
      // `${VAR}` without a default would be refused unset: each gets a value (long enough for a pepper).
      const env: NodeJS.ProcessEnv = {};
      for (const m of b.code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]] = 'docs-example-value-0123456789';
      expect(() => resolveConfig({ ...base, ...doc! }, b.where, {}, env)).not.toThrow();
    });
  }
});
