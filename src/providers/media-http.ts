// Media calls over HTTP (SPEC §2, §8) for OpenAI-compatible backends: images, speech, transcriptions and
// video jobs. Off the hot path, so undici's request API with streams rather than the dispatch handler of
// exchange.ts: JSON bodies as they are, a transcription's upload as multipart streamed from its spool
// file, and the answer's bytes handed on as they arrive. Non-2xx answers are mapped like any backend's.
import { openAsBlob } from 'node:fs';
import { FormData, type Dispatcher } from 'undici';
import type { CallSignal } from './call-signal.js';
import { parseJson, transportError } from './exchange.js';
import type { MediaCall, MediaEndpoint, MediaResult } from './types.js';
import { mapUpstreamStatus, parseRetryAfter } from './upstream-errors.js';

const MAX_ERROR_BODY = 64 * 1024;

function route(endpoint: MediaEndpoint, jobId: string | undefined): { method: 'GET' | 'POST'; path: string } {
  switch (endpoint) {
    case 'images':
      return { method: 'POST', path: '/images/generations' };
    case 'speech':
      return { method: 'POST', path: '/audio/speech' };
    case 'transcriptions':
      return { method: 'POST', path: '/audio/transcriptions' };
    case 'video_create':
      return { method: 'POST', path: '/videos/generations' };
    case 'video_get':
      return { method: 'GET', path: `/videos/generations/${encodeURIComponent(jobId!)}` };
    case 'video_content':
      return { method: 'GET', path: `/videos/generations/${encodeURIComponent(jobId!)}/content` };
  }
}

async function requestBody(call: MediaCall): Promise<{ body?: string | FormData; contentType?: string }> {
  if (call.form !== undefined) {
    const form = new FormData();
    for (const [name, value] of Object.entries(call.form.fields)) form.append(name, value);
    const { file } = call.form;
    // A Blob backed by the spool file: undici reads it from disk as it sends.
    const blob = await openAsBlob(file.path, { type: file.contentType });
    form.append('file', blob, file.filename);
    return { body: form };
  }
  if (call.body !== undefined) return { body: JSON.stringify(call.body), contentType: 'application/json' };
  return {};
}

/** Reads at most MAX_ERROR_BODY bytes of an error answer, then drops the rest. */
async function errorBody(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < MAX_ERROR_BODY) chunks.push(chunk);
    size += chunk.length;
  }
  return parseJson(chunks);
}

/** Calls one media endpoint of an OpenAI-compatible backend at `basePath` through `pool`. */
export async function httpMedia(pool: Dispatcher, basePath: string, headers: Record<string, string>, call: MediaCall): Promise<MediaResult> {
  const signal: CallSignal = call.signal;
  signal.throwIfAborted();
  const { method, path } = route(call.endpoint, call.jobId);
  const { body, contentType } = await requestBody(call);
  const sent: Record<string, string> = { ...headers, 'x-request-id': call.requestId };
  if (contentType !== undefined) sent['content-type'] = contentType;
  else delete sent['content-type'];
  let res: Dispatcher.ResponseData;
  try {
    res = await pool.request({ method, path: basePath + path, headers: sent, body, signal });
  } catch (err) {
    throw transportError(err, signal);
  }
  if (res.statusCode < 200 || res.statusCode > 299) {
    const parsed = await errorBody(res.body).catch(() => undefined);
    const err = mapUpstreamStatus(res.statusCode, parsed, parseRetryAfter(res.headers['retry-after']));
    err.upstreamStatus = res.statusCode;
    throw err;
  }
  const type = res.headers['content-type'];
  return { contentType: (Array.isArray(type) ? type[0] : type) ?? 'application/octet-stream', body: readBody(res.body, signal) };
}

/** The answer's bytes; a failure while reading is our abort reason or a transport error. */
async function* readBody(body: AsyncIterable<Buffer>, signal: CallSignal): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw transportError(err, signal);
  }
}
