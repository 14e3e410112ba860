// Routing one model's attempts (SPEC §7): balancing among its live deployments (weighted power of two
// choices on requests in flight), retries before the first byte on another deployment — or the same one
// after a backoff that honours the backend's Retry-After — within the model's budget of attempts and
// time, and a 503 with Retry-After when no deployment can take a call. Fallback models are the
// pipeline's next step (api/inference), each routed here in turn.
import { abortableSleep, type CallSignal } from '../providers/call-signal.js';
import { GatewayError } from '../openai/errors.js';
import type { CatalogDeployment, CatalogModel } from './catalog.js';
import { backoffMs as backoff } from './backoff.js';
import { BackendUnreachableError } from '../providers/exchange.js';

/** One attempt, as the request's log line shows it. */
export interface AttemptRecord {
  deployment: string;
  /** The backend's HTTP status; null when it never answered (connect error, timeout). */
  status: number | null;
  ms: number;
  /** Our error code for a failed attempt. */
  error?: string;
}

/** A started call: what the attempt function returned, on the deployment that took it. */
export interface Routed<T> {
  value: T;
  deployment: CatalogDeployment;
  /** Whether this call is its deployment's half-open trial (given back to `end`). */
  trial: boolean;
}

const BACKEND_FAILURES: ReadonlySet<string> = new Set(['upstream_error', 'upstream_timeout', 'model_unavailable']);

/** A failure of the backend (connection, timeout, 429, 5xx, garbage) rather than of the request: worth another deployment. */
export function isBackendFailure(err: unknown): err is GatewayError {
  return err instanceof GatewayError && BACKEND_FAILURES.has(err.errorName);
}

/**
 * Weighted power of two choices among the deployments that can take a call now, leaving out `skip`: two
 * distinct ones drawn by weight, and the one with fewer requests in flight per unit of weight wins; on a
 * tie the first drawn does, so equal loads split exactly by weight.
 */
export function chooseDeployment(deployments: readonly CatalogDeployment[], skip: ReadonlySet<CatalogDeployment> | undefined, now: number): CatalogDeployment | undefined {
  let total = 0;
  let count = 0;
  let only: CatalogDeployment | undefined;
  for (const d of deployments) {
    if (skip?.has(d) || !d.health.available(now)) continue;
    total += d.weight;
    count++;
    only = d;
  }
  if (count <= 1) return only;
  const first = drawByWeight(deployments, skip, now, total, undefined);
  const second = drawByWeight(deployments, skip, now, total - first.weight, first);
  return second.health.inflight / second.weight < first.health.inflight / first.weight ? second : first;
}

function drawByWeight(deployments: readonly CatalogDeployment[], skip: ReadonlySet<CatalogDeployment> | undefined, now: number, total: number, not: CatalogDeployment | undefined): CatalogDeployment {
  let r = Math.random() * total;
  let last: CatalogDeployment | undefined;
  for (const d of deployments) {
    if (d === not || skip?.has(d) || !d.health.available(now)) continue;
    last = d;
    r -= d.weight;
    if (r < 0) return d;
  }
  return last!;
}

/** Whether any deployment of the model can take a call now (else it is off `/v1/models`). */
export function modelAvailable(model: CatalogModel, now: number): boolean {
  for (const d of model.deployments) if (d.health.available(now)) return true;
  return false;
}

/** The 503 for a model none of whose deployments can take a call, with the wait until one may. */
export function modelUnavailable(model: CatalogModel, now: number): GatewayError {
  let wait = Infinity;
  for (const d of model.deployments) wait = Math.min(wait, Math.max(0, d.health.breaker.retryAt - now));
  return new GatewayError('model_unavailable', `The model "${model.id}" has no backend able to serve it right now; retry shortly.`, {
    retryAfterMs: Math.max(1000, Number.isFinite(wait) ? wait : 1000),
  });
}

function elapsedMs(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

/**
 * Calls `attempt` on the model's deployments until one starts: a backend failure is retried on another
 * deployment, or on the same one after a backoff (doubling from `backoff_ms`; a longer Retry-After from
 * the backend wins) when no other is left, while the model's budget of attempts and time lasts. Any
 * other error ends routing at once. Each attempt goes into `log`. The winner's deployment is still
 * counted in flight: the caller ends it with `deployment.health.end(trial, outcome)`.
 */
export async function routeModel<T>(model: CatalogModel, signal: CallSignal, log: AttemptRecord[], attempt: (deployment: CatalogDeployment) => Promise<T>): Promise<Routed<T>> {
  const { attempts, budget_ms: budgetMs, backoff_ms: backoffMs } = model.retry;
  const start = performance.now();
  let tried: Set<CatalogDeployment> | undefined;
  let lastError: GatewayError | undefined;
  let repeats = 0;
  for (let n = 0; n < attempts; n++) {
    if (n > 0 && performance.now() - start >= budgetMs) break;
    let deployment = chooseDeployment(model.deployments, tried, Date.now());
    if (deployment === undefined && tried !== undefined) {
      // Every live deployment has failed once: the same again, after a backoff. The Retry-After of a
      // backend that could not be reached is our advice to the client, not the backend's to us.
      deployment = chooseDeployment(model.deployments, undefined, Date.now());
      if (deployment === undefined) break;
      const wait = Math.max(backoff(backoffMs, repeats++), lastError instanceof BackendUnreachableError ? 0 : (lastError?.retryAfterMs ?? 0));
      if (performance.now() - start + wait > budgetMs) break;
      await abortableSleep(wait, signal);
      // The wait may have changed what is live.
      if (!deployment.health.available(Date.now())) continue;
    }
    if (deployment === undefined) break;
    const trial = deployment.health.begin();
    const began = performance.now();
    try {
      const value = await attempt(deployment);
      log.push({ deployment: deployment.name, status: 200, ms: elapsedMs(began) });
      return { value, deployment, trial };
    } catch (err) {
      const failed = isBackendFailure(err);
      const gatewayError = err instanceof GatewayError ? err : undefined;
      log.push({ deployment: deployment.name, status: gatewayError?.upstreamStatus ?? null, ms: elapsedMs(began), error: gatewayError?.code ?? 'aborted' });
      // A backend that answered about the request (a 400, say) is alive; a client that left says nothing.
      deployment.health.end(trial, err instanceof BackendUnreachableError ? 'unreachable' : failed ? 'failure' : gatewayError ? 'success' : 'neutral');
      if (!failed) throw err;
      lastError = err;
      (tried ??= new Set()).add(deployment);
    }
  }
  throw lastError ?? modelUnavailable(model, Date.now());
}
