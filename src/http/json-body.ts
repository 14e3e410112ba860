// The JSON body parser: plain JSON.parse (fast; own-property `__proto__` keys are harmless data), a clear
// 400 naming the position on bad JSON, and a nesting bound so no body can exhaust the stack later.
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../openai/errors.js';

const MAX_DEPTH = 200;

/** True when brackets nest deeper than MAX_DEPTH outside strings. Only long bodies can. */
function nestsTooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123 /* [ { */) {
      if (++depth > MAX_DEPTH) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim().length === 0) return done(invalidRequest(null, 'The request body is empty; send a JSON object.'));
  if (text.length > MAX_DEPTH && nestsTooDeep(text)) return done(invalidRequest(null, `The request body nests deeper than ${MAX_DEPTH} levels.`));
  try {
    done(null, JSON.parse(text));
  } catch (err) {
    done(invalidRequest(null, `The request body is not valid JSON: ${(err as Error).message}.`));
  }
}
