// Token counting: real o200k counts for ordinary text, and linear time for pathological input.
import { describe, expect, it } from 'vitest';
import { countTokens as exactCount } from 'gpt-tokenizer/encoding/o200k_base';
import { countChatPromptTokens, countTokens, encodeTokens } from '../../src/accounting/tokenizer.js';

describe('tokenizer', () => {
  it('counts ordinary text exactly as o200k does', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('Hello, world!')).toBe(4);
    expect(encodeTokens('Hello, world!')).toHaveLength(4);
  });

  it('counts a multi-megabyte unbroken run (a hostile prompt) without stalling', () => {
    // Unsegmented BPE takes seconds for 64k such characters and effectively forever for megabytes;
    // the suite's timeout turns a regression into a failure.
    const run = 'x'.repeat(4 * 1024 * 1024);
    const count = countTokens(run);
    expect(count).toBeGreaterThan(run.length / 16);
    expect(count).toBeLessThan(run.length / 4);
    expect(encodeTokens('y'.repeat(200_000)).length).toBeGreaterThan(0);
    expect(countChatPromptTokens([{ role: 'user', content: 'z'.repeat(1_000_000) }])).toBeGreaterThan(1000);
  });

  it('differs from the exact count by at most one token per cut', () => {
    for (const text of ['ab'.repeat(1000), 'Zm9vYmFy'.repeat(300), `${'q'.repeat(700)} tail words here`]) {
      const exact = exactCount(text, { disallowedSpecial: new Set() });
      const cuts = Math.floor(text.split(' ')[0].length / 256);
      expect(Math.abs(countTokens(text) - exact), text.slice(0, 10)).toBeLessThanOrEqual(cuts);
    }
  });
});
