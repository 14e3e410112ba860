// Metrics of a cluster (`floodgate serve --workers N`): a scrape reaches one worker, which asks the
// primary; the primary collects every worker's registry over IPC and merges them with prom-client's
// AggregatorRegistry.aggregate (counters and histograms summed, gauges by their own aggregator).
//
// API:
//   Primary — `const stop = serveClusterMetrics({ timeoutMs?, registries? })`, once, before or after
//     `cluster.fork()`; it answers every worker's scrape. `registries`: the primary's own, merged in too.
//     `stop()` removes its listeners (and fails the scrapes under way).
//   Worker — `startGateway(config, { clusterMetrics: true })`: the gateway calls `shareWorkerMetrics` with
//     its registry (the primary may collect it from then on) and its /metrics route answers with
//     `fetchClusterMetrics()` (the merged text; it rejects when the primary does not answer in time);
//     `gateway.close()` calls `unshareWorkerMetrics` (the worker's IPC listener goes).
//
// Messages (IPC, JSON): worker → primary `{type: 'floodgate:metrics:ready'}` once its registry can be
// collected, `{…:scrape, id}` for a scrape; primary → worker `{…:collect, id}`, answered by
// `{…:collected, id, metrics}`; primary → the scraping worker `{…:aggregate, id, text | error}`.
// prom-client's own `clusterMetrics()` asks every connected worker, ready or not (a worker still starting
// never answers and the scrape times out), with one registry list per process: hence this protocol.
//
// Counters never go down in the merge, though a worker dies and its replacement counts from zero (which
// Prometheus would read as a reset): the primary keeps each worker's registry as collected at each scrape
// — it collects at scrapes only, not between them — and when a worker goes, its last counters and
// histograms stay in every later merge (its gauges go with it: its streams in flight are no more). What a
// worker counted after the last scrape before its death is lost; the merged series stay monotonic.
//
// Only node:cluster and prom-client are imported here (the cluster test runs this file on its own).
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const READY = 'floodgate:metrics:ready';
const SCRAPE = 'floodgate:metrics:scrape';
const COLLECT = 'floodgate:metrics:collect';
const COLLECTED = 'floodgate:metrics:collected';
const AGGREGATE = 'floodgate:metrics:aggregate';

type RegistryJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type MetricJson = RegistryJson[number];
type SampleJson = MetricJson['values'][number] & { metricName?: string };

interface Message {
  type: string;
  id?: number;
  metrics?: RegistryJson;
  text?: string;
  error?: string;
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).type === 'string' && (value as Message).type.startsWith('floodgate:metrics:');
}

export interface ClusterMetricsOptions {
  /** How long the primary waits for every worker's registry before the scrape fails (default 5 s). */
  timeoutMs?: number;
  /** The primary's own registries, merged with the workers'. */
  registries?: Registry[];
}

