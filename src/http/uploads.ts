// Multipart uploads (POST /v1/audio/transcriptions): the form read as it arrives, its file spooled to a
// temporary file on disk (never held in memory), at most 25 MiB — a larger Content-Length is refused
// before a byte of the body is read, and a body that grows past the limit is cut off there (what the client
// still sends is read and dropped, see app.ts, so that it reads the 413 rather than a reset).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import type { UploadedFile } from '../providers/types.js';

/** The largest file a transcription accepts (OpenAI's limit). */
export const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
/** Room for the form's boundaries and text fields beside the file. */
const FORM_OVERHEAD_BYTES = 256 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

export const MULTIPART_LIMITS = { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 32, fieldSize: MAX_FIELD_BYTES, parts: 40, headerPairs: 100 };

export interface ReceivedForm {
  fields: Record<string, string>;
  file: UploadedFile;
  /** Removes the spooled file. */
  discard(): Promise<void>;
}

function tooLarge(): GatewayError {
  // The rest of the body is read and dropped by the error handler (app.ts), up to a bound.
  return new GatewayError('request_too_large', `file: the upload is larger than ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB, the most a transcription accepts.`, { param: 'file' });
}

/** The multipart plugin's errors as ours. */
function formError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge();
    case 'FST_FILES_LIMIT':
      return invalidRequest('file', 'file: send one file per request.');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return invalidRequest(null, 'The form has too many fields.');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new GatewayError('unsupported_media_type', 'Send the request as multipart/form-data.');
  }
  if (err instanceof GatewayError) return err;
  return invalidRequest(null, 'The multipart/form-data body could not be read.');
}

/** Reads the form: text fields as strings, the `file` part spooled to disk. Throws a 4xx for a bad form. */
export async function receiveForm(request: FastifyRequest): Promise<ReceivedForm> {
  if (!String(request.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw new GatewayError('unsupported_media_type', 'Send the request as multipart/form-data, with the audio in the "file" field.');
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES) throw tooLarge();
  const dir = await mkdtemp(join(tmpdir(), 'floodgate-upload-'));
  const discard = () => rm(dir, { recursive: true, force: true });
  const fields: Record<string, string> = {};
  let file: UploadedFile | undefined;
  let overLimit = false;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (typeof part.value !== 'string') throw invalidRequest(part.fieldname, `${part.fieldname}: must be a text field.`);
        fields[part.fieldname] = part.value;
        continue;
      }
      if (part.fieldname !== 'file') {
        part.file.resume();
        throw invalidRequest(part.fieldname, `${part.fieldname}: files go in the "file" field.`);
      }
      const path = join(dir, 'upload');
      // At the limit, stop reading at once: the rest of the body is never wanted.
      part.file.once('limit', () => {
        overLimit = true;
        part.file.destroy(tooLarge());
      });
      await pipeline(part.file, createWriteStream(path));
      if (part.file.truncated) throw tooLarge();
      file = { path, filename: part.filename || 'audio', contentType: part.mimetype || 'application/octet-stream', size: (await stat(path)).size };
    }
  } catch (err) {
    await discard();
    throw overLimit ? tooLarge() : formError(err);
  }
  if (file === undefined) {
    await discard();
    throw invalidRequest('file', 'file: is required: the audio to transcribe, as a file part of the form.');
  }
  if (file.size === 0) {
    await discard();
    throw invalidRequest('file', 'file: is empty.');
  }
  return { fields, file, discard };
}
