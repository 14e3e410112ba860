// Webhook delivery (src/alerts/webhooks.ts): the Standard Webhooks signature as the openai SDK verifies it,
// the backoff, the bounded queue and its drop counts, retries and give-ups by status, de-duplication, and
// the breaker events' shape. Receivers are node:http servers on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertsConfig } from '../../src/config/load.js';
import { ALERT_EVENT_TYPES, type AlertEvent, type AlertEventType } from '../../src/alerts/events.js';
import {
  createWebhookSink,
  parseRetryAfter,
  RecentIds,
  retryDelayMs,
  retryableStatus,
  webhookBody,
  webhookHeaders,
  webhookKey,
  type ClaimOnce,
  type DeliveryOutcome,
  type DropReason,
  type WebhookSink,
} from '../../src/alerts/webhooks.js';
import { breakerAlert, breakerAlerts } from '../../src/alerts/breaker.js';
import { createLogger } from '../../src/observability/logger.js';

const sdk = new OpenAI({ apiKey: 'x' });
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** A receiver answering each request with `answer(n)` (n counts from 0); `null` leaves the request hanging. */
async function receiver(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _req, res) => res.end('ok')): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      answer(received.length - 1, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const r = {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(r);
  return r;
}

function countingMetrics() {
  const deliveries: Record<string, number> = {};
  const dropped: Record<string, number> = {};
  return {
    deliveries,
    dropped,
    webhookDelivery(event: AlertEventType, outcome: DeliveryOutcome) {
      deliveries[`${event}:${outcome}`] = (deliveries[`${event}:${outcome}`] ?? 0) + 1;
    },
    webhookDropped(reason: DropReason) {
      dropped[reason] = (dropped[reason] ?? 0) + 1;
    },
  };
}

function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

function alertsConfig(urls: string[], over: Partial<AlertsConfig> = {}, events: AlertEventType[] = [...ALERT_EVENT_TYPES]): AlertsConfig {
  return { balanceLowMicros: null, webhooks: urls.map((url) => ({ url, secret: SECRET, events })), queueSize: 100, maxAttempts: 4, backoffMs: 10, timeoutMs: 2000, ...over };
}

function sink(config: AlertsConfig, extra: { claimOnce?: ClaimOnce; concurrency?: number } = {}) {
  const metrics = countingMetrics();
  const log = logCapture();
  const s: WebhookSink = createWebhookSink(config, { logger: log.logger, metrics, claimOnce: extra.claimOnce }, { concurrency: extra.concurrency, maxBackoffMs: 200 });
  open.push({ close: () => s.close(0) });
  return { sink: s, metrics, logs: log.lines };
}

function event(id: string, type: AlertEventType = 'budget.exhausted', data: Record<string, unknown> = { key_id: 'key_1', spent: '1.000000' }): AlertEvent {
  return { id, type, data };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('signature (Standard Webhooks, as the openai SDK verifies it)', () => {
  it('a whsec_ secret: the SDK unwraps the payload; a changed body or another secret fails', async () => {
    const body = webhookBody(event('evt-1'), 1_765_000_000);
    const headers = webhookHeaders(webhookKey(SECRET), 'evt-1', Math.floor(Date.now() / 1000), body);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^floodgate\/\d+\.\d+\.\d+/);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const unwrapped = await sdk.webhooks.unwrap(body, headers, SECRET);
    expect(unwrapped).toEqual({ id: 'evt-1', type: 'budget.exhausted', created: 1_765_000_000, data: { key_id: 'key_1', spent: '1.000000' } });
    await expect(sdk.webhooks.unwrap(body.replace('1.000000', '9.000000'), headers, SECRET)).rejects.toThrow(/signature/);
    await expect(sdk.webhooks.unwrap(body, headers, `whsec_${randomBytes(32).toString('base64')}`)).rejects.toThrow(/signature/);
  });

  it('a plain secret is used as its UTF-8 bytes, as the SDK reads it', async () => {
    const secret = 'a plain shared secret';
    const body = webhookBody(event('evt-2'), 1);
    const headers = webhookHeaders(webhookKey(secret), 'evt-2', Math.floor(Date.now() / 1000), body);
    await expect(sdk.webhooks.unwrap(body, headers, secret)).resolves.toMatchObject({ id: 'evt-2' });
  });
});

describe('backoff and statuses', () => {
  it('doubles from the base with jitter in the upper half, up to the cap', () => {
    expect(retryDelayMs(1, 1000, 300_000, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1000, 300_000, () => 1)).toBe(1000);
    expect(retryDelayMs(2, 1000, 300_000, () => 1)).toBe(2000);
    expect(retryDelayMs(4, 1000, 300_000, () => 0.5)).toBe(6000);
    expect(retryDelayMs(20, 1000, 300_000, () => 1)).toBe(300_000);
    expect(retryDelayMs(1000, 1000, 300_000, () => 0)).toBe(150_000);
    for (let attempt = 1; attempt < 12; attempt++) {
      const d = retryDelayMs(attempt, 1000, 300_000);
      const ceiling = Math.min(300_000, 1000 * 2 ** (attempt - 1));
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000 + 7000).toUTCString(), 10_000)).toBe(7000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('retries 408, 429 and 5xx; not other refusals', () => {
    expect([408, 429, 500, 502, 503].every(retryableStatus)).toBe(true);
    expect([301, 302, 400, 401, 403, 404, 410, 422].some(retryableStatus)).toBe(false);
  });
});

describe('de-duplication', () => {
  it('remembers ids for the TTL and at most `max` of them', () => {
    const recent = new RecentIds(3, 1000);
    expect(recent.firstSighting('a', 0)).toBe(true);
    expect(recent.firstSighting('a', 999)).toBe(false);
    expect(recent.firstSighting('a', 1000)).toBe(true); // expired: news again
    for (const id of ['b', 'c', 'd']) recent.firstSighting(id, 1000);
    expect(recent.size).toBe(3);
    expect(recent.firstSighting('a', 1001)).toBe(true); // the oldest went when `d` came
  });

  it('the same event id emitted twice is delivered once (per receiver)', async () => {
    const [r1, r2] = [await receiver(), await receiver()];
    const { sink: s } = sink(alertsConfig([r1.url, r2.url]));
    s.emit(event('same'));
    s.emit(event('same'));
    s.emit(event('other'));
    await until(() => r1.received.length === 2 && r2.received.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(r1.received.map((q) => q.headers['webhook-id']).sort()).toEqual(['other', 'same']);
    expect(r2.received.length).toBe(2);
  });

  it('with a cross-instance claim: only the winner sends; a failing claim still sends', async () => {
    const r = await receiver();
    const taken = new Set<string>();
    const claimOnce: ClaimOnce = async (key) => {
      if (key.endsWith(':broken')) throw new Error('redis down');
      if (taken.has(key)) return false;
      taken.add(key);
      return true;
    };
    const a = sink(alertsConfig([r.url]), { claimOnce });
    const b = sink(alertsConfig([r.url]), { claimOnce });
    a.sink.emit(event('x'));
    b.sink.emit(event('x'));
    b.sink.emit(event('broken'));
    await until(() => r.received.length >= 2);
    await new Promise((res) => setTimeout(res, 100));
    expect(r.received.map((q) => q.headers['webhook-id']).sort()).toEqual(['broken', 'x']);
    expect(taken.has('alert:x')).toBe(true);
  });
});

describe('delivery', () => {
  it('posts the signed JSON to every receiver that wants the type, and only those', async () => {
    const [all, some] = [await receiver(), await receiver()];
    const config = alertsConfig([all.url]);
    config.webhooks.push({ url: some.url, secret: SECRET, events: ['breaker.opened'] });
    const { sink: s, metrics } = sink(config);
    expect(s.wants('breaker.opened')).toBe(true);
    expect(s.wants('balance.low')).toBe(true);
    s.emit(event('b1', 'balance.low', { account_id: 'acct_1', balance: '4.990000' }));
    s.emit(event('o1', 'breaker.opened', { deployment: 'sim/x' }));
    await until(() => all.received.length === 2 && some.received.length === 1);
    expect(some.received[0].headers['webhook-id']).toBe('o1');
    for (const q of [...all.received, ...some.received]) {
      expect(q.headers['content-type']).toBe('application/json');
      const payload = (await sdk.webhooks.unwrap(q.body, q.headers as Record<string, string>, SECRET)) as unknown as { id: string; type: string; created: number; data: unknown };
      expect(payload.id).toBe(q.headers['webhook-id']);
      expect(Math.abs(payload.created - Date.now() / 1000)).toBeLessThan(5);
    }
    expect(metrics.deliveries).toEqual({ 'balance.low:delivered': 1, 'breaker.opened:delivered': 2 });
    const only = sink(alertsConfig([all.url], {}, ['budget.exhausted'])).sink;
    expect(only.wants('breaker.closed')).toBe(false);
  });

  it('retries a 500 with the same webhook-id until it is taken (at-least-once), honouring Retry-After on a 429', async () => {
    const r = await receiver((n, _req, res) => {
      if (n === 0) return res.writeHead(500).end('down');
      if (n === 1) return res.writeHead(429, { 'retry-after': '0' }).end('busy');
      res.end('ok');
    });
    const { sink: s, metrics } = sink(alertsConfig([r.url]));
    s.emit(event('retry-me'));
    await until(() => r.received.length === 3);
    await until(() => metrics.deliveries['budget.exhausted:delivered'] === 1);
    expect(r.received.map((q) => q.headers['webhook-id'])).toEqual(['retry-me', 'retry-me', 'retry-me']);
    expect(new Set(r.received.map((q) => q.body)).size).toBe(1);
    for (const q of r.received) await sdk.webhooks.unwrap(q.body, q.headers as Record<string, string>, SECRET);
    expect(metrics.deliveries['budget.exhausted:retried']).toBe(2);
    expect(metrics.dropped).toEqual({});
  });

  it('gives up on a 4xx at once, on a redirect without following it, and after max_attempts of 503', async () => {
    const target = await receiver();
    const r = await receiver((_n, req, res) => {
      const id = req.headers['webhook-id'];
      if (id === 'bad') return res.writeHead(400).end();
      if (id === 'moved') return res.writeHead(302, { location: target.url }).end();
      res.writeHead(503).end();
    });
    const { sink: s, metrics, logs } = sink(alertsConfig([r.url], { maxAttempts: 3 }));
    s.emit(event('bad'));
    s.emit(event('moved'));
    s.emit(event('flaky'));
    await until(() => metrics.dropped.gave_up === 3);
    const attempts = (id: string) => r.received.filter((q) => q.headers['webhook-id'] === id).length;
    expect([attempts('bad'), attempts('moved'), attempts('flaky')]).toEqual([1, 1, 3]);
    expect(target.received).toEqual([]);
    expect(metrics.deliveries).toEqual({ 'budget.exhausted:failed': 3, 'budget.exhausted:retried': 2 });
    const warned = logs.filter((l) => l.msg === 'webhook delivery given up');
    expect(warned.length).toBe(1); // rate-limited: one line, the rest counted in the next one's `suppressed`
    expect(warned[0]).toMatchObject({ reason: 'gave_up', webhook: 0, host: new URL(r.url).host });
    expect(JSON.stringify(logs)).not.toContain(SECRET.slice(6));
  });

  it('a dead port is retried, then given up', async () => {
    const dead = await receiver();
    await dead.close();
    const { sink: s, metrics } = sink(alertsConfig([dead.url], { maxAttempts: 2 }));
    s.emit(event('nobody-home'));
    await until(() => metrics.dropped.gave_up === 1);
    expect(metrics.deliveries).toEqual({ 'budget.exhausted:retried': 1, 'budget.exhausted:failed': 1 });
  });

  it('a slow receiver times out and is retried; other deliveries are not held up by a retry', async () => {
    const r = await receiver((n, req, res) => {
      if (req.headers['webhook-id'] === 'slow' && n === 0) return; // never answers: the attempt times out
      res.end('ok');
    });
    const { sink: s, metrics } = sink(alertsConfig([r.url], { timeoutMs: 200, backoffMs: 150 }), { concurrency: 1 });
    s.emit(event('slow'));
    s.emit(event('fast'));
    await until(() => metrics.deliveries['budget.exhausted:delivered'] === 2);
    // `fast` went while `slow` waited for its retry.
    expect(r.received.map((q) => q.headers['webhook-id'])).toEqual(['slow', 'fast', 'slow']);
    expect(metrics.deliveries['budget.exhausted:retried']).toBe(1);
  });
});

describe('the bounded queue', () => {
  it('emit never blocks or throws; past queue_size new deliveries are dropped and counted', async () => {
    const hung: ServerResponse[] = [];
    const r = await receiver((_n, _req, res) => void hung.push(res));
    const { sink: s, metrics, logs } = sink(alertsConfig([r.url], { queueSize: 3 }), { concurrency: 1 });
    const started = performance.now();
    for (let i = 0; i < 10; i++) s.emit(event(`q${i}`));
    expect(performance.now() - started).toBeLessThan(50);
    // one sent (and hanging), three waiting, six dropped
    expect(s.depth).toBe(3);
    expect(metrics.dropped).toEqual({ queue_full: 6 });
    expect(logs.filter((l) => l.msg === 'webhook delivery dropped').length).toBe(1);
    expect(() => s.emit({ id: 'cyclic', type: 'budget.exhausted', data: { big: 1n } })).not.toThrow();
    expect(metrics.dropped.unserializable).toBe(1);
    await until(() => r.received.length === 1);
    // Closing with no grace: the waiting and the hanging one are dropped as shutdown.
    await s.close(0);
    expect(metrics.dropped).toEqual({ queue_full: 6, unserializable: 1, shutdown: 4 });
    expect(s.depth).toBe(0);
    s.emit(event('after-close'));
    expect(metrics.dropped.shutdown).toBe(5);
    for (const res of hung) res.destroy();
  });

  it('close delivers what is queued within the grace', async () => {
    const r = await receiver((_n, _req, res) => setTimeout(() => res.end('ok'), 30));
    const { sink: s, metrics } = sink(alertsConfig([r.url]), { concurrency: 1 });
    for (let i = 0; i < 5; i++) s.emit(event(`c${i}`));
    await s.close(2000);
    expect(r.received.length).toBe(5);
    expect(metrics.deliveries['budget.exhausted:delivered']).toBe(5);
    expect(metrics.dropped).toEqual({});
  });
});

describe('breaker events', () => {
  it('one event per transition, with the deployment, its models, the cool-down and the time', () => {
    const opened = breakerAlert('sim/sim-chat', 'open', 5000, ['sim-chat'], Date.UTC(2026, 0, 1));
    expect(opened).toEqual({
      id: `breaker.opened:sim/sim-chat:${Date.UTC(2026, 0, 1)}`,
      type: 'breaker.opened',
      data: { deployment: 'sim/sim-chat', models: ['sim-chat'], state: 'open', open_ms: 5000, at: '2026-01-01T00:00:00.000Z' },
    });
    const closed = breakerAlert('sim/sim-chat', 'closed', 0, [], 1);
    expect(closed.type).toBe('breaker.closed');
    expect(closed.data).not.toHaveProperty('open_ms');
  });

  it('the listener emits only what a webhook wants, naming the models of the deployment', () => {
    const emitted: AlertEvent[] = [];
    const listener = breakerAlerts(
      { emit: (e) => void emitted.push(e), wants: (t) => t === 'breaker.opened' },
      { models: [{ id: 'a', deployments: [{ name: 'p/m' }] }, { id: 'b', deployments: [{ name: 'p/m' }, { name: 'q/n' }] }] },
    );
    listener('p/m', 'open', 100);
    listener('p/m', 'closed', 0);
    expect(emitted.map((e) => [e.type, e.data.models])).toEqual([['breaker.opened', ['a', 'b']]]);
  });
});
