// Webhook delivery (SPEC §12): the AlertSink that signs each event the Standard Webhooks way (the scheme
// OpenAI's webhooks use) and POSTs it to every receiver that wants it, from a bounded queue, off the request
// path, retrying with backoff. Loaded only when `alerts.webhooks` is configured (src/gateway.ts).
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import type { AlertsConfig } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { addSecretValues } from '../observability/redact.js';
import { throttledWarn, type ThrottledWarn } from '../observability/logger.js';
import { PACKAGE_VERSION } from '../version.js';
import type { AlertEvent, AlertEventType, AlertSink } from './events.js';

/** How an attempt ended, as `floodgate_webhook_deliveries_total{outcome}` counts it. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed';
/** Why a delivery was never made, as `floodgate_webhook_dropped_total{reason}` counts it. */
export type DropReason = 'queue_full' | 'gave_up' | 'shutdown' | 'unserializable';

/** What the sink counts (GatewayMetrics has these methods). */
export interface WebhookMetrics {
  webhookDelivery(event: AlertEventType, outcome: DeliveryOutcome): void;
  webhookDropped(reason: DropReason): void;
  watchWebhookQueue?(depth: () => number): void;
}

/**
 * Takes `key` for `ttlMs` across instances: true for the first to ask (SharedState.claimOnce, Redis
 * `SET NX PX`); it resolves true when it cannot tell (Redis down): a second delivery beats none.
 */
export type ClaimOnce = (key: string, ttlMs: number, operation: string) => Promise<boolean>;

export interface WebhookSinkDeps {
  logger: Logger;
  metrics?: WebhookMetrics;
  /** With `redis.url`: de-duplication across instances. */
  claimOnce?: ClaimOnce;
}

export interface WebhookSinkOptions {
  /** Deliveries sent at once (default 4). */
  concurrency?: number;
  /** The longest wait between two attempts, a receiver's Retry-After included (default 5 minutes). */
  maxBackoffMs?: number;
  /** Event ids remembered for de-duplication (default 10,000) and for how long (default 24 h). */
  recentIds?: number;
  recentTtlMs?: number;
  /** A warning of one kind is logged at most this often, with the count of those left out (default 10 s). */
  logEveryMs?: number;
  /** For tests of the jitter. */
  random?: () => number;
}

export interface WebhookSink extends AlertSink {
  /** Deliveries waiting: queued, waiting for a retry, or waiting for their cross-instance claim. */
  readonly depth: number;
  /** Stops taking events, delivers what is queued for up to `graceMs`, then drops the rest (counted `shutdown`). */
  close(graceMs?: number): Promise<void>;
}

export const DEDUP_TTL_MS = 86_400_000;
const MAX_BACKOFF_MS = 300_000;
const CONCURRENCY = 4;
/** A receiver's answer is read this far, then dropped: only its status matters. */
const RESPONSE_READ_LIMIT = 64 * 1024;

const USER_AGENT = `floodgate/${PACKAGE_VERSION}`;

