// Option parsers shared by the CLI commands: bad values are usage errors (exit 2).
import { InvalidArgumentError, type Command } from 'commander';

function parseNumber(value: string, ok: (n: number) => boolean, expected: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`must be ${expected}.`);
  return n;
}

export const parsePort = (value: string): number => parseNumber(value, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number (0-65535)');
export const parseNonNegativeInt = (value: string): number => parseNumber(value, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
export const parsePositiveInt = (value: string): number => parseNumber(value, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
export const parseNonNegativeNumber = (value: string): number => parseNumber(value, (n) => n >= 0, 'a non-negative number');
export const parseFraction = (value: string): number => parseNumber(value, (n) => n >= 0 && n <= 1, 'a number from 0 to 1');
export const parseErrorStatus = (value: string): number => parseNumber(value, (n) => Number.isInteger(n) && n >= 400 && n <= 599, 'an HTTP error status (400-599)');

/** The flags that set limit overrides (accounts create/limits, keys create), as the admin operations name the fields. */
export const LIMIT_FLAGS = {
  'limits.requests_per_minute': '--rpm',
  'limits.tokens_per_minute': '--tpm',
  'limits.concurrent_requests': '--concurrency',
} as const;

export interface LimitFlagOptions {
  rpm?: string;
  tpm?: string;
  concurrency?: string;
}

export function addLimitOptions(command: Command, what: string): Command {
  return command
    .option('--rpm <n>', `requests per minute ${what}`)
    .option('--tpm <n>', `tokens per minute ${what}`)
    .option('--concurrency <n>', `concurrent requests ${what}`);
}

/**
 * The limit flags as an override object for the admin operations, which check it (a figure that is not a
 * positive integer is refused there, naming the flag); undefined when no flag was given.
 */
export function limitsFromFlags(opts: LimitFlagOptions): Record<string, unknown> | undefined {
  const figure = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : text);
  const out: Record<string, unknown> = {};
  if (opts.rpm !== undefined) out.requests_per_minute = figure(opts.rpm);
  if (opts.tpm !== undefined) out.tokens_per_minute = figure(opts.tpm);
  if (opts.concurrency !== undefined) out.concurrent_requests = figure(opts.concurrency);
  return Object.keys(out).length === 0 ? undefined : out;
}
