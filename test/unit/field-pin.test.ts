// Pins the validated request fields to openai-python 1.109.1 (SPEC §4): changing what the gateway validates
// means changing the lists below, on purpose, in review.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { CHAT_FIELDS, COMPLETION_FIELDS, EMBEDDING_FIELDS, chatGatedFields, completionGatedFields, validateChatRequest, validateCompletionRequest } from '../../src/openai/validate.js';

/** `CompletionCreateParamsBase` (33) + `stream`. */
const CHAT_1_109_1 = [
  'messages',
  'model',
  'audio',
  'frequency_penalty',
  'function_call',
  'functions',
  'logit_bias',
  'logprobs',
  'max_completion_tokens',
  'max_tokens',
  'metadata',
  'modalities',
  'n',
  'parallel_tool_calls',
  'prediction',
  'presence_penalty',
  'prompt_cache_key',
  'reasoning_effort',
  'response_format',
  'safety_identifier',
  'seed',
  'service_tier',
  'stop',
  'store',
  'stream_options',
  'temperature',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'user',
  'verbosity',
  'web_search_options',
  'stream',
];

/** `EmbeddingCreateParams`. */
const EMBEDDING_1_109_1 = ['input', 'model', 'dimensions', 'encoding_format', 'user'];

/** Legacy `CompletionCreateParamsBase` (17) + `stream`. */
const COMPLETION_1_109_1 = [
  'model',
  'prompt',
  'best_of',
  'echo',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'max_tokens',
  'n',
  'presence_penalty',
  'seed',
  'stop',
  'stream_options',
  'suffix',
  'temperature',
  'top_p',
  'user',
  'stream',
];

const sorted = (names: readonly string[]) => [...names].sort();

describe('validated request fields are pinned to openai-python 1.109.1', () => {
  it('the pinned lists have the expected sizes', () => {
    expect(CHAT_1_109_1).toHaveLength(34);
    expect(EMBEDDING_1_109_1).toHaveLength(5);
    expect(COMPLETION_1_109_1).toHaveLength(18);
  });

  it('chat completions', () => {
    expect(sorted(CHAT_FIELDS)).toEqual(sorted(CHAT_1_109_1));
  });

  it('embeddings', () => {
    expect(sorted(EMBEDDING_FIELDS)).toEqual(sorted(EMBEDDING_1_109_1));
  });

  it('legacy completions', () => {
    expect(sorted(COMPLETION_FIELDS)).toEqual(sorted(COMPLETION_1_109_1));
  });
});

// Fields only a model with a capability serves (issue 15): the rest are forwarded to any model. Adding one
// here means a capability in the config schema and a 400 for models without it.
describe('capability-gated fields', () => {
  it('chat completions', () => {
    const req = validateChatRequest({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      logprobs: true,
      top_logprobs: 1,
      audio: { voice: 'alloy', format: 'mp3' },
      modalities: ['text', 'audio'],
      prediction: { type: 'content', content: 'x' },
      web_search_options: {},
    });
    const gated = chatGatedFields(req).map((f) => `${f.param}:${f.capability}`);
    expect(gated).toEqual(['logprobs:logprobs', 'top_logprobs:logprobs', 'audio:audio_output', 'modalities:audio_output', 'prediction:prediction', 'web_search_options:web_search']);
    for (const f of chatGatedFields(req)) expect(CHAT_1_109_1).toContain(f.param);
    // Asked off, they ask for nothing.
    expect(chatGatedFields(validateChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], logprobs: false, audio: null, modalities: ['text'], prediction: null }))).toEqual([]);
  });

  it('legacy completions', () => {
    expect(completionGatedFields(validateCompletionRequest({ model: 'm', prompt: 'x', logprobs: 0 })).map((f) => f.param)).toEqual(['logprobs']);
    expect(completionGatedFields(validateCompletionRequest({ model: 'm', prompt: 'x', logprobs: null }))).toEqual([]);
  });
});

// The reference tables live beside the repository (`../shared/`): in CI the repo is cloned with `shared/` next to it.
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const referenceDir = resolve(repoRoot, '../shared/reference/openai');
const chatReference = resolve(referenceDir, 'chat_params_1.109.1.md');
const otherReference = resolve(referenceDir, 'other_params.md');

/**
 * The request field names of section `n` (`## n. …`) of a reference file: the first column of its request
 * tables (header with both a python type and a spec HEAD column — the response tables have no spec column),
 * up to the next heading, so the "Fields in the HEAD spec but not in 1.109.1" table is left out.
 */
function sectionFields(markdown: string, n: number): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`## ${n}.`));
  if (start < 0) throw new Error(`no section ${n}`);
  const names = new Set<string>();
  let inRequestTable = false;
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,3} /.test(line)) break;
    if (!line.startsWith('|')) {
      inRequestTable = false;
      continue;
    }
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1] === 'field') {
      inRequestTable = line.includes('python type') && line.includes('spec HEAD');
      continue;
    }
    if (!inRequestTable || /^-+$/.test(cells[1])) continue;
    const name = /^`([a-z_]+)`/.exec(cells[1]);
    if (name) names.add(name[1]);
  }
  return [...names];
}

describe.skipIf(!existsSync(chatReference) || !existsSync(otherReference))('the pin matches the shared reference tables', () => {
  it('chat_params_1.109.1.md §1', () => {
    const fields = sectionFields(readFileSync(chatReference, 'utf8'), 1);
    expect(sorted(fields)).toEqual(sorted(CHAT_1_109_1));
    expect(sorted(CHAT_FIELDS)).toEqual(sorted(fields));
  });

  it('other_params.md §1 (embeddings)', () => {
    const fields = sectionFields(readFileSync(otherReference, 'utf8'), 1);
    expect(sorted(fields)).toEqual(sorted(EMBEDDING_1_109_1));
    expect(sorted(EMBEDDING_FIELDS)).toEqual(sorted(fields));
  });

  it('other_params.md §2 (legacy completions)', () => {
    const fields = sectionFields(readFileSync(otherReference, 'utf8'), 2);
    expect(sorted(fields)).toEqual(sorted(COMPLETION_1_109_1));
    expect(sorted(COMPLETION_FIELDS)).toEqual(sorted(fields));
  });
});
