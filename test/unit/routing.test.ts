// The routing parts on their own: the circuit breaker's states over explicit clocks, the weighted
// power-of-two-choices draw, and the retry loop's budget, backoff and error handling.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, DeploymentHealth } from '../../src/routing/health.js';
import { backoffMs } from '../../src/routing/backoff.js';
import { chooseDeployment, routeModel, type AttemptRecord } from '../../src/routing/router.js';
import type { CatalogDeployment, CatalogModel } from '../../src/routing/catalog.js';
import { CallSignal } from '../../src/providers/call-signal.js';
import { GatewayError } from '../../src/openai/errors.js';
import { DEFAULT_BREAKER, DEFAULT_PROBES } from '../../src/config/load.js';
import { DEFAULT_TIMEOUTS } from '../../src/routing/timeouts.js';
import { BackendUnreachableError, connectCheck, transportError } from '../../src/providers/exchange.js';
import { errors as undiciErrors } from 'undici';
import { createServer, type Server } from 'node:net';

const BREAKER = { window_ms: 10_000, min_requests: 4, error_rate: 0.5, open_ms: 1000, max_open_ms: 8000 };

describe('circuit breaker', () => {
  it('stays closed below the minimum request count, however many of them fail', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 3; i++) b.end(b.begin(), 'failure', 1000 + i);
    expect(b.state).toBe('closed');
    b.end(b.begin(), 'failure', 1004);
    expect(b.state).toBe('open');
    expect(b.retryAt).toBe(2004);
  });

  it('opens at the error rate over the window, not below it', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 6; i++) b.end(false, 'success', 1000);
    for (let i = 0; i < 5; i++) b.end(false, 'failure', 1000);
    expect(b.state).toBe('closed'); // 5 of 11
    b.end(false, 'failure', 1000);
    expect(b.state).toBe('open'); // 6 of 12
  });

  it('forgets outcomes older than the window', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 3; i++) b.end(false, 'failure', 1000);
    expect(b.window(1000)).toEqual({ requests: 3, failures: 3 });
    // Eleven seconds later the three failures are out of the 10 s window.
    b.end(false, 'failure', 12_000);
    expect(b.window(12_000)).toEqual({ requests: 1, failures: 1 });
    expect(b.state).toBe('closed');
  });

  it('ignores neutral outcomes and calls that end after it opened', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 10; i++) b.end(false, 'neutral', 1000);
    expect(b.window(1000).requests).toBe(0);
    for (let i = 0; i < 4; i++) b.end(false, 'failure', 1000);
    expect(b.state).toBe('open');
    b.end(false, 'success', 1100);
    expect(b.state).toBe('open');
  });

  it('with request trials: half-open after open_ms, one trial at a time; success closes, failure reopens', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 4; i++) b.end(false, 'failure', 1000);
    expect(b.available(1999)).toBe(false);
    expect(b.available(2000)).toBe(true);
    expect(b.state).toBe('half_open');
    const trial = b.begin();
    expect(trial).toBe(true);
    expect(b.available(2001)).toBe(false);
    b.end(trial, 'failure', 2050);
    expect(b.state).toBe('open');
    // A failed trial: the next cool-down is backed off (2 × open_ms, half of it jittered).
    expect(b.retryAt).toBeGreaterThanOrEqual(3050);
    expect(b.retryAt).toBeLessThanOrEqual(4050);
    expect(b.available(4050)).toBe(true);
    b.end(b.begin(), 'success', 4060);
    expect(b.state).toBe('closed');
    expect(b.window(4060).requests).toBe(0);
  });

  it('trials that keep failing are spaced ever wider, with jitter, up to max_open_ms; a success starts over', () => {
    const cooldowns: number[][] = [];
    for (let run = 0; run < 20; run++) {
      const b = new CircuitBreaker(BREAKER, false);
      for (let i = 0; i < 4; i++) b.end(false, 'failure', 0);
      const waits = [b.retryAt];
      let now = b.retryAt;
      for (let n = 0; n < 6; n++) {
        expect(b.startTrial()).toBe(true);
        b.end(true, 'failure', now);
        waits.push(b.retryAt - now);
        now = b.retryAt;
      }
      cooldowns.push(waits);
      // Closed by a good trial: the next opening is open_ms again.
      expect(b.startTrial()).toBe(true);
      b.end(true, 'success', now);
      for (let i = 0; i < 4; i++) b.end(false, 'failure', now);
      expect(b.retryAt - now).toBe(1000);
    }
    for (const waits of cooldowns) {
      expect(waits[0]).toBe(1000);
      // The n-th failed trial waits within [half, all] of min(open_ms × 2^n, max_open_ms).
      waits.slice(1).forEach((wait, i) => {
        const full = Math.min(1000 * 2 ** (i + 1), 8000);
        expect(wait).toBeGreaterThanOrEqual(full / 2);
        expect(wait).toBeLessThanOrEqual(full);
      });
    }
    // Jittered: twenty breakers failing alike do not all come back at the same moment.
    expect(new Set(cooldowns.map((w) => w[3])).size).toBeGreaterThan(5);
  });

  it('with probes: stays open for requests until a probe takes the trial', () => {
    const b = new CircuitBreaker(BREAKER, false);
    for (let i = 0; i < 4; i++) b.end(false, 'failure', 1000);
    expect(b.available(5000)).toBe(false);
    expect(b.startTrial()).toBe(true);
    expect(b.startTrial()).toBe(false);
    expect(b.state).toBe('half_open');
    expect(b.available(2001)).toBe(false);
    b.end(true, 'success', 2010);
    expect(b.available(2011)).toBe(true);
  });

  it('a neutral trial (client gone) lets the next one through', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 4; i++) b.end(false, 'failure', 1000);
    expect(b.available(2000)).toBe(true);
    b.end(b.begin(), 'neutral', 2001);
    expect(b.state).toBe('half_open');
    expect(b.available(2002)).toBe(true);
  });
});

