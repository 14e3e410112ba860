// The media endpoints (SPEC §2): images, speech and transcriptions. The same stages as the text pipeline
// — resolve the model, authorize, check capabilities, admit (requests, a concurrency slot, the maximum
// cost reserved), route with retries before the first byte — billed by media units (images, characters,
// audio milliseconds) instead of tokens, and settled when the response has ended (http/app).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { rateLimitHeaders, budgetHeaders } from '../limits/headers.js';
import type { Capability } from '../config/schema.js';
import { authorizeModel } from '../http/auth.js';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import type { ImageRequest, SpeechRequest, TranscriptionFields } from '../openai/schemas/media.js';
import type { JsonObject, MediaCall, MediaResult, UploadedFile } from '../providers/types.js';
import type { Catalog, CatalogDeployment, CatalogModel } from '../routing/catalog.js';
import { routeModel, type AttemptRecord, type Routed } from '../routing/router.js';
import type { Outcome } from '../routing/health.js';
import type { MediaUsage } from '../accounting/pricing.js';
import type { Accounting } from '../accounting/settlement.js';
import { admitRequest } from './admission.js';
import type { RequestState } from './request-state.js';
import type { SharedAbort } from '../providers/call-signal.js';
import { beginAttempt, ClientDisconnected, clientSignal, type Attempt } from './stream-relay.js';
import { wavDurationMs } from './wav.js';

export interface MediaDeps {
  catalog: Catalog;
  accounting: Accounting;
  /** Aborted when a graceful shutdown's grace period is over: ends the requests still running. */
  shutdown?: SharedAbort;
}

/** The catalog model a media request names, checked for the key and the capability. */
export function mediaModel(deps: MediaDeps, state: RequestState, name: string, capability: Capability, what: string): CatalogModel {
  state.model = name;
  const model = deps.catalog.resolve(name);
  state.modelId = model.id;
  authorizeModel(state.principal!, model.id);
  if (!model.capabilities.has(capability)) throw invalidRequest('model', `model: "${name}" is a ${model.config.category} model and does not serve ${what}.`);
  return model;
}

/** Admits a media request at its most units (it takes no tokens from the limits, only a request slot). */
export function admitMedia(deps: MediaDeps, state: RequestState, endpoint: string, model: CatalogModel, most: MediaUsage): Promise<void> {
  return admitRequest(deps.accounting, state, endpoint, model, 0, 0, most);
}

/** A 400 naming `size` when the model lists its sizes and this is not one of them. */
export function checkSize(size: string | undefined, model: CatalogModel): void {
  const sizes = model.config.sizes;
  if (size === undefined || size === 'auto' || sizes === undefined || sizes.includes(size)) return;
  throw invalidRequest('size', `size: "${size}" is not offered by the model "${model.id}"; use one of ${sizes.map((s) => `"${s}"`).join(', ')}.`);
}

/** The client's fields, the catalog defaults it left out, and the deployment's model name (set per attempt). */
export function upstreamBody(req: JsonObject, model: CatalogModel): JsonObject {
  const body: JsonObject = { ...req };
  for (const [field, value] of Object.entries(model.defaults)) if (body[field] === undefined || body[field] === null) body[field] = value;
  return body;
}

/** A media call that has started: the backend's answer, whose bytes are still to come, and its timers. */
interface StartedMedia {
  result: MediaResult;
  attempt: Attempt;
}

/**
 * Routes a media call over the model's deployments, retrying backend failures before the answer starts.
 * The caller reads the answer's bytes and then calls `end` (which ends the timers and the deployment's
 * in-flight count with the outcome).
 */
export async function routeMedia(
  model: CatalogModel,
  state: RequestState,
  reply: FastifyReply,
  call: Omit<MediaCall, 'signal' | 'requestId'>,
  shutdown: SharedAbort | undefined,
): Promise<{ started: StartedMedia; end: (outcome: Outcome) => void }> {
  const { client, release } = clientSignal(reply.raw, shutdown);
  const attempts: AttemptRecord[] = [];
  state.attempts = attempts;
  const start = async (deployment: CatalogDeployment): Promise<StartedMedia> => {
    if (deployment.provider.media === undefined) throw new GatewayError('upstream_error', `The deployment ${deployment.name} serves no media endpoints.`);
    const attempt = beginAttempt(client, deployment.timeouts);
    try {
      const body = call.body === undefined ? undefined : { ...call.body, model: deployment.upstreamModel };
      const form = call.form === undefined ? undefined : { ...call.form, fields: { ...call.form.fields, model: deployment.upstreamModel } };
      const result = await deployment.provider.media({ ...call, body, form, requestId: state.id, signal: attempt.signal }).catch(attempt.rethrow);
      attempt.timers.firstByte();
      state.upstreamMs = Math.round((performance.now() - attempt.began) * 1000) / 1000;
      return { result, attempt };
    } catch (err) {
      attempt.end();
      throw err;
    }
  };
  let routed: Routed<StartedMedia>;
  try {
    routed = await routeModel(model, client, attempts, start);
  } catch (err) {
    release();
    if (attempts.length > 0) state.deployment = attempts[attempts.length - 1].deployment;
    throw err;
  }
  state.deployment = routed.deployment.name;
  const started = routed.value;
  return {
    started,
    end: (outcome) => {
      started.attempt.end();
      release();
      routed.deployment.health.end(routed.trial, outcome);
    },
  };
}

