// Floodgate's own o200k byte-pair encoder against the references, loaded here only as oracles: tiktoken
// (OpenAI's Rust core, in WASM) and gpt-tokenizer (the encoder Floodgate used before). The same tokens for
// every text of a corpus covering scripts, code, JSON, emoji, combining marks, digit and whitespace runs,
// special-token names as plain text, long runs and seeded random unicode; decoding restores the text; and
// the counts admission uses are never below the real ones.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode as gptTokenizerDecode, encode as gptTokenizerEncode } from 'gpt-tokenizer/encoding/o200k_base';
import { get_encoding } from 'tiktoken';
import { loadO200k, parseTiktokenRanks } from '../../src/accounting/bpe.js';
import { countChatPromptTokens, countTokens, decodeTokens, encodeTokens, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from '../../src/accounting/tokenizer.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PLAIN = { disallowedSpecial: new Set<string>() };
const tiktoken = get_encoding('o200k_base');
/** The real o200k tokens: tiktoken's (special-token names as plain text). */
const real = (text: string): number[] => [...tiktoken.encode_ordinary(text)];
/** gpt-tokenizer's, which differ from the real ones on U+FEFF (see below); compared on texts without it or U+0085. */
const previous = (text: string): number[] => gptTokenizerEncode(text, PLAIN);

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random strings over the whole of Unicode's scalar values, weighted towards ASCII, whitespace and the BMP. */
function randomTexts(count: number, seed: number, loneSurrogates = false): string[] {
  const rnd = seeded(seed);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    let s = '';
    const n = 1 + Math.floor(rnd() * 100);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      let cp =
        r < 0.3 ? 32 + Math.floor(rnd() * 95)
        : r < 0.45 ? 0x80 + Math.floor(rnd() * 0x780)
        : r < 0.75 ? 0x800 + Math.floor(rnd() * 0xf800)
        : r < 0.88 ? [32, 32, 10, 9, 13, 0xa0, 0x3000][Math.floor(rnd() * 7)]
        : 0x10000 + Math.floor(rnd() * 0x100000);
      if (cp >= 0xd800 && cp <= 0xdfff) {
        if (loneSurrogates) {
          s += String.fromCharCode(cp);
          continue;
        }
        cp = 0x2603;
      }
      s += String.fromCodePoint(cp);
    }
    out.push(s);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const CORPUS: string[] = [
  'Hello, world!',
  "The quick brown fox jumps over the lazy dog. I'M sure they'll say it's DONE, isn't it? We've seen O'Neil's.",
  'Ünïcödé façade, naïve café; Straße, Ærøskøbing, Łódź, İstanbul, ǅemal.',
  'function fib(n: number): number {\n  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n}\n\n\tconst xs = [1, 2, 3].map((x) => x ** 2);\r\n',
  'SELECT id, name FROM accounts WHERE credits > 0 ORDER BY name; -- comment\n/* block */ #include <stdio.h>',
  '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"temperature":0.2,"tools":[{"type":"function"}],"n":null}',
  '日本語の文章です。東京は晴れ、気温は２５度でした。カタカナとひらがな。',
  '中文文本，这是一个测试。机器学习和自然语言处理。繁體中文測試。',
  '한국어 텍스트입니다. 안녕하세요, 세계!',
  'مرحبا بالعالم، هذا نص عربي للاختبار. الأرقام ١٢٣٤٥٦٧٨٩٠ والتشكيل: مُحَمَّد',
  'Привет, мир! Ελληνικά κείμενα. नमस्ते दुनिया। שלום עולם. สวัสดีชาวโลก',
  '😀👍🏽👨‍👩‍👧‍👦🇫🇷🏳️‍🌈 emoji 🎉🎉🎉 ❤️ ✔︎',
  'e\u0301 a\u0308 o\u0302\u0323 Z\u0335\u0321\u031b\u0337 \u0301\u0301 lone combining at the start',
  '3.14159265358979323846264338327950288419716939937510 1,000,000 2026-12-06T05:04:55Z 0x7fffffff 1e-9',
  '          x\n\n\n\n   \t\t  \r\n\r\n    y  \u00a0\u2003\u3000 z',
  '<|endoftext|> <|im_start|>user<|im_end|> <|endofprompt|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|im_sep|>',
  'A'.repeat(250),
  'ab'.repeat(120),
  'Zm9vYmFyYmF6cXV4'.repeat(15),
  'x'.repeat(64) + 'y'.repeat(65),
  '語'.repeat(200),
  '🙂'.repeat(100),
  ' '.repeat(255),
  '\n'.repeat(100) + '\t'.repeat(100),
  '!!!???...;;;---+++===***&&&|||~~~```',
  "'s 're 've 'm 'll 'd 'S 'RE 'Ll don'ſ",
  '\ufeff# A pasted file with its byte-order mark\n\nx \ufeff y',
  'NEL\x85line\x85\x85 two \u2028 three \u2029 four \u200b zero-width',
];

const FILE_TEXTS: string[] = [join(ROOT, 'README.md'), ...sourceFiles(join(ROOT, 'src', 'accounting')), ...sourceFiles(join(ROOT, 'src', 'http'))]
  .map((path) => readFileSync(path, 'utf8'))
  // Files whole are one text each, without runs long enough to be cut (none in these files).
  .filter((text) => text.length > 0);

const RANDOM = randomTexts(1500, 17);

describe('o200k byte-pair encoder (src/accounting/bpe.ts)', () => {
  const bpe = loadO200k();

  it('produces the same tokens as tiktoken and gpt-tokenizer for every text of the corpus', () => {
    for (const text of [...CORPUS, ...FILE_TEXTS, ...RANDOM]) {
      const out: number[] = [];
      const count = bpe.encode(text, out);
      expect(out, JSON.stringify(text.slice(0, 60))).toEqual(real(text));
      if (!/[\ufeff\x85]/u.test(text)) expect(out, JSON.stringify(text.slice(0, 60))).toEqual(previous(text));
      expect(count).toBe(out.length);
      expect(bpe.count(text)).toBe(out.length);
    }
  });

  it('encodes U+FEFF and U+0085 as o200k does, where gpt-tokenizer counted U+FEFF too high', () => {
    // gpt-tokenizer builds its table's strings with a TextDecoder that strips a BOM, so token 5574 (EF BB BF)
    // is lost and U+FEFF falls back to two byte tokens; and its regex's \s (JavaScript's) counts U+FEFF as
    // whitespace, so "\ufeff#" (one o200k token, 110862) is split. Our regex spells out Unicode's White_Space.
    for (const text of ['\ufeff', '\ufeff# Title\n\nBody', 'x\ufeffy']) {
      const out: number[] = [];
      bpe.encode(text, out);
      expect(out, JSON.stringify(text)).toEqual(real(text));
      expect(previous(text).length).toBeGreaterThan(out.length);
      expect(bpe.decode(out)).toBe(text);
    }
    expect(real('\ufeff# Title')[0]).toBe(110862);
    for (const text of ['x \ufeff y', 'a\x85b', '\x85\x85 x', 'end\x85\n', "IT'ſ fine", '\u180e\u200b\u2060 z']) {
      const out: number[] = [];
      bpe.encode(text, out);
      expect(out, JSON.stringify(text)).toEqual(real(text));
    }
  });

  it('encodes lone surrogates as the reference does (as U+FFFD)', () => {
    for (const text of ['a\ud800b', '\udc00', 'x\ud83d', '\ud800\ud800 z', ...randomTexts(300, 5, true)]) {
      const out: number[] = [];
      bpe.encode(text, out);
      expect(out, JSON.stringify(text)).toEqual(real(text));
    }
  });

  it('merges long pieces (the heap path) exactly as the scan does', () => {
    // Pieces above 64 bytes take the O(n log n) merge; these are long single pieces of each kind.
    for (const text of ['q'.repeat(2000), ' '.repeat(3000), '日本語のテキスト'.repeat(60), 'Ωμέγα'.repeat(200), 'aA'.repeat(700), '\u0301'.repeat(500), 'ab1'.repeat(300)]) {
      const out: number[] = [];
      bpe.encode(text, out);
      expect(out, text.slice(0, 10)).toEqual(real(text));
    }
  });

  it('decodes tokens back to the text, and special ids to their names', () => {
    for (const text of [...CORPUS, ...RANDOM.slice(0, 300)]) {
      const out: number[] = [];
      bpe.encode(text, out);
      expect(bpe.decode(out)).toBe(text);
    }
    expect(bpe.decode([199_999, 200_003, 200_006])).toBe(gptTokenizerDecode([199_999, 200_003, 200_006]));
    expect(() => bpe.decode([199_998])).toThrow(/not in the byte pair encoder/);
    expect(() => bpe.decode([300_000])).toThrow(/not in the byte pair encoder/);
    expect(() => bpe.decode([-1])).toThrow(/not in the byte pair encoder/);
  });

  it('holds the vocabulary in a few megabytes of typed arrays', () => {
    expect(bpe.vocabularySize).toBe(199_998);
    expect(bpe.tableBytes).toBeLessThan(6 * 1024 * 1024);
  });

  it('parses the rank file format, gaps in the ranks included', () => {
    const file = new TextEncoder().encode('YQ== 0\nYg== 1\nYWI= 3\n');
    const { bytes, offsets } = parseTiktokenRanks(file);
    expect(new TextDecoder().decode(bytes)).toBe('abab');
    expect([...offsets]).toEqual([0, 1, 2, 2, 4]);
    expect(() => parseTiktokenRanks(new TextEncoder().encode('YQ== 1\nYg== 0\n'))).toThrow(/out of order/);
  });
});

describe('tokenizer.ts on the compact encoder', () => {
  it('counts and encodes as o200k does, so admission is never below the real count', () => {
    for (const text of [...CORPUS, ...FILE_TEXTS, ...RANDOM]) {
      const exact = real(text);
      expect(countTokens(text), JSON.stringify(text.slice(0, 60))).toBe(exact.length);
      expect(encodeTokens(text)).toEqual(exact);
      expect(decodeTokens(encodeTokens(text))).toBe(text);
    }
    // A chat prompt: framing plus each text's count, the texts counted exactly.
    const messages = CORPUS.slice(0, 12).map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content }));
    const texts = messages.reduce((sum, m) => sum + real(m.role).length + real(m.content).length, 0);
    expect(countChatPromptTokens(messages)).toBe(texts + messages.length * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY);
  });

  it('cuts long runs of whitespace too, within one token per cut of the exact count', () => {
    for (const text of [' '.repeat(2000), `a${'\n'.repeat(1000)}b`, `${' \t'.repeat(700)}end`]) {
      const cuts = Math.floor(text.length / 256);
      expect(Math.abs(countTokens(text) - real(text).length), JSON.stringify(text.slice(0, 4))).toBeLessThanOrEqual(cuts);
    }
    // A megabyte of spaces, a single piece of the pre-tokenization, counts without stalling (the suite's timeout).
    expect(countTokens(' '.repeat(1024 * 1024))).toBeGreaterThan(1000);
  });

  it('never cuts an emoji in half, so a long run of them still decodes to itself', () => {
    for (const text of ['🙂'.repeat(300), `x${'👍🏽'.repeat(200)}`]) {
      expect(decodeTokens(encodeTokens(text))).toBe(text);
    }
  });
});
