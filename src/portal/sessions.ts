// The portal's security parts (SPEC §14, OWASP's session and CSRF cheat sheets): scrypt passwords,
// random session ids kept only as their HMAC, the session cookie, the CSRF check and sign-in limits.
import { randomBytes, scrypt, timingSafeEqual, createHash, type ScryptOptions } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { PortalConfig } from '../config/load.js';
import type { Limiter, LimitScope } from '../limits/limiter.js';
import { hashApiKey, safeEqual } from '../auth/key-material.js';
import { GatewayError } from '../openai/errors.js';

export const SESSION_COOKIE = 'floodgate_session';

/** 2^15 × 8 × 128 B = 32 MiB and ~0.1 s a hash: costly to guess offline, cheap enough per sign-in. */
const SCRYPT = { N: 32_768, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function deriveKey(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt_b64$hash_b64`: the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await deriveKey(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

let dummyHash: Promise<string> | undefined;

/**
 * Whether `password` matches `stored`. With no stored hash (an unknown email) the same work is done
 * against a dummy hash, so that a wrong email and a wrong password take the same time.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  const hash = stored ?? (await dummyHash);
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((v) => Number.isSafeInteger(v) && v > 0) || N > 1 << 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(parts[5], 'base64');
  const key = await deriveKey(password, Buffer.from(parts[4], 'base64'), { N, r, p });
  return stored !== undefined && expected.length === key.length && timingSafeEqual(expected, key);
}

/** A new session id (shown only in the cookie) and its CSRF token. */
export function newSessionSecrets(): { id: string; csrfToken: string } {
  return { id: randomBytes(32).toString('base64url'), csrfToken: randomBytes(32).toString('base64url') };
}

/** What the store keeps instead of the session id: its HMAC under the pepper. */
export function sessionIdHash(pepper: string, id: string): string {
  return hashApiKey(pepper, `session:${id}`);
}

/** The value of one cookie of the `Cookie` header, undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** Session ids are base64url: anything else in the cookie is not one of ours and is not looked up. */
export function sessionIdFromRequest(request: FastifyRequest): string | undefined {
  const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
  return id !== undefined && /^[A-Za-z0-9_-]{43}$/.test(id) ? id : undefined;
}

function isSecure(request: FastifyRequest, secure: PortalConfig['secureCookies']): boolean {
  if (secure !== 'auto') return secure;
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

/** The `Set-Cookie` value for a session (`id`), or one that clears it (`id` undefined). */
export function sessionCookie(portal: PortalConfig, request: FastifyRequest, id: string | undefined): string {
  const maxAge = id === undefined ? 0 : Math.floor(portal.sessionTtlMs / 1000);
  const parts = [`${SESSION_COOKIE}=${id ?? ''}`, `Path=${portal.path}`, `Max-Age=${maxAge}`, 'HttpOnly', 'SameSite=Lax'];
  if (isSecure(request, portal.secureCookies)) parts.push('Secure');
  return parts.join('; ');
}

/** The `x-csrf-token` header must equal the session's token (compared in constant time). */
export function checkCsrf(request: FastifyRequest, csrfToken: string): void {
  const header = request.headers['x-csrf-token'];
  if (typeof header !== 'string' || header.length === 0 || header.length > 256 || !safeEqual(header, csrfToken)) {
    throw new GatewayError('csrf_failed', 'Missing or wrong x-csrf-token header: send the csrf_token of GET /api/session with every change.');
  }
}

/** Takes one sign-up from the client address's bucket (`portal.signups_per_minute`), shared like sign-ins'. */
export async function takeSignupAttempt(limiter: Limiter, ip: string, perMinute: number): Promise<void> {
  const admission = await limiter.takeRequest([{ id: `signup-ip:${ip}`, limits: { requestsPerMinute: perMinute } }]);
  if (!admission.ok) {
    throw new GatewayError('too_many_attempts', 'Too many sign-ups from this address; wait a minute and try again.', { retryAfterMs: admission.retryAfterMs ?? 60_000 });
  }
}

export const SIGNIN_PER_IP_PER_MINUTE = 10;
export const SIGNIN_PER_EMAIL_PER_MINUTE = 5;

/**
 * Takes one sign-in attempt from the client address's bucket and the email's (when there is one),
 * through the gateway's limiter: shared by every instance when Redis is configured.
 */
export async function takeSigninAttempt(limiter: Limiter, ip: string, email: string | undefined): Promise<void> {
  const scopes: LimitScope[] = [{ id: `signin-ip:${ip}`, limits: { requestsPerMinute: SIGNIN_PER_IP_PER_MINUTE } }];
  if (email !== undefined) {
    const digest = createHash('sha256').update(email).digest('hex');
    scopes.push({ id: `signin-email:${digest}`, limits: { requestsPerMinute: SIGNIN_PER_EMAIL_PER_MINUTE } });
  }
  const admission = await limiter.takeRequest(scopes);
  if (!admission.ok) {
    throw new GatewayError('too_many_attempts', 'Too many sign-in attempts; wait a minute and try again.', { retryAfterMs: admission.retryAfterMs ?? 60_000 });
  }
}
