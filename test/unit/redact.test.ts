// What the logs and the clients are spared (SPEC §16): keys, tokens and credentials masked in any text.
import { describe, expect, it } from 'vitest';
import { addSecretPrefixes, pathForLog, redactedExcerpt, redactSecrets, redactUrl } from '../../src/observability/redact.js';

describe('redactSecrets', () => {
  it.each([
    ['auth with sk-upstream-leak-abcdef0123456789 failed', 'auth with *** failed'],
    ['sk-ant-api03-abcdefghijklmnop', '***'],
    ['Authorization: Bearer abcdefghijklmnop123', 'Authorization: *** ***'],
    ['{"api_key":"supersecretvalue","x":1}', '{"api_key":"***","x":1}'],
    ['/v1/models?api_key=fk-abcdefghijklmnopqrstuvwxyz0123456789&x=1', '/v1/models?api_key=***&x=1'],
    ['/cb?access_token=abc.def&state=1', '/cb?access_token=***&state=1'],
    ['postgres://user:pw@host/db', 'postgres://***@host/db'],
    ['AKIAABCDEFGHIJKLMNOP', '***'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc', 'jwt ***'],
    ['admin fga_abcdefghijklmnop', 'admin ***'],
  ])('%s', (text, redacted) => {
    expect(redactSecrets(text)).toBe(redacted);
  });

  it('keeps our ids and ordinary messages', () => {
    const line = '{"request_id":"req_ABCDEFGHIJKLMNOPQRSTUVWX","account_id":"acct_abcdefghij0123456789","key_id":"key_BYo7CyxQvJ9OalDn90kD","error":"context length exceeded: 5000 tokens > 4096"}';
    expect(redactSecrets(line)).toBe(line);
  });

  it('masks keys of the configured prefix', () => {
    expect(redactSecrets('my-key-abcdefghijk')).toBe('my-key-abcdefghijk');
    addSecretPrefixes(['my-key-']);
    expect(redactSecrets('my-key-abcdefghijk')).toBe('***');
    addSecretPrefixes([]);
  });
});

describe('excerpts and paths', () => {
  it('an excerpt is one short line', () => {
    const excerpt = redactedExcerpt(`<html>\n${'x'.repeat(5000)} sk-abcdefghijklmnop</html>`);
    expect(excerpt.length).toBeLessThanOrEqual(201);
    expect(excerpt).not.toContain('\n');
  });

  it('a logged path has no query string', () => {
    expect(pathForLog('/v1/models?api_key=fk-x')).toBe('/v1/models');
    expect(pathForLog(`/v1/${'a'.repeat(500)}`).length).toBe(200);
    expect(redactUrl('redis://:pw@127.0.0.1:6379')).toBe('redis://***@127.0.0.1:6379');
  });
});
