// The built `floodgate` CLI as a user runs it: serve prints the first key and admin token once, the key
// works, bad config exits 2, --help works everywhere.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, spawnCli } from '../helpers/gateway.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
}

describe('floodgate CLI', () => {
  it('serves the embedded default and prints the API key and admin token on the first start only', async () => {
    const dataDir = tempDir();
    const first = await spawnCli(['serve', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
    try {
      const keyLine = first.output.find((l) => l.startsWith('API key: '));
      const tokenLine = first.output.find((l) => l.startsWith('Admin token: '));
      expect(keyLine).toMatch(/^API key: fk-[A-Za-z0-9]{40}$/);
      expect(tokenLine).toMatch(/^Admin token: \S{20,}$/);
      const apiKey = keyLine!.slice('API key: '.length);
      const client = new OpenAI({ baseURL: `${first.url}/v1`, apiKey, maxRetries: 0 });
      const res = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 });
      expect(res.choices[0].message.content).toBeTruthy();
    } finally {
      await first.stop();
    }
    expect(first.process.exitCode).toBe(0);
    const second = await spawnCli(['serve', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
    await second.stop();
    expect(second.output.some((l) => l.includes('API key:') || l.includes('Admin token:'))).toBe(false);
  });

  it('exits 2 with the field path on a bad config', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'providers:\n  sim: { type: simulator }\nmodels:\n  - id: m\n    category: text\n    deployments: [{ provider: vlm }]\n');
    const res = run(['serve', '--config', file, '--data-dir', dir]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('models[0].deployments[0].provider: unknown provider "vlm" (known: sim)');
    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'models: [\n');
    expect(run(['serve', '--config', yaml]).status).toBe(2);
    expect(run(['serve', '--config', join(dir, 'missing.yaml')]).status).toBe(2);
  });

  it('exits 2 on bad usage and 0 with --help on every command', () => {
    expect(run(['serve', '--port', 'abc']).status).toBe(2);
    expect(run(['no-such-command']).status).toBe(2);
    for (const args of [['--help'], ['serve', '--help'], ['simulate', '--help'], ['keys', '--help'], ['keys', 'create', '--help'], ['accounts', '--help'], ['migrate', '--help'], ['admin-token', '--help']]) {
      const res = run(args);
      expect(res.status, args.join(' ')).toBe(0);
      expect(res.stdout, args.join(' ')).toMatch(/Usage: floodgate/);
    }
  });

  it('manages accounts and keys on the store', async () => {
    const dataDir = tempDir();
    const created = run(['accounts', 'create', '--name', 'acme', '--data-dir', dataDir]);
    expect(created.status, created.stderr).toBe(0);
    const key = run(['keys', 'create', '--account', 'acme', '--name', 'ci', '--data-dir', dataDir]);
    expect(key.status, key.stderr).toBe(0);
    const apiKey = /API key: (fk-[A-Za-z0-9]+)/.exec(key.stdout)![1];
    const listed = run(['keys', 'list', '--json', '--data-dir', dataDir]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).not.toContain(apiKey);
    const keys = JSON.parse(listed.stdout) as { id: string; name: string }[];
    const id = keys.find((k) => k.name === 'ci')!.id;

    const server = await spawnCli(['serve', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
      expect((await client.models.list()).data.length).toBeGreaterThan(0);
      expect(run(['keys', 'disable', id, '--data-dir', dataDir]).status).toBe(0);
      await new Promise((r) => setTimeout(r, 1100));
      await expect(client.models.list()).rejects.toMatchObject({ status: 403 });
    } finally {
      await server.stop();
    }
  });
});
