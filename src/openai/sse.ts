// Server-sent events as the OpenAI SDKs read them (sdk_behaviour.md §1): data-only events, comment
// heartbeats, `[DONE]` last, and an in-band error as `data: {"error": …}` with nothing after it.
import type { ErrorRendering, GatewayError } from './errors.js';

/**
 * No `connection` header: Node writes its own, `keep-alive` or `close` as the client asked and as the
 * server decides (a graceful shutdown closes); a fixed `keep-alive` would override both.
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

export const SSE_DONE = 'data: [DONE]\n\n';
export const SSE_HEARTBEAT = ': keep-alive\n\n';

export function sseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export function sseError(err: GatewayError, errors: ErrorRendering): string {
  return sseEvent(errors.body(err));
}
