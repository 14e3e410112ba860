// The simulator's output as "pieces" (its unit of a token): words from a fixed vocabulary with their
// leading space, or ~4-character slices of JSON. Streams send one piece per chunk and usage counts
// pieces, so what is streamed and what is billed always agree.
import type { Rng } from './random.js';

/**
 * Common English words, weighted by repetition, so that stop sequences such as " the" or "and" occur
 * in most answers, plus a few words from the gateway's world.
 */
const VOCABULARY: readonly string[] = [
  'the', 'the', 'the', 'the', 'the', 'the', 'of', 'of', 'of', 'and', 'and', 'and', 'to', 'to', 'to',
  'a', 'a', 'in', 'in', 'is', 'is', 'it', 'that', 'for', 'on', 'with', 'as', 'was', 'at', 'by', 'this',
  'be', 'from', 'or', 'are', 'an', 'which', 'can', 'will', 'each', 'more', 'when', 'some', 'all', 'not',
  'one', 'two', 'three', 'many', 'first', 'next', 'last', 'new', 'other', 'small', 'large', 'quick', 'simple',
  'time', 'way', 'part', 'place', 'number', 'word', 'line', 'point', 'answer', 'question', 'example', 'idea',
  'system', 'value', 'result', 'method', 'process', 'order', 'data', 'text', 'model', 'token', 'tokens',
  'request', 'response', 'stream', 'gateway', 'server', 'client', 'message', 'prompt', 'output', 'input',
  'latency', 'throughput', 'cache', 'limit', 'balance', 'key', 'route', 'backend', 'simulator', 'simulated',
  'make', 'makes', 'take', 'shows', 'gives', 'uses', 'finds', 'keeps', 'sends', 'reads', 'writes', 'runs',
  'returns', 'counts', 'checks', 'follows', 'explains', 'describes', 'includes', 'produces', 'measures',
  'clearly', 'often', 'always', 'usually', 'quickly', 'carefully', 'exactly', 'also', 'then', 'here', 'there',
  'good', 'useful', 'fast', 'steady', 'careful', 'deterministic', 'plain', 'short', 'long', 'whole', 'same',
];

/** The first sentence of every answer, so nobody mistakes the simulator for a model. */
export const ANSWER_LEAD: readonly string[] = ['This', ' is', ' a', ' simulated', ' response.'];
export const TOOL_RESULT_LEAD: readonly string[] = ['This', ' is', ' a', ' simulated', ' response', ' to', ' the', ' tool', ' result.'];
export const REASONING_LEAD: readonly string[] = ['Let', ' me', ' think', ' about', ' this', ' simulated', ' request.'];

/** Exactly `count` pieces of sentence-shaped text, starting with `lead` and ending with a full stop. */
export function textPieces(rng: Rng, count: number, lead: readonly string[] = ANSWER_LEAD): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < lead.length && pieces.length < count; i++) pieces.push(lead[i]);
  let sentenceLeft = 0;
  while (pieces.length < count) {
    let word = rng.pick(VOCABULARY);
    if (sentenceLeft === 0) {
      sentenceLeft = rng.int(5, 14);
      word = word[0].toUpperCase() + word.slice(1);
    }
    sentenceLeft--;
    if (sentenceLeft === 0 || pieces.length === count - 1) {
      word += '.';
      sentenceLeft = 0;
    } else if (rng.chance(0.08)) {
      word += ',';
    }
    pieces.push(pieces.length === 0 ? word : ` ${word}`);
  }
  return pieces;
}

const JSON_PIECE_CHARS = 4;

/** A JSON text cut into ~4-character pieces, never splitting a surrogate pair. */
export function jsonPieces(json: string): string[] {
  const pieces: string[] = [];
  let i = 0;
  while (i < json.length) {
    let end = Math.min(i + JSON_PIECE_CHARS, json.length);
    const last = json.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff && end < json.length) end++;
    pieces.push(json.slice(i, end));
    i = end;
  }
  return pieces;
}

export type FinishReason = 'stop' | 'length';

export interface LimitedPieces {
  pieces: string[];
  finishReason: FinishReason;
}

/** Where the text first contains one of the stop sequences, or -1. */
function firstStopIndex(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const at = text.indexOf(stop);
    if (at !== -1 && (best === -1 || at < best)) best = at;
  }
  return best;
}

/**
 * Applies the output cap and stop sequences the way a backend does while decoding: generation ends at
 * the cap (`length`), or just before the first stop sequence that appears in what was generated (`stop`,
 * the sequence itself not included); otherwise the answer ends naturally (`stop`).
 */
export function limitPieces(all: string[], cap: number, stops: readonly string[]): LimitedPieces {
  let pieces = all;
  let finishReason: FinishReason = 'stop';
  if (pieces.length > cap) {
    pieces = pieces.slice(0, Math.max(0, cap));
    finishReason = 'length';
  }
  if (stops.length === 0 || pieces.length === 0) return { pieces, finishReason };
  const at = firstStopIndex(pieces.join(''), stops);
  if (at === -1) return { pieces, finishReason };
  const kept: string[] = [];
  let offset = 0;
  for (const piece of pieces) {
    if (offset + piece.length <= at) {
      kept.push(piece);
      offset += piece.length;
      continue;
    }
    if (at > offset) kept.push(piece.slice(0, at - offset));
    break;
  }
  return { pieces: kept, finishReason: 'stop' };
}
