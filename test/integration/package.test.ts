// A package that installs (issue 19): `npm pack` of the repository holds what `floodgate serve` needs (the built
// code, the portal's built pages, the migrations — compiled into dist/store/migrations.js — and the examples), and
// nothing of the tests or the sources; that tarball installed into an empty folder gives a `floodgate` command that
// prints the version and serves a chat request from its embedded default config, with no engine warning on
// install. Packs the dist/ the suite built (`npm test` builds before vitest runs): `--ignore-scripts` keeps `npm pack`
// from rebuilding dist/ under the other test files.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnServer, type ChildServer } from '../helpers/gateway.js';

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

describe('the npm package', () => {
  let root: string;
  let appDir: string;
  let packed: string[];
  let installLog: string;
  let served: ChildServer | undefined;

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
    if (served) await served.stop();
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
    // The installed package's own bin, in the folder it was installed into.
    served = await spawnServer(join(appDir, 'node_modules', '.bin', 'floodgate'), ['serve', '--port', '0', '--data-dir', join(root, 'data')], /^Floodgate listening on /, {
      env: cleanEnv(),
      cwd: appDir,
      what: 'the installed floodgate serve',
      timeoutMs: 30_000,
    });
    const apiKey = served.output.find((line) => line.startsWith('API key: '))?.slice('API key: '.length).trim();
    expect(apiKey, served.output.join('\n')).toBeTruthy();
    const client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: apiKey!, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 8 });
    expect(completion.choices[0]!.message.content).toBeTruthy();
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    await served.stop();
    expect(served.process.exitCode, served.output.join('\n')).toBe(0);
    served = undefined;
  });
});
