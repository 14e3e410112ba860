// Usage records survive the end of the process (SPEC §10): SIGTERM under load drains, flushes and exits 0
// with a record for every 200; SIGKILL loses at most the records of requests that ended within the last
// usage.flush_ms (plus one batch write) before the kill — the bound the README states.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { spawnCli, type ChildServer } from '../helpers/gateway.js';

const FLUSH_MS = 300;
/** Time allowed for settlement after the client has its response, and for one batch write. */
const WRITE_MARGIN_MS = 250;

const dirs: string[] = [];
const servers: ChildServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL');
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startServer(): Promise<{ server: ChildServer; apiKey: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-shutdown-'));
  dirs.push(dataDir);
  const configFile = join(dataDir, 'floodgate.yaml');
  writeFileSync(
    configFile,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      `data_dir: ${dataDir}`,
      'logging: { level: warn }',
      'limits: { default_tier: big, tiers: { big: { requests_per_minute: 1000000, tokens_per_minute: 1000000000, concurrent_requests: 1000 } } }',
      'billing: { initial_credit: 1000 }',
      `usage: { flush_ms: ${FLUSH_MS}, max_batch: 10000 }`,
      'providers: { sim: { type: simulator, ttft_ms: 20, tokens_per_second: 0 } }',
      'models:',
      '  - { id: sim-chat, category: text, defaults: { max_tokens: 32 }, pricing: { input: 0.5, output: 1.5 }, deployments: [{ provider: sim }] }',
      '',
    ].join('\n'),
  );
  const server = await spawnCli(['serve', '--config', configFile], /Floodgate listening on/);
  servers.push(server);
  const apiKey = server.output.find((l) => l.startsWith('API key: '))!.slice('API key: '.length);
  return { server, apiKey, dataDir };
}

interface Completed {
  requestId: string;
  at: number;
}

/** `workers` loops of requests until `stop()`; returns the 200s with the time each response arrived. */
function load(url: string, apiKey: string, workers: number) {
  const completed: Completed[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const requestId = `shutdown-${process.pid}-${n++}`;
      try {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'x-request-id': requestId },
          body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'hello' }], stream: n % 2 === 0 }),
        });
        const text = await res.text();
        if (res.status === 200 && (!text.startsWith('data:') || text.includes('[DONE]'))) completed.push({ requestId, at: Date.now() });
      } catch {
        // The server is going away: connection refused or reset.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    completed,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

function exited(server: ChildServer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (server.process.exitCode !== null || server.process.signalCode !== null) resolve({ code: server.process.exitCode, signal: server.process.signalCode });
    else server.process.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function recordedIds(dataDir: string): Promise<Set<string>> {
  const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
  try {
    const rows = await store.db.selectFrom('usage_records').select('request_id').execute();
    return new Set(rows.map((r) => r.request_id));
  } finally {
    await store.close();
  }
}

describe('shutdown', () => {
  it('SIGTERM under load: in-flight requests finish, every 200 has its usage record, exit 0', async () => {
    const { server, apiKey, dataDir } = await startServer();
    const traffic = load(server.url, apiKey, 16);
    await new Promise((r) => setTimeout(r, 1500));
    server.process.kill('SIGTERM');
    const exit = await exited(server);
    await traffic.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(traffic.completed.length).toBeGreaterThan(50);
    const ids = await recordedIds(dataDir);
    const missing = traffic.completed.filter((c) => !ids.has(c.requestId));
    expect(missing).toEqual([]);
  });

  it('SIGKILL under load loses no record of a request that ended more than flush_ms before the kill', async () => {
    const { server, apiKey, dataDir } = await startServer();
    const traffic = load(server.url, apiKey, 16);
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    server.process.kill('SIGKILL');
    await exited(server);
    await traffic.stop();
    const ids = await recordedIds(dataDir);
    const old = traffic.completed.filter((c) => c.at < killedAt - FLUSH_MS - WRITE_MARGIN_MS);
    expect(old.length).toBeGreaterThan(50);
    expect(old.filter((c) => !ids.has(c.requestId))).toEqual([]);
    // What the bound allows to be lost is only what ended just before the kill.
    const lost = traffic.completed.filter((c) => !ids.has(c.requestId));
    for (const c of lost) expect(c.at).toBeGreaterThanOrEqual(killedAt - FLUSH_MS - WRITE_MARGIN_MS);
  });
});