/** The HMAC key of a secret: `whsec_<base64>` is its decoded bytes, anything else its UTF-8 bytes (as the SDKs read it). */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`. */
export function webhookSignature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The request body of an event: `created` is when it was emitted (unix seconds), the same on every retry. */
export function webhookBody(event: AlertEvent, createdS: number): string {
  return JSON.stringify({ id: event.id, type: event.type, created: createdS, data: event.data });
}

/** The headers of one attempt (a new timestamp and signature each time; the id stays the event's). */
export function webhookHeaders(key: Buffer, id: string, timestampS: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': webhookSignature(key, id, timestampS, body),
  };
}

/**
 * The wait before attempt `attempt + 1` after `attempt` failed ones: `baseMs` doubled per retry up to
 * `maxMs`, of which the upper half is random (so receivers coming back are not hit by every sender at once).
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A `Retry-After` header (seconds or an HTTP date) as milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Statuses worth another attempt: the receiver is busy, down or timed out; any other refusal will not change. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Ids seen lately, oldest first (a Map keeps insertion order): bounded in number and in age. */
export class RecentIds {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  /** True the first time `id` is seen within the TTL (and remembers it); false for a repeat. */
  firstSighting(id: string, now: number): boolean {
    const expires = this.until.get(id);
    if (expires !== undefined && expires > now) return false;
    this.until.delete(id);
    this.until.set(id, now + this.ttlMs);
    if (this.until.size > this.max) this.until.delete(this.until.keys().next().value!);
    return true;
  }

  get size(): number {
    return this.until.size;
  }
}

interface Receiver {
  index: number;
  url: string;
  /** For the log: the host only (a webhook's path may be a secret of its own). */
  host: string;
  key: Buffer;
}

interface Delivery {
  receiver: Receiver;
  id: string;
  type: AlertEventType;
  body: string;
  /** Attempts made so far. */
  attempts: number;
  retryAt: number;
  timer?: NodeJS.Timeout;
}

type AttemptResult = { delivered: true } | { delivered: false; retryable: boolean; status?: number; error?: string; retryAfterMs?: number };

class WebhookQueue implements WebhookSink {
  private readonly byType = new Map<AlertEventType, Receiver[]>();
  private readonly recent: RecentIds;
  private readonly agent: Agent;
  /** Aborts the attempts still running when the shutdown grace is over. */
  private readonly stopper = new AbortController();
  private readonly concurrency: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  // The ready deliveries: an array read from `head` (shift() is O(n)), compacted now and then.
  private ready: (Delivery | undefined)[] = [];
  private head = 0;
  private readonly waiting = new Set<Delivery>();
  private inFlight = 0;
  /** Deliveries whose event waits for its cross-instance claim. */
  private claiming = 0;
  private closing = false;
  private aborted = false;
  private waiters: { done: () => boolean; resolve: () => void }[] = [];
  /** A warning, at most once per `logEveryMs` of each kind, with how many were left out since. */
  private readonly warn: ThrottledWarn;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly config: AlertsConfig,
    private readonly deps: WebhookSinkDeps,
    options: WebhookSinkOptions,
  ) {
    this.concurrency = options.concurrency ?? CONCURRENCY;
    this.maxBackoffMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
    this.warn = throttledWarn(deps.logger, options.logEveryMs ?? 10_000);
    this.random = options.random ?? Math.random;
    this.recent = new RecentIds(options.recentIds ?? 10_000, options.recentTtlMs ?? DEDUP_TTL_MS);
    // Secrets are masked in every log line, whatever their shape.
    addSecretValues(config.webhooks.map((w) => w.secret));
    config.webhooks.forEach((hook, index) => {
      const receiver: Receiver = { index, url: hook.url, host: new URL(hook.url).host, key: webhookKey(hook.secret) };
      for (const type of hook.events) {
        let list = this.byType.get(type);
        if (list === undefined) this.byType.set(type, (list = []));
        list.push(receiver);
      }
    });
    // Its own pool: closed with the sink; a slow receiver holds none of the backends' connections.
    this.agent = new Agent({ connections: this.concurrency, keepAliveTimeout: 10_000, connectTimeout: config.timeoutMs });
    deps.metrics?.watchWebhookQueue?.(() => this.depth);
  }

  get depth(): number {
    return this.ready.length - this.head + this.waiting.size + this.claiming;
  }

  wants(type: AlertEventType): boolean {
    return this.byType.has(type);
  }

  emit(event: AlertEvent): void {
    try {
      const receivers = this.byType.get(event.type);
      if (receivers === undefined) return;
      const now = Date.now();
      if (!this.recent.firstSighting(event.id, now)) return;
      if (this.closing) {
        for (const receiver of receivers) this.drop('shutdown', event, receiver);
        return;
      }
      let body: string;
      try {
        body = webhookBody(event, Math.floor(now / 1000));
      } catch (err) {
        for (const receiver of receivers) this.drop('unserializable', event, receiver, err instanceof Error ? err.message : String(err));
        return;
      }
      const claimOnce = this.deps.claimOnce;
      if (claimOnce === undefined) return this.enqueue(event, body, receivers);
      if (this.depth + receivers.length > this.config.queueSize) {
        for (const receiver of receivers) this.drop('queue_full', event, receiver);
        return;
      }
      // Only the instance that wins the id sends it; the others heard of the same crossing too late.
      this.claiming += receivers.length;
      void claimOnce(`alert:${event.id}`, DEDUP_TTL_MS, 'alert_claim')
        .catch(() => true)
        .then((won) => {
          this.claiming -= receivers.length;
          if (won) this.enqueue(event, body, receivers);
          this.checkIdle();
        });
    } catch (err) {
      // emit never throws into the code that detected the event.
      this.warn('emit', { err: err instanceof Error ? err.message : String(err), event_id: event.id }, 'alert event not queued');
    }
  }

  close(graceMs = 2000): Promise<void> {
    this.closed ??= this.shutdown(graceMs);
    return this.closed;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    const now = Date.now();
    // A retry due within the grace keeps its turn; one due later gets its last attempt now.
    for (const delivery of [...this.waiting]) {
      if (delivery.retryAt - now <= graceMs) continue;
      clearTimeout(delivery.timer);
      this.waiting.delete(delivery);
      this.push(delivery);
    }
    this.pump();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.until(() => this.inFlight === 0 && this.depth === 0), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.aborted = true;
    for (let d = this.take(); d !== undefined; d = this.take()) this.drop('shutdown', d, d.receiver);
    for (const delivery of this.waiting) {
      clearTimeout(delivery.timer);
      this.drop('shutdown', delivery, delivery.receiver);
    }
    this.waiting.clear();
    // Attempts still running are cut; each counts itself dropped. Claims still out drop theirs when they answer.
    this.stopper.abort();
    await this.until(() => this.inFlight === 0);
    await this.agent.destroy().catch(() => undefined);
  }

  private enqueue(event: AlertEvent | Delivery, body: string, receivers: readonly Receiver[]): void {
    for (const receiver of receivers) {
      if (this.closing && this.aborted) this.drop('shutdown', event, receiver);
      else if (this.ready.length - this.head + this.waiting.size >= this.config.queueSize) this.drop('queue_full', event, receiver);
      else this.push({ receiver, id: event.id, type: event.type, body, attempts: 0, retryAt: 0 });
    }
    this.pump();
  }

  private push(delivery: Delivery): void {
    this.ready.push(delivery);
  }

  private take(): Delivery | undefined {
    if (this.head === this.ready.length) return undefined;
    const delivery = this.ready[this.head];
    this.ready[this.head++] = undefined;
    if (this.head === this.ready.length) {
      this.ready = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    return delivery;
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && !this.aborted) {
      const delivery = this.take();
      if (delivery === undefined) break;
      this.inFlight++;
      void this.send(delivery).finally(() => {
        this.inFlight--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async send(delivery: Delivery): Promise<void> {
    delivery.attempts++;
    const result = await this.attempt(delivery);
    const metrics = this.deps.metrics;
    if (result.delivered) {
      metrics?.webhookDelivery(delivery.type, 'delivered');
      return;
    }
    const why = result.status !== undefined ? { status: result.status } : { err: result.error };
    if (this.aborted) {
      metrics?.webhookDelivery(delivery.type, 'failed');
      this.drop('shutdown', delivery, delivery.receiver, result.error);
      return;
    }
    if (!result.retryable || delivery.attempts >= this.config.maxAttempts || this.closing) {
      metrics?.webhookDelivery(delivery.type, 'failed');
      if (this.closing && result.retryable && delivery.attempts < this.config.maxAttempts) this.drop('shutdown', delivery, delivery.receiver, result.error);
      else this.drop('gave_up', delivery, delivery.receiver, undefined, { attempts: delivery.attempts, ...why });
      return;
    }
    metrics?.webhookDelivery(delivery.type, 'retried');
    const backoff = retryDelayMs(delivery.attempts, this.config.backoffMs, this.maxBackoffMs, this.random);
    const waitMs = result.retryAfterMs === undefined ? backoff : Math.min(result.retryAfterMs, this.maxBackoffMs);
    delivery.retryAt = Date.now() + waitMs;
    this.waiting.add(delivery);
    delivery.timer = setTimeout(() => {
      if (!this.waiting.delete(delivery)) return;
      this.push(delivery);
      this.pump();
    }, waitMs);
    // A pending retry does not keep the process alive: close() decides what becomes of it.
    delivery.timer.unref();
  }

  private async attempt(delivery: Delivery): Promise<AttemptResult> {
    const timeoutMs = this.config.timeoutMs;
    const headers = webhookHeaders(delivery.receiver.key, delivery.id, Math.floor(Date.now() / 1000), delivery.body);
    try {
      const res = await request(delivery.receiver.url, {
        method: 'POST',
        headers,
        body: delivery.body,
        dispatcher: this.agent,
        signal: AbortSignal.any([this.stopper.signal, AbortSignal.timeout(timeoutMs)]),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump({ limit: RESPONSE_READ_LIMIT }).catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { delivered: true };
      return { delivered: false, retryable: retryableStatus(status), status, retryAfterMs: retryableStatus(status) ? parseRetryAfter(res.headers['retry-after']) : undefined };
    } catch (err) {
      // Connection refused or reset, DNS, a timeout: the receiver may be back later.
      return { delivered: false, retryable: true, error: err instanceof Error ? err.name === 'TimeoutError' ? 'timed out' : err.message : String(err) };
    }
  }

  private drop(reason: DropReason, event: { id: string; type: AlertEventType }, receiver: Receiver, error?: string, extra: Record<string, unknown> = {}): void {
    this.deps.metrics?.webhookDropped(reason);
    this.warn(
      `drop:${reason}:${receiver.index}`,
      { reason, webhook: receiver.index, host: receiver.host, event_id: event.id, event_type: event.type, ...extra, ...(error === undefined ? {} : { err: error }) },
      reason === 'gave_up' ? 'webhook delivery given up' : 'webhook delivery dropped',
    );
  }

  /** Resolves once `done()` holds (checked whenever an attempt or a claim ends). */
  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ done, resolve }));
  }

  private checkIdle(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  }
}

/** The sink for `config.alerts` (its webhooks must not be empty: without any, use NO_ALERTS). */
export function createWebhookSink(config: AlertsConfig, deps: WebhookSinkDeps, options: WebhookSinkOptions = {}): WebhookSink {
  return new WebhookQueue(config, deps, options);
}