describe('liveness (SPEC §7)', () => {
  it('an unreachable backend opens a closed breaker at once, whatever min_requests, until the next check', () => {
    const opened: number[] = [];
    const b = new CircuitBreaker(BREAKER, false, undefined, (state, openMs) => state === 'open' && opened.push(openMs));
    b.unreachable(1000, 2000);
    expect([b.state, b.openReason, b.retryAt]).toEqual(['open', 'unreachable', 3000]);
    // Peers hear of it, with the wait until the next check.
    expect(opened).toEqual([2000]);
    // Each failed check pushes the Retry-After on.
    b.unreachable(2500, 2000);
    expect(b.retryAt).toBe(4500);
  });

  it('a check that connects again starts the trial at once, but only for a breaker opened as unreachable', () => {
    const b = new CircuitBreaker(BREAKER, false);
    expect(b.reachable()).toBe(false);
    b.unreachable(1000, 60_000);
    expect(b.reachable()).toBe(true);
    expect(b.state).toBe('half_open');
    // One trial at a time.
    expect(b.reachable()).toBe(false);
    b.end(true, 'success', 1100);
    expect(b.state).toBe('closed');

    // Opened by wrong answers (a 401, say): the check connecting proves nothing, the backed-off cool-down stands.
    const failing = new CircuitBreaker(BREAKER, false);
    for (let i = 0; i < 4; i++) failing.end(false, 'failure', 1000);
    expect(failing.reachable()).toBe(false);
    expect(failing.state).toBe('open');
    // Unless the backend went away meanwhile: then the check that finds it again starts a trial.
    failing.unreachable(1500, 2000);
    expect(failing.reachable()).toBe(true);
  });

  it('a trial that cannot connect does not lengthen the cool-down; one answered wrongly does', () => {
    const b = new CircuitBreaker(BREAKER, false);
    for (let i = 0; i < 4; i++) b.end(false, 'failure', 0);
    let now = b.retryAt;
    for (let n = 0; n < 5; n++) {
      expect(b.startTrial()).toBe(true);
      b.end(true, 'unreachable', now);
      expect([b.retryAt - now, b.openReason]).toEqual([1000, 'unreachable']);
      now = b.retryAt;
    }
    expect(b.startTrial()).toBe(true);
    b.end(true, 'failure', now);
    expect(b.retryAt - now).toBeGreaterThanOrEqual(1000);
    expect(b.openReason).toBe('failures');
  });

  it('counts a request that could not connect as a failure in the window', () => {
    const b = new CircuitBreaker(BREAKER, true);
    for (let i = 0; i < 4; i++) b.end(false, 'unreachable', 1000);
    expect(b.state).toBe('open');
  });

  it('a deployment whose check fails leaves at once, skips the timed trial, and is back with the first check that connects', async () => {
    let up = false;
    let probes = 0;
    const health = new DeploymentHealth('d', { ...DEFAULT_BREAKER, open_ms: 100 }, DEFAULT_PROBES);
    health.liveness = async () => up;
    health.probe = async () => (++probes, 'success');
    await health.checkLiveness();
    expect(health.available(Date.now())).toBe(false);
    // open_ms (100 ms) goes by: no trial probe is sent to a backend known to be unreachable.
    await new Promise((r) => setTimeout(r, 250));
    expect([probes, health.breaker.state]).toEqual([0, 'open']);
    up = true;
    await health.checkLiveness();
    await new Promise((r) => setImmediate(r));
    expect([probes, health.breaker.state]).toEqual([1, 'closed']);
    health.stop();
  });

  it('with probes off, no check runs', async () => {
    const health = new DeploymentHealth('d', DEFAULT_BREAKER, { ...DEFAULT_PROBES, enabled: false });
    let checks = 0;
    health.liveness = async () => (++checks, false);
    await health.checkLiveness();
    expect([checks, health.breaker.state]).toEqual([0, 'closed']);
  });
});

