// Key material (SPEC §3): API keys and admin tokens from the CSPRNG, their HMAC under the server pepper,
// display hints, the generated pepper file, and constant-time comparison.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomBase62 } from '../openai/ids.js';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Length of the random part of generated API keys and admin tokens. */
export const SECRET_LENGTH = 40;
/** Shortest secret `looksLikeApiKey` accepts (SPEC §3: at least 32 base62 characters). */
export const MIN_SECRET_LENGTH = 32;
/** Longest secret accepted: keeps absurd header values from reaching the HMAC and the store. */
export const MAX_SECRET_LENGTH = 128;
export const ADMIN_TOKEN_PREFIX = 'fga_';

// Uniform base62 from the CSPRNG (rejection sampling, no modulo bias); one implementation for ids and keys.
export { randomBase62 };

/** A new API key: the configured prefix and 40 random base62 characters. */
export function generateApiKey(prefix: string): string {
  return prefix + randomBase62(SECRET_LENGTH);
}

/** A new admin token (`fga_…`), distinct in form from every API key. */
export function generateAdminToken(): string {
  return ADMIN_TOKEN_PREFIX + randomBase62(SECRET_LENGTH);
}

/** What the store keeps instead of a key: HMAC-SHA-256 under the server pepper, hex. */
export function hashApiKey(pepper: string | Buffer, key: string): string {
  return createHmac('sha256', pepper).update(key).digest('hex');
}

/** A display hint that identifies a key without revealing it: `fk-ab12…9xYz`. */
export function keyHint(key: string, prefix: string): string {
  const secret = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  return `${prefix}${secret.slice(0, 4)}…${secret.slice(-4)}`;
}

const BASE62_RUN = new RegExp(`^[A-Za-z0-9]{${MIN_SECRET_LENGTH},${MAX_SECRET_LENGTH}}$`);

/** Format check only (prefix + 32–128 base62 characters): whether a value is worth hashing and looking up. */
export function looksLikeApiKey(value: string, prefix: string): boolean {
  return value.startsWith(prefix) && BASE62_RUN.test(value.slice(prefix.length));
}

/**
 * Reads `dataDir/fileName`, or creates it with 32 random bytes (base64url), mode 0600, creating the
 * directory. Used for the generated key pepper of the embedded default.
 */
export function loadOrCreateSecret(dataDir: string, fileName: string): string {
  const path = join(dataDir, fileName);
  const existing = readSecretFile(path);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  try {
    // 'wx': never overwrite a secret another process created a moment ago; every key hash depends on it.
    writeFileSync(path, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = readSecretFile(path);
      if (raced !== undefined) return raced;
    }
    throw err;
  }
  // The umask may have narrowed the mode further but never widened it; make it exact regardless.
  chmodSync(path, 0o600);
  return secret;
}

/** An operator's pepper file (auth.pepper_file): it must exist and hold at least 16 characters. */
export function readPepperFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const pepper = text.trim();
  if (pepper.length < 16) throw new Error(`${path} holds ${pepper.length === 0 ? 'nothing' : 'fewer than 16 characters'}; a pepper needs at least 16 (openssl rand -hex 32 > ${path})`);
  return pepper;
}

function readSecretFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = text.trim();
  if (secret.length < 16) throw new Error(`secret file ${path} is empty or too short; delete it only if no keys were issued under it`);
  return secret;
}

/** Constant-time string equality: compares SHA-256 digests, so neither length nor content leaks. */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
