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
