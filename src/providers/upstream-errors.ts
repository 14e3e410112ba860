// A backend's error, mapped to ours (SPEC §6): its 400s about the request pass through as 400s, its
// credential problems are our misconfiguration (502), overload is 503, timeouts 504, the rest 502.
// A backend's body is never shown to the client but for a 400's message (SPEC §16), and that one with
// anything shaped like a secret masked; the log gets a short, redacted excerpt (GatewayError.detail).
import { GatewayError } from '../openai/errors.js';
import { redactedExcerpt, redactSecrets } from '../observability/redact.js';

const CONTEXT_PATTERNS = /context[_ ]length|maximum context|context window|too many tokens|prompt is too long|exceeds the (model's )?max/i;

function backendMessage(body: unknown): { message?: string; param?: string; code?: string } {
  if (body === null || typeof body !== 'object') return typeof body === 'string' && body.length > 0 ? { message: body.slice(0, 500) } : {};
  const obj = body as Record<string, unknown>;
  const inner = (obj.error !== null && typeof obj.error === 'object' ? obj.error : obj) as Record<string, unknown>;
  const message = typeof inner.message === 'string' ? inner.message : typeof obj.error === 'string' ? obj.error : typeof obj.detail === 'string' ? obj.detail : undefined;
  return {
    message: message === undefined ? undefined : redactSecrets(message.slice(0, 1000)),
    param: typeof inner.param === 'string' ? inner.param : undefined,
    code: typeof inner.code === 'string' ? inner.code : undefined,
  };
}

/** Parses `Retry-After` (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** What the backend said, for the log line only: a short excerpt, secrets masked. */
function logExcerpt(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return `backend said: ${redactedExcerpt(text)}`;
}

/** The GatewayError for a backend's non-2xx answer. `body` is its parsed JSON (or text). */
export function mapUpstreamStatus(status: number, body: unknown, retryAfterMs?: number): GatewayError {
  const { message, param, code } = backendMessage(body);
  const detail = logExcerpt(body);
  if (status === 401 || status === 403) {
    return new GatewayError('upstream_error', `The backend refused the gateway's credentials (HTTP ${status}); this is a gateway configuration problem.`, { detail });
  }
  if (status === 400 || status === 409 || status === 413 || status === 422) {
    const text = message ?? `The backend rejected the request (HTTP ${status}).`;
    if (code === 'context_length_exceeded' || CONTEXT_PATTERNS.test(text)) {
      return new GatewayError('context_length_exceeded', text, { param: param ?? 'messages' });
    }
    return new GatewayError('invalid_request', text, { param: param ?? null });
  }
  if (status === 429 || status === 503) {
    return new GatewayError('model_unavailable', `The backend is overloaded (HTTP ${status}); retry shortly.`, { retryAfterMs: retryAfterMs ?? 1000, detail });
  }
  if (status === 504 || status === 408) return new GatewayError('upstream_timeout', `The backend timed out (HTTP ${status}).`, { detail });
  return new GatewayError('upstream_error', `The backend failed (HTTP ${status}).`, { detail });
}

/** An error event received inside a backend's stream (`data: {"error": …}`). */
export function mapStreamErrorEvent(event: Record<string, unknown>): GatewayError {
  return new GatewayError('upstream_error', 'The backend reported an error mid-stream.', { detail: logExcerpt(event) });
}