describe('unreachable backends (SPEC §6)', () => {
  const signal = new CallSignal();

  it('refused, unresolvable and connect timeouts are 503 model_unavailable with Retry-After; a broken connection stays 502', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const unresolvable = Object.assign(new Error('getaddrinfo ENOTFOUND x.invalid'), { code: 'ENOTFOUND' });
    const timedOut = new undiciErrors.ConnectTimeoutError('Connect Timeout Error');
    const everyAddress = new AggregateError([refused, Object.assign(new Error('connect ENETUNREACH ::1'), { code: 'ENETUNREACH' })]);
    for (const cause of [refused, unresolvable, timedOut, everyAddress]) {
      const err = transportError(cause, signal);
      expect(err).toBeInstanceOf(BackendUnreachableError);
      expect(err).toMatchObject({ status: 503, type: 'service_unavailable', code: 'model_unavailable' });
      expect((err as GatewayError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    }
    expect(transportError(timedOut, signal).message).toMatch(/timed out/);
    const reset = transportError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), signal);
    expect(reset).not.toBeInstanceOf(BackendUnreachableError);
    expect(reset).toMatchObject({ status: 502, code: 'upstream_error' });
  });

  it('the liveness check tells a listening port from a refusing one and an unresolvable host (a timed-out connect: liveness.test.ts)', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    expect(await connectCheck(`http://127.0.0.1:${port}`, 1000)()).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await connectCheck(`http://127.0.0.1:${port}`, 1000)()).toBe(false);
    expect(await connectCheck('http://nonexistent.invalid', 1000)()).toBe(false);
  });

  it('routing does not wait out the Retry-After it gives the client for an unreachable backend, and counts it so', async () => {
    let calls = 0;
    const only = deployment('only', 1, async () => (++calls, Promise.reject(transportError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), signal))));
    const started = performance.now();
    const err = await routeModel(catalogModel([only]), new CallSignal(), [], (d) => d.provider.call(undefined as never)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnreachableError);
    expect(calls).toBe(3);
    expect(performance.now() - started).toBeLessThan(500);
    expect(only.health.breaker.window(Date.now())).toEqual({ requests: 3, failures: 3 });
  });
});

