// What the simulator's endpoint builders produce, shared by the in-process provider and the standalone
// server: a JSON body, or the stream's chunks grouped by decoding step (step k is sent at TTFT + k
// token intervals), each chunk marked with the output pieces it carries.
import type { JsonObject } from '../types.js';

export interface Emission {
  chunk: JsonObject;
  /** Output pieces (tokens) in this chunk: 0 for role, finish and usage chunks. */
  pieces: number;
}

export interface JsonAnswer {
  kind: 'json';
  body: JsonObject;
  /** Decoding steps the answer took (the longest choice), for pacing a non-streamed answer. */
  steps: number;
  /** Output pieces in the whole answer (for `break_after_tokens`). */
  pieces: number;
}

export interface StreamAnswer {
  kind: 'stream';
  steps: Emission[][];
  pieces: number;
}

export type Answer = JsonAnswer | StreamAnswer;

/** What the endpoint builders need from the simulator around them. */
export interface GenerationEnv {
  outputTokens: readonly [number, number];
  embeddingDimensions: number;
  isReasoningModel(model: string): boolean;
  /** Prompt tokens and cached tokens for a prompt identified by `key`; `encode` runs only when the key is new. */
  observePrompt(key: string, encode: () => number[]): { promptTokens: number; cachedTokens: number };
  /** A fresh response id: `chatcmpl-…`, `cmpl-…`. */
  newId(prefix: string): string;
}

/** One choice's part of a stream: the choice objects to send, in order, each at its step. */
export interface ChoiceEvent {
  step: number;
  choice: JsonObject;
  pieces: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

export function buildUsage(promptTokens: number, completionTokens: number, cachedTokens: number, reasoningTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
}

/**
 * Interleaves the choices' events into steps (within a step, by choice index), wraps each choice in a
 * chunk (`usage: null` on every chunk when usage is included), and appends the usage chunk to the last step.
 */
export function buildSteps(
  perChoice: ChoiceEvent[][],
  wrap: (choices: JsonObject[], usage: Usage | null | undefined) => JsonObject,
  usage: Usage | null,
): Emission[][] {
  let lastStep = 0;
  for (const events of perChoice) for (const e of events) if (e.step > lastStep) lastStep = e.step;
  const steps: Emission[][] = [];
  for (let s = 0; s <= lastStep; s++) steps.push([]);
  for (const events of perChoice) {
    for (const e of events) steps[e.step].push({ chunk: wrap([e.choice], usage === null ? undefined : null), pieces: e.pieces });
  }
  if (usage !== null) steps[lastStep].push({ chunk: wrap([], usage), pieces: 0 });
  return steps;
}
