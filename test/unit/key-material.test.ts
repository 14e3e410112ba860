import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateAdminToken,
  generateApiKey,
  hashApiKey,
  keyHint,
  loadOrCreateSecret,
  looksLikeApiKey,
  randomBase62,
  safeEqual,
} from '../../src/auth/key-material.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-keys-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('generateApiKey', () => {
  it('is the prefix and 40 base62 characters, different every time', () => {
    const a = generateApiKey('fk-');
    const b = generateApiKey('fk-');
    expect(a).toMatch(/^fk-[A-Za-z0-9]{40}$/);
    expect(b).toMatch(/^fk-[A-Za-z0-9]{40}$/);
    expect(a).not.toBe(b);
    expect(generateApiKey('tk-')).toMatch(/^tk-[A-Za-z0-9]{40}$/);
    expect(generateApiKey('')).toMatch(/^[A-Za-z0-9]{40}$/);
  });

  it('admin tokens are fga_ and 40 base62 characters', () => {
    expect(generateAdminToken()).toMatch(/^fga_[A-Za-z0-9]{40}$/);
  });

  it('draws every base62 character about equally often (no modulo bias)', () => {
    const counts = new Map<string, number>();
    const sample = randomBase62(62 * 4000);
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // Expected 4000 each; binomial sd ≈ 63. `b % 62` over all 256 byte values would give the first
    // eight characters 5/4 of the others' share (≈ 4900 vs 3920), far outside these bounds.
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(3650);
      expect(n).toBeLessThan(4350);
    }
    const first8 = [...'01234567'].reduce((s, ch) => s + (counts.get(ch) ?? 0), 0) / 8;
    const rest = [...'ABCDEFGH'].reduce((s, ch) => s + (counts.get(ch) ?? 0), 0) / 8;
    expect(Math.abs(first8 - rest)).toBeLessThan(250);
  });
});

describe('hashApiKey', () => {
  it('is a hex HMAC-SHA-256, stable under one pepper and different under another', () => {
    const key = generateApiKey('fk-');
    const h1 = hashApiKey('pepper-one-0123456789', key);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey('pepper-one-0123456789', key)).toBe(h1);
    expect(hashApiKey(Buffer.from('pepper-one-0123456789'), key)).toBe(h1);
    expect(hashApiKey('pepper-two-0123456789', key)).not.toBe(h1);
    expect(hashApiKey('pepper-one-0123456789', key + 'x')).not.toBe(h1);
  });

  it('matches a known HMAC-SHA-256 vector (RFC 4231 case 2)', () => {
    expect(hashApiKey('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('keyHint', () => {
  it('shows the prefix, the first 4 and the last 4 characters of the secret', () => {
    const key = 'fk-ab12' + 'Q'.repeat(32) + '9xYz';
    expect(keyHint(key, 'fk-')).toBe('fk-ab12…9xYz');
    expect(keyHint(key, 'fk-')).not.toContain('QQQ');
  });
});

describe('looksLikeApiKey', () => {
  it('accepts the prefix and 32+ base62 characters, nothing else', () => {
    expect(looksLikeApiKey(generateApiKey('fk-'), 'fk-')).toBe(true);
    expect(looksLikeApiKey('fk-' + 'a'.repeat(32), 'fk-')).toBe(true);
    expect(looksLikeApiKey('fk-' + 'a'.repeat(31), 'fk-')).toBe(false);
    expect(looksLikeApiKey('sk-' + 'a'.repeat(40), 'fk-')).toBe(false);
    expect(looksLikeApiKey('fk-' + 'a'.repeat(39) + '-', 'fk-')).toBe(false);
    expect(looksLikeApiKey('fk-' + 'a'.repeat(39) + '…', 'fk-')).toBe(false);
    expect(looksLikeApiKey('fk-' + 'a'.repeat(10_000), 'fk-')).toBe(false);
    expect(looksLikeApiKey('', 'fk-')).toBe(false);
  });
});

describe('loadOrCreateSecret', () => {
  it('creates the directory and a 0600 secret file, then reuses it', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const secret = loadOrCreateSecret(dir, 'pepper');
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dir, 'pepper');
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
    expect(loadOrCreateSecret(dir, 'pepper')).toBe(secret);
    expect(loadOrCreateSecret(tempDir(), 'pepper')).not.toBe(secret);
  });

  it('refuses an empty secret file rather than replacing it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pepper'), '\n');
    expect(() => loadOrCreateSecret(dir, 'pepper')).toThrow(/empty or too short/);
  });
});

describe('safeEqual', () => {
  it('compares strings of any length', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});
