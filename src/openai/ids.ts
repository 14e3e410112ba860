// Identifiers the API hands out: request ids (`req_…`) and completion ids (`chatcmpl-…`, `cmpl-…`).
// Random base62 from a pooled CSPRNG buffer, so making one costs no syscall per request.
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** `length` random base62 characters (rejection sampling over bytes < 248, so no bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    if (offset >= POOL_SIZE) {
      randomFillSync(pool);
      offset = 0;
    }
    const byte = pool[offset++];
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

export function newRequestId(): string {
  return `req_${randomBase62(24)}`;
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `X-Request-ID` when it is well-formed (SPEC §3), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : newRequestId();
}

export function newCompletionId(prefix: 'chatcmpl' | 'cmpl'): string {
  return `${prefix}-${randomBase62(29)}`;
}
