// Option parsers shared by the CLI commands: bad values are usage errors (exit 2).
import { InvalidArgumentError } from 'commander';

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
