// The example configs of examples/ as the conformance suites run them: the file as written (only the
// listening address and the data directory changed), in process for the API's promises, and as the
// file's own start command in a child process for "it starts, and starts the same way twice".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RawConfig } from '../../src/config/schema.js';
import { REPO_ROOT, rawRequest, spawnCli, startTestGateway, type ChildServer, type TestGateway } from './gateway.js';

export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');

export function exampleText(name: string): string {
  return readFileSync(join(EXAMPLES_DIR, `${name}.yaml`), 'utf8');
}

/** The example's config as parsed, `${VAR}`s still unresolved (the gateway resolves them from the environment). */
export function exampleConfig(name: string): RawConfig {
  return parse(exampleText(name)) as RawConfig;
}

/**
 * The start command the file's header gives (`# Start:  floodgate serve --config examples/x.yaml`), as
 * CLI arguments after `floodgate`. Exactly one such line, or the test fails.
 */
export function exampleStartArgs(name: string): string[] {
  const lines = exampleText(name)
    .split('\n')
    .filter((line) => /^#\s*Start:/.test(line));
  if (lines.length !== 1) throw new Error(`examples/${name}.yaml: expected one "# Start:" line in its header, found ${lines.length}`);
  const command = lines[0]!.replace(/^#\s*Start:\s*/, '').trim();
  const words = command.split(/\s+/);
  if (words[0] !== 'floodgate') throw new Error(`examples/${name}.yaml: the start command does not run floodgate: ${command}`);
  return words.slice(1);
}

/**
 * Starts the gateway in this process on the example's config: the file as written, but listening on
 * 127.0.0.1 on a free port with a fresh data directory; `change` may adjust the parsed config first
 * (a test that needs another backend says so where it calls this).
 */
export async function startExample(name: string, change: (raw: RawConfig) => void = () => {}): Promise<TestGateway> {
  const raw = exampleConfig(name);
  raw.server = { ...raw.server, host: '127.0.0.1', port: 0 };
  change(raw);
  return startTestGateway(raw);
}

/** Runs the example's own start command (with `--host 127.0.0.1 --port 0 --data-dir dir` added) until it listens. */
export function spawnExample(name: string, dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  return spawnCli([...exampleStartArgs(name), '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], /Floodgate listening on/, env);
}

/** `Name: value` from a child's first-start output (`API key`, `Admin token`). */
export function printedValue(server: ChildServer, name: string): string | undefined {
  const line = server.output.find((l) => l.startsWith(`${name}: `));
  return line?.slice(name.length + 2).trim();
}

/** A call to the admin API with the admin token; the parsed JSON body and status. */
export async function adminCall(gw: TestGateway, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await rawRequest(`${gw.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: res.text ? res.json() : undefined };
}
