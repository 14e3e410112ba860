// The gateway's Prometheus metrics (SPEC §12), on a registry of its own (several gateways can run in one
// process). A request is observed once, when its log line is written (`observeRequest`), through label
// children cached by label tuple (about 3–4 µs a request, measured); gauges are read when scraped.
import cluster from 'node:cluster';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestState } from '../api/request-state.js';
import { tokenCount } from '../openai/normalize.js';
import type { BreakerState, HealthRegistry } from '../routing/health.js';
import { fetchClusterMetrics, shareWorkerMetrics, unshareWorkerMetrics } from './cluster.js';

/** Why admission refused a request: one of the limits (429), or the balance (402). */
export type LimitRejection = NonNullable<RequestState['rejected']>;

const LIMIT_REJECTIONS: readonly LimitRejection[] = ['requests', 'tokens', 'concurrency', 'balance', 'budget'];

const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** Seconds: a whole request or a backend's answer, from a few milliseconds to a long generation. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds: Floodgate's own share of a request, tens of microseconds to milliseconds. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the scrape-time gauges read. */
export interface MetricSources {
  health: HealthRegistry;
  /** Usage records queued and not yet committed. */
  usageQueueDepth: () => number;
}

export interface GatewayMetricsOptions {
  /** The default process and Node.js metrics (CPU, memory, event loop, GC), prefixed `floodgate_`. */
  processMetrics?: boolean;
}

/** One request series' children, made on the first request with its endpoint, model and status. */
interface RequestSeries {
  requests: Counter.Internal;
  duration: Histogram.Internal<'endpoint' | 'model' | 'status'>;
}

/** One model's token and cost children. */
interface ModelSeries {
  prompt: Counter.Internal;
  completion: Counter.Internal;
  cached: Counter.Internal;
  reasoning: Counter.Internal;
  cost: Counter.Internal;
  ttft: Histogram.Internal<'model'>;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'endpoint' | 'model' | 'status'>;
  private readonly duration: Histogram<'endpoint' | 'model' | 'status'>;
  private readonly overhead: Histogram<'endpoint' | 'stream'>;
  private readonly upstream: Histogram<'deployment'>;
  private readonly ttft: Histogram<'model'>;
  private readonly tokens: Counter<'model' | 'type'>;
  private readonly cost: Counter<'model'>;
  private readonly rejections: Counter<'kind'>;
  private readonly usageWriteFailures: Counter;
  private readonly usageClamped: Counter<'model' | 'kind'>;
  private readonly storeErrors: Counter<'operation'>;
  private readonly redisFailures: Counter<'operation' | 'policy'>;
  private readonly connectionsDropped: Counter<'reason'>;
  private readonly webhookDeliveries: Counter<'event' | 'outcome'>;
  private readonly webhookDrops: Counter<'reason'>;
  /** Deliveries waiting in the webhook queue (src/alerts/webhooks.ts), when webhooks are configured. */
  private webhookQueueDepth: (() => number) | undefined;

