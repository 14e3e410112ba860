// Where the logger's lines go when they go to a file descriptor (stdout): a batch of lines written with
// one system call, never one call per line. pino's own destination (sonic-boom) appends each line to one
// growing string and measures its byte length on every write, a copy of the whole batch per line: with the
// per-request line that was ~18 µs of CPU per request at 8 KiB batches, and more with bigger ones
// (measured). Here lines wait in an array and are joined once per batch.
//
// A batch is written when BATCH_CHARS are waiting, or FLUSH_MS after its first line, at once when a warning
// or an error comes (it goes out with the lines before it, in order), and at exit. The write
// is synchronous (one call per batch: a few µs, as console.log on a file or a pipe), so nothing is in flight
// at exit. A descriptor that would block (EAGAIN: a non-blocking pipe whose reader is behind) keeps its
// lines and is tried again at the next tick of the timer; past MAX_PENDING_CHARS waiting, new lines are
// dropped and counted, and a line saying how many goes out once the descriptor takes writes again.
import { writeSync } from 'node:fs';

const BATCH_CHARS = 16 * 1024;
const FLUSH_MS = 200;
const MAX_PENDING_CHARS = 8 * 1024 * 1024;

export interface LogDestinationOptions {
  batchChars?: number;
  flushMs?: number;
  maxPendingChars?: number;
  /** The write call (fs.writeSync by default): the tests give one that refuses, as a full pipe does. */
  writeSync?: (fd: number, data: Buffer) => number;
}

const LEVEL_PREFIX = '{"level":';

/** A warning, an error or worse (pino's levels 40, 50, 60) goes out at once, with what waited before it. */
function isWarningOrWorse(line: string): boolean {
  return line.charCodeAt(LEVEL_PREFIX.length) >= 52 /* '4' */ && line.startsWith(LEVEL_PREFIX);
}

export class LogDestination {
  private lines: string[] = [];
  private pendingChars = 0;
  /** What a short or refused write left of the batch it was writing: goes out first. */
  private rest: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly batchChars: number;
  private readonly flushMs: number;
  private readonly maxPendingChars: number;
  private readonly write_: (fd: number, data: Buffer) => number;
  private readonly onExit = (): void => this.flushSync();

  constructor(
    private readonly fd: number,
    options: LogDestinationOptions = {},
  ) {
    this.batchChars = options.batchChars ?? BATCH_CHARS;
    this.flushMs = options.flushMs ?? FLUSH_MS;
    this.maxPendingChars = options.maxPendingChars ?? MAX_PENDING_CHARS;
    this.write_ = options.writeSync ?? writeSync;
    process.once('exit', this.onExit);
  }

  /** Lines dropped so far because the descriptor took no writes and too much was waiting. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** pino's stream interface: one serialized line (with its newline). */
  write(line: string): boolean {
    if (this.pendingChars + (this.rest?.length ?? 0) >= this.maxPendingChars) {
      this.dropped++;
      return false;
    }
    this.lines.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= this.batchChars || isWarningOrWorse(line)) this.flush();
    else this.timer ??= setTimeout(() => this.tick(), this.flushMs).unref();
    return true;
  }

  private tick(): void {
    this.timer = undefined;
    this.flush();
  }

  /** Writes what is waiting, as far as the descriptor takes it now; the rest waits for the timer. (pino's `logger.flush(cb)` calls it.) */
  flush(done?: (err?: Error) => void): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if ((this.rest !== undefined || this.lines.length > 0) && !this.writeOut()) this.timer = setTimeout(() => this.tick(), this.flushMs).unref();
    done?.();
  }

  /** At exit: everything waiting, retried a bounded number of times when the descriptor is full. */
  flushSync(): void {
    for (let i = 0; i < 100 && (this.rest !== undefined || this.lines.length > 0); i++) {
      if (this.writeOut()) break;
    }
  }

  /** Stops the timer and the exit hook (the lines still waiting are written first). */
  end(): void {
    this.flushSync();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    process.removeListener('exit', this.onExit);
  }

  /** True when nothing is left waiting. */
  private writeOut(): boolean {
    for (;;) {
      if (this.rest === undefined) {
        if (this.dropped > 0) {
          this.lines.push(`${JSON.stringify({ level: 40, time: new Date().toISOString(), service: 'floodgate', dropped_lines: this.dropped, msg: 'log lines dropped: the log output took no writes' })}\n`);
          this.dropped = 0;
        }
        if (this.lines.length === 0) return true;
        this.rest = Buffer.from(this.lines.length === 1 ? this.lines[0] : this.lines.join(''), 'utf8');
        this.lines = [];
        this.pendingChars = 0;
      }
      let data = this.rest;
      try {
        while (data.length > 0) data = data.subarray(this.write_(this.fd, data));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          this.rest = data;
          return false;
        }
        // A closed or broken descriptor takes nothing again: what waited is dropped rather than kept.
      }
      this.rest = undefined;
    }
  }
}
