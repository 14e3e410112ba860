// Token counting with a real tokenizer (o200k_base, the GPT-4o family's encoding): the simulator's usage,
// and the gateway's own estimates when a backend reports none. Only this one encoding is loaded, by our own
// compact byte-pair encoder (./bpe.ts): the same tokens as OpenAI's tiktoken, in ~4.5 MB.
import { loadO200k, type BytePairEncoder } from './bpe.js';

// The encoder's tables (~4.5 MB) take ~50 ms to load: they load once, when a process first needs them — or
// at start-up, for processes that must not stall mid-traffic (warmTokenizer).
let encoding: BytePairEncoder | undefined;
function tokenizer(): BytePairEncoder {
  encoding ??= loadO200k();
  return encoding;
}

/** Loads the tables now (for components that count every request, like the simulator). */
export function warmTokenizer(): void {
  tokenizer();
}

// User text that happens to contain "<|endoftext|>" and the like is counted as plain text, never rejected:
// the encoder never produces special tokens.

/** OpenAI's accounting for chat prompts: each message costs 3 tokens of framing, a `name` 1 more, and the reply is primed with 3. */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const TOKENS_PER_REPLY = 3;
/** An image part, counted as OpenAI's low-detail price (the pixels are not fetched to count tiles). */
export const TOKENS_PER_IMAGE = 85;

/**
 * One unbroken run of characters (a long base64 blob, "xxxx…", a megabyte of spaces) is one piece of
 * the pre-tokenization, and the regex's backtracking and the merge's working arrays grow with a piece,
 * so a hostile prompt or backend output could stall the process or swell its memory. Runs are cut every
 * MAX_RUN characters and the segments encoded apart: at most one token of difference per cut, and
 * linear time and bounded scratch memory whatever the input.
 */
const MAX_RUN = 256;

/** Cuts `text` before every MAX_RUN-th character of an unbroken run (of whitespace or of anything else); the text itself when it has no such run. */
function segments(text: string): string[] {
  let out: string[] | undefined;
  let start = 0;
  let run = 0;
  let inSpace = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Whitespace as the tokenizer's pattern sees it for these purposes: space, tab, CR, LF.
    const space = c === 32 || c === 9 || c === 10 || c === 13;
    if (space !== inSpace) {
      inSpace = space;
      run = 0;
    }
    if (++run > MAX_RUN) {
      // Never between the two halves of a surrogate pair (an emoji): each half alone would encode as U+FFFD.
      const at = c >= 0xdc00 && c <= 0xdfff && i - 1 > start ? i - 1 : i;
      (out ??= []).push(text.slice(start, at));
      start = at;
      run = i - at + 1;
    }
  }
  if (out === undefined) return [text];
  out.push(text.slice(start));
  return out;
}

function countUncached(text: string): number {
  let total = 0;
  for (const segment of segments(text)) total += tokenizer().count(segment);
  return total;
}

/**
 * Counts of recent texts, oldest first out. Clients resend the same system prompt and the
 * whole conversation so far with every turn, so most texts a request brings were counted a moment ago;
 * counting costs ~0.3 µs a token, a lookup a hash. Bounded by the characters held, and only for texts
 * short enough that keeping them is cheap.
 */
const MEMO_MAX_TEXT = 16 * 1024;
const MEMO_MAX_CHARS = 1024 * 1024;
const memo = new Map<string, number>();
let memoChars = 0;

export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > MEMO_MAX_TEXT) return countUncached(text);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = countUncached(text);
  memo.set(text, count);
  memoChars += text.length;
  while (memoChars > MEMO_MAX_CHARS) {
    const oldest = memo.keys().next().value as string;
    memo.delete(oldest);
    memoChars -= oldest.length;
  }
  return count;
}

export function encodeTokens(text: string): number[] {
  if (text.length === 0) return [];
  const tokens: number[] = [];
  for (const segment of segments(text)) tokenizer().encode(segment, tokens);
  return tokens;
}

export function decodeTokens(tokens: readonly number[]): string {
  return tokenizer().decode(tokens);
}

/** What a walk over a chat prompt reports: text to tokenize, or a run of tokens with no text (framing, images). */
interface PromptSink {
  text(text: string): void;
  opaque(count: number, id: number): void;
}

// Synthetic ids for the framing tokens: above o200k's vocabulary, so they never collide with a text token.
const FRAME_ID = 300_000;
const REPLY_ID = 300_001;
const NAME_ID = 300_002;
const IMAGE_ID = 300_100;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function walkContent(content: unknown, sink: PromptSink): void {
  if (typeof content === 'string') {
    sink.text(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content as unknown[]) {
    if (typeof part === 'string') {
      sink.text(part);
      continue;
    }
    if (part === null || typeof part !== 'object') continue;
    const p = part as Record<string, unknown>;
    if (typeof p.text === 'string') sink.text(p.text);
    else if (typeof p.refusal === 'string') sink.text(p.refusal);
    else if (p.type === 'image_url') {
      const image = p.image_url as { url?: unknown } | string | undefined;
      const url = typeof image === 'string' ? image : typeof image?.url === 'string' ? image.url : '';
      sink.opaque(TOKENS_PER_IMAGE, IMAGE_ID + (fnv1a(url) % 1_000_000));
    }
  }
}

function walkFunction(fn: unknown, sink: PromptSink): void {
  if (fn === null || typeof fn !== 'object') return;
  const f = fn as Record<string, unknown>;
  if (typeof f.name === 'string') sink.text(f.name);
  if (typeof f.arguments === 'string') sink.text(f.arguments);
}

function walkChatPrompt(messages: readonly unknown[], sink: PromptSink): void {
  for (const message of messages) {
    sink.opaque(TOKENS_PER_MESSAGE, FRAME_ID);
    if (message === null || typeof message !== 'object') continue;
    const m = message as Record<string, unknown>;
    if (typeof m.role === 'string') sink.text(m.role);
    walkContent(m.content, sink);
    if (typeof m.name === 'string') {
      sink.opaque(TOKENS_PER_NAME, NAME_ID);
      sink.text(m.name);
    }
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls as unknown[]) {
        if (call !== null && typeof call === 'object') walkFunction((call as Record<string, unknown>).function, sink);
      }
    }
    walkFunction(m.function_call, sink);
  }
  sink.opaque(TOKENS_PER_REPLY, REPLY_ID);
}

/**
 * Tokens of a chat prompt as OpenAI counts them: every message's role and content text (text parts,
 * refusals, a fixed price per image), its name, its tool calls' names and arguments, plus the framing.
 */
export function countChatPromptTokens(messages: readonly unknown[]): number {
  let total = 0;
  walkChatPrompt(messages, {
    text(text) {
      total += countTokens(text);
    },
    opaque(count) {
      total += count;
    },
  });
  return total;
}

/** The same prompt as a token array (framing and images as synthetic ids): its length is `countChatPromptTokens`. */
export function encodeChatPrompt(messages: readonly unknown[]): number[] {
  const tokens: number[] = [];
  walkChatPrompt(messages, {
    text(text) {
      for (const t of encodeTokens(text)) tokens.push(t);
    },
    opaque(count, id) {
      for (let i = 0; i < count; i++) tokens.push(id);
    },
  });
  return tokens;
}