function sampleKey(sample: SampleJson): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sample.metricName ?? ''}\u0000${JSON.stringify(labels)}`;
}

/**
 * `retired` with a gone worker's cumulative series added: counters and histograms (buckets, sums and
 * counts), summed per series. One registry however many workers have gone, so memory stays flat.
 */
export function retireWorkerMetrics(retired: RegistryJson, gone: RegistryJson): RegistryJson {
  const byName = new Map(retired.map((metric) => [metric.name, metric]));
  for (const metric of gone) {
    // The enum's declared values are numbers; the JSON carries prom-client's type names.
    const type = metric.type as unknown as string;
    if (type !== 'counter' && type !== 'histogram') continue;
    const kept = byName.get(metric.name);
    if (kept === undefined) {
      byName.set(metric.name, { ...metric, values: metric.values.map((v: SampleJson) => ({ ...v, labels: { ...v.labels } })) });
      continue;
    }
    const series = new Map(kept.values.map((v: SampleJson) => [sampleKey(v), v]));
    for (const sample of metric.values as SampleJson[]) {
      const same = series.get(sampleKey(sample));
      if (same !== undefined) same.value += sample.value;
      else kept.values.push({ ...sample, labels: { ...sample.labels } });
    }
  }
  return [...byName.values()];
}

interface Collection {
  receive(workerId: number, metrics: RegistryJson): void;
  drop(workerId: number): void;
  fail(err: Error): void;
}

/** Primary: answers the workers' scrapes with every ready worker's metrics merged. Returns `stop`. */
export function serveClusterMetrics(options: ClusterMetricsOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 5000;
  const ready = new Map<number, Worker>();
  /** Each ready worker's registry as collected at the latest scrape. */
  const lastCollected = new Map<number, RegistryJson>();
  /** The cumulative series of every worker gone, kept in each merge. */
  let retired: RegistryJson = [];
  const collections = new Map<number, Collection>();
  let nextId = 0;

  /** Refreshes `lastCollected` from every ready worker. */
  function collect(): Promise<void> {
    const id = nextId++;
    const workers = [...ready.values()].filter((w) => w.isConnected());
    return new Promise((resolve, reject) => {
      const waiting = new Set(workers.map((w) => w.id));
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        collections.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`metrics: ${waiting.size} worker(s) did not answer within ${timeoutMs} ms`)), timeoutMs);
      const collection: Collection = {
        receive(workerId, metrics) {
          if (!waiting.delete(workerId)) return;
          if (ready.has(workerId)) lastCollected.set(workerId, metrics);
          if (waiting.size === 0) finish();
        },
        // A worker that exits mid-scrape is left out, not waited for.
        drop(workerId) {
          if (waiting.delete(workerId) && waiting.size === 0) finish();
        },
        fail: finish,
      };
      collections.set(id, collection);
      for (const worker of workers) {
        worker.send({ type: COLLECT, id }, undefined, (err) => {
          if (err) collection.drop(worker.id);
        });
      }
      if (waiting.size === 0) finish();
    });
  }

  async function aggregate(): Promise<string> {
    const own = await Promise.all((options.registries ?? []).map((r) => r.getMetricsAsJSON()));
    await collect();
    // From the cache, not this collection's answers: a worker that answered and then went is in `retired`
    // now, and must not be counted twice.
    return AggregatorRegistry.aggregate([...own, retired, ...lastCollected.values()]).metrics();
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return;
    if (message.type === READY) ready.set(worker.id, worker);
    else if (message.type === COLLECTED && message.id !== undefined && message.metrics !== undefined) collections.get(message.id)?.receive(worker.id, message.metrics);
    else if (message.type === SCRAPE && message.id !== undefined) {
      const id = message.id;
      const answer = (reply: Message): void => {
        if (worker.isConnected()) worker.send(reply);
      };
      aggregate().then(
        (text) => answer({ type: AGGREGATE, id, text }),
        (err: unknown) => answer({ type: AGGREGATE, id, error: err instanceof Error ? err.message : String(err) }),
      );
    }
  };
  const onGone = (worker: Worker): void => {
    ready.delete(worker.id);
    const last = lastCollected.get(worker.id);
    if (last !== undefined) {
      lastCollected.delete(worker.id);
      retired = retireWorkerMetrics(retired, last);
    }
    for (const collection of collections.values()) collection.drop(worker.id);
  };
  cluster.on('message', onMessage);
  cluster.on('disconnect', onGone);
  cluster.on('exit', onGone);
  return () => {
    cluster.off('message', onMessage);
    cluster.off('disconnect', onGone);
    cluster.off('exit', onGone);
    for (const collection of collections.values()) collection.fail(new Error('metrics: the primary stopped serving cluster metrics'));
  };
}

let shared: Registry | undefined;
let workerListening = false;
const scrapes = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
let nextScrape = 0;

function onWorkerMessage(message: unknown): void {
  if (!isMessage(message)) return;
  if (message.type === COLLECT && message.id !== undefined) {
    const id = message.id;
    const registry = shared;
    if (registry === undefined) return;
    // A channel closing under the answer (the worker shutting down) leaves the primary to drop this worker.
    registry
      .getMetricsAsJSON()
      .then((metrics) => process.send?.({ type: COLLECTED, id, metrics }))
      .catch(() => undefined);
  } else if (message.type === AGGREGATE && message.id !== undefined) {
    const scrape = scrapes.get(message.id);
    if (scrape === undefined) return;
    scrapes.delete(message.id);
    clearTimeout(scrape.timer);
    if (message.text !== undefined) scrape.resolve(message.text);
    else scrape.reject(new Error(message.error ?? 'metrics: the primary sent no metrics'));
  }
}

/** Worker: lets the primary collect `registry` (one per process: the last one shared is collected). */
export function shareWorkerMetrics(registry: Registry): void {
  if (!cluster.isWorker || process.send === undefined) throw new Error('shareWorkerMetrics: not a cluster worker');
  shared = registry;
  if (!workerListening) {
    workerListening = true;
    process.on('message', onWorkerMessage);
  }
  process.send({ type: READY });
}

/** Worker: stops answering the primary (the gateway has closed); scrapes under way fail. */
export function unshareWorkerMetrics(registry: Registry): void {
  if (shared !== registry) return;
  shared = undefined;
  workerListening = false;
  process.off('message', onWorkerMessage);
  for (const [id, scrape] of scrapes) {
    scrapes.delete(id);
    clearTimeout(scrape.timer);
    scrape.reject(new Error('metrics: the gateway has closed'));
  }
}

/** Worker: every worker's metrics merged, from the primary (`serveClusterMetrics`). */
export function fetchClusterMetrics(timeoutMs = 10_000): Promise<string> {
  const send = process.send?.bind(process);
  if (send === undefined || !workerListening) return Promise.reject(new Error('fetchClusterMetrics: call shareWorkerMetrics first, in a cluster worker'));
  return new Promise((resolve, reject) => {
    const id = nextScrape++;
    const timer = setTimeout(() => {
      scrapes.delete(id);
      reject(new Error(`metrics: the primary did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    scrapes.set(id, { resolve, reject, timer });
    send({ type: SCRAPE, id });
  });
}
