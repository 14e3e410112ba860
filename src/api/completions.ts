// POST /v1/completions (legacy): the prompt-based shapes on the shared pipeline.
import { countTokens } from '../accounting/tokenizer.js';
import { buildTextCompletion, choiceOutputText } from '../openai/normalize.js';
import type { CompletionRequest } from '../openai/schemas/completions.js';
import { completionGatedFields, refuseGatedFields, validateCompletionRequest } from '../openai/validate.js';
import type { InferenceEndpoint } from './inference.js';
import { applyModelDefaults, checkOutputCap } from './output-cap.js';
import { invalidRequest } from '../openai/errors.js';

/** Prompt tokens of any prompt form: text(s) counted, token arrays taken by length. */
export function countPromptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return countTokens(prompt);
  if (!Array.isArray(prompt)) return 0;
  let total = 0;
  for (const item of prompt as unknown[]) {
    if (typeof item === 'string') total += countTokens(item);
    else if (typeof item === 'number') total += 1;
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

export const completions: InferenceEndpoint<CompletionRequest> = {
  endpoint: 'completions',
  capability: 'completions',
  validate: validateCompletionRequest,
  checkRequest(req, model) {
    if (typeof req.n === 'number' && req.n > 1 && !model.capabilities.has('n')) {
      throw invalidRequest('n', `n: the model "${model.id}" returns one choice per request; send n=1 (or omit it).`);
    }
    refuseGatedFields(completionGatedFields(req), model.capabilities, model.id);
    checkOutputCap(req, model);
  },
  applyDefaults: applyModelDefaults,
  buildResponse: buildTextCompletion,
  countPromptTokens: (req) => countPromptTokens(req.prompt),
  outputText: (upstream) => (Array.isArray(upstream.choices) ? upstream.choices.map(choiceOutputText).join('') : ''),
  contextParam: (req) => (typeof req.prompt === 'string' ? 'prompt' : undefined),
  stream: { object: 'text_completion', idPrefix: 'cmpl' },
};
