// `POST /v1/chat/completions` for the simulator: plans each choice (reasoning, then text, JSON or a
// tool call), then shapes the plan as a `chat.completion` or as `chat.completion.chunk`s.
import { encodeChatPrompt } from '../../accounting/tokenizer.js';
import type { JsonObject } from '../types.js';
import { buildSteps, buildUsage, type Answer, type ChoiceEvent, type GenerationEnv, type Usage } from './answer.js';
import { sampleJsonSchema } from './json-schema-sample.js';
import { SimulatorRequestError, isObject, readModel, readN, readOutputCap, readSeed, readStop, readStream } from './params.js';
import { Rng, combineSeeds, hashString, randomId } from './random.js';
import { ANSWER_LEAD, REASONING_LEAD, TOOL_RESULT_LEAD, jsonPieces, limitPieces, textPieces } from './text.js';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

interface ToolDef {
  name: string;
  parameters: unknown;
}

type ToolChoice = { mode: 'none' | 'auto' | 'required'; name?: undefined } | { mode: 'named'; name: string };

type OutputFormat = { kind: 'text' } | { kind: 'json'; schema: unknown };

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChoicePlan {
  reasoning: string[];
  /** null when the choice is a tool call. */
  content: string[] | null;
  toolCall: { id: string; name: string; argPieces: string[] } | null;
  finishReason: ChatFinishReason;
  /** The stop sequence that ended the text, when one did. */
  stopSequence: string | null;
}

function readMessages(body: JsonObject): JsonObject[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new SimulatorRequestError('messages', 'must be a non-empty array of messages');
  messages.forEach((m: unknown, i) => {
    if (!isObject(m)) throw new SimulatorRequestError(`messages[${i}]`, 'must be an object');
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
      throw new SimulatorRequestError(`messages[${i}].role`, `must be one of ${[...ROLES].join(', ')}`);
    }
  });
  return messages as JsonObject[];
}

function readTools(body: JsonObject): ToolDef[] {
  const tools = body.tools;
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw new SimulatorRequestError('tools', 'must be an array');
  const defs: ToolDef[] = [];
  tools.forEach((tool: unknown, i) => {
    if (!isObject(tool)) throw new SimulatorRequestError(`tools[${i}]`, 'must be an object');
    if (tool.type !== undefined && tool.type !== 'function') return; // custom tools: not simulated
    const fn = tool.function;
    if (!isObject(fn) || typeof fn.name !== 'string' || fn.name.length === 0) {
      throw new SimulatorRequestError(`tools[${i}].function.name`, 'must be a non-empty string');
    }
    defs.push({ name: fn.name, parameters: fn.parameters ?? { type: 'object', properties: {} } });
  });
  return defs;
}

function readToolChoice(body: JsonObject, tools: ToolDef[]): ToolChoice {
  const choice = body.tool_choice;
  if (choice === undefined || choice === null || choice === 'auto') return { mode: 'auto' };
  if (choice === 'none') return { mode: 'none' };
  if (choice === 'required') {
    if (tools.length === 0) throw new SimulatorRequestError('tool_choice', '"required" needs at least one function tool in tools');
    return { mode: 'required' };
  }
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === 'string') {
    const name = choice.function.name;
    if (!tools.some((t) => t.name === name)) throw new SimulatorRequestError('tool_choice', `names function "${name}", which is not in tools`);
    return { mode: 'named', name };
  }
  throw new SimulatorRequestError('tool_choice', 'must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}');
}

function readResponseFormat(body: JsonObject): OutputFormat {
  const format = body.response_format;
  if (format === undefined || format === null) return { kind: 'text' };
  if (!isObject(format)) throw new SimulatorRequestError('response_format', 'must be an object');
  switch (format.type) {
    case 'text':
      return { kind: 'text' };
    case 'json_object':
      return { kind: 'json', schema: null };
    case 'json_schema': {
      const spec = format.json_schema;
      if (!isObject(spec)) throw new SimulatorRequestError('response_format.json_schema', 'is required with type "json_schema"');
      return { kind: 'json', schema: spec.schema ?? null };
    }
    default:
      throw new SimulatorRequestError('response_format.type', 'must be one of text, json_object, json_schema');
  }
}

