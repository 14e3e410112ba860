// Limits in the config are safe integers or the config is refused (SPEC §16): YAML, like JSON, reads
// 9007199254740993 as 9007199254740992, which must not become a limit silently.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import { EMBEDDED_DEFAULT } from '../../src/config/embedded-default.js';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-safe-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config limits', () => {
  it('refuses a tier limit past 2^53, written in YAML, naming the field', () => {
    const file = join(dir, 'huge.yaml');
    writeFileSync(
      file,
      ['providers:', '  sim: { type: simulator }', 'models:', '  - { id: m, category: text, deployments: [{ provider: sim }] }', 'limits:', '  tiers:', '    default: { requests_per_minute: 9007199254740993 }', ''].join('\n'),
    );
    expect(() => loadConfig(file, {}, {})).toThrow(/limits\.tiers\.default\.requests_per_minute/);
  });

  it('accepts the largest safe integer, and refuses an initial credit past the largest balance', () => {
    const base = structuredClone(EMBEDDED_DEFAULT);
    const ok = resolveConfig({ ...base, limits: { tiers: { big: { tokens_per_minute: Number.MAX_SAFE_INTEGER } } } }, 'test', {}, {});
    expect(ok.limits.tiers.big.tokens_per_minute).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => resolveConfig({ ...base, limits: { tiers: { big: { concurrent_requests: 2 ** 53 } } } }, 'test', {}, {})).toThrow(/concurrent_requests/);
    expect(() => resolveConfig({ ...base, billing: { initial_credit: 9_007_199_254 } }, 'test', {}, {})).toThrow(/initial_credit/);
  });
});
