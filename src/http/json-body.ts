// The JSON body parser: plain JSON.parse (fast; own-property `__proto__` keys are harmless data), a clear
// 400 naming the position on bad JSON, and a nesting bound so no body can exhaust the stack later.
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../openai/errors.js';

const MAX_DEPTH = 200;

/**
 * True when the parsed value nests deeper than MAX_DEPTH. Checked on the value (V8's JSON.parse is not
 * recursive, so parsing itself cannot exhaust the stack), by an explicit stack rather than recursion, and
 * visiting only objects and arrays: a chat body is a few dozen of them however long its strings are.
 */
function nestsTooDeep(root: unknown): boolean {
  if (root === null || typeof root !== 'object') return false;
  const values: object[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop()!;
    const depth = depths.pop()!;
    if (depth > MAX_DEPTH) return true;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item !== null && typeof item === 'object') {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in value) {
        const item: unknown = (value as Record<string, unknown>)[key];
        if (item !== null && typeof item === 'object') {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim().length === 0) return done(invalidRequest(null, 'The request body is empty; send a JSON object.'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return done(invalidRequest(null, `The request body is not valid JSON: ${(err as Error).message}.`));
  }
  // Fewer characters than levels cannot nest that deep.
  if (text.length > MAX_DEPTH && nestsTooDeep(value)) return done(invalidRequest(null, `The request body nests deeper than ${MAX_DEPTH} levels.`));
  done(null, value);
}
