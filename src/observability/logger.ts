// The process logger (pino, JSON lines). Secrets never reach it: requests are logged field by field
// (observability/request-log), never as headers or bodies, and every line passes the redaction on its way
// out (`redactLogLine`), so that a key inside an error message or a path is masked whatever wrote it.
import { pino, type Logger } from 'pino';
import { redactLogLine } from './redact.js';
import { LogDestination } from './log-destination.js';

export type { Logger };

// pino's isoTime formats a new Date for every line (~2 µs, a tenth of the request line's cost under load):
// lines written in the same millisecond share one formatted stamp.
let stampMs = -1;
let stamp = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const options = { level, base: { service: 'floodgate' }, timestamp: isoTime, hooks: { streamWrite: redactLogLine } };
  // A descriptor (stdout) gets lines in batches, one write per batch (observability/log-destination).
  return pino(options, typeof destination === 'number' ? new LogDestination(destination) : destination);
}

/** Logs a warning of a kind (`key`) at most once per interval, with how many of that kind were left out since. */
export type ThrottledWarn = (key: string, fields: Record<string, unknown>, message: string) => void;

/** For warnings a failing dependency repeats per request or per event: a line now and then, never a flood. */
export function throttledWarn(logger: Logger, everyMs: number): ThrottledWarn {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key, fields, message) => {
    const now = Date.now();
    const seen = last.get(key);
    if (seen !== undefined && now - seen.at < everyMs) {
      seen.suppressed++;
      return;
    }
    last.set(key, { at: now, suppressed: 0 });
    logger.warn({ ...fields, suppressed: seen?.suppressed ?? 0 }, message);
  };
}
