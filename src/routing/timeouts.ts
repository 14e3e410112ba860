// Per-deployment timeouts (SPEC §7): connect, first byte, idle between stream chunks, total. One
// mechanism for every provider: a timer aborts the call's signal with an upstream_timeout reason.
import type { Timeouts } from '../config/schema.js';
import { GatewayError } from '../openai/errors.js';
import type { CallSignal } from '../providers/call-signal.js';

export type ResolvedTimeouts = Required<Timeouts>;

export const DEFAULT_TIMEOUTS: ResolvedTimeouts = {
  connect_ms: 5_000,
  first_byte_ms: 60_000,
  idle_ms: 30_000,
  total_ms: 600_000,
};

export function resolveTimeouts(...layers: (Timeouts | undefined)[]): ResolvedTimeouts {
  const out = { ...DEFAULT_TIMEOUTS };
  for (const layer of layers) Object.assign(out, Object.fromEntries(Object.entries(layer ?? {}).filter(([, v]) => v !== undefined)));
  return out;
}

/** Arms the first-byte and total timers (they abort the call's signal); `firstByte()` swaps the first one for the idle timer, `activity()` refreshes it. */
export class CallTimers {
  private firstByteTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly totalTimer: NodeJS.Timeout;

  constructor(
    private readonly signal: CallSignal,
    private readonly timeouts: ResolvedTimeouts,
  ) {
    this.firstByteTimer = setTimeout(() => this.expire(`The backend sent nothing within ${timeouts.first_byte_ms} ms.`), timeouts.first_byte_ms);
    this.totalTimer = setTimeout(() => this.expire(`The backend did not finish within ${timeouts.total_ms} ms.`), timeouts.total_ms);
  }

  private expire(message: string): void {
    this.signal.abort(new GatewayError('upstream_timeout', message));
  }

  firstByte(): void {
    clearTimeout(this.firstByteTimer);
    this.firstByteTimer = undefined;
    this.idleTimer = setTimeout(() => this.expire(`The backend stream stalled for ${this.timeouts.idle_ms} ms.`), this.timeouts.idle_ms);
  }

  activity(): void {
    this.idleTimer?.refresh();
  }

  stop(): void {
    clearTimeout(this.firstByteTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.totalTimer);
  }
}
