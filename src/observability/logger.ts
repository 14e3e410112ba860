// The process logger (pino, JSON lines). Secrets never reach it: requests are logged field by field
// (observability/request-log), never as headers or bodies.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false, minLength: 4096 }) : destination;
  return pino({ level, base: { service: 'floodgate' }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}
