// The process logger (pino, JSON lines). Secrets never reach it: requests are logged field by field
// (observability/request-log), never as headers or bodies.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  // Asynchronous writes: a line goes out at once when the stream is idle, and lines queued behind a
  // write in flight leave together, so a busy gateway makes few syscalls and a quiet one shows lines promptly.
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino({ level, base: { service: 'floodgate' }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}
