// `POST /v1/completions` (legacy) for the simulator: one choice per prompt × n, as a `text_completion`
// or as `text_completion` chunks; the same length, stop and usage rules as chat.
import { decodeTokens, encodeTokens } from '../../accounting/tokenizer.js';
import type { JsonObject } from '../types.js';
import { buildSteps, buildUsage, type Answer, type ChoiceEvent, type GenerationEnv, type Usage } from './answer.js';
import { SimulatorRequestError, readModel, readN, readOutputCap, readSeed, readStop, readStream } from './params.js';
import { Rng, combineSeeds, hashString } from './random.js';
import { ANSWER_LEAD, limitPieces, textPieces, type FinishReason } from './text.js';

interface Prompt {
  /** Identifies the prompt for the PRNG and the prefix cache. */
  key: string;
  text: () => string;
  tokens: () => number[];
}

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
}

function textPrompt(text: string): Prompt {
  return { key: `text:${text}`, text: () => text, tokens: () => encodeTokens(text) };
}

function tokenPrompt(tokens: number[]): Prompt {
  const text = (): string => {
    try {
      return decodeTokens(tokens);
    } catch {
      throw new SimulatorRequestError('prompt', 'contains token ids outside the o200k_base vocabulary');
    }
  };
  return { key: `tokens:${tokens.join(',')}`, text, tokens: () => tokens };
}

function readPrompts(body: JsonObject): Prompt[] {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return [textPrompt(prompt)];
  if (isTokenArray(prompt)) return [tokenPrompt(prompt)];
  if (Array.isArray(prompt) && prompt.length > 0) {
    if (prompt.every((p) => typeof p === 'string')) return (prompt as string[]).map(textPrompt);
    if (prompt.every(isTokenArray)) return (prompt as number[][]).map(tokenPrompt);
  }
  throw new SimulatorRequestError('prompt', 'must be a string, a non-empty array of strings, an array of token ids or an array of token arrays');
}

interface ChoicePlan {
  index: number;
  echo: string;
  pieces: string[];
  finishReason: FinishReason;
}

function streamEventsOf(plan: ChoicePlan): ChoiceEvent[] {
  const choice = (text: string, finishReason: FinishReason | null = null): JsonObject => ({ text, index: plan.index, logprobs: null, finish_reason: finishReason });
  const events: ChoiceEvent[] = [];
  if (plan.echo.length > 0) events.push({ step: 0, choice: choice(plan.echo), pieces: 0 });
  plan.pieces.forEach((piece, step) => events.push({ step, choice: choice(piece), pieces: 1 }));
  events.push({ step: Math.max(0, plan.pieces.length - 1), choice: choice('', plan.finishReason), pieces: 0 });
  return events;
}

export function answerCompletions(body: JsonObject, env: GenerationEnv): Answer {
  const model = readModel(body);
  const prompts = readPrompts(body);
  const n = readN(body);
  const cap = readOutputCap(body);
  const stops = readStop(body);
  const seedSeed = hashString(readSeed(body));
  const echo = body.echo === true;
  const { stream, includeUsage } = readStream(body);

  let promptTokens = 0;
  let cachedTokens = 0;
  const plans: ChoicePlan[] = [];
  prompts.forEach((prompt, p) => {
    const observed = env.observePrompt(prompt.key, prompt.tokens);
    promptTokens += observed.promptTokens;
    cachedTokens += observed.cachedTokens;
    const promptSeed = hashString(prompt.key);
    const echoed = echo ? prompt.text() : '';
    for (let k = 0; k < n; k++) {
      const rng = new Rng(combineSeeds(promptSeed, seedSeed, k));
      const limited = limitPieces(textPieces(rng, rng.int(env.outputTokens[0], env.outputTokens[1]), ANSWER_LEAD), cap, stops);
      plans.push({ index: p * n + k, echo: echoed, pieces: limited.pieces, finishReason: limited.finishReason });
    }
  });

  let completionTokens = 0;
  let steps = 1;
  for (const plan of plans) {
    completionTokens += plan.pieces.length;
    if (plan.pieces.length > steps) steps = plan.pieces.length;
  }
  const usage: Usage = buildUsage(promptTokens, completionTokens, cachedTokens, 0);
  const id = env.newId('cmpl-');
  const created = Math.floor(Date.now() / 1000);

  if (!stream) {
    const choices = plans.map((plan) => ({ text: plan.echo + plan.pieces.join(''), index: plan.index, logprobs: null, finish_reason: plan.finishReason }));
    return { kind: 'json', body: { id, object: 'text_completion', created, model, choices, usage }, steps, pieces: completionTokens };
  }
  const wrap = (choices: JsonObject[], chunkUsage: Usage | null | undefined): JsonObject =>
    chunkUsage === undefined ? { id, object: 'text_completion', created, model, choices } : { id, object: 'text_completion', created, model, choices, usage: chunkUsage };
  return { kind: 'stream', steps: buildSteps(plans.map(streamEventsOf), wrap, includeUsage ? usage : null), pieces: completionTokens };
}
