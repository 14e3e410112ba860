// Endpoints of OpenAI's API that Floodgate does not serve (SPEC §2): a 404 naming the alternative.
import { GatewayError } from '../openai/errors.js';

const UNSUPPORTED: { pattern: RegExp; name: string; alternative: string }[] = [
  { pattern: /^\/audio\/translations\/?$/, name: '/v1/audio/translations', alternative: 'use /v1/audio/transcriptions, then a chat call to translate the text' },
  { pattern: /^\/fine[-_]tuning(\/.*)?$/, name: '/v1/fine_tuning', alternative: 'fine-tuning is not offered through this API' },
  { pattern: /^\/assistants(\/.*)?$/, name: '/v1/assistants', alternative: 'keep the conversation client-side and use /v1/chat/completions' },
  { pattern: /^\/threads(\/.*)?$/, name: '/v1/threads', alternative: 'keep the conversation client-side and use /v1/chat/completions' },
  { pattern: /^\/runs(\/.*)?$/, name: '/v1/runs', alternative: 'use /v1/chat/completions with tools' },
  { pattern: /^\/batches(\/.*)?$/, name: '/v1/batches', alternative: 'fan out from the client: send the requests concurrently' },
  { pattern: /^\/files(\/.*)?$/, name: '/v1/files', alternative: 'send the content inline in the request' },
  { pattern: /^\/images\/edits\/?$/, name: '/v1/images/edits', alternative: 'use /v1/images/generations' },
  { pattern: /^\/images\/variations\/?$/, name: '/v1/images/variations', alternative: 'use /v1/images/generations' },
];

/** The endpoints' names, as `unsupported_endpoints` in config is keyed. */
export const UNSUPPORTED_ENDPOINT_NAMES: readonly string[] = UNSUPPORTED.map((u) => u.name);

/**
 * The 404 for an unsupported endpoint (path below the base path), or undefined if it is not one. An
 * operator's message for the endpoint (`unsupported_endpoints` in config) replaces the built-in one whole.
 */
export function unsupportedEndpoint(pathBelowBase: string, messages?: ReadonlyMap<string, string>): GatewayError | undefined {
  const hit = UNSUPPORTED.find((u) => u.pattern.test(pathBelowBase));
  if (hit === undefined) return undefined;
  return new GatewayError('unsupported_endpoint', messages?.get(hit.name) ?? `${hit.name} is not supported by this API: ${hit.alternative}.`);
}

/** The unsupported endpoints and their alternatives (the operator's words where set), for the portal's API docs. */
export function unsupportedEndpoints(messages?: ReadonlyMap<string, string>): { path: string; alternative: string }[] {
  return UNSUPPORTED.map((u) => ({ path: u.name, alternative: messages?.get(u.name) ?? u.alternative }));
}
