// A prompt prefix cache shaped like vLLM's automatic prefix caching: the prompt's tokens in blocks of
// 16, each block named by a hash chained over every token before it, a bounded LRU of those names. A
// request's cached tokens are its longest run of leading full blocks already seen.
import { mix32 } from './random.js';

export const PREFIX_BLOCK_TOKENS = 16;

/** The chained hash of each full block of `tokens` (a partial last block is never cached). */
export function blockHashes(tokens: readonly number[]): number[] {
  const blocks = Math.floor(tokens.length / PREFIX_BLOCK_TOKENS);
  const hashes = new Array<number>(blocks);
  // Two independent 32-bit lanes make a 53-bit name, so collisions are negligible at any cache size.
  let a = 0x2545f491;
  let b = 0x5bd1e995;
  for (let block = 0; block < blocks; block++) {
    const start = block * PREFIX_BLOCK_TOKENS;
    for (let i = start; i < start + PREFIX_BLOCK_TOKENS; i++) {
      const t = tokens[i];
      a = mix32(a ^ t) + 0x9e3779b9;
      b = mix32((b + t) ^ 0x7f4a7c15);
    }
    hashes[block] = (a >>> 0) * 0x200000 + ((b >>> 0) >>> 11);
  }
  return hashes;
}

export class PrefixCache {
  private readonly blocks = new Map<number, true>();

  constructor(private readonly maxBlocks = 65_536) {}

  /** Tokens of the longest leading run of `hashes` already cached. Touches the hits. */
  lookup(hashes: readonly number[]): number {
    let hit = 0;
    for (const h of hashes) {
      if (!this.blocks.has(h)) break;
      this.blocks.delete(h);
      this.blocks.set(h, true);
      hit++;
    }
    return hit * PREFIX_BLOCK_TOKENS;
  }

  /** Records a prompt's blocks as most recently used, evicting the least recently used past the bound. */
  record(hashes: readonly number[]): void {
    for (const h of hashes) {
      this.blocks.delete(h);
      this.blocks.set(h, true);
    }
    while (this.blocks.size > this.maxBlocks) {
      const oldest = this.blocks.keys().next();
      if (oldest.done === true) break;
      this.blocks.delete(oldest.value);
    }
  }

  /** The cached tokens for this prompt, which is then recorded (as a backend does once it has run the prompt). */
  observe(hashes: readonly number[]): number {
    const cached = this.lookup(hashes);
    this.record(hashes);
    return cached;
  }

  get size(): number {
    return this.blocks.size;
  }
}
