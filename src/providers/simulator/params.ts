// Reading the request fields the simulator acts on. It checks only what it needs to generate an answer
// (the gateway validates requests fully before they get here); anything it cannot use is a 400 in
// OpenAI's envelope, as a real backend would answer.
import type { JsonObject } from '../types.js';

export class SimulatorRequestError extends Error {
  override name = 'SimulatorRequestError';

  constructor(
    readonly param: string | null,
    message: string,
    /** 400, or 404 for something that does not exist (a video job). */
    readonly status = 400,
  ) {
    super(param === null ? message : `${param}: ${message}`);
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: 'invalid_request_error', param: this.param, code: this.status === 404 ? 'not_found' : null } };
  }
}

export function readModel(body: JsonObject): string {
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) throw new SimulatorRequestError('model', 'must be a non-empty string');
  return model;
}

export function readN(body: JsonObject): number {
  const n = body.n;
  if (n === undefined || n === null) return 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) throw new SimulatorRequestError('n', 'must be an integer from 1 to 128');
  return n;
}

/** The output cap: `max_completion_tokens`, else `max_tokens`, else none. */
export function readOutputCap(body: JsonObject): number {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SimulatorRequestError(field, 'must be a non-negative integer');
    return v;
  }
  return Infinity;
}

export function readStop(body: JsonObject): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string')) return stop as string[];
  throw new SimulatorRequestError('stop', 'must be a string or a list of up to 4 strings');
}

/**
 * The seed's contribution to the PRNG. With `temperature: 0` the seed is ignored: greedy decoding
 * samples nothing, so a real backend gives the same answer whatever the seed (choices still differ by
 * index, so that `n` stays observable).
 */
export function readSeed(body: JsonObject): string {
  const seed = body.seed;
  if (seed !== undefined && seed !== null && (typeof seed !== 'number' || !Number.isInteger(seed))) {
    throw new SimulatorRequestError('seed', 'must be an integer');
  }
  const temperature = body.temperature;
  if (temperature !== undefined && temperature !== null && typeof temperature !== 'number') {
    throw new SimulatorRequestError('temperature', 'must be a number');
  }
  if (temperature === 0 || seed === undefined || seed === null) return '';
  return String(seed);
}

export function readStream(body: JsonObject): { stream: boolean; includeUsage: boolean } {
  const stream = body.stream === true;
  const options = body.stream_options;
  const includeUsage = stream && options !== null && typeof options === 'object' && (options as JsonObject).include_usage === true;
  return { stream, includeUsage };
}

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
