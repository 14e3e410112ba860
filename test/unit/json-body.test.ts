// The JSON body parser's nesting bound (SPEC §16): checked on the parsed value, without recursion, so no
// depth a body can carry overflows the stack — and exactly 200 levels, the body itself included.
import { describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { parseJsonBody } from '../../src/http/json-body.js';
import { GatewayError } from '../../src/openai/errors.js';

function parse(text: string): { err: Error | null; body?: unknown } {
  let out: { err: Error | null; body?: unknown } | undefined;
  parseJsonBody({} as FastifyRequest, text, (err, body) => (out = { err, body }));
  return out!;
}

describe('parseJsonBody', () => {
  it('takes 200 levels and refuses 201, arrays and objects alike', () => {
    expect(parse('['.repeat(200) + ']'.repeat(200)).err).toBeNull();
    expect(parse('{"a":'.repeat(199) + '[]' + '}'.repeat(199)).err).toBeNull();
    for (const text of ['['.repeat(201) + ']'.repeat(201), '{"a":'.repeat(200) + '{}' + '}'.repeat(200)]) {
      const { err } = parse(text);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
      expect(err!.message).toBe('The request body nests deeper than 200 levels.');
    }
  });

  it('refuses a million levels without overflowing the stack', () => {
    const { err } = parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    expect(err!.message).toContain('nests deeper');
  });

  it('counts only containers: long strings, brackets inside strings and wide bodies pass', () => {
    const wide = JSON.stringify({ model: 'm', messages: Array.from({ length: 5000 }, () => ({ role: 'user', content: [{ type: 'text', text: '[[[[{{{{'.repeat(100) }] })) });
    const { err, body } = parse(wide);
    expect(err).toBeNull();
    expect((body as { messages: unknown[] }).messages).toHaveLength(5000);
  });

  it('names bad JSON and refuses an empty body', () => {
    expect(parse('{"model": ').err!.message).toMatch(/^The request body is not valid JSON: /);
    expect(parse('  ').err!.message).toBe('The request body is empty; send a JSON object.');
  });
});
