// Deployment health (SPEC §7): requests in flight (what the balancer weighs) and a circuit breaker over a
// rolling window. Closed, the deployment takes traffic and its outcomes are counted; when the window holds
// at least `min_requests` and the failed share reaches `error_rate`, it opens and takes nothing for
// `open_ms`; then it is half-open and lets one trial through — a probe of ours, or a client's request —
// whose success closes it and whose failure opens it again. Deployments are shared by name between the
// models that use them, so one backend has one breaker however many catalog entries point at it. With
// probes on (the default) the trial is always a probe, so no client waits on a backend that may be down.
// Beside it, a liveness check (on by default, every `liveness_ms`) connects to each HTTP backend: one that
// cannot be reached opens at once, without traffic and whatever `min_requests` says, and is checked again
// every round rather than after a backed-off cool-down, so that it is back within a round of listening.
import type { CircuitBreakerConfig, ProbesConfig } from '../config/schema.js';
import { backoffMs } from './backoff.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * How a call ended, as far as the deployment's health is concerned. `unreachable`: no connection could be
 * made — a failure in the window, but a failed trial of that kind does not lengthen the next cool-down.
 */
export type Outcome = 'success' | 'failure' | 'unreachable' | 'neutral';

/** Why an open breaker is open: its own failures, a failed connection, or another instance's news. */
export type OpenReason = 'failures' | 'unreachable' | 'peer';

const BUCKETS = 10;

/** Outcomes per time slice of the window: a ring of BUCKETS slices, each reset when its time comes again. */
class RollingCounts {
  private readonly ok = new Uint32Array(BUCKETS);
  private readonly failed = new Uint32Array(BUCKETS);
  private readonly slice = new Float64Array(BUCKETS).fill(-Infinity);
  private readonly sliceMs: number;

  constructor(windowMs: number) {
    this.sliceMs = Math.max(1, Math.ceil(windowMs / BUCKETS));
  }

  add(now: number, failed: boolean): void {
    const slice = Math.floor(now / this.sliceMs);
    const i = slice % BUCKETS;
    if (this.slice[i] !== slice) {
      this.slice[i] = slice;
      this.ok[i] = 0;
      this.failed[i] = 0;
    }
    if (failed) this.failed[i]++;
    else this.ok[i]++;
  }

  /** Requests and failures in the slices still inside the window. */
  totals(now: number): { requests: number; failures: number } {
    const current = Math.floor(now / this.sliceMs);
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (current - this.slice[i] >= BUCKETS) continue;
      requests += this.ok[i] + this.failed[i];
      failures += this.failed[i];
    }
    return { requests, failures };
  }

  clear(): void {
    this.slice.fill(-Infinity);
  }
}

export class CircuitBreaker {
  state: BreakerState = 'closed';
  /** While open: when the trial may go (ms since the epoch). */
  retryAt = 0;
  /** While open: why. */
  openReason: OpenReason = 'failures';
  /** A half-open trial is in flight. */
  private trialRunning = false;
  /** Trials that failed in a row since the breaker last closed: each one doubles the next cool-down. */
  private failedTrials = 0;
  private readonly counts: RollingCounts;

  constructor(
    private readonly cfg: Required<CircuitBreakerConfig>,
    /**
     * Whether a client's request may be the trial once the cool-down is over. When probes are on they
     * are the trials, and the breaker stays open until one of them ends the cool-down (`startTrial`).
     */
    private readonly requestTrials: boolean,
    /** Called each time the breaker opens. */
    private readonly onOpen: () => void = () => undefined,
    /** Called when this breaker's own outcomes open it (with its cool-down) or close it (not when a peer's news does). */
    private readonly onTransition: (state: 'open' | 'closed', openMs: number) => void = () => undefined,
  ) {
    this.counts = new RollingCounts(cfg.window_ms);
  }

