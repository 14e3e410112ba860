// The process logger (pino, JSON lines). Secrets never reach it: requests are logged field by field
// (observability/request-log), never as headers or bodies, and every line passes the redaction on its way
// out (`redactLogLine`), so that a key inside an error message or a path is masked whatever wrote it.
import { pino, type Logger } from 'pino';
import { redactLogLine } from './redact.js';

export type { Logger };

/** Lines are batched up to this many bytes… */
const BATCH_BYTES = 8 * 1024;
/** …and never held longer than this. */
const FLUSH_MS = 200;

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const options = { level, base: { service: 'floodgate' }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: redactLogLine } };
  if (typeof destination !== 'number') return pino(options, destination);
  // One asynchronous write per line costs a thread-pool round trip per request (~45 us of p50 latency,
  // measured): lines are batched, and a timer bounds how long one waits.
  const stream = pino.destination({ fd: destination, sync: false, minLength: BATCH_BYTES });
  const flusher = setInterval(() => {
    try {
      stream.flush();
    } catch {
      clearInterval(flusher); // the stream was closed (shutdown)
    }
  }, FLUSH_MS);
  flusher.unref();
  return pino(options, stream);
}
