// The stream relay's record of a stream's output text (counted when the backend reports no usage): kept
// in blocks, it must read back exactly as the pieces came, across block boundaries and in every order.
import { describe, expect, it } from 'vitest';
import { OutputText, rewriteChunk, streamUsage, type ChunkView, type StreamOutcome } from '../../src/api/stream-relay.js';
import { countTokens } from '../../src/accounting/tokenizer.js';

const VIEW: ChunkView = { who: { id: 'chatcmpl-x', model: 'm', created: 1 }, object: 'chat.completion.chunk', includeUsage: false, promptTokens: 7 };

describe('a stream\'s output text', () => {
  it('reads back as the concatenation of its pieces, whatever their number', () => {
    for (const count of [0, 1, 63, 64, 65, 128, 200]) {
      const pieces = Array.from({ length: count }, (_, i) => ` w${i}${i % 3 === 0 ? '\n' : ''}`);
      const text = new OutputText();
      for (const piece of pieces) text.push(piece);
      expect(text.text()).toBe(pieces.join(''));
    }
  });

  it('counts content, reasoning and tool call pieces of a long stream without usage in their order', () => {
    const outcome: StreamOutcome = { output: new OutputText(), ended: 'complete' };
    const expected: string[] = [];
    for (let i = 0; i < 150; i++) {
      const delta = i % 50 === 0 ? { tool_calls: [{ function: { name: `f${i}`, arguments: `{"n":${i}}` } }] } : i % 7 === 0 ? { reasoning_content: ` think${i}` } : { content: ` word${i}` };
      if ('tool_calls' in delta) expected.push(`f${i}`, `{"n":${i}}`);
      else expected.push('reasoning_content' in delta ? ` think${i}` : ` word${i}`);
      expect(rewriteChunk({ choices: [{ index: 0, delta }] }, VIEW, outcome)).toBe(true);
    }
    expect(outcome.output.text()).toBe(expected.join(''));
    expect(streamUsage(outcome, VIEW.promptTokens)).toMatchObject({ prompt_tokens: 7, completion_tokens: countTokens(expected.join('')) });
  });
});
