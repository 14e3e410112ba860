// Test helpers: a real gateway on a free port with its own temp data dir, the built CLI as a child
// process (the simulator as a separate upstream), and a recording fake upstream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { resolveConfig } from '../../src/config/load.js';
import type { RawConfig } from '../../src/config/schema.js';
import { EMBEDDED_DEFAULT } from '../../src/config/embedded-default.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { issueApiKey, resolvePepper } from '../../src/auth/bootstrap.js';
import { randomUUID } from 'node:crypto';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'main.js');

export interface TestAccount {
  accountId: string;
  keyId: string;
  apiKey: string;
  client: OpenAI;
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  apiKey: string;
  adminToken: string | undefined;
  client: OpenAI;
  dataDir: string;
  /** JSON log lines written so far. */
  logs: Record<string, unknown>[];
  /** An account of `tier` with `creditMicros` (a ledger entry) and one key, made in the gateway's store. */
  createAccount(opts?: { tier?: string; creditMicros?: number; keyLimits?: Record<string, number> }): Promise<TestAccount>;
  /** Writes every queued usage record now. */
  flushUsage(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Routing that hands every backend answer straight to the client: one attempt, and a breaker that never
 * opens. For tests of how one backend's errors are mapped, which retries and breakers would hide.
 */
export const PASS_THROUGH_ROUTING: RawConfig['routing'] = { retry: { attempts: 1 }, circuit_breaker: { min_requests: 100_000 } };

/** A config for tests: the embedded default's catalog on a fast simulator, port 0, a temp data dir. */
export function testConfig(overrides: Partial<RawConfig> = {}): RawConfig {
  const base = structuredClone(EMBEDDED_DEFAULT);
  base.providers = { sim: { type: 'simulator', ttft_ms: 0, tokens_per_second: 0, embedding_dimensions: 64, reasoning_models: ['sim-reasoner'], video_ms: 400 } };
  // Many people sign up from 127.0.0.1 in the portal's tests: the per-address sign-up limit is raised.
  return { ...base, server: { host: '127.0.0.1', port: 0, heartbeat_ms: 1000 }, portal: { signups_per_minute: 1000 }, ...overrides };
}

/**
 * Starts the gateway in this process on a fresh data directory — or on `opts.dataDir`, a restart on an
 * earlier gateway's store, which `close` then leaves in place (`keepData`) for the caller to remove.
 * With `store.url` in the config the store is that database (a PostgreSQL one the caller made and drops).
 */
export async function startTestGateway(raw: RawConfig = testConfig(), opts: { dataDir?: string; keepData?: boolean } = {}): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'floodgate-test-'));
  const config = resolveConfig({ ...raw, data_dir: dataDir }, 'test');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const gateway = await startGateway(config, { logger: createLogger('info', sink) });
  // A restart, or a second gateway on a shared store, prints no key: its callers use keys they made before.
  const apiKey = gateway.firstStart.apiKey ?? (opts.dataDir === undefined && raw.store === undefined ? undefined : '');
  if (apiKey === undefined) throw new Error('the first start printed no API key');
  const issuedKeys = apiKey === '' ? [] : [apiKey];
  return {
    gateway,
    url: gateway.url,
    apiKey,
    adminToken: gateway.firstStart.adminToken,
    // A restart printed no key: its client carries a key that is not one (the SDK refuses an empty one).
    client: new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: apiKey === '' ? 'no-key-printed' : apiKey, maxRetries: 0 }),
    dataDir,
    logs,
    async createAccount(opts = {}) {
      const store = gateway.store;
      const account = await store.accounts.create({ name: `acct-${randomUUID()}`, tier: opts.tier ?? config.limits.defaultTier });
      if (opts.creditMicros) await store.ledger.record({ accountId: account.id, kind: 'credit', amountMicros: opts.creditMicros, reason: 'test credit', actor: 'test' });
      const { apiKey, record } = await issueApiKey(store.keys, config.auth.keyPrefix, resolvePepper(config), { accountId: account.id, limits: opts.keyLimits ?? null });
      issuedKeys.push(apiKey);
      return { accountId: account.id, keyId: record.id, apiKey, client: new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 }) };
    },
    flushUsage: () => gateway.accounting.usage.flush(),
    async close() {
      await gateway.close();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
      // SPEC §16: no key in any log line, whatever the test sent where.
      assertNoKeyLogged(logs, issuedKeys);
    },
  };
}

/** An admin API call (`/admin/v1…`) with `token`: the answer's JSON, or an error naming the status and the body. */
export async function adminJson(base: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json: unknown = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Fails when a log line carries one of the keys (SPEC §16: keys are never logged, not even in a path). */
export function assertNoKeyLogged(logs: readonly Record<string, unknown>[], keys: readonly string[]): void {
  for (const line of logs) {
    const text = JSON.stringify(line);
    // Compared by the secret part, so that a key cut short or re-encoded is found too.
    const leaked = keys.find((key) => text.includes(key.slice(-32)));
    if (leaked !== undefined) throw new Error(`a log line carries an API key (${leaked.slice(0, 6)}…): ${text.slice(0, 300)}`);
  }
}

export interface ChildServer {
  url: string;
  process: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/**
 * Runs `command args` and waits for the output line matching `ready` (it must hold a URL); `env` is the
 * child's whole environment. `what` names it in errors.
 */
export function spawnServer(command: string, args: string[], ready: RegExp, opts: { env: NodeJS.ProcessEnv; cwd?: string; what: string; timeoutMs?: number }): Promise<ChildServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.what} did not start:\n${output.join('\n')}`));
    }, opts.timeoutMs ?? 20_000);
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    child.stdout!.on('data', (data: Buffer) => {
      buffered += data.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        const m = ready.exec(line);
        const url = m ? /(https?:\/\/[^\s]+)/.exec(line)?.[1] : undefined;
        if (url) {
          clearTimeout(timer);
          resolve({ url: url.replace(/\/v1$/, ''), process: child, output, stop });
        }
      }
    });
    child.stderr!.on('data', (data: Buffer) => output.push(data.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.what} exited with ${code}:\n${output.join('\n')}`));
    });
  });
}

/** Runs `floodgate <args>` from dist/ and waits for the line matching `ready` (it must hold a URL). */
export function spawnCli(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  return spawnServer(process.execPath, [CLI, ...args], ready, { env: { ...process.env, ...env }, what: `floodgate ${args.join(' ')}` });
}

/** The standalone simulator as its own process: `floodgate simulate --port 0 …`. */
export function spawnSimulator(args: string[] = []): Promise<ChildServer> {
  return spawnCli(['simulate', '--port', '0', ...args], /Simulator listening on/);
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeUpstream {
  url: string;
  requests: RecordedRequest[];
  server: Server;
  close(): Promise<void>;
}

/** A backend that records what it receives and answers with `respond`. */
export async function startFakeUpstream(respond: (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((raw, res) => {
    let text = '';
    raw.setEncoding('utf8');
    raw.on('data', (d: string) => (text += d));
    raw.on('end', () => {
      const rec: RecordedRequest = { method: raw.method ?? '', url: raw.url ?? '', headers: raw.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      requests.push(rec);
      respond(rec, res, raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Raw HTTP to the gateway, returning status, headers and the body text. */
export async function rawRequest(url: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const res = await fetch(url, { ...init, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Parses an SSE body into its `data:` payloads (strings), comments dropped. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.length > 0)
    .flatMap((block) => block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)));
}
