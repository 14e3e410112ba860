import type { CallSignal } from './call-signal.js';

// What a provider (backend adapter) is: given an OpenAI-shaped request for one deployment, it calls the
// backend and returns an OpenAI-shaped response or a stream of OpenAI-shaped chunks. Everything
// backend-specific stays inside the provider's folder; the registry names each one once.

/** `messages`: Anthropic's Messages API as the client sent it, for a backend that speaks it (SPEC §17). */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'messages';

export type JsonObject = Record<string, unknown>;

export interface UpstreamCall {
  endpoint: Endpoint;
  /** The body to send: upstream model name set, defaults applied, `stream_options.include_usage` forced on streams. */
  body: JsonObject;
  stream: boolean;
  requestId: string;
  /** Aborted when the client goes away or a timeout fires; the provider must abort the backend call at once. */
  signal: CallSignal;
  /** Client headers to pass on (the `messages` endpoint's `anthropic-beta`); other endpoints send none. */
  headers?: Record<string, string>;
  /** The attempt's trace context for the backend (`traceparent`, `tracestate`), when tracing is on. */
  trace?: Record<string, string>;
}

export type UpstreamResult =
  | { kind: 'json'; body: JsonObject }
  /**
   * Parsed `data:` events in order, in batches of those that arrived together (so they reach the client
   * in one write), ending after the backend's `[DONE]` (not yielded) or the end of its body.
   */
  | { kind: 'stream'; events: AsyncIterable<JsonObject[]> };

/** The media endpoints' backend calls; a video job is created, then read, then its content fetched. */
export type MediaEndpoint = 'images' | 'speech' | 'transcriptions' | 'video_create' | 'video_get' | 'video_content';

/** An uploaded file, spooled to disk (transcriptions). */
export interface UploadedFile {
  path: string;
  filename: string;
  contentType: string;
  size: number;
}

export interface MediaCall {
  endpoint: MediaEndpoint;
  /** JSON requests (images, speech, video_create): upstream model name set, defaults applied. */
  body?: JsonObject;
  /** Multipart requests (transcriptions): the form's text fields and its file. */
  form?: { fields: Record<string, string>; file: UploadedFile };
  /** video_get / video_content: the backend's id of the job. */
  jobId?: string;
  requestId: string;
  signal: CallSignal;
}

/** A backend's 2xx media answer: its content type and bytes, read as they arrive. */
export interface MediaResult {
  contentType: string;
  body: AsyncIterable<Buffer>;
}

export interface Provider {
  /** Calls the backend. Throws a GatewayError for backend failures (mapped per SPEC §6). */
  call(call: UpstreamCall): Promise<UpstreamResult>;
  /** Calls a media endpoint (absent: the provider serves none). Throws a GatewayError like `call`. */
  media?(call: MediaCall): Promise<MediaResult>;
  /**
   * The liveness check (SPEC §7): false when the backend cannot be connected to now. Absent for a
   * backend in this process (the simulator), which is always there.
   */
  reachable?(): Promise<boolean>;
  /** Releases pools and timers. */
  close(): Promise<void>;
}
