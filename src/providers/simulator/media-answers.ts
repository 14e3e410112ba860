// The simulator's media answers, shared by the in-process provider and the standalone server: images as
// real PNGs (b64_json), speech as WAV or PCM, transcripts derived from the audio in every response_format,
// and video jobs that move from queued through in_progress to completed over `video_ms`. A video job
// keeps no state: its id carries when it was made and what it asked for, so it survives a restart of
// the simulator (and of the gateway in front of it).
import type { JsonObject, MediaEndpoint } from '../types.js';
import {
  SPEECH_FORMATS,
  VIDEO_CONTENT_TYPE,
  renderPng,
  renderTranscript,
  renderVideo,
  synthesizeSpeech,
  transcribeAudio,
  type SpeechFormat,
  type TranscriptFormat,
} from './media.js';
import { SimulatorRequestError, readModel } from './params.js';

export const DEFAULT_VIDEO_MS = 2000;
const MAX_IMAGE_SIDE = 4096;
const MAX_VIDEO_SECONDS = 60;
const TRANSCRIPT_FORMATS: readonly TranscriptFormat[] = ['json', 'text', 'verbose_json', 'srt', 'vtt'];
const SPEECH_CONTENT_TYPES: Record<SpeechFormat, string> = { wav: 'audio/wav', pcm: 'audio/pcm' };

export interface MediaRequest {
  endpoint: MediaEndpoint;
  body?: JsonObject;
  /** Transcriptions: the form's text fields and the file's bytes. */
  fields?: Record<string, string>;
  file?: Buffer;
  jobId?: string;
}

export interface MediaAnswer {
  contentType: string;
  body: Buffer;
}

function json(value: unknown): MediaAnswer {
  return { contentType: 'application/json', body: Buffer.from(JSON.stringify(value)) };
}

function readSize(value: unknown, fallback: string, param = 'size'): { width: number; height: number; size: string } {
  const size = value === undefined || value === null || value === 'auto' ? fallback : value;
  const m = typeof size === 'string' ? /^([1-9][0-9]*)x([1-9][0-9]*)$/.exec(size) : null;
  if (m === null) throw new SimulatorRequestError(param, 'must be "WIDTHxHEIGHT", e.g. "1024x1024"');
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) throw new SimulatorRequestError(param, `at most ${MAX_IMAGE_SIDE} pixels a side`);
  return { width, height, size: size as string };
}

function readPrompt(body: JsonObject, field = 'prompt'): string {
  const prompt = body[field];
  if (typeof prompt !== 'string' || prompt.length === 0) throw new SimulatorRequestError(field, 'must be a non-empty string');
  return prompt;
}

function answerImages(body: JsonObject): MediaAnswer {
  readModel(body);
  const prompt = readPrompt(body);
  const n = body.n ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) throw new SimulatorRequestError('n', 'must be an integer from 1 to 10');
  const { width, height } = readSize(body.size, '1024x1024');
  if (body.response_format !== undefined && body.response_format !== null && body.response_format !== 'b64_json') {
    throw new SimulatorRequestError('response_format', 'the simulator returns images as b64_json only');
  }
  const seed = `${prompt}\u0000${String(body.seed ?? '')}`;
  const data = Array.from({ length: n }, (_, i) => ({ b64_json: renderPng(width, height, `${seed}\u0000${i}`).toString('base64'), revised_prompt: prompt }));
  return json({ created: Math.floor(Date.now() / 1000), data });
}

function answerSpeech(body: JsonObject): MediaAnswer {
  readModel(body);
  const input = readPrompt(body, 'input');
  const voice = body.voice;
  if (typeof voice !== 'string' || voice.length === 0) throw new SimulatorRequestError('voice', 'must be a non-empty string');
  const format = body.response_format ?? 'mp3';
  if (!(SPEECH_FORMATS as readonly unknown[]).includes(format)) {
    throw new SimulatorRequestError('response_format', `the simulator makes ${SPEECH_FORMATS.join(' and ')} audio only; got ${JSON.stringify(format)}`);
  }
  const speed = body.speed ?? 1;
  if (typeof speed !== 'number' || speed < 0.25 || speed > 4) throw new SimulatorRequestError('speed', 'must be a number from 0.25 to 4');
  const audio = synthesizeSpeech(input, voice, speed, format as SpeechFormat);
  return { contentType: SPEECH_CONTENT_TYPES[format as SpeechFormat], body: audio };
}

