// The usage writer (SPEC §10): usage records are queued in memory and written in batches — one
// transaction per batch that inserts the records and debits the balances (group commit) — off the
// request's path. A batch is written `flushMs` after its first record, or at once when it holds
// `maxBatch`. A failed write keeps its records and is tried again. `close` writes everything queued.
//
// Crash-loss bound: a process killed outright (SIGKILL, power) loses the records of requests that ended
// in the last `flushMs` before it died (plus the batch being written, if its transaction had not
// committed). Nothing committed is lost: SQLite runs in WAL mode.
import type { Logger } from '../observability/logger.js';
import { debitsOf, type UsageRecord } from '../store/usage.js';
import type { UsageSink } from './usage-sink.js';
import type { BalanceBook } from './balance-book.js';

export interface UsageWriterOptions {
  flushMs: number;
  maxBatch: number;
}

const MAX_RETRY_MS = 5_000;

export class UsageWriter {
  private queue: UsageRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private failures = 0;
  /** The size of the batch that failed last, until it is written. */
  private failedBatch: number | undefined;
  private closed = false;
  /** Records written since start (for tests and metrics). */
  written = 0;
  /** Told of each failed batch write (the metrics count them). */
  onWriteFailure: (() => void) | undefined;
  /** Told of each batch once it is committed (spend alerts read what it moved). */
  onCommitted: ((batch: readonly UsageRecord[]) => void) | undefined;

  constructor(
    private readonly sink: UsageSink,
    private readonly book: BalanceBook,
    private readonly options: UsageWriterOptions,
    private readonly logger: Logger,
  ) {}

  /** Records queued and not yet committed. */
  get depth(): number {
    return this.queue.length;
  }

  add(record: UsageRecord): void {
    this.queue.push(record);
    if (this.closed) {
      // A straggler settled during shutdown: write it now rather than wait for a timer that will not come.
      void this.writeQueued();
      return;
    }
    if (this.queue.length >= this.options.maxBatch) this.schedule(0);
    else this.schedule(this.options.flushMs);
  }

  private schedule(delayMs: number): void {
    if (this.writing !== undefined) return; // the running write picks the queue up when it ends
    if (this.timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeQueued();
    }, delayMs);
  }

  /** Writes batches until the queue is empty or a write fails. */
  private writeQueued(): Promise<void> {
    this.writing ??= (async () => {
      try {
        while (this.queue.length > 0) {
          // A failed batch is tried again exactly as it was, so that "did it commit after all?" has one answer.
          const batch = this.queue.slice(0, this.failedBatch ?? this.options.maxBatch);
          if (!(await this.writeBatch(batch))) {
            this.failedBatch = batch.length;
            break;
          }
          this.failedBatch = undefined;
          this.queue.splice(0, batch.length);
        }
      } finally {
        this.writing = undefined;
      }
      if (this.queue.length > 0 && !this.closed) {
        // A failure: back off, doubling up to MAX_RETRY_MS.
        this.schedule(this.failures > 0 ? Math.min(MAX_RETRY_MS, this.options.flushMs * 2 ** this.failures) : this.options.flushMs);
      }
    })();
    return this.writing;
  }

  private async writeBatch(batch: UsageRecord[]): Promise<boolean> {
    const debits = debitsOf(batch);
    this.book.beginCommit();
    let ok = false;
    try {
      // A batch whose write failed may have committed all the same (a writer thread that died between its
      // commit and its answer): its first record tells, as a batch commits whole. Only retries ask.
      if (this.failedBatch === undefined || !(await this.sink.committed(batch[0].id))) await this.sink.insertBatch(batch);
      ok = true;
      this.failures = 0;
      this.written += batch.length;
      this.onCommitted?.(batch);
    } catch (err) {
      this.failures++;
      this.onWriteFailure?.();
      this.logger.error({ err, records: batch.length, attempt: this.failures }, 'usage records could not be written; will retry');
    } finally {
      this.book.endCommit(debits, ok);
    }
    return ok;
  }

  /** Writes everything queued (waiting out a running write), trying failed batches again up to `attempts` times. */
  async flush(attempts = 5): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (let i = 0; i < attempts && (this.queue.length > 0 || this.writing !== undefined); i++) {
      await (this.writing ?? this.writeQueued());
    }
  }

  /** Stops the timer and writes what is queued, then closes the sink. Records that still cannot be written are logged as lost. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.sink.close();
    if (this.queue.length > 0) {
      this.logger.error({ records: this.queue.length, request_ids: this.queue.slice(0, 100).map((r) => r.requestId) }, 'usage records lost at shutdown');
    }
  }
}
