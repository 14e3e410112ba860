// Webhook alerts end to end (issue 18 item 2): a gateway started with `alerts.webhooks` POSTs to an
// in-process receiver (node:http on 127.0.0.1) that verifies every delivery's signature with the openai
// SDK's `webhooks.unwrap`; a failing receiver sees the retries with the same webhook-id (at-least-once); a
// blocked one with a tiny queue shows drops on /metrics; a deployment on a dead port opens its breaker and
// the receiver gets `breaker.opened`, then `breaker.closed` once a backend listens there; two gateways on
// one Redis prefix send an event both emit once.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/schema.js';
import type { AlertEvent } from '../../src/alerts/events.js';
import { startReceiver as startWebhookReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { rawRequest, startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A receiver for this file's secret, closed after the test. */
async function startReceiver(answer?: Parameters<typeof startWebhookReceiver>[1], port = 0): Promise<Receiver> {
  const receiver = await startWebhookReceiver(SECRET, answer, port);
  cleanups.push(receiver.close);
  return receiver;
}

async function startGatewayWith(alerts: RawConfig['alerts'], over: Partial<RawConfig> = {}): Promise<TestGateway> {
  const gw = await startTestGateway(testConfig({ alerts, ...over }));
  cleanups.push(() => gw.close());
  return gw;
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The value of one series on /metrics (0 when absent). */
async function metric(gw: TestGateway, series: string): Promise<number> {
  const text = (await rawRequest(`${gw.url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const exhausted = (id: string): AlertEvent => ({
  id,
  type: 'budget.exhausted',
  data: { key_id: 'key_test', period: 'day', limit: '1.000000', spent: '1.000000', resets_at: '2026-12-07T00:00:00.000Z' },
});

describe('delivery', () => {
  it('signed deliveries, retried with the same webhook-id until the receiver takes them', async () => {
    const receiver = await startReceiver((n, res) => (n < 2 ? res.writeHead(500).end('not now') : res.end('ok')));
    const gw = await startGatewayWith({ webhooks: [{ url: receiver.url, secret: SECRET }], backoff_ms: 20 });
    expect(gw.gateway.alerts.wants('budget.exhausted')).toBe(true);
    const id = `budget.exhausted:key_test:day:${Date.now()}`;
    gw.gateway.alerts.emit(exhausted(id));
    await until(() => receiver.requests.length === 3);
    await until(async () => (await metric(gw, 'floodgate_webhook_deliveries_total{event="budget.exhausted",outcome="delivered"}')) === 1);
    // Every attempt is signed (the SDK verified all three) and carries the event's id as its idempotency key.
    expect(receiver.verified.length).toBe(3);
    expect(receiver.verified.map((d) => d.headers['webhook-id'])).toEqual([id, id, id]);
    const { payload, headers } = receiver.verified[2];
    expect(payload).toEqual({ id, type: 'budget.exhausted', created: expect.any(Number), data: exhausted(id).data });
    expect(Math.abs(payload.created - Date.now() / 1000)).toBeLessThan(10);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^floodgate\//);
    expect(Number(headers['webhook-timestamp'])).toBeGreaterThanOrEqual(payload.created);
    expect(await metric(gw, 'floodgate_webhook_deliveries_total{event="budget.exhausted",outcome="retried"}')).toBe(2);
    // A second sighting of the same crossing is not news.
    gw.gateway.alerts.emit(exhausted(id));
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.requests.length).toBe(3);
    // The secret never reaches the log.
    expect(JSON.stringify(gw.logs)).not.toContain(SECRET.slice(6));
  });

  it('a blocked receiver and a tiny queue: new deliveries are dropped and counted on /metrics', async () => {
    const hanging: ServerResponse[] = [];
    const receiver = await startReceiver((_n, res) => void hanging.push(res));
    cleanups.push(async () => {
      for (const res of hanging) res.destroy();
    });
    const gw = await startGatewayWith({ webhooks: [{ url: receiver.url, secret: SECRET }], queue_size: 2, timeout_ms: 60_000 });
    for (let i = 0; i < 10; i++) gw.gateway.alerts.emit(exhausted(`blocked-${i}`));
    // 4 sent (and hanging), 2 waiting, 4 dropped.
    await until(() => receiver.requests.length === 4);
    expect(await metric(gw, 'floodgate_webhook_dropped_total{reason="queue_full"}')).toBe(4);
    expect(await metric(gw, 'floodgate_webhook_queue_depth')).toBe(2);
    expect(gw.logs.filter((l) => l.msg === 'webhook delivery dropped' && l.reason === 'queue_full').length).toBe(1);
    // Chat requests do not wait on any of it.
    const started = performance.now();
    const reply = await gw.client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    expect(reply.choices[0].message.content).toBeTruthy();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('without webhooks the gateway has no sink: NO_ALERTS, nothing wanted', async () => {
    const gw = await startGatewayWith(undefined);
    expect(gw.gateway.alerts.wants('breaker.opened')).toBe(false);
    expect(() => gw.gateway.alerts.emit(exhausted('nowhere'))).not.toThrow();
  });
});

describe('breaker events', () => {
  it('a deployment on a dead port: breaker.opened, then breaker.closed when a backend listens there', async () => {
    // A port nothing listens on: bound, then released.
    const probe = await startReceiver();
    const port = probe.port;
    await probe.close();
    cleanups.pop();
    const receiver = await startReceiver();
    const gw = await startGatewayWith(
      { webhooks: [{ url: receiver.url, secret: SECRET, events: ['breaker.opened', 'breaker.closed'] }], backoff_ms: 20 },
      {
        providers: { dead: { type: 'openai', base_url: `http://127.0.0.1:${port}/v1` } },
        models: [{ id: 'dead-chat', category: 'text', capabilities: ['chat'], defaults: { max_tokens: 8 }, deployments: [{ provider: 'dead', model: 'upstream-m' }] }],
        routing: { probes: { liveness_ms: 100 } },
      },
    );
    expect(gw.gateway.alerts.wants('budget.exhausted')).toBe(false);
    await until(() => receiver.verified.some((d) => d.payload.type === 'breaker.opened'));
    const opened = receiver.verified.find((d) => d.payload.type === 'breaker.opened')!;
    expect(opened.payload.id).toMatch(/^breaker\.opened:dead\/upstream-m:\d+$/);
    expect(opened.payload.data).toEqual({ deployment: 'dead/upstream-m', models: ['dead-chat'], state: 'open', open_ms: expect.any(Number), at: expect.any(String) });
    expect(Date.parse(opened.payload.data.at as string)).toBeGreaterThan(Date.now() - 10_000);

    // A backend comes up on that port: the liveness check finds it, the probe succeeds, the breaker closes.
    await startReceiver(
      (_n, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: 'upstream-m',
            choices: [{ index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        ),
      port,
    );
    await until(() => receiver.verified.some((d) => d.payload.type === 'breaker.closed'));
    const closed = receiver.verified.find((d) => d.payload.type === 'breaker.closed')!;
    expect(closed.payload.data).toEqual({ deployment: 'dead/upstream-m', models: ['dead-chat'], state: 'closed', at: expect.any(String) });
    expect(closed.payload.id).not.toBe(opened.payload.id);
  });
});

describe('across instances (Redis)', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(prefix);
  });

  it('two gateways on one Redis prefix emitting the same event id deliver it once', async () => {
    const receiver = await startReceiver();
    const prefix = uniquePrefix('webhooks');
    prefixes.push(prefix);
    const alerts = { webhooks: [{ url: receiver.url, secret: SECRET }] };
    const redis = { url: SHARED_REDIS_URL, key_prefix: prefix };
    const [a, b] = [await startGatewayWith(alerts, { redis }), await startGatewayWith(alerts, { redis })];
    const ids = Array.from({ length: 5 }, (_, i) => `budget.threshold_reached:key_x:day:${Date.now()}:${i}`);
    for (const id of ids) {
      a.gateway.alerts.emit({ ...exhausted(id), type: 'budget.threshold_reached' });
      b.gateway.alerts.emit({ ...exhausted(id), type: 'budget.threshold_reached' });
    }
    await until(() => receiver.verified.length >= ids.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.verified.map((d) => d.payload.id).sort()).toEqual([...ids].sort());
    const sent = async (gw: TestGateway) => metric(gw, 'floodgate_webhook_deliveries_total{event="budget.threshold_reached",outcome="delivered"}');
    expect((await sent(a)) + (await sent(b))).toBe(ids.length);
  });
});
