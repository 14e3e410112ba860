// `floodgate serve --workers N` (SPEC §11): one port served by N processes sharing Redis; the first-start
// credentials printed once by the primary; a worker that dies restarted; SIGTERM to the primary drains
// every worker (in-flight streams finish) and exits 0; without redis.url, --workers 2 refuses to start.
// A worker killed while connections arrive leaves none of them hanging, and the merged /metrics counters
// never go down across its death and restart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import { openStore } from '../../src/store/database.js';
import { spawnCli, sseData, testConfig, type ChildServer } from '../helpers/gateway.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const dirs: string[] = [];
const servers: ChildServer[] = [];
const prefix = uniquePrefix('workers');

afterAll(async () => {
  for (const s of servers) if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await deletePrefix(prefix);
});

/** A config file (JSON is YAML) of the embedded default's simulator catalog, plus a slow streaming model. */
function writeConfig(extra: Partial<RawConfig>): { file: string; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'floodgate-workers-'));
  dirs.push(dataDir);
  const config = testConfig({ data_dir: dataDir, logging: { level: 'info' }, ...extra });
  config.providers = { ...config.providers, slow: { type: 'simulator', ttft_ms: 10, tokens_per_second: 20, output_tokens: [20, 20] } };
  config.models = [...config.models, { id: 'slow-chat', category: 'text', pricing: { input: 1, output: 1 }, deployments: [{ provider: 'slow' }] }];
  const file = join(dataDir, 'floodgate.yaml');
  writeFileSync(file, JSON.stringify(config));
  return { file, dataDir };
}

function exited(child: ChildServer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) resolve({ code: child.process.exitCode, signal: child.process.signalCode });
    else child.process.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** A chat completion on a connection of its own (the cluster spreads connections, not requests). */
function chat(url: string, apiKey: string, body: Record<string, unknown>, requestId: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${url}/v1/chat/completions`,
      {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-request-id': requestId },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function logLines(child: ChildServer): Record<string, unknown>[] {
  return child.output.flatMap((chunk) => chunk.split('\n')).flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
}

/** The pids that served requests, from the request log lines. */
function servingPids(child: ChildServer, ids: Set<string>): Set<number> {
  return new Set(logLines(child).flatMap((l) => (l.msg === 'request' && ids.has(l.request_id as string) ? [l.pid as number] : [])));
}

async function until(what: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The primary's child processes: its workers. */
function workerPids(primary: ChildServer): number[] {
  const pid = primary.process.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The sum of every floodgate_requests_total series of a scrape (which one worker answers for all). */
function requestsTotal(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${url}/metrics`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`/metrics answered ${res.statusCode}: ${text}`));
        resolve(text.split('\n').reduce((sum, line) => (line.startsWith('floodgate_requests_total{') ? sum + Number(line.slice(line.lastIndexOf(' ') + 1)) : sum), 0));
      });
    })
      .on('error', reject)
      .end();
  });
}

