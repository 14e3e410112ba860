// One log line per request (SPEC §12): ids, model, deployment, status, latency, time to first token,
// tokens, cost and how the request settled, and every backend attempt when there was more than one or
// it failed (a single successful attempt is the deployment and upstream_ms already). No keys, no bodies.
import type { Logger } from 'pino';
import type { RequestState } from '../api/request-state.js';
import type { GatewayError } from '../openai/errors.js';
import { pathForLog, redactSecrets } from './redact.js';

/** What the log line says of a failure: the message, its cause and what the backend said (redacted). */
export function errorForLog(err: GatewayError): string {
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return redactSecrets(err.detail === undefined ? err.message + cause : `${err.message}${cause} ${err.detail}`);
}

export function logRequest(logger: Logger, state: RequestState, method: string, url: string, status: number, aborted: boolean): void {
  const line: Record<string, unknown> = {
    request_id: state.id,
    method,
    path: pathForLog(url),
    status,
    latency_ms: Math.round((performance.now() - state.start) * 1000) / 1000,
  };
  if (state.principal) {
    line.account_id = state.principal.accountId;
    line.key_id = state.principal.keyId;
  }
  // A name the catalog knows is the operator's; anything else is the client's text.
  if (state.model !== undefined) line.model = state.modelId !== undefined ? state.model : redactSecrets(state.model.slice(0, 256));
  if (state.servedModel !== undefined) line.served_model = state.servedModel;
  if (state.deployment !== undefined) line.deployment = state.deployment;
  const attempts = state.attempts;
  if (attempts !== undefined && (attempts.length > 1 || (attempts.length === 1 && attempts[0].error !== undefined))) {
    line.attempts = attempts;
    line.retries = attempts.length - 1;
  }
  if (state.stream !== undefined) line.stream = state.stream;
  if (state.upstreamMs !== undefined) line.upstream_ms = state.upstreamMs;
  if (state.ttftMs !== undefined) line.ttft_ms = state.ttftMs;
  if (state.usage) {
    line.prompt_tokens = state.usage.prompt_tokens;
    line.completion_tokens = state.usage.completion_tokens;
    line.cached_tokens = state.usage.cache_read_input_tokens;
  }
  if (state.clamped) {
    // The backend reported more than the request could use; the figures above are what was billed.
    line.usage_clamped = true;
    line.reported_prompt_tokens = state.clamped.promptTokens;
    line.reported_completion_tokens = state.clamped.completionTokens;
  }
  if (state.costMicros !== undefined) line.cost_micros = state.costMicros;
  if (state.settle !== undefined) line.settle = state.settle;
  if (state.errorCode !== undefined) line.error_code = state.errorCode;
  if (aborted) line.client_aborted = true;
  if (status >= 500 && state.errorMessage) logger.warn({ ...line, error: state.errorMessage }, 'request');
  else if (state.clamped) logger.warn(line, 'request');
  else logger.info(line, 'request');
}
