// POST /v1/chat/completions: what differs from the shared pipeline — the capability checks that need
// the messages, and the chat response shapes.
import { countChatPromptTokens } from '../accounting/tokenizer.js';
import { invalidRequest } from '../openai/errors.js';
import { buildChatCompletion, choiceOutputText } from '../openai/normalize.js';
import type { ChatCompletionRequest } from '../openai/schemas/chat.js';
import { chatGatedFields, refuseGatedFields, validateChatRequest } from '../openai/validate.js';
import type { JsonObject } from '../providers/types.js';
import type { CatalogModel } from '../routing/catalog.js';
import type { InferenceEndpoint } from './inference.js';
import { applyModelDefaults, checkOutputCap } from './output-cap.js';

function checkChatCapabilities(req: ChatCompletionRequest, model: CatalogModel): void {
  const caps = model.capabilities;
  const name = model.id;
  if (Array.isArray(req.tools) && req.tools.length > 0 && !caps.has('tools')) {
    throw invalidRequest('tools', `tools: the model "${name}" does not support tool calling.`);
  }
  if (Array.isArray(req.functions) && req.functions.length > 0 && !caps.has('tools')) {
    throw invalidRequest('functions', `functions: the model "${name}" does not support function calling.`);
  }
  if (typeof req.n === 'number' && req.n > 1 && !caps.has('n')) {
    throw invalidRequest('n', `n: the model "${name}" returns one choice per request; send n=1 (or omit it) and make several requests.`);
  }
  const format = (req.response_format as JsonObject | undefined)?.type;
  // Without json_schema but with json_object, the request goes through as json_object (see jsonSchemaFallback).
  if (format === 'json_schema' && !caps.has('json_schema') && !caps.has('json_object')) {
    throw invalidRequest('response_format.type', `response_format.type: the model "${name}" does not support JSON output.`);
  }
  if (format === 'json_object' && !caps.has('json_object') && !caps.has('json_schema')) {
    throw invalidRequest('response_format.type', `response_format.type: the model "${name}" does not support JSON output.`);
  }
  if (!caps.has('vision')) {
    req.messages.forEach((message, i) => {
      const content = (message as JsonObject).content;
      if (!Array.isArray(content)) return;
      content.forEach((part, j) => {
        if ((part as JsonObject).type === 'image_url') {
          throw invalidRequest(`messages[${i}].content[${j}]`, `messages[${i}].content[${j}]: the model "${name}" does not accept images; use a vision model or send text.`);
        }
      });
    });
  }
  refuseGatedFields(chatGatedFields(req), caps, name);
  checkOutputCap(req, model);
}

/**
 * SPEC §5: a json_schema request to a model that only knows json_object goes out as json_object, with the
 * schema put before the conversation as a system message; the client is told by a response header.
 */
function jsonSchemaFallback(req: ChatCompletionRequest, upstream: JsonObject, model: CatalogModel): string[] | undefined {
  const format = req.response_format as JsonObject | undefined;
  if (format?.type !== 'json_schema' || model.capabilities.has('json_schema')) return undefined;
  const spec = (format.json_schema ?? {}) as JsonObject;
  const described = typeof spec.description === 'string' ? ` (${spec.description})` : '';
  const instruction =
    `Answer with a single JSON object and nothing else. It must be valid against this JSON schema, named "${String(spec.name)}"${described}: ` +
    JSON.stringify(spec.schema ?? {});
  upstream.response_format = { type: 'json_object' };
  upstream.messages = [{ role: 'system', content: instruction }, ...req.messages];
  return ['response_format=json_object'];
}

export const chatCompletions: InferenceEndpoint<ChatCompletionRequest> = {
  endpoint: 'chat',
  capability: 'chat',
  validate: validateChatRequest,
  checkRequest: checkChatCapabilities,
  applyDefaults(req, upstream, model) {
    applyModelDefaults(req, upstream, model);
    return jsonSchemaFallback(req, upstream, model);
  },
  buildResponse: buildChatCompletion,
  countPromptTokens: (req) => countChatPromptTokens(req.messages as unknown[]),
  outputText: (upstream) => (Array.isArray(upstream.choices) ? upstream.choices.map(choiceOutputText).join('') : ''),
  contextParam: () => 'messages',
  stream: { object: 'chat.completion.chunk', idPrefix: 'chatcmpl' },
};