function answerTranscription(fields: Record<string, string>, file: Buffer | undefined): MediaAnswer {
  if (file === undefined) throw new SimulatorRequestError('file', 'is required');
  if (!fields.model) throw new SimulatorRequestError('model', 'is required');
  const format = (fields.response_format ?? 'json') as TranscriptFormat;
  if (!TRANSCRIPT_FORMATS.includes(format)) throw new SimulatorRequestError('response_format', `must be one of ${TRANSCRIPT_FORMATS.join(', ')}`);
  const transcript = transcribeAudio(file, fields.language || undefined);
  const rendered = renderTranscript(transcript, format);
  if (format !== 'json') return { contentType: rendered.contentType, body: Buffer.from(rendered.body) };
  // OpenAI's json answer also says how much audio was billed.
  const body = JSON.parse(rendered.body) as JsonObject;
  return json({ ...body, usage: { type: 'duration', seconds: Math.ceil(transcript.duration) } });
}

// ── video jobs ──

interface VideoJob {
  /** ms since the epoch: when it was created. */
  t: number;
  model: string;
  prompt: string;
  seconds: number;
  size: string;
}

const JOB_PREFIX = 'simvid_';

function jobId(job: VideoJob): string {
  return JOB_PREFIX + Buffer.from(JSON.stringify(job)).toString('base64url');
}

function readJob(id: string | undefined): VideoJob {
  const notFound = new SimulatorRequestError(null, `No video job ${JSON.stringify(id)}.`, 404);
  if (id === undefined || !id.startsWith(JOB_PREFIX)) throw notFound;
  try {
    const job = JSON.parse(Buffer.from(id.slice(JOB_PREFIX.length), 'base64url').toString('utf8')) as VideoJob;
    if (typeof job.t !== 'number' || typeof job.seconds !== 'number' || typeof job.size !== 'string' || typeof job.prompt !== 'string') throw notFound;
    return job;
  } catch {
    throw notFound;
  }
}

function jobView(id: string, job: VideoJob, now: number, videoMs: number): JsonObject {
  const elapsed = now - job.t;
  const progress = videoMs <= 0 ? 100 : Math.min(100, Math.floor((elapsed / videoMs) * 100));
  const status = progress >= 100 ? 'completed' : elapsed < videoMs / 10 ? 'queued' : 'in_progress';
  return { id, object: 'video.generation', model: job.model, status, progress, created_at: Math.floor(job.t / 1000), seconds: job.seconds, size: job.size };
}

function answerVideoCreate(body: JsonObject, now: number, videoMs: number): MediaAnswer {
  const model = readModel(body);
  // Long prompts are cut in the id; the video is drawn from what is kept.
  const prompt = readPrompt(body).slice(0, 200);
  const seconds = body.seconds ?? 4;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_VIDEO_SECONDS) {
    throw new SimulatorRequestError('seconds', `must be an integer from 1 to ${MAX_VIDEO_SECONDS}`);
  }
  const { size } = readSize(body.size, '640x360');
  const job: VideoJob = { t: now, model, prompt, seconds, size };
  const id = jobId(job);
  return json(jobView(id, job, now, videoMs));
}

function answerVideoContent(id: string | undefined, now: number, videoMs: number): MediaAnswer {
  const job = readJob(id);
  if (jobView(id!, job, now, videoMs).status !== 'completed') throw new SimulatorRequestError(null, 'The video is not ready yet.', 404);
  const { width, height } = readSize(job.size, '640x360');
  return { contentType: VIDEO_CONTENT_TYPE, body: renderVideo(job.seconds, width, height, `${job.prompt}\u0000${job.t}`) };
}

/** The answer to a media request; throws SimulatorRequestError (400, or 404 for an unknown job). */
export function answerMedia(request: MediaRequest, videoMs: number, now = Date.now()): MediaAnswer {
  switch (request.endpoint) {
    case 'images':
      return answerImages(request.body ?? {});
    case 'speech':
      return answerSpeech(request.body ?? {});
    case 'transcriptions':
      return answerTranscription(request.fields ?? {}, request.file);
    case 'video_create':
      return answerVideoCreate(request.body ?? {}, now, videoMs);
    case 'video_get':
      return json(jobView(request.jobId!, readJob(request.jobId), now, videoMs));
    case 'video_content':
      return answerVideoContent(request.jobId, now, videoMs);
  }
}
