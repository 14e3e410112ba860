// A connection that node:cluster hands to a worker just as it dies (src/cli/workers.ts, HandoffGuard):
// served by another worker, never left hanging. The workers here are plain HTTP servers that, when told
// to, stay busy for a moment — as a crash handler writing its last lines does — and then leave by
// process.exit or by an uncaught exception, or are killed outright: the connection handed to them in that
// moment sits unread in their channel when they go.
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandoffGuard } from '../../src/cli/workers.js';

const WORKER_SCRIPT = `
import { createServer } from 'node:http';

const server = createServer((req, res) => res.end(String(process.pid)));
server.listen(0, '127.0.0.1', () => process.send({ type: 'test:up', port: server.address().port }));
process.on('message', (message) => {
  if (message?.type !== 'test:die') return;
  const until = Date.now() + 300;
  while (Date.now() < until);
  if (message.how === 'exit') process.exit(1);
  if (message.how === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new Error('test: a worker crashing');
});
`;

/** How long a connection may take to be answered or closed: far more than a handoff, far less than forever. */
const BOUND_MS = 5000;

let dir: string;
let port = 0;
const up = new Set<Worker>();
const guard = new HandoffGuard(() => [...up].filter((w) => !w.isDead()));

function fork(): Promise<Worker> {
  const worker = cluster.fork();
  guard.watch(worker);
  worker.once('exit', () => up.delete(worker));
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: { type?: string; port?: number }) => {
      if (message?.type !== 'test:up') return;
      port = message.port!;
      up.add(worker);
      resolve(worker);
    });
  });
}

/** One GET on its own connection: the status, `closed` for a connection closed without an answer, or `hung`. */
function get(): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', () => resolve('closed'));
    });
    req.setTimeout(BOUND_MS, () => {
      resolve('hung');
      req.destroy();
    });
    req.on('error', () => resolve('closed'));
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'floodgate-handoff-'));
  writeFileSync(join(dir, 'worker.mjs'), WORKER_SCRIPT);
  // Silent: the crashing worker's stack trace is expected, not news.
  cluster.setupPrimary({ exec: join(dir, 'worker.mjs'), silent: true });
});

afterAll(async () => {
  await Promise.all(
    Object.values(cluster.workers ?? {}).map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w === undefined || w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGKILL');
        }),
    ),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a connection handed to a worker as it dies', () => {
  for (const how of ['exit', 'throw', 'kill'] as const) {
    it(`is served by another worker (the dying one leaves by ${how})`, async () => {
      while (up.size < 2) await fork();
      const [victim] = up;
      const gone = new Promise<void>((resolve) => victim.once('exit', () => resolve()));
      victim.send({ type: 'test:die', how });
      // Once it is busy: the cluster still counts it as free, and hands it the first of these.
      await new Promise((r) => setTimeout(r, 100));
      const answers = await Promise.all(Array.from({ length: 20 }, () => get()));
      await gone;
      expect(answers).toEqual(Array.from({ length: 20 }, () => '200'));
    });
  }

  it('is closed, not left hanging, when no other worker serves', async () => {
    while (up.size < 1) await fork();
    for (const extra of [...up].slice(1)) {
      const exited = new Promise<void>((resolve) => extra.once('exit', () => resolve()));
      extra.process.kill('SIGKILL');
      await exited;
    }
    const [victim] = up;
    const gone = new Promise<void>((resolve) => victim.once('exit', () => resolve()));
    victim.send({ type: 'test:die', how: 'exit' });
    await new Promise((r) => setTimeout(r, 100));
    const answers = await Promise.all(Array.from({ length: 5 }, () => get()));
    await gone;
    // The cluster closes its port when its last worker goes; the one connection handed over is closed too.
    expect(answers).toEqual(Array.from({ length: 5 }, () => 'closed'));
  });
});
