// Request validation for chat completions, legacy completions and embeddings: the TypeBox schemas compiled
// once with Ajv, then the few rules a schema cannot say, in plain code. Valid bodies come back as they are
// (unknown fields included, for the backend); invalid ones throw a 400 naming the field.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { invalidRequest, type GatewayError } from './errors.js';
import type { Capability } from '../config/schema.js';
import { pickAjvError, describeValue } from '../validation/ajv-errors.js';
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from './schemas/chat.js';
import { CompletionRequestSchema, type CompletionRequest } from './schemas/completions.js';
import { EmbeddingRequestSchema, type EmbeddingRequest } from './schemas/embeddings.js';
import { listSharedSchemas } from './schemas/common.js';
import {
  ImageRequestSchema,
  SpeechRequestSchema,
  TranscriptionFieldsSchema,
  VideoRequestSchema,
  type ImageRequest,
  type SpeechRequest,
  type TranscriptionFields,
  type VideoRequest,
} from './schemas/media.js';

// allErrors off: stop at the first fault (the hot path pays nothing for a report nobody reads).
// verbose: discriminator errors carry their schema, so the message can list the allowed tags.
// inlineRefs off: each `Shared` piece is its own small function that V8 can optimise (see schemas/common.ts).
const ajv = new Ajv({ discriminator: true, strict: false, allErrors: false, verbose: true, inlineRefs: false });
ajv.addSchema(listSharedSchemas());
const checkChat = ajv.compile<ChatCompletionRequest>(ChatCompletionRequestSchema);
const checkCompletion = ajv.compile<CompletionRequest>(CompletionRequestSchema);
const checkEmbedding = ajv.compile<EmbeddingRequest>(EmbeddingRequestSchema);
const checkImage = ajv.compile<ImageRequest>(ImageRequestSchema);
const checkSpeech = ajv.compile<SpeechRequest>(SpeechRequestSchema);
const checkTranscription = ajv.compile<TranscriptionFields>(TranscriptionFieldsSchema);
const checkVideo = ajv.compile<VideoRequest>(VideoRequestSchema);

function fieldsOf<T>(schema: { properties: object }): readonly (keyof T & string)[] {
  return Object.freeze(Object.keys(schema.properties) as (keyof T & string)[]);
}

/** The top-level fields each validator knows (openai-python 1.109.1; pinned by test/unit/field-pin.test.ts). */
export const CHAT_FIELDS = fieldsOf<ChatCompletionRequest>(ChatCompletionRequestSchema);
export const COMPLETION_FIELDS = fieldsOf<CompletionRequest>(CompletionRequestSchema);
export const EMBEDDING_FIELDS = fieldsOf<EmbeddingRequest>(EmbeddingRequestSchema);

const NOT_AN_OBJECT = 'The request body must be a JSON object.';

function isJsonObject(body: unknown): body is Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body);
}

function resolveRef(ref: string): unknown {
  return ajv.getSchema(ref)?.schema;
}

function schemaError(errors: ErrorObject[] | null | undefined, body: unknown): GatewayError {
  const { path, message } = pickAjvError(errors ?? [], body, resolveRef);
  return invalidRequest(path, message);
}

function check<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (!isJsonObject(body)) throw invalidRequest(null, NOT_AN_OBJECT);
  if (!validate(body)) throw schemaError(validate.errors, body);
  return body;
}

function onlyWhenTrue(field: string, needs: string, value: unknown): GatewayError {
  const got = value === undefined ? `${needs} is not set` : `got ${needs} ${describeValue(value)}`;
  return invalidRequest(field, `${field}: is only allowed when ${needs} is true; ${got}`);
}

/** The body of POST /v1/chat/completions, or a 400 naming the first field at fault. */
export function validateChatRequest(body: unknown): ChatCompletionRequest {
  const req = check(checkChat, body);
  const { messages } = req;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== 'assistant' || (m.content !== undefined && m.content !== null)) continue;
    if ((m.tool_calls !== undefined && m.tool_calls.length > 0) || (m.function_call !== undefined && m.function_call !== null)) continue;
    throw invalidRequest(
      `messages[${i}].content`,
      `messages[${i}].content: is required unless the assistant message has tool_calls or function_call; got ${m.content === null ? 'null' : 'no content'}`,
    );
  }
  if (req.stream_options != null && req.stream !== true) throw onlyWhenTrue('stream_options', 'stream', req.stream);
  if (req.top_logprobs != null && req.logprobs !== true) throw onlyWhenTrue('top_logprobs', 'logprobs', req.logprobs);
  return req;
}