/** `json_object` without a schema: a small object that says what it is. */
function sampleJsonObject(rng: Rng): JsonObject {
  return {
    simulator: 'floodgate',
    answer: textPieces(rng, rng.int(5, 12)).join(''),
    score: rng.int(0, 100),
    tags: textPieces(rng, rng.int(1, 3), []).map((w) => w.trim().replace(/[.,]$/, '').toLowerCase()),
  };
}

interface PlanInput {
  reasoning: boolean;
  cap: number;
  stops: string[];
  outputTokens: readonly [number, number];
  tool: ToolDef[] | null;
  namedTool: string | undefined;
  format: OutputFormat;
  afterToolResult: boolean;
}

/** The stop sequence that cut `kept` short of the capped text, or null when none did. */
function matchedStop(all: string[], cap: number, kept: string[], stops: string[]): string | null {
  if (stops.length === 0) return null;
  const full = (all.length > cap ? all.slice(0, Math.max(0, cap)) : all).join('');
  const at = kept.join('').length;
  if (at >= full.length) return null;
  // limitPieces cut at the earliest match; the first listed stop found there is the one it matched.
  return stops.find((stop) => stop.length > 0 && full.startsWith(stop, at)) ?? null;
}

function planChoice(rng: Rng, input: PlanInput): ChoicePlan {
  let budget = input.cap;
  let reasoning: string[] = [];
  if (input.reasoning) {
    const all = textPieces(rng, rng.int(12, 40), REASONING_LEAD);
    reasoning = all.length > budget ? all.slice(0, budget) : all;
    budget -= reasoning.length;
    if (reasoning.length < all.length) return { reasoning, content: [], toolCall: null, finishReason: 'length', stopSequence: null };
  }
  if (input.tool !== null) {
    const tool = input.namedTool !== undefined ? input.tool.find((t) => t.name === input.namedTool)! : rng.pick(input.tool);
    const id = `call_${randomId(rng, 24)}`;
    const all = jsonPieces(JSON.stringify(sampleJsonSchema(tool.parameters, rng)));
    const argPieces = all.length > budget ? all.slice(0, budget) : all;
    return { reasoning, content: null, toolCall: { id, name: tool.name, argPieces }, finishReason: argPieces.length < all.length ? 'length' : 'tool_calls', stopSequence: null };
  }
  let all: string[];
  if (input.format.kind === 'json') {
    const value = input.format.schema === null ? sampleJsonObject(rng) : sampleJsonSchema(input.format.schema, rng);
    all = jsonPieces(JSON.stringify(value));
  } else {
    all = textPieces(rng, rng.int(input.outputTokens[0], input.outputTokens[1]), input.afterToolResult ? TOOL_RESULT_LEAD : ANSWER_LEAD);
  }
  const limited = limitPieces(all, budget, input.stops);
  return { reasoning, content: limited.pieces, toolCall: null, finishReason: limited.finishReason, stopSequence: matchedStop(all, budget, limited.pieces, input.stops) };
}

function piecesOf(plan: ChoicePlan): number {
  return plan.reasoning.length + (plan.content?.length ?? 0) + (plan.toolCall?.argPieces.length ?? 0);
}

function messageOf(plan: ChoicePlan, reasoningModel: boolean): JsonObject {
  const message: JsonObject = { role: 'assistant', content: plan.content === null ? null : plan.content.join('') };
  if (reasoningModel) message.reasoning_content = plan.reasoning.join('');
  message.refusal = null;
  if (plan.toolCall !== null) {
    message.tool_calls = [{ id: plan.toolCall.id, type: 'function', function: { name: plan.toolCall.name, arguments: plan.toolCall.argPieces.join('') } }];
  }
  return message;
}

function streamEventsOf(plan: ChoicePlan, index: number): ChoiceEvent[] {
  const events: ChoiceEvent[] = [];
  const choice = (delta: JsonObject, finishReason: ChatFinishReason | null = null): JsonObject => ({ index, delta, logprobs: null, finish_reason: finishReason });
  const call = plan.toolCall;
  const first: JsonObject =
    call === null
      ? { role: 'assistant', content: '' }
      : plan.reasoning.length > 0
        ? { role: 'assistant', content: null }
        : { role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] };
  events.push({ step: 0, choice: choice(first), pieces: 0 });
  let step = 0;
  for (const piece of plan.reasoning) events.push({ step: step++, choice: choice({ reasoning_content: piece }), pieces: 1 });
  if (call !== null) {
    // After reasoning, the call's first fragment (index, id, type, name) comes with its own chunk.
    if (plan.reasoning.length > 0) {
      events.push({ step: Math.max(0, step - 1), choice: choice({ tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }), pieces: 0 });
    }
    for (const piece of call.argPieces) events.push({ step: step++, choice: choice({ tool_calls: [{ index: 0, function: { arguments: piece } }] }), pieces: 1 });
  } else {
    for (const piece of plan.content ?? []) events.push({ step: step++, choice: choice({ content: piece }), pieces: 1 });
  }
  events.push({ step: Math.max(0, step - 1), choice: choice({}, plan.finishReason), pieces: 0 });
  return events;
}