  /** Whether a call may be sent now (with request trials, an open breaker whose cool-down is over turns half-open here). */
  available(now: number): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (!this.requestTrials || now < this.retryAt) return false;
      this.state = 'half_open';
      this.trialRunning = false;
    }
    return !this.trialRunning;
  }

  /**
   * A probe's trial, when the cool-down is over (the probe's timer says when: timers and the wall clock
   * may disagree by a millisecond): an open breaker turns half-open with the probe as its trial.
   */
  startTrial(): boolean {
    if (this.state !== 'open') return false;
    this.state = 'half_open';
    this.trialRunning = true;
    return true;
  }

  /** A call is being sent (after `available` said yes): true when it is the half-open trial. */
  begin(): boolean {
    if (this.state !== 'half_open') return false;
    this.trialRunning = true;
    return true;
  }

  /** Records how a call ended; `trial` is what `begin` returned for it. */
  end(trial: boolean, outcome: Outcome, now: number): void {
    if (trial) {
      this.trialRunning = false;
      if (outcome === 'success') {
        this.close();
        this.onTransition('closed', 0);
      } else if (outcome === 'failure') this.open(now, ++this.failedTrials);
      // A backend that is not there is not being hammered by its trials: no longer cool-down for it.
      else if (outcome === 'unreachable') this.open(now, 0, 'unreachable');
      return;
    }
    // Calls sent before the breaker opened and ending after it tell nothing new.
    if (this.state !== 'closed' || outcome === 'neutral') return;
    this.counts.add(now, outcome !== 'success');
    if (outcome === 'success') return;
    const { requests, failures } = this.counts.totals(now);
    if (requests >= this.cfg.min_requests && failures >= this.cfg.error_rate * requests) this.open(now, 0);
  }

  /**
   * Another instance's breaker for the same deployment opened (its cool-down ends in `openMs`): a closed
   * breaker opens too, without waiting for failures of its own; one already open or on trial is left be.
   */
  openedElsewhere(openMs: number, now: number): void {
    if (this.state !== 'closed') return;
    this.state = 'open';
    this.openReason = 'peer';
    this.retryAt = now + Math.max(0, Math.min(openMs, this.maxOpenMs));
    this.counts.clear();
    this.onOpen();
  }

  /** Another instance's trial found the deployment well: this breaker closes too. */
  closedElsewhere(): void {
    if (this.state === 'closed') return;
    this.close();
  }

  /**
   * The liveness check could not connect: a closed breaker opens now, for `recheckMs` (the next check);
   * an open one is marked so that the check that finds the backend again starts its trial at once. A
   * half-open one is left to its trial.
   */
  unreachable(now: number, recheckMs: number): void {
    if (this.state === 'open') {
      this.openReason = 'unreachable';
      this.retryAt = Math.max(this.retryAt, now + recheckMs);
      return;
    }
    if (this.state === 'closed') this.open(now, 0, 'unreachable', recheckMs);
  }

  /**
   * The liveness check connected: true when the breaker was open because the backend could not be
   * reached, and is now half-open with the caller's probe as its trial, whatever the cool-down said.
   */
  reachable(): boolean {
    if (this.state !== 'open' || this.openReason !== 'unreachable') return false;
    return this.startTrial();
  }

  /** The failed share and count of the calls in the window (for the admin view). */
  window(now: number): { requests: number; failures: number } {
    return this.counts.totals(now);
  }

  /** The longest cool-down: `max_open_ms`, or `open_ms` where that is longer. */
  private get maxOpenMs(): number {
    return Math.max(this.cfg.open_ms, this.cfg.max_open_ms);
  }

  /** Opens for `open_ms` when the window tripped it, and for a backed-off while after `failedTrials` failed trials. */
  private open(now: number, failedTrials: number, reason: OpenReason = 'failures', forMs?: number): void {
    const openMs = forMs ?? (failedTrials === 0 ? this.cfg.open_ms : Math.round(backoffMs(this.cfg.open_ms, failedTrials, this.maxOpenMs)));
    this.state = 'open';
    this.openReason = reason;
    this.retryAt = now + openMs;
    this.counts.clear();
    this.onOpen();
    this.onTransition('open', openMs);
  }

  private close(): void {
    this.state = 'closed';
    this.failedTrials = 0;
    this.counts.clear();
  }
}

/** Sends one probe to a deployment; resolves with its outcome. */
export type Probe = () => Promise<Outcome>;

/** One deployment's live state: in-flight count and breaker, and the probes that bring it back. */
export class DeploymentHealth {
  inflight = 0;
  readonly breaker: CircuitBreaker;
  /** Set by the catalog once it knows what a probe of this deployment sends. */
  probe: Probe | undefined;
  /** Set by the catalog from the provider: the liveness check (absent: always reachable). */
  liveness: (() => Promise<boolean>) | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private checking = false;
  private closed = false;

  constructor(
    readonly name: string,
    breaker: Required<CircuitBreakerConfig>,
    private readonly probes: Required<ProbesConfig>,
    onTransition: (state: 'open' | 'closed', openMs: number) => void = () => undefined,
  ) {
    this.breaker = new CircuitBreaker(breaker, !probes.enabled, () => this.scheduleTrialProbe(), onTransition);
  }

