// The abort signal of one backend call: aborted when the client leaves or a timeout fires. An
// EventEmitter with `aborted` / `reason` (what undici accepts as a signal) rather than an AbortController,
// whose construction costs several microseconds per request on Node 20.
import { EventEmitter } from 'node:events';

export class CallSignal extends EventEmitter {
  aborted = false;
  reason: Error | undefined = undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Calls `listener` once when the call is aborted (at once if it already is); returns the unsubscribe. */
  onAbort(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return () => undefined;
    }
    this.once('abort', listener);
    return () => this.removeListener('abort', listener);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (the timer is cleared). */
export function abortableSleep(ms: number, signal: CallSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
    const unsubscribe = signal.onAbort(() => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/**
 * One abort for many signals (the server's shutdown cutoff): each request links its signal while it runs
 * and unlinks it after; `abort` aborts every linked signal, and any linked later at once. A set rather than
 * listeners on an emitter: linking and unlinking stay O(1) with thousands of requests in flight.
 */
export class SharedAbort {
  reason: Error | undefined = undefined;
  private readonly linked = new Set<CallSignal>();

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Aborts `signal` with this one's reason when it comes (at once if it has); returns the unlink. */
  link(signal: CallSignal): () => void {
    if (this.reason !== undefined) {
      signal.abort(this.reason);
      return () => undefined;
    }
    this.linked.add(signal);
    return () => this.linked.delete(signal);
  }

  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    for (const signal of this.linked) signal.abort(reason);
    this.linked.clear();
  }
}