describe('circuit breaker shared between instances', () => {
  it('reports the transitions its own outcomes make, and follows those of its peers without reporting them again', () => {
    const told: string[] = [];
    const own = new CircuitBreaker(BREAKER, true, undefined, (state) => told.push(state));
    for (let i = 0; i < 4; i++) own.end(false, 'failure', 1000);
    expect(told).toEqual(['open']);
    expect(own.available(2000)).toBe(true); // the cool-down is over: a trial
    own.end(own.begin(), 'success', 2001);
    expect(told).toEqual(['open', 'closed']);

    const heard: string[] = [];
    const peer = new CircuitBreaker(BREAKER, true, undefined, (state) => heard.push(state));
    peer.openedElsewhere(600, 5000);
    expect(peer.state).toBe('open');
    expect(peer.retryAt).toBe(5600);
    expect(peer.available(5599)).toBe(false);
    // Already open: news of another opening does not move the cool-down.
    peer.openedElsewhere(1000, 5100);
    expect(peer.retryAt).toBe(5600);
    peer.closedElsewhere();
    expect(peer.state).toBe('closed');
    expect(peer.available(5100)).toBe(true);
    expect(heard).toEqual([]);
  });
});

function deployment(name: string, weight = 1, call?: () => Promise<unknown>): CatalogDeployment {
  return {
    name,
    weight,
    upstreamModel: name,
    timeouts: DEFAULT_TIMEOUTS,
    health: new DeploymentHealth(name, DEFAULT_BREAKER, { ...DEFAULT_PROBES, enabled: false }),
    provider: { call: call as never, close: async () => undefined },
  };
}

function catalogModel(deployments: CatalogDeployment[], retry = { attempts: 3, budget_ms: 5_000, backoff_ms: 10 }): CatalogModel {
  return { id: 'm', deployments, retry } as unknown as CatalogModel;
}

describe('weighted power of two choices', () => {
  it('splits exactly by weight when loads are equal (200,000 draws, ±0.5 points)', () => {
    const list = [deployment('a', 1), deployment('b', 1), deployment('c', 2)];
    const counts = new Map<string, number>();
    for (let i = 0; i < 200_000; i++) {
      const d = chooseDeployment(list, undefined, 0)!;
      counts.set(d.name, (counts.get(d.name) ?? 0) + 1);
    }
    expect(counts.get('a')! / 200_000).toBeCloseTo(0.25, 2);
    expect(counts.get('b')! / 200_000).toBeCloseTo(0.25, 2);
    expect(Math.abs(counts.get('c')! / 200_000 - 0.5)).toBeLessThan(0.005);
  });

  it('prefers the deployment with fewer requests in flight per unit of weight', () => {
    const [a, b] = [deployment('a', 1), deployment('b', 1)];
    a.health.inflight = 3;
    for (let i = 0; i < 1000; i++) expect(chooseDeployment([a, b], undefined, 0)).toBe(b);
    // Weight 4 with 3 in flight is less loaded than weight 1 with 1.
    const [c, d] = [deployment('c', 4), deployment('d', 1)];
    c.health.inflight = 3;
    d.health.inflight = 1;
    for (let i = 0; i < 1000; i++) expect(chooseDeployment([c, d], undefined, 0)).toBe(c);
  });

  it('leaves out skipped and unavailable deployments', () => {
    const [a, b, c] = [deployment('a'), deployment('b'), deployment('c')];
    for (let i = 0; i < 5; i++) a.health.end(a.health.begin(), 'failure');
    expect(a.health.breaker.state).toBe('open');
    for (let i = 0; i < 200; i++) expect(chooseDeployment([a, b, c], new Set([b]), Date.now())).toBe(c);
    expect(chooseDeployment([a, b], new Set([b]), Date.now())).toBeUndefined();
  });
});