  // Label children by label tuple (nested maps: no key string built per request).
  private readonly requestSeries = new Map<string, Map<string, Map<number, RequestSeries>>>();
  private readonly modelSeries = new Map<string, ModelSeries>();
  private readonly upstreamSeries = new Map<string, Histogram.Internal<'deployment'>>();
  private readonly overheadSeries = new Map<string, Histogram.Internal<'endpoint' | 'stream'>[]>();
  private readonly rejectionSeries = new Map<LimitRejection, Counter.Internal>();
  /** Requests under way (counted by `requestStarted`, ended by `observeRequest`). */
  private readonly inFlight = new Set<RequestState>();
  private sources: MetricSources | undefined;
  private clustered = false;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'floodgate_requests_total',
      help: 'API requests (below the base path) by endpoint (route), catalog model ("" before a model is known) and HTTP status.',
      labelNames: ['endpoint', 'model', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'floodgate_request_duration_seconds',
      help: 'API request duration, from arrival to the end of the response (a stream included).',
      labelNames: ['endpoint', 'model', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.overhead = new Histogram({
      name: 'floodgate_gateway_overhead_seconds',
      help:
        'Time spent in Floodgate itself on requests that reached a backend: from arrival until the response ended (stream="false") ' +
        'or until the first byte was relayed (stream="true"; the end if none was), minus the time spent in backend attempts (each ' +
        "attempt's call until its answer, a stream's first event or a media answer's headers; retries included). Retry backoffs count as gateway time.",
      labelNames: ['endpoint', 'stream'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.upstream = new Histogram({
      name: 'floodgate_upstream_latency_seconds',
      help: "Time from forwarding to the backend's answer: the complete JSON answer, a stream's first event, or a media answer's headers (the attempt that served).",
      labelNames: ['deployment'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: 'floodgate_time_to_first_token_seconds',
      help: 'Streams: time from arrival to the first byte sent to the client, by catalog model.',
      labelNames: ['model'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: 'floodgate_tokens_total',
      help: 'Tokens of settled requests, by catalog model and type: prompt (cached included), completion (reasoning included), cached, reasoning.',
      labelNames: ['model', 'type'],
      registers,
    });
    this.cost = new Counter({
      name: 'floodgate_cost_micros_total',
      help: "Settled cost, in micro-units of the accounts' currency (1 USD = 1,000,000), by catalog model.",
      labelNames: ['model'],
      registers,
    });
    this.rejections = new Counter({
      name: 'floodgate_limit_rejections_total',
      help: 'Requests refused at admission: requests, tokens or concurrency limit (429), or balance (402).',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of LIMIT_REJECTIONS) {
      const child = this.rejections.labels(kind);
      child.inc(0); // every kind is shown from the start, at 0
      this.rejectionSeries.set(kind, child);
    }
    this.usageClamped = new Counter({
      name: 'floodgate_usage_clamped_total',
      help: 'Settled requests whose backend reported more tokens than the request could use, billed at the bound instead: by catalog model and kind (prompt, completion).',
      labelNames: ['model', 'kind'],
      registers,
    });
    this.usageWriteFailures = new Counter({
      name: 'floodgate_usage_write_failures_total',
      help: 'Usage-record batch writes that failed (each is tried again).',
      registers,
    });
    this.storeErrors = new Counter({
      name: 'floodgate_store_errors_total',
      help: 'Failed store operations (usage_write: a usage batch; ping: the readiness check; key_lookup, balance_read: reads a request waited on; connection: a pooled PostgreSQL connection lost).',
      labelNames: ['operation'],
      registers,
    });
    this.redisFailures = new Counter({
      name: 'floodgate_redis_failures_total',
      help: 'Redis calls that failed, by operation and the failure policy applied (open, closed, local).',
      labelNames: ['operation', 'policy'],
      registers,
    });
    this.connectionsDropped = new Counter({
      name: 'floodgate_connections_dropped_total',
      help: 'Client connections the server closed on its own: max_connections (over the cap, closed on arrival), headers_timeout, request_timeout, body_idle_timeout.',
      labelNames: ['reason'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'floodgate_webhook_deliveries_total',
      help: 'Webhook delivery attempts by event type and outcome: delivered (2xx), retried (failed, tried again later), failed (failed, given up).',
      labelNames: ['event', 'outcome'],
      registers,
    });
    this.webhookDrops = new Counter({
      name: 'floodgate_webhook_dropped_total',
      help: 'Webhook deliveries never made: queue_full (alerts.queue_size reached), gave_up (out of attempts, or refused by the receiver), shutdown (still queued when the gateway stopped), unserializable (data that is not JSON).',
      labelNames: ['reason'],
      registers,
    });
    const webhookQueueDepth = (): number | undefined => this.webhookQueueDepth?.();
    new Gauge({
      name: 'floodgate_webhook_queue_depth',
      help: 'Webhook deliveries waiting to be sent (their retries included).',
      registers,
      collect() {
        this.set(webhookQueueDepth() ?? 0);
      },
    });
    const inFlight = this.inFlight;
    new Gauge({
      name: 'floodgate_requests_in_flight',
      help: 'API requests under way.',
      registers,
      collect() {
        this.set(inFlight.size);
      },
    });
    new Gauge({
      name: 'floodgate_streams_in_flight',
      help: 'Streamed responses under way (the 200 sent, the stream not ended).',
      registers,
      collect() {
        let streams = 0;
        for (const state of inFlight) if (state.stream === true && state.ttftMs !== undefined) streams++;
        this.set(streams);
      },
    });
    const sources = (): MetricSources | undefined => this.sources;
    new Gauge({
      name: 'floodgate_circuit_breaker_state',
      help: 'Circuit breaker of each deployment: 0 closed, 1 half_open, 2 open. Across cluster workers: the highest.',
      labelNames: ['deployment'],
      aggregator: 'max',
      registers,
      collect() {
        const health = sources()?.health;
        if (health === undefined) return;
        for (const deployment of health.all()) this.labels(deployment.name).set(BREAKER_VALUES[deployment.breaker.state]);
      },
    });
    new Gauge({
      name: 'floodgate_usage_queue_depth',
      help: 'Usage records queued and not yet written.',
      registers,
      collect() {
        const depth = sources()?.usageQueueDepth;
        if (depth !== undefined) this.set(depth());
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'floodgate_' });
  }

  /** Connects the scrape-time gauges to what they read (the catalog's health, the usage writer). */
  watch(sources: MetricSources): void {
    this.sources = sources;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * In a cluster worker (`floodgate serve --workers N`): lets the primary collect this registry, and makes
   * `scrape` answer with every worker's metrics merged (see ./cluster.ts). Outside a worker: nothing.
   */
  shareWithCluster(): void {
    if (!cluster.isWorker) return;
    shareWorkerMetrics(this.registry);
    this.clustered = true;
  }

  /** The text a scrape gets: this gateway's metrics, or the whole cluster's. */
  scrape(): Promise<string> {
    return this.clustered ? fetchClusterMetrics() : this.registry.metrics();
  }

  /** The gateway has closed: a cluster worker stops answering the primary. */
  close(): void {
    if (this.clustered) unshareWorkerMetrics(this.registry);
    this.clustered = false;
  }

  /** An API request to the route `endpoint` has begun (it is in flight until `observeRequest`). */
  requestStarted(state: RequestState, endpoint: string | undefined): void {
    if (state.logged) return; // already over (and observed as nothing): it must not stay in flight
    state.endpoint = endpoint ?? 'unknown';
    this.inFlight.add(state);
  }

  /** A request's last word, when its log line is written: counts, latencies, tokens and cost, its refusal. */
  observeRequest(state: RequestState, status: number): void {
    const endpoint = state.endpoint;
    if (endpoint === undefined) return;
    this.inFlight.delete(state);
    const totalMs = performance.now() - state.start;
    const model = state.servedModel ?? state.modelId ?? '';
    const series = this.requestChildren(endpoint, model, status);
    series.requests.inc();
    series.duration.observe(totalMs / 1000);
    if (state.rejected !== undefined) this.rejectionSeries.get(state.rejected)!.inc();

    const attempts = state.attempts;
    if (attempts !== undefined && attempts.length > 0) {
      let upstreamMs = 0;
      for (const attempt of attempts) upstreamMs += attempt.ms;
      // A stream is measured to its first byte: what follows is the backend's pace (or the client's).
      const streamed = state.stream === true;
      const untilMs = streamed ? (state.ttftMs ?? totalMs) : totalMs;
      this.overheadChild(endpoint, streamed).observe(Math.max(0, untilMs - upstreamMs) / 1000);
    }
    if (state.upstreamMs !== undefined && state.deployment !== undefined) this.upstreamChild(state.deployment).observe(state.upstreamMs / 1000);

    const streamedTtft = state.stream === true ? state.ttftMs : undefined;
    const usage = state.admission !== undefined ? state.usage : undefined;
    const clamped = state.clamped;
    if (clamped !== undefined && usage !== undefined) {
      if (clamped.promptTokens > usage.prompt_tokens) this.usageClamped.labels(model, 'prompt').inc();
      if (clamped.completionTokens > usage.completion_tokens) this.usageClamped.labels(model, 'completion').inc();
    }
    const cost = state.costMicros;
    if (streamedTtft === undefined && usage === undefined && !cost) return;
    const perModel = this.modelChildren(model);
    if (streamedTtft !== undefined) perModel.ttft.observe(streamedTtft / 1000);
    if (usage !== undefined) {
      if (usage.prompt_tokens > 0) perModel.prompt.inc(usage.prompt_tokens);
      if (usage.completion_tokens > 0) perModel.completion.inc(usage.completion_tokens);
      if (usage.cache_read_input_tokens > 0) perModel.cached.inc(usage.cache_read_input_tokens);
      const reasoning = usage.completion_tokens_details === undefined ? 0 : tokenCount(usage.completion_tokens_details.reasoning_tokens);
      if (reasoning > 0) perModel.reasoning.inc(reasoning);
    }
    if (cost) perModel.cost.inc(cost);
  }

  /** A usage batch could not be written (it will be tried again). */
  usageWriteFailed(): void {
    this.usageWriteFailures.inc();
    this.storeError('usage_write');
  }

  /** A store operation failed. */
  storeError(operation: string): void {
    this.storeErrors.labels(operation).inc();
  }

  /** A client connection was closed by the server's connection limits (`server.*_timeout_ms`, `server.max_connections`). */
  connectionDropped(reason: string): void {
    this.connectionsDropped.labels(reason).inc();
  }

  /** A webhook delivery attempt ended: `delivered`, `retried` (will be tried again) or `failed` (given up). */
  webhookDelivery(event: string, outcome: 'delivered' | 'retried' | 'failed'): void {
    this.webhookDeliveries.labels(event, outcome).inc();
  }

  /** A webhook delivery was dropped without being delivered. */
  webhookDropped(reason: string): void {
    this.webhookDrops.labels(reason).inc();
  }

  /** Connects `floodgate_webhook_queue_depth` to the webhook queue. */
  watchWebhookQueue(depth: () => number): void {
    this.webhookQueueDepth = depth;
  }

  /** A Redis call failed and the limit's failure policy (open, closed, local) was applied. */
  redisFailure(operation: string, policy: string): void {
    this.redisFailures.labels(operation, policy).inc();
  }

  private requestChildren(endpoint: string, model: string, status: number): RequestSeries {
    let byModel = this.requestSeries.get(endpoint);
    if (byModel === undefined) this.requestSeries.set(endpoint, (byModel = new Map()));
    let byStatus = byModel.get(model);
    if (byStatus === undefined) byModel.set(model, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      const code = String(status);
      series = { requests: this.requests.labels(endpoint, model, code), duration: this.duration.labels(endpoint, model, code) };
      byStatus.set(status, series);
    }
    return series;
  }

  private overheadChild(endpoint: string, stream: boolean): Histogram.Internal<'endpoint' | 'stream'> {
    let pair = this.overheadSeries.get(endpoint);
    if (pair === undefined) {
      pair = [this.overhead.labels(endpoint, 'false'), this.overhead.labels(endpoint, 'true')];
      this.overheadSeries.set(endpoint, pair);
    }
    return pair[stream ? 1 : 0];
  }

  private upstreamChild(deployment: string): Histogram.Internal<'deployment'> {
    let child = this.upstreamSeries.get(deployment);
    if (child === undefined) this.upstreamSeries.set(deployment, (child = this.upstream.labels(deployment)));
    return child;
  }

  private modelChildren(model: string): ModelSeries {
    let series = this.modelSeries.get(model);
    if (series === undefined) {
      series = {
        prompt: this.tokens.labels(model, 'prompt'),
        completion: this.tokens.labels(model, 'completion'),
        cached: this.tokens.labels(model, 'cached'),
        reasoning: this.tokens.labels(model, 'reasoning'),
        cost: this.cost.labels(model),
        ttft: this.ttft.labels(model),
      };
      this.modelSeries.set(model, series);
    }
    return series;
  }
}