/** What the simulator decided for a chat request, before it is shaped for a wire format. */
export interface ChatPlan {
  model: string;
  reasoningModel: boolean;
  plans: ChoicePlan[];
  usage: Usage;
  /** Decoding steps the answer takes (the longest choice). */
  steps: number;
  completionTokens: number;
  stream: boolean;
  includeUsage: boolean;
}

/** Overrides for callers that read these from another wire format (the Messages API). */
export interface ChatPlanOverrides {
  /** Stop sequences, however many (OpenAI's `stop` allows four). */
  stops?: string[];
  /** Whether to reason first, instead of the model-name rule. */
  reasoning?: boolean;
}

/** Reads an OpenAI chat request and plans its choices (text, JSON, tool call), usage included. */
export function planChat(body: JsonObject, env: GenerationEnv, overrides: ChatPlanOverrides = {}): ChatPlan {
  const model = readModel(body);
  const messages = readMessages(body);
  const n = readN(body);
  const cap = readOutputCap(body);
  const stops = overrides.stops ?? readStop(body);
  const seed = readSeed(body);
  const { stream, includeUsage } = readStream(body);
  const tools = readTools(body);
  const toolChoice = readToolChoice(body, tools);
  const format = readResponseFormat(body);

  const promptKey = JSON.stringify(messages);
  const { promptTokens, cachedTokens } = env.observePrompt(`chat:${promptKey}`, () => encodeChatPrompt(messages));
  const lastRole = messages[messages.length - 1].role;
  const callTool = tools.length > 0 && toolChoice.mode !== 'none' && (toolChoice.mode !== 'auto' || lastRole === 'user');
  const reasoningModel = overrides.reasoning ?? env.isReasoningModel(model);
  const input: PlanInput = {
    reasoning: reasoningModel,
    cap,
    stops,
    outputTokens: env.outputTokens,
    tool: callTool ? tools : null,
    namedTool: toolChoice.name,
    format,
    afterToolResult: lastRole === 'tool' || lastRole === 'function',
  };
  const promptSeed = hashString(promptKey);
  const seedSeed = hashString(seed);
  const plans: ChoicePlan[] = [];
  for (let i = 0; i < n; i++) plans.push(planChoice(new Rng(combineSeeds(promptSeed, seedSeed, i)), input));

  let completionTokens = 0;
  let reasoningTokens = 0;
  let steps = 1;
  for (const plan of plans) {
    const pieces = piecesOf(plan);
    completionTokens += pieces;
    reasoningTokens += plan.reasoning.length;
    if (pieces > steps) steps = pieces;
  }
  const usage = buildUsage(promptTokens, completionTokens, cachedTokens, reasoningTokens);
  return { model, reasoningModel, plans, usage, steps, completionTokens, stream, includeUsage };
}

export function answerChat(body: JsonObject, env: GenerationEnv): Answer {
  const { model, reasoningModel, plans, usage, steps, completionTokens, stream, includeUsage } = planChat(body, env);
  const id = env.newId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);

  if (!stream) {
    const choices = plans.map((plan, index) => ({ index, message: messageOf(plan, reasoningModel), logprobs: null, finish_reason: plan.finishReason }));
    return { kind: 'json', body: { id, object: 'chat.completion', created, model, choices, usage }, steps, pieces: completionTokens };
  }
  const wrap = (choices: JsonObject[], chunkUsage: Usage | null | undefined): JsonObject =>
    chunkUsage === undefined ? { id, object: 'chat.completion.chunk', created, model, choices } : { id, object: 'chat.completion.chunk', created, model, choices, usage: chunkUsage };
  return { kind: 'stream', steps: buildSteps(plans.map(streamEventsOf), wrap, includeUsage ? usage : null), pieces: completionTokens };
}