describe('serve --workers', () => {
  it('refuses --workers 2 without redis.url: exit 1, naming redis.url', async () => {
    const { file } = writeConfig({});
    await expect(spawnCli(['serve', '--workers', '2', '--config', file], /Floodgate listening on/)).rejects.toThrow(/exited with 1[\s\S]*redis\.url/);
  });

  it('serves one port from two workers, prints the first key once, restarts a dead worker, drains all on SIGTERM', async () => {
    const { file, dataDir } = writeConfig({ redis: { url: SHARED_REDIS_URL, key_prefix: prefix } });
    const primary = await spawnCli(['serve', '--workers', '2', '--config', file], /Floodgate listening on/);
    servers.push(primary);
    const lines = () => primary.output.flatMap((chunk) => chunk.split('\n'));
    expect(lines().filter((l) => l.startsWith('API key: '))).toHaveLength(1);
    expect(lines().filter((l) => l.startsWith('Admin token: '))).toHaveLength(1);
    expect(lines().filter((l) => l.startsWith('Floodgate listening on'))).toEqual([expect.stringContaining('2 workers')]);
    const apiKey = lines().find((l) => l.startsWith('API key: '))!.slice('API key: '.length);

    // Both workers serve: distinct pids in the request lines, neither the primary's.
    const ids = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const id = `w-${process.pid}-${i}`;
      ids.add(id);
      const res = await chat(primary.url, apiKey, { model: 'sim-chat', messages: [{ role: 'user', content: `hi ${i}` }], max_tokens: 8 }, id);
      expect(res.status).toBe(200);
    }
    await until(() => servingPids(primary, ids).size === 2, 3000);
    const pids = [...servingPids(primary, ids)];
    expect(pids).not.toContain(primary.process.pid);

    // A worker killed outright is replaced; the listening line is not printed again. (Killed once its
    // records are written and its log lines out: a SIGKILL loses what ended within usage.flush_ms.)
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(pids[0], 'SIGKILL');
    await until(() => logLines(primary).some((l) => l.msg === 'worker exited unexpectedly; restarting it' && l.worker_pid === pids[0]), 3000);
    const after = new Set<string>();
    for (let i = 0; i < 200 && servingPids(primary, after).size < 2; i++) {
      const id = `after-${process.pid}-${i}`;
      after.add(id);
      await chat(primary.url, apiKey, { model: 'sim-chat', messages: [{ role: 'user', content: 'again' }], max_tokens: 4 }, id).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    const newPids = servingPids(primary, after);
    expect(newPids.size).toBe(2);
    expect(newPids.has(pids[0])).toBe(false);
    expect(lines().filter((l) => l.startsWith('Floodgate listening on'))).toHaveLength(1);

    // SIGTERM to the primary with streams in flight on both workers: each finishes, then exit 0.
    const streamIds = Array.from({ length: 6 }, (_, i) => `drain-${process.pid}-${i}`);
    // 20 tokens at 20 a second: each stream runs about 1 s, and is a third of the way through at the signal.
    const streams = streamIds.map((id) => chat(primary.url, apiKey, { model: 'slow-chat', messages: [{ role: 'user', content: 'a story' }], stream: true }, id));
    await new Promise((r) => setTimeout(r, 300));
    primary.process.kill('SIGTERM');
    const results = await Promise.all(streams);
    for (const res of results) {
      expect(res.status).toBe(200);
      const data = sseData(res.text);
      expect(data.at(-1)).toBe('[DONE]');
      expect(data.some((d) => d.includes('"finish_reason":"stop"'))).toBe(true);
    }
    expect(await exited(primary)).toEqual({ code: 0, signal: null });
    expect(servingPids(primary, new Set(streamIds)).size).toBe(2);
    const draining = logLines(primary).filter((l) => l.msg === 'shutdown: draining');
    expect(draining.map((l) => l.pid).sort()).toEqual([...newPids].sort());
    expect(draining.reduce((n, l) => n + (l.in_flight as number), 0)).toBe(6);
    const drained = logLines(primary).filter((l) => l.msg === 'shutdown: drained');
    expect(drained.map((l) => l.cut)).toEqual([0, 0]);

    // One usage record per request that reached a worker before its end.
    const store = await openStore({ url: `sqlite:${join(dataDir, 'floodgate.db')}` });
    try {
      const rows = await store.db.selectFrom('usage_records').select(['request_id', 'status', 'settle']).execute();
      const byId = new Map(rows.map((r) => [r.request_id, r]));
      expect(rows).toHaveLength(byId.size);
      for (const id of [...ids, ...streamIds]) expect(byId.get(id)).toMatchObject({ status: 200, settle: 'complete' });
    } finally {
      await store.close();
    }
  });
  it('a worker killed as connections arrive: each is answered or closed, none hangs; merged counters never go down', async () => {
    const { file } = writeConfig({ redis: { url: SHARED_REDIS_URL, key_prefix: prefix } });
    const primary = await spawnCli(['serve', '--workers', '2', '--config', file], /Floodgate listening on/);
    servers.push(primary);
    const apiKey = primary.output.find((l) => l.startsWith('API key: '))!.slice('API key: '.length);
    const ask = (id: string) => chat(primary.url, apiKey, { model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }, id);
    let n = 0;
    /** Until both workers of the moment have served a request (a restarted one is listening again). */
    const bothServing = async (): Promise<void> => {
      const ids = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const pids = workerPids(primary);
        const served = servingPids(primary, ids);
        if (pids.length === 2 && pids.every((p) => served.has(p))) return;
        const id = `serving-${process.pid}-${n++}`;
        ids.add(id);
        await ask(id).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the workers did not both serve');
    };
    /** A request's outcome: its status, `closed` (reset or closed without an answer) or `hung` (neither in 5 s). */
    const outcome = (id: string): Promise<string> => {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)));
      const settled = ask(id).then(
        (res) => String(res.status),
        () => 'closed',
      );
      return Promise.race([settled, hung]).finally(() => clearTimeout(timer));
    };

    // The primary keeps what it collected at the last scrape before a death: scrape, then kill.
    let counted = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      await bothServing();
      await new Promise((r) => setTimeout(r, 200));
      const before = await requestsTotal(primary.url);
      expect(before).toBeGreaterThanOrEqual(counted);
      counted = before;
      const [victim] = workerPids(primary);
      process.kill(victim, 'SIGKILL');
      const outcomes = await Promise.all(Array.from({ length: 30 }, () => outcome(`burst-${process.pid}-${n++}`)));
      expect(outcomes.filter((o) => o === 'hung')).toEqual([]);
      await until(() => logLines(primary).some((l) => l.msg === 'worker exited unexpectedly; restarting it' && l.worker_pid === victim), 3000);
    }
    await bothServing();
    expect(await requestsTotal(primary.url)).toBeGreaterThan(counted);
  }, 60_000);
});