describe('routeModel', () => {
  const failure = (status: number, retryAfterMs?: number) => {
    const err = new GatewayError(status === 429 ? 'model_unavailable' : 'upstream_error', `HTTP ${status}`, { retryAfterMs });
    err.upstreamStatus = status;
    return err;
  };

  it('retries a failed deployment on another one and logs both attempts', async () => {
    const bad = deployment('bad', 1, async () => Promise.reject(failure(500)));
    const good = deployment('good', 1, async () => 'ok');
    const log: AttemptRecord[] = [];
    // Until the bad one is drawn first, the first attempt is the good one's.
    for (let i = 0; i < 50 && log.length < 2; i++) {
      log.length = 0;
      const routed = await routeModel(catalogModel([bad, good]), new CallSignal(), log, (d) => d.provider.call(undefined as never));
      expect(routed.value).toBe('ok');
      routed.deployment.health.end(routed.trial, 'success');
    }
    expect(log.map((a) => [a.deployment, a.status, a.error])).toEqual([
      ['bad', 500, 'upstream_error'],
      ['good', 200, undefined],
    ]);
    expect(bad.health.inflight).toBe(0);
    expect(good.health.inflight).toBe(0);
  });

  it("waits before the same deployment again, at least the backend's Retry-After", async () => {
    let calls = 0;
    const only = deployment('only', 1, async () => (++calls < 3 ? Promise.reject(failure(429, 60)) : 'ok'));
    const started = performance.now();
    const log: AttemptRecord[] = [];
    const routed = await routeModel(catalogModel([only]), new CallSignal(), log, (d) => d.provider.call(undefined as never));
    expect(routed.value).toBe('ok');
    expect(log).toHaveLength(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('stops at the attempt count and throws the last failure', async () => {
    const only = deployment('only', 1, async () => Promise.reject(failure(502)));
    const log: AttemptRecord[] = [];
    await expect(routeModel(catalogModel([only], { attempts: 2, budget_ms: 5000, backoff_ms: 1 }), new CallSignal(), log, (d) => d.provider.call(undefined as never))).rejects.toMatchObject({
      upstreamStatus: 502,
    });
    expect(log).toHaveLength(2);
  });

  it('does not start a wait that would end past the budget', async () => {
    const only = deployment('only', 1, async () => Promise.reject(failure(429, 10_000)));
    const log: AttemptRecord[] = [];
    const started = performance.now();
    await expect(routeModel(catalogModel([only], { attempts: 5, budget_ms: 2000, backoff_ms: 1 }), new CallSignal(), log, (d) => d.provider.call(undefined as never))).rejects.toMatchObject({
      errorName: 'model_unavailable',
    });
    expect(log).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('does not retry an error about the request, and counts it as the backend being alive', async () => {
    const only = deployment('only', 1, async () => Promise.reject(new GatewayError('invalid_request', 'bad field')));
    const log: AttemptRecord[] = [];
    await expect(routeModel(catalogModel([only]), new CallSignal(), log, (d) => d.provider.call(undefined as never))).rejects.toMatchObject({ status: 400 });
    expect(log).toHaveLength(1);
    expect(only.health.breaker.window(Date.now())).toEqual({ requests: 1, failures: 0 });
  });

  it('answers 503 with the wait until a breaker may let a call through when none can take one', async () => {
    const only = deployment('only');
    for (let i = 0; i < 5; i++) only.health.end(only.health.begin(), 'failure');
    const log: AttemptRecord[] = [];
    const err = await routeModel(catalogModel([only]), new CallSignal(), log, async () => 'never').catch((e: unknown) => e as GatewayError);
    expect(err).toMatchObject({ status: 503, errorName: 'model_unavailable' });
    expect((err as GatewayError).retryAfterMs).toBeGreaterThan(4000);
    expect(log).toHaveLength(0);
  });

  it('ends a backoff at once when the client leaves', async () => {
    const only = deployment('only', 1, async () => Promise.reject(failure(429, 3000)));
    const signal = new CallSignal();
    setTimeout(() => signal.abort(new Error('client gone')), 50);
    const started = performance.now();
    await expect(routeModel(catalogModel([only]), signal, [], (d) => d.provider.call(undefined as never))).rejects.toThrow('client gone');
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('backoff', () => {
  it('doubles, is capped, and keeps between half and all of the wait (equal jitter)', () => {
    const draws = Array.from({ length: 200 }, () => backoffMs(100, 3, 500));
    for (const d of draws) {
      expect(d).toBeGreaterThanOrEqual(250);
      expect(d).toBeLessThanOrEqual(500);
    }
    expect(new Set(draws).size).toBeGreaterThan(100);
    const uncapped = Array.from({ length: 200 }, () => backoffMs(10, 2));
    for (const d of uncapped) expect(d).toBeGreaterThanOrEqual(20);
    expect(Math.max(...uncapped)).toBeLessThanOrEqual(40);
  });
});
