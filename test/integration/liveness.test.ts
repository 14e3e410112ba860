// Backends that cannot be reached (SPEC §6, §7): a refused connection or an unresolvable host is a 503
// `model_unavailable` with Retry-After, not a 502; and with the default config the liveness check takes a
// model whose backends are all down off `/v1/models` and `?ready=1` within seconds of start-up, without any
// client traffic, and brings it back by itself once its backend listens. A connect timeout is made on
// 127.0.0.1 by a listener that never accepts, its queue full: the kernel drops further connection attempts.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig, RawConfig } from '../../src/config/schema.js';
import { rawRequest, spawnCli, spawnSimulator, startFakeUpstream, startTestGateway, testConfig, type ChildServer, type FakeUpstream, type TestGateway } from '../helpers/gateway.js';

type Any = Record<string, any>;

const user = { role: 'user' as const, content: 'Say something.' };

function model(id: string, provider: string): ModelConfig {
  return { id, category: 'text', capabilities: ['chat', 'completions'], defaults: { max_tokens: 8 }, deployments: [{ provider }] };
}

/** A port nothing listens on any more: a simulator started and stopped. */
async function deadPort(): Promise<number> {
  const sim = await spawnSimulator();
  await sim.stop();
  return Number(new URL(sim.url).port);
}

/** A port whose connections time out: a process listening with a backlog of one, blocked, its queue filled. */
async function stalledPort(): Promise<{ port: number; stop: () => void }> {
  const script = `const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => { console.log(s.address().port); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000); });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  const held: Socket[] = [];
  for (let i = 0; i < 3; i++) held.push(connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((r) => setTimeout(r, 300));
  return {
    port,
    stop: () => {
      for (const socket of held) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}

async function chat(gw: TestGateway, name: string): Promise<Awaited<ReturnType<typeof rawRequest>>> {
  return rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: { model: name, messages: [user] } });
}

async function listed(gw: TestGateway): Promise<string[]> {
  return (await gw.client.models.list()).data.map((m) => m.id);
}

async function ready(gw: TestGateway): Promise<string[]> {
  return (await rawRequest(`${gw.url}/healthz?ready=1`)).json().models as string[];
}

/** Polls `check` every 100 ms until it holds or `ms` have passed; returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

function expectUnavailable(res: Awaited<ReturnType<typeof rawRequest>>): void {
  expect(res.status).toBe(503);
  expect(res.json().error).toMatchObject({ type: 'service_unavailable', code: 'model_unavailable' });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers.get('retry-after-ms'))).toBeGreaterThan(0);
}

describe('with the default liveness check', () => {
  let gw: TestGateway;
  let port: number;
  let revived: ChildServer | undefined;
  let wrong: FakeUpstream;
  let stalled: Awaited<ReturnType<typeof stalledPort>>;

  beforeAll(async () => {
    port = await deadPort();
    stalled = await stalledPort();
    // A backend that is there but answers every request wrongly: reachable, so the liveness check leaves it to the breaker.
    wrong = await startFakeUpstream((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'boom' } }));
    });
    // Nothing about routing in the config: the defaults are what is tested.
    const config: RawConfig = testConfig();
    config.providers = {
      ...config.providers,
      down: { type: 'openai', base_url: `http://127.0.0.1:${port}/v1` },
      nowhere: { type: 'openai', base_url: 'http://nonexistent.invalid/v1' },
      wrong: { type: 'openai', base_url: `${wrong.url}/v1` },
      stalled: { type: 'openai', base_url: `http://127.0.0.1:${stalled.port}/v1`, timeouts: { connect_ms: 500 } },
    };
    config.models = [...config.models, model('late', 'down'), model('nowhere', 'nowhere'), model('wrong', 'wrong'), model('stalled', 'stalled')];
    gw = await startTestGateway(config);
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    await revived?.stop();
    await wrong?.close();
    stalled?.stop();
  });

  it('a backend down at start-up leaves /v1/models and ?ready=1 within 5 s, answers 503 with Retry-After, and comes back within 5 s of listening', async () => {
    await within(5000, async () => {
      const models = await listed(gw);
      return !models.includes('late') && !models.includes('nowhere') && !models.includes('stalled');
    });
    for (const name of ['late', 'nowhere', 'stalled']) expect(await ready(gw)).not.toContain(name);
    expect(await ready(gw)).toContain('sim-chat');
    expect(await listed(gw)).toContain('sim-chat');
    expectUnavailable(await chat(gw, 'late'));
    expectUnavailable(await chat(gw, 'nowhere'));
    expectUnavailable(await chat(gw, 'stalled'));
    // Open, so no attempt reached for it: the 503 is the catalog's, at once.
    const line = gw.logs.filter((l) => l.msg === 'request' && l.model === 'late').at(-1)!;
    expect(line.attempts).toBeUndefined();
    const admin = await rawRequest(`${gw.url}/admin/v1/deployments`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
    expect(admin.json().data.find((d: Any) => d.id === 'down/late')).toMatchObject({ state: 'open', open_reason: 'unreachable' });
    expect(admin.json().data.find((d: Any) => d.id === 'sim/sim-chat')).toMatchObject({ state: 'closed', open_reason: null });

    // The backend starts on its old port; no client asks for the model meanwhile.
    revived = await spawnCli(['simulate', '--port', String(port)], /Simulator listening on/);
    await within(5000, async () => (await listed(gw)).includes('late'));
    expect(await ready(gw)).toContain('late');
    const res = await chat(gw, 'late');
    expect(res.status).toBe(200);
    expect(res.json().choices[0].message.content).toBeTruthy();
    // The unresolvable one stays away.
    expect(await listed(gw)).not.toContain('nowhere');
  }, 30_000);

  it('leaves a backend that answers (even wrongly) to the breaker: listed, its failures 502, and no request sent to check it', async () => {
    expect(await listed(gw)).toContain('wrong');
    const res = await chat(gw, 'wrong');
    expect(res.status).toBe(502);
    expect(res.json().error.code).toBe('upstream_error');
    // Several liveness rounds have passed since start-up (the test above took seconds): each was a connection, not a request.
    expect(wrong.requests.length).toBeGreaterThan(0);
    expect(wrong.requests.every((r) => r.method === 'POST' && r.url === '/v1/chat/completions')).toBe(true);
  });
});