  available(now: number): boolean {
    return this.breaker.available(now);
  }

  /** A call starts (after `available`): counted in flight; returns whether it is the half-open trial. */
  begin(): boolean {
    this.inflight++;
    return this.breaker.begin();
  }

  end(trial: boolean, outcome: Outcome): void {
    this.inflight--;
    this.breaker.end(trial, outcome, Date.now());
  }

  /** When an open breaker's cool-down is over, a probe is its trial: the deployment returns without traffic. */
  private scheduleTrialProbe(): void {
    if (!this.probes.enabled || this.closed || this.probe === undefined) return;
    // The liveness check starts the trial of an unreachable backend as soon as it connects again.
    if (this.breaker.openReason === 'unreachable' && this.checksLiveness) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.breaker.startTrial()) void this.runProbe(true);
    }, Math.max(0, this.breaker.retryAt - Date.now()));
    this.probeTimer.unref();
  }

  /** A periodic probe of a closed deployment: its outcome counts in the window like a request's. */
  probeNow(): void {
    if (this.closed || this.probing || this.probe === undefined || this.breaker.state !== 'closed') return;
    void this.runProbe(false);
  }

  private get checksLiveness(): boolean {
    return this.probes.liveness_ms > 0 && this.liveness !== undefined;
  }

  /** One liveness check; an unreachable backend leaves the catalog now, one that is back gets its trial. */
  async checkLiveness(): Promise<void> {
    if (!this.probes.enabled || this.closed || this.checking || !this.checksLiveness) return;
    this.checking = true;
    let reachable: boolean;
    try {
      reachable = await this.liveness!();
    } catch {
      reachable = false;
    } finally {
      this.checking = false;
    }
    if (this.closed) return;
    if (!reachable) this.breaker.unreachable(Date.now(), this.probes.liveness_ms);
    else if (this.probe !== undefined && this.breaker.reachable()) void this.runProbe(true);
  }

  private async runProbe(trial: boolean): Promise<void> {
    this.probing = true;
    let outcome: Outcome;
    try {
      outcome = await this.probe!();
    } catch {
      outcome = 'failure';
    }
    this.probing = false;
    if (!this.closed) this.breaker.end(trial, outcome, Date.now());
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }
}

/** Every deployment's health, by name, and the periodic probes and liveness checks when configured. */
export class HealthRegistry {
  private readonly byName = new Map<string, DeploymentHealth>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly livenessTimers: NodeJS.Timeout[] = [];
  /**
   * Told when a deployment's breaker opens or closes on this instance's own outcomes: with several
   * instances, the others hear of it (`heard`) and need not find out with failed requests of their own.
   */
  onTransition: ((deployment: string, state: 'open' | 'closed', openMs: number) => void) | undefined;

  constructor(
    private readonly breaker: Required<CircuitBreakerConfig>,
    private readonly probes: Required<ProbesConfig>,
  ) {
    if (probes.interval_ms > 0) {
      this.timer = setInterval(() => {
        for (const health of this.byName.values()) health.probeNow();
      }, probes.interval_ms);
      this.timer.unref();
    }
    if (probes.enabled && probes.liveness_ms > 0) {
      const round = (): void => {
        for (const health of this.byName.values()) void health.checkLiveness();
      };
      // The first round as soon as the catalog is built: a backend down at start-up is never listed long.
      this.livenessTimers.push(setTimeout(round, 0), setInterval(round, probes.liveness_ms));
      for (const timer of this.livenessTimers) timer.unref();
    }
  }

  /** The deployment's health, made on first use. */
  get(name: string): DeploymentHealth {
    let health = this.byName.get(name);
    if (health === undefined) {
      health = new DeploymentHealth(name, this.breaker, this.probes, (state, openMs) => this.onTransition?.(name, state, openMs));
      this.byName.set(name, health);
    }
    return health;
  }

  /** Another instance's breaker for `deployment` opened or closed; a deployment unknown here is ignored. */
  heard(deployment: string, state: 'open' | 'closed', openMs: number): void {
    const health = this.byName.get(deployment);
    if (health === undefined) return;
    if (state === 'open') health.breaker.openedElsewhere(openMs, Date.now());
    else health.breaker.closedElsewhere();
  }

  all(): IterableIterator<DeploymentHealth> {
    return this.byName.values();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const timer of this.livenessTimers) clearTimeout(timer);
    for (const health of this.byName.values()) health.stop();
  }
}
