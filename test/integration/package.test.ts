// A package that installs (issue 19): `npm pack` of the repository holds what `floodgate serve` needs (the built
// code, the portal's built pages, the migrations — compiled into dist/store/migrations.js — and the examples), and
// nothing of the tests or the sources; that tarball installed into an empty folder gives a `floodgate` command that
// prints the version and serves a chat request from its embedded default config, with no engine warning on
// install. Packs the dist/ the suite built (`npm test` builds before vitest runs): `--ignore-scripts` keeps `npm pack`
// from rebuilding dist/ under the other test files.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.js';

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** The environment without what an outer `npm test` sets for its own package (npm_config_*, npm_package_*). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

async function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  // At the lowest CPU priority: better-sqlite3 compiles from source here (its prebuilt binaries cannot be
  // downloaded), and the suite's other files, running beside this one, must not wait on the compiler.
  return run('nice', ['-n', '19', 'npm', ...args], { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
}

interface Served {
  child: ChildProcess;
  output: string[];
  url: string;
}

/** `floodgate serve` from the installed package's bin, ready once it prints "Floodgate listening on <url>". */
function serveInstalled(appDir: string, dataDir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const bin = join(appDir, 'node_modules', '.bin', 'floodgate');
    const child = spawn(bin, ['serve', '--port', '0', '--data-dir', dataDir], { cwd: appDir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the installed floodgate serve did not start:\n${output.join('\n')}`));
    }, 30_000);
    child.stdout!.on('data', (data: Buffer) => {
      buffered += data.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        const url = /^Floodgate listening on (https?:\/\/\S+)/.exec(line)?.[1];
        if (url) {
          clearTimeout(timer);
          resolve({ child, output, url });
        }
      }
    });
    child.stderr!.on('data', (data: Buffer) => output.push(data.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the installed floodgate serve exited with ${code}:\n${output.join('\n')}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

describe('the npm package', () => {
  let root: string;
  let appDir: string;
  let packed: string[];
  let installLog: string;
  let served: Served | undefined;

  beforeAll(async () => {
    for (const built of ['dist/main.js', 'dist/web/index.html', 'dist/store/migrations.js']) {
      if (!existsSync(join(REPO_ROOT, built))) throw new Error(`${built} is missing: run npm run build first (npm test does)`);
    }
    root = mkdtempSync(join(tmpdir(), 'floodgate-package-'));
    appDir = join(root, 'app');
    const pack = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', root], REPO_ROOT);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = info!.files.map((f) => f.path);
    mkdirSync(appDir);
    await npm(['init', '-y'], appDir);
    // The registry serves the dependencies (from npm's cache when it has them). better-sqlite3 downloads its
    // prebuilt binding, or compiles it where GitHub is out of reach (a minute or more on two cores): hence the timeout.
    const install = await npm(['install', join(root, info!.filename), '--no-audit', '--no-fund', '--prefer-offline'], appDir);
    installLog = `${install.stdout}\n${install.stderr}`;
  }, 420_000);

  afterAll(async () => {
    if (served) await stop(served.child);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('holds the built code, the portal pages, the migrations and the examples, and no tests, sources or maps', () => {
    for (const file of ['package.json', 'README.md', 'dist/main.js', 'dist/cli/serve.js', 'dist/store/migrations.js', 'dist/store/sqlite-writer.js', 'dist/web/index.html', 'examples/embedded-default.yaml']) {
      expect(packed, file).toContain(file);
    }
    expect(packed.some((f) => f.startsWith('dist/web/assets/') && f.endsWith('.js')), 'the portal bundle').toBe(true);
    const unwanted = packed.filter((f) => /^(test|src|web|bench|node_modules)\//.test(f) || f.endsWith('.map') || f.startsWith('dist/bench/'));
    expect(unwanted).toEqual([]);
  });

  it('installs without an engine warning on this Node', () => {
    expect(installLog).not.toMatch(/EBADENGINE/);
  });

  it('`npx floodgate --version` and `-V` print the version', async () => {
    const long = await run('npx', ['--no-install', 'floodgate', '--version'], { cwd: appDir, env: cleanEnv() });
    expect(long.stdout.trim()).toBe(version);
    const short = await run(join(appDir, 'node_modules', '.bin', 'floodgate'), ['-V'], { cwd: appDir, env: cleanEnv() });
    expect(short.stdout.trim()).toBe(version);
  });

  it('`floodgate serve` from the installed package answers a chat request with the key it printed', async () => {
    served = await serveInstalled(appDir, join(root, 'data'));
    const apiKey = served.output.find((line) => line.startsWith('API key: '))?.slice('API key: '.length).trim();
    expect(apiKey, served.output.join('\n')).toBeTruthy();
    const client = new OpenAI({ baseURL: `${served.url.replace(/\/v1$/, '')}/v1`, apiKey: apiKey!, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 8 });
    expect(completion.choices[0]!.message.content).toBeTruthy();
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    await stop(served.child);
    expect(served.child.exitCode, served.output.join('\n')).toBe(0);
    served = undefined;
  });
});