/**
 * Reads a whole answer of at most `limit` bytes (JSON, a transcript, a finished video); `activity` is told
 * of each chunk (a call's idle timer, so the backend's silence stays bounded by idle_ms).
 */
export async function readAll(body: AsyncIterable<Buffer>, limit: number, activity?: () => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    activity?.();
    size += chunk.length;
    if (size > limit) throw new GatewayError('upstream_error', `The backend's answer is larger than ${limit} bytes.`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

export function readJson(bytes: Buffer): JsonObject {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as JsonObject;
  } catch {
    // Reported below.
  }
  throw new GatewayError('upstream_error', 'The backend answered with something other than a JSON object.');
}

/**
 * Answers from a started call, then ends it: a success when `answer` finishes, neutral when the client
 * left mid-way (nothing more to send; the request is settled as it stands), else a failure.
 */
async function answerFrom(state: RequestState, reply: FastifyReply, end: (outcome: Outcome) => void, answer: () => Promise<void>): Promise<void> {
  let outcome: Outcome = 'failure';
  try {
    await answer();
    outcome = 'success';
  } catch (err) {
    if (!(err instanceof ClientDisconnected)) throw err;
    outcome = 'neutral';
    state.settle = 'client_disconnected';
    reply.hijack();
    if (!reply.raw.destroyed) reply.raw.destroy();
  } finally {
    end(outcome);
  }
}

const MAX_IMAGES_ANSWER = 256 * 1024 * 1024;

/** POST /v1/images/generations: b64_json images (SPEC §2), billed per image returned. */
export async function generateImages(deps: MediaDeps, req: ImageRequest, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const state = request.state;
  const model = mediaModel(deps, state, req.model, 'images', 'POST /v1/images/generations');
  checkSize(req.size, model);
  const n = req.n ?? 1;
  await admitMedia(deps, state, 'images', model, { unit: 'image', count: n });
  const { started, end } = await routeMedia(model, state, reply, { endpoint: 'images', body: upstreamBody(req, model) }, deps.shutdown);
  await answerFrom(state, reply, end, async () => {
    const answer = readJson(await readAll(started.result.body, MAX_IMAGES_ANSWER, () => started.attempt.timers.activity()));
    const data = Array.isArray(answer.data) ? (answer.data as JsonObject[]) : [];
    if (data.some((d) => typeof d?.b64_json !== 'string')) {
      throw new GatewayError('upstream_error', 'The backend answered without b64_json images (set the model\'s defaults.response_format to "b64_json").');
    }
    // Billed for what came back, never more than was asked (and reserved).
    state.media = { unit: 'image', count: Math.min(data.length, n) };
    state.settle = 'complete';
    const images = data.slice(0, n).map((d) => (typeof d.revised_prompt === 'string' ? { b64_json: d.b64_json, revised_prompt: d.revised_prompt } : { b64_json: d.b64_json }));
    await reply.type('application/json').send(JSON.stringify({ created: typeof answer.created === 'number' ? answer.created : Math.floor(Date.now() / 1000), data: images }));
  });
}

const SPEECH_CONTENT_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/opus',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

/** The format the speech comes in: the client's, the model's default, mp3 (OpenAI's), or the model's first. */
function speechFormat(req: SpeechRequest, model: CatalogModel): string {
  const formats = model.config.audio_formats;
  if (req.response_format !== undefined) {
    if (formats !== undefined && !formats.includes(req.response_format)) {
      throw invalidRequest('response_format', `response_format: "${req.response_format}" is not offered by the model "${model.id}"; use one of ${formats.map((f) => `"${f}"`).join(', ')}.`);
    }
    return req.response_format;
  }
  const configured = model.defaults.response_format;
  if (typeof configured === 'string') return configured;
  return formats === undefined || formats.includes('mp3') ? 'mp3' : formats[0];
}

/** POST /v1/audio/speech: audio bytes streamed back as they come, billed per character of input. */
export async function createSpeech(deps: MediaDeps, req: SpeechRequest, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const state = request.state;
  const model = mediaModel(deps, state, req.model, 'speech', 'POST /v1/audio/speech');
  const voices = model.config.voices;
  if (voices !== undefined && !voices.includes(req.voice)) {
    throw invalidRequest('voice', `voice: "${req.voice}" is not a voice of the model "${model.id}"; use one of ${voices.map((v) => `"${v}"`).join(', ')}.`);
  }
  const format = speechFormat(req, model);
  const characters = [...req.input].length;
  await admitMedia(deps, state, 'speech', model, { unit: 'character', count: characters });
  const { started, end } = await routeMedia(model, state, reply, { endpoint: 'speech', body: { ...upstreamBody(req, model), response_format: format } }, deps.shutdown);
  let outcome: Outcome = 'failure';
  const res = reply.raw;
  try {
    const contentType = started.result.contentType.startsWith('application/json') ? SPEECH_CONTENT_TYPES[format] : started.result.contentType;
    // The characters were spoken once the backend answers: billed whether or not the client reads it all.
    state.media = { unit: 'character', count: characters };
    reply.hijack();
    // The rate-limit headers too: the onSend hook that adds them to other answers does not see this one.
    res.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      ...(state.rateLimit && rateLimitHeaders(state.rateLimit)),
      ...budgetHeaders(state.budgetRemainingMicros),
      'content-type': contentType ?? 'application/octet-stream',
    });
    state.ttftMs = Math.round((performance.now() - state.start) * 1000) / 1000;
    for await (const chunk of started.result.body) {
      started.attempt.timers.activity();
      if (!res.write(chunk)) await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
      if (res.destroyed) throw new ClientDisconnected('The client closed the connection.');
    }
    res.end();
    state.settle = 'complete';
    outcome = 'success';
  } catch (err) {
    if (err instanceof ClientDisconnected || started.attempt.signal.reason instanceof ClientDisconnected) {
      outcome = 'neutral';
      state.settle = 'client_disconnected';
      if (!res.destroyed) res.destroy();
      return;
    }
    if (!res.headersSent) throw err;
    // Mid-way through the audio: nothing to add to a binary body but its end.
    state.settle = 'upstream_error';
    res.destroy();
  } finally {
    end(outcome);
  }
}