/** The body of the legacy POST /v1/completions, or a 400 naming the first field at fault. */
export function validateCompletionRequest(body: unknown): CompletionRequest {
  const req = check(checkCompletion, body);
  if (req.stream_options != null && req.stream !== true) throw onlyWhenTrue('stream_options', 'stream', req.stream);
  return req;
}

/** A request field that only a model with `capability` serves; `what` names it for the client. */
export interface GatedField {
  param: string;
  capability: Capability;
  what: string;
}

/** The capability-gated fields a chat request carries, in the order they are checked. */
export function chatGatedFields(req: ChatCompletionRequest): GatedField[] {
  const out: GatedField[] = [];
  if (req.logprobs === true) out.push({ param: 'logprobs', capability: 'logprobs', what: 'log probabilities' });
  if (req.top_logprobs != null) out.push({ param: 'top_logprobs', capability: 'logprobs', what: 'log probabilities' });
  if (req.audio != null) out.push({ param: 'audio', capability: 'audio_output', what: 'audio output' });
  if (Array.isArray(req.modalities) && req.modalities.includes('audio')) out.push({ param: 'modalities', capability: 'audio_output', what: 'audio output' });
  if (req.prediction != null) out.push({ param: 'prediction', capability: 'prediction', what: 'predicted outputs' });
  if (req.web_search_options != null) out.push({ param: 'web_search_options', capability: 'web_search', what: 'web search' });
  return out;
}

/** The capability-gated fields a legacy completion request carries. */
export function completionGatedFields(req: CompletionRequest): GatedField[] {
  return req.logprobs != null ? [{ param: 'logprobs', capability: 'logprobs', what: 'log probabilities' }] : [];
}

/**
 * A gated field goes to a model that has its capability, or is a 400 naming it: a backend that cannot
 * serve it would ignore it and answer `null` where the client expects a value.
 */
export function refuseGatedFields(fields: GatedField[], capabilities: ReadonlySet<Capability>, modelId: string): void {
  const missing = fields.find((f) => !capabilities.has(f.capability));
  if (missing !== undefined) throw invalidRequest(missing.param, `${missing.param}: the model "${modelId}" does not support ${missing.what}; omit the field.`);
}

/** The body of POST /v1/embeddings, or a 400 naming the first field at fault. */
export function validateEmbeddingRequest(body: unknown): EmbeddingRequest {
  return check(checkEmbedding, body);
}

/** The body of POST /v1/images/generations; images come back as b64_json only (SPEC §2). */
export function validateImageRequest(body: unknown): ImageRequest {
  const req = check(checkImage, body);
  if (req.response_format === 'url') {
    throw invalidRequest('response_format', 'response_format: "url" is not supported; images are returned as base64 in b64_json. Send "b64_json" or omit the field.');
  }
  return req;
}

/** The body of POST /v1/audio/speech. */
export function validateSpeechRequest(body: unknown): SpeechRequest {
  const req = check(checkSpeech, body);
  if (req.stream_format === 'sse') throw invalidRequest('stream_format', 'stream_format: "sse" is not supported; the audio is streamed as bytes ("audio").');
  return req;
}

/** The text fields of POST /v1/audio/transcriptions (numbers arrive as strings in a form). */
export function validateTranscriptionFields(fields: Record<string, unknown>): TranscriptionFields {
  const typed: Record<string, unknown> = { ...fields };
  if (typeof typed.temperature === 'string' && typed.temperature.trim() !== '' && Number.isFinite(Number(typed.temperature))) typed.temperature = Number(typed.temperature);
  return check(checkTranscription, typed);
}

/** The body of POST /v1/videos/generations. */
export function validateVideoRequest(body: unknown): VideoRequest {
  return check(checkVideo, body);
}
