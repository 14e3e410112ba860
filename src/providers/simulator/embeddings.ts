// `POST /v1/embeddings` for the simulator: a deterministic unit vector per input, drawn from a PRNG
// seeded by the input. A shorter `dimensions` takes a prefix of the same draw and renormalises it, as
// text-embedding-3 models shorten theirs.
import { countTokens, decodeTokens } from '../../accounting/tokenizer.js';
import type { JsonObject } from '../types.js';
import type { GenerationEnv, JsonAnswer } from './answer.js';
import { SimulatorRequestError, readModel } from './params.js';
import { Rng, hashString } from './random.js';

const MAX_INPUTS = 2048;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface EmbeddingInput {
  key: string;
  tokens: number;
}

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
}

function readInputs(body: JsonObject): EmbeddingInput[] {
  const input = body.input;
  const fromText = (text: string, param: string): EmbeddingInput => {
    if (text.length === 0) throw new SimulatorRequestError(param, 'must not be an empty string');
    return { key: `text:${text}`, tokens: countTokens(text) };
  };
  // Token ids embed like the text they spell, so `input: "hi"` and `input: encode("hi")` agree.
  const fromTokens = (tokens: number[]): EmbeddingInput => {
    let key: string;
    try {
      key = `text:${decodeTokens(tokens)}`;
    } catch {
      key = `tokens:${tokens.join(',')}`;
    }
    return { key, tokens: tokens.length };
  };
  if (typeof input === 'string') return [fromText(input, 'input')];
  if (isTokenArray(input)) return [fromTokens(input)];
  if (Array.isArray(input) && input.length > 0 && input.length <= MAX_INPUTS) {
    if (input.every((i) => typeof i === 'string')) return (input as string[]).map((text, i) => fromText(text, `input[${i}]`));
    if (input.every(isTokenArray)) return (input as number[][]).map(fromTokens);
  }
  throw new SimulatorRequestError('input', `must be a non-empty string, an array of 1 to ${MAX_INPUTS} strings, an array of token ids or an array of token arrays`);
}

/** The unit vector for one input: the same input always gets the same vector. */
export function embeddingVector(key: string, dimensions: number): Float32Array {
  const rng = new Rng(hashString(key));
  const values = new Float64Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = rng.next() * 2 - 1;
    values[i] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  const vector = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) vector[i] = values[i] * scale;
  return vector;
}

/** Little-endian float32 bytes, base64-encoded (what the SDKs ask for by default). */
export function vectorToBase64(vector: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

export function answerEmbeddings(body: JsonObject, env: GenerationEnv): JsonAnswer {
  const model = readModel(body);
  const inputs = readInputs(body);
  const format = body.encoding_format;
  if (format !== undefined && format !== 'float' && format !== 'base64') throw new SimulatorRequestError('encoding_format', 'must be "float" or "base64"');
  let dimensions = env.embeddingDimensions;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    const d = body.dimensions;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > env.embeddingDimensions) {
      throw new SimulatorRequestError('dimensions', `must be an integer from 1 to ${env.embeddingDimensions}`);
    }
    dimensions = d;
  }
  let promptTokens = 0;
  const data = inputs.map((input, index) => {
    promptTokens += input.tokens;
    const vector = embeddingVector(input.key, dimensions);
    return { object: 'embedding', index, embedding: format === 'base64' ? vectorToBase64(vector) : Array.from(vector) };
  });
  return {
    kind: 'json',
    body: { object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } },
    steps: 0,
    pieces: 0,
  };
}
