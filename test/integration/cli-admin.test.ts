// The built `floodgate` CLI's admin commands as a user runs them (`node dist/main.js …`): accounts credit,
// show, set-tier, limits, ledger, keys create with limits, usage — and a running gateway's admin API sees
// what the CLI did to the store, because both run the same operations on it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, rawRequest, spawnCli } from '../helpers/gateway.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-cli-admin-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], dataDir: string) {
  return spawnSync(process.execPath, [CLI, ...args, '--data-dir', dataDir], { encoding: 'utf8', env: { ...process.env, USER: 'tester' }, timeout: 20_000 });
}

describe('floodgate admin commands (built CLI)', () => {
  it('manages credit, tier, limits and keys on the store; the admin API of a gateway on that store agrees', async () => {
    const dataDir = tempDir();
    // The first start makes the default account and prints the admin token.
    const server = await spawnCli(['serve', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/);
    try {
      const token = server.output.find((l) => l.startsWith('Admin token: '))!.slice('Admin token: '.length);

      const created = run(['accounts', 'create', '--name', 'acme', '--tier', 'standard', '--credit', '5'], dataDir);
      expect(created.status, created.stderr).toBe(0);
      const id = created.stdout.trim();
      expect(id).toMatch(/^acct_/);

      const credit = run(['accounts', 'credit', 'acme', '--amount', '2.50', '--reason', 'invoice 7'], dataDir);
      expect(credit.status, credit.stderr).toBe(0);
      expect(credit.stdout).toContain(`credit 2.500000 on ${id} (acme): balance 7.500000`);
      expect(run(['accounts', 'set-tier', 'acme', 'enterprise'], dataDir).stdout).toContain('tier standard → enterprise');
      expect(run(['accounts', 'limits', 'acme', '--rpm', '7'], dataDir).stdout).toContain('requests/min 7 (own)');

      const key = run(['keys', 'create', '--account', 'acme', '--rpm', '5'], dataDir);
      expect(key.status, key.stderr).toBe(0);
      expect(key.stdout).toMatch(/^API key: fk-/m);

      const show = JSON.parse(run(['accounts', 'show', 'acme', '--json'], dataDir).stdout);
      expect(show).toMatchObject({ id, tier: 'enterprise', balance_micros: 7_500_000, limits: { requests_per_minute: 7 } });

      const ledger = JSON.parse(run(['accounts', 'ledger', 'acme', '--json'], dataDir).stdout);
      expect(ledger.data.map((e: any) => [e.amount, e.actor])).toEqual([
        ['2.500000', 'cli:tester'],
        ['5.000000', 'cli:tester'],
      ]);

      // The gateway's admin API reads the same store.
      const viaApi = await rawRequest(`${server.url}/admin/v1/accounts/acme`, { headers: { authorization: `Bearer ${token}` } });
      expect(viaApi.status).toBe(200);
      expect(viaApi.json()).toEqual(show);

      const usage = run(['usage', '--account', 'acme', '--json'], dataDir);
      expect(usage.status, usage.stderr).toBe(0);
      expect(JSON.parse(usage.stdout)).toMatchObject({ object: 'usage', account_id: id, bucket: 'day', totals: { requests: 0 } });
    } finally {
      await server.stop();
    }
    // About twenty CLI processes, one after another: a minute, for a loaded machine.
  }, 60_000);

  it('bad input exits 2 with the flag named; --help works on each new command', () => {
    const dataDir = tempDir();
    const bad = run(['accounts', 'credit', 'default', '--amount', '0.1234567', '--reason', 'r'], dataDir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: --amount: must have at most 6 decimal places/);
    const bucket = run(['usage', '--bucket', 'year'], dataDir);
    expect(bucket.status).toBe(2);
    expect(bucket.stderr).toMatch(/^error: --bucket: must be one of minute, hour, day/);

    // Every option is covered in-process (cli-store.test.ts); here, that the built CLI wires the commands up.
    for (const args of [['usage'], ['accounts', 'credit']]) {
      const res = spawnSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8', timeout: 20_000 });
      expect(res.status, args.join(' ')).toBe(0);
      expect(res.stdout, args.join(' ')).toMatch(/Usage: floodgate/);
    }
  });
});