describe('without the liveness check, on the request path', () => {
  let gw: TestGateway;
  let port: number;
  let stalled: Awaited<ReturnType<typeof stalledPort>>;

  beforeAll(async () => {
    port = await deadPort();
    stalled = await stalledPort();
    const config: RawConfig = testConfig({ routing: { retry: { attempts: 2, backoff_ms: 10 }, circuit_breaker: { min_requests: 100_000 }, probes: { liveness_ms: 0 } } });
    config.providers = {
      ...config.providers,
      refused: { type: 'openai', base_url: `http://127.0.0.1:${port}/v1` },
      unresolvable: { type: 'openai', base_url: 'http://nonexistent.invalid/v1' },
      claude: { type: 'anthropic', base_url: `http://127.0.0.1:${port}`, api_key: 'sk-ant-test' },
      stalled: { type: 'openai', base_url: `http://127.0.0.1:${stalled.port}/v1`, timeouts: { connect_ms: 300 } },
    };
    config.models = [...config.models, model('refused', 'refused'), model('unresolvable', 'unresolvable'), { ...model('claude-refused', 'claude'), capabilities: ['chat'] }, model('stalled', 'stalled')];
    gw = await startTestGateway(config);
  }, 30_000);

  afterAll(async () => {
    await gw?.close();
    stalled?.stop();
  });

  for (const [name, code] of [
    ['refused', 'ECONNREFUSED'],
    ['unresolvable', 'ENOTFOUND'],
    ['claude-refused', 'ECONNREFUSED'],
    ['stalled', 'connecting to it timed out'],
  ] as const) {
    it(`answers 503 model_unavailable with Retry-After for a backend that cannot be reached (${name}), promptly`, async () => {
      const started = performance.now();
      const res = await chat(gw, name);
      expectUnavailable(res);
      expect(res.json().error.message).toContain('temporarily unavailable');
      expect(res.json().error.message).toContain(code);
      // The client's Retry-After is not waited out between attempts: the backend never said it (two connect timeouts aside).
      expect(performance.now() - started).toBeLessThan(name === 'stalled' ? 4000 : 900);
      const line = gw.logs.filter((l) => l.msg === 'request' && l.model === name).at(-1) as Any;
      expect(line.attempts.map((a: Any) => [a.status, a.error])).toEqual([
        [null, 'model_unavailable'],
        [null, 'model_unavailable'],
      ]);
      // Streamed alike: the failure comes before any byte.
      const stream = await rawRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, json: { model: name, messages: [user], stream: true } });
      expectUnavailable(stream);
    });
  }

  it('keeps the model listed: without the check, only requests tell', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(await listed(gw)).toEqual(expect.arrayContaining(['refused', 'unresolvable']));
  });
});