const MAX_TRANSCRIPT_ANSWER = 64 * 1024 * 1024;
/** Without a duration from the backend or a WAV header: audio assumed at 128 kbit/s (16,000 bytes a second). */
const ESTIMATED_BYTES_PER_SECOND = 16_000;

/** Milliseconds of audio the backend billed itself by (`usage.seconds`, verbose_json's `duration`), if it said. */
function reportedDurationMs(answer: JsonObject): number | undefined {
  const usage = answer.usage as JsonObject | undefined;
  if (usage?.type === 'duration' && typeof usage.seconds === 'number') return Math.ceil(usage.seconds * 1000);
  if (typeof answer.duration === 'number') return Math.ceil(answer.duration * 1000);
  return undefined;
}

/** POST /v1/audio/transcriptions: the spooled upload forwarded as multipart; billed per millisecond of audio. */
export async function createTranscription(deps: MediaDeps, fields: TranscriptionFields, file: UploadedFile, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const state = request.state;
  const model = mediaModel(deps, state, fields.model, 'transcriptions', 'POST /v1/audio/transcriptions');
  // A WAV says how long it is; anything else is reserved at the model's longest audio.
  const exactMs = await wavDurationMs(file.path);
  const mostMs = exactMs ?? (model.config.max_audio_seconds ?? 3600) * 1000;
  await admitMedia(deps, state, 'transcriptions', model, { unit: 'audio_ms', count: mostMs });
  const form: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form[name] = String(value);
  const { started, end } = await routeMedia(model, state, reply, { endpoint: 'transcriptions', form: { fields: form, file } }, deps.shutdown);
  await answerFrom(state, reply, end, async () => {
    const bytes = await readAll(started.result.body, MAX_TRANSCRIPT_ANSWER, () => started.attempt.timers.activity());
    const isJson = started.result.contentType.includes('json');
    const reported = isJson ? reportedDurationMs(readJson(bytes)) : undefined;
    const ms = exactMs ?? reported ?? Math.max(100, Math.ceil((file.size / ESTIMATED_BYTES_PER_SECOND) * 1000));
    state.media = { unit: 'audio_ms', count: Math.min(ms, mostMs) };
    state.settle = exactMs !== undefined || reported !== undefined ? 'complete' : 'estimated';
    await reply.type(started.result.contentType).send(bytes);
  });
}
