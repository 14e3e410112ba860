// The `anthropic` provider (SPEC §8): Anthropic's Messages API behind the OpenAI chat API. One kept-alive
// undici pool per provider; calls go through the shared dispatch exchange (../exchange.ts), as the openai
// provider's do. What is Anthropic's own: the request translated on the way out, the `message` or the
// stream's named events translated as they arrive (the stream complete at `message_stop`), and
// Anthropic's errors mapped to ours.
import { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_VERSION, type AnthropicProviderConfig } from '../../config/schema.js';
import { GatewayError, invalidRequest } from '../../openai/errors.js';
import { backendPool, connectCheck, connectTimeoutMs, dispatchExchange, type WireFormat } from '../exchange.js';
import type { JsonObject, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { mapAnthropicStatus, mapAnthropicStreamError } from './errors.js';
import { buildAnthropicRequest } from './request.js';
import { chatCompletionFromMessage } from './response.js';
import { AnthropicStreamTranslator } from './stream.js';

/** The Messages API's wire format: a `message` for JSON, named events through a translator for streams. */
const MESSAGES_WIRE: WireFormat<AnthropicStreamTranslator> = {
  statusError: mapAnthropicStatus,
  completion: chatCompletionFromMessage,
  unterminated: 'The backend ended the stream before message_stop.',
  startStream: () => new AnthropicStreamTranslator(),
  event(translator, event, out) {
    try {
      translator.translate(event, out);
    } catch (err) {
      return err as Error;
    }
    return translator.finished;
  },
};

/**
 * The Messages API passed through (SPEC §17: the Messages door's requests to a model served only by
 * Anthropic): the `message` and the events as they are, the stream still complete only at `message_stop`.
 */
const NATIVE_WIRE: WireFormat = {
  statusError: mapAnthropicStatus,
  completion(message) {
    if (message.type !== 'message' || !Array.isArray(message.content)) throw new GatewayError('upstream_error', 'The backend answered with something other than a message.');
    return message;
  },
  unterminated: MESSAGES_WIRE.unterminated,
  event(_state, event, out) {
    if (event.type === 'error') return mapAnthropicStreamError(event);
    out.push(event);
    return event.type === 'message_stop';
  },
};

/** The client's beta flags join the configured ones: a native request may use fields only a beta accepts. */
function nativeHeaders(fixed: Record<string, string>, client: Record<string, string> | undefined): Record<string, string> {
  const beta = client?.['anthropic-beta'];
  if (beta === undefined || beta === '') return fixed;
  const configured = fixed['anthropic-beta'];
  return { ...fixed, 'anthropic-beta': configured === undefined ? beta : `${configured},${beta}` };
}

/** `/v1/messages` under the configured base URL, whether or not it already ends in `/v1`. */
function messagesPath(base: URL): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  return basePath.endsWith('/v1') ? `${basePath}/messages` : `${basePath}/v1/messages`;
}

export function createAnthropicProvider(cfg: AnthropicProviderConfig): Provider {
  const base = new URL(cfg.base_url ?? ANTHROPIC_DEFAULT_BASE_URL);
  const path = messagesPath(base);
  const pool = backendPool(base.origin, cfg);
  const fixedHeaders: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'anthropic-version': cfg.anthropic_version ?? ANTHROPIC_DEFAULT_VERSION,
    ...(cfg.headers ?? {}),
  };
  if (cfg.api_key) fixedHeaders['x-api-key'] = cfg.api_key;
  const options = { promptCaching: cfg.prompt_caching === true };

  return {
    call(call: UpstreamCall): Promise<UpstreamResult> {
      if (call.signal.aborted) return Promise.reject(call.signal.reason);
      if (call.endpoint === 'messages') {
        // As the client sent it (the pipeline has set the model); only the pipeline's own stream option goes.
        const { stream_options: _ours, ...native } = call.body;
        return dispatchExchange(pool, NATIVE_WIRE, call, path, nativeHeaders(fixedHeaders, call.headers), JSON.stringify(native));
      }
      if (call.endpoint !== 'chat') {
        // The catalog lets a text model serve legacy completions by default; this backend cannot.
        return Promise.reject(invalidRequest('model', "model: this model's backend (Anthropic's Messages API) serves chat completions only; use POST /v1/chat/completions."));
      }
      let body: JsonObject;
      try {
        body = buildAnthropicRequest(call.body, options);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      if (call.stream) body.stream = true;
      else delete body.stream;
      return dispatchExchange(pool, MESSAGES_WIRE, call, path, fixedHeaders, JSON.stringify(body));
    },
    reachable: connectCheck(base.origin, connectTimeoutMs(cfg)),
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
