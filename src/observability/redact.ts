// Secrets out of what the gateway writes down or passes on (SPEC §16): connection URLs without their
// credentials, and text from elsewhere (a backend's error body, a log line) with anything shaped like a
// key, a bearer token or a secret query parameter masked. The logger runs every line through
// `redactSecrets`; a backend's error text passes through it before a client or the log sees it.

/** `scheme://user:password@host/…` → `scheme://***@host/…`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/\s"]*@/g, '//***@');
}

/**
 * Prefixes of secrets in the wild: OpenAI's and the like (Anthropic's `sk-ant-` too), ours and the seed
 * services' API keys, our admin tokens. Not `key_` or `acct_`: those are our ids, which logs must keep.
 */
const KEY_PREFIXES = ['sk-', 'sk_', 'fk-', 'tk-', 'pk-', 'rk-', 'ak-', 'gsk_', 'xai-', 'hf_', 'ghp_', 'gho_', 'ghs_', 'glpat-', 'fga_'];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function secretPattern(extraPrefixes: readonly string[]): RegExp {
  const prefixes = [...KEY_PREFIXES, ...extraPrefixes.filter((p) => p.length > 0)].map(escapeRegExp);
  return new RegExp(
    [
      // A key: a known prefix, then at least 8 characters of key material (hyphenated parts included).
      `(?<![A-Za-z0-9])(?:${prefixes.join('|')})[A-Za-z0-9_-]{8,}`,
      // An Authorization header's credentials, wherever they were echoed.
      '(?<=\\b(?:[Bb]earer|[Bb]asic)\\s+)[A-Za-z0-9._~+/=-]{8,}',
      // AWS access key ids.
      '\\bAKIA[0-9A-Z]{16}\\b',
      // JSON Web Tokens.
      '\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*',
      // A secret-looking query parameter's value (`?api_key=…`, `&token=…`).
      '(?<=[?&;](?:[A-Za-z0-9_.-]*(?:key|token|secret|password|passwd|signature|auth|credential)[A-Za-z0-9_.-]*)=)[^&\\s"#\\\\]+',
      // A secret-looking JSON or header field's value (`"api_key": "…"`, `x-api-key: …`).
      '(?<=(?:api[-_]?key|authorization|password|secret|access[-_]token)"?\\s*[:=]\\s*"?)[^"\\s,}]{6,}',
    ].join('|'),
    'gi',
  );
}

let pattern = secretPattern([]);

/** Also masks keys with these prefixes (the configured `auth.key_prefix`). */
export function addSecretPrefixes(prefixes: readonly string[]): void {
  pattern = secretPattern(prefixes);
}

/** Configured credentials of any shape (a backend's key), masked as they are and URL-encoded. */
const literalSecrets: string[] = [];

/** Also masks these exact values wherever they appear (values shorter than 8 characters are not secrets worth the name). */
export function addSecretValues(values: readonly string[]): void {
  for (const value of values.flatMap((v) => [v, encodeURIComponent(v)])) {
    if (value.length >= 8 && !literalSecrets.includes(value)) literalSecrets.push(value);
  }
  literalSecrets.sort((a, b) => b.length - a.length);
}

/** The text with every key-, token- and credential-shaped part replaced by `***`. */
export function redactSecrets(text: string): string {
  pattern.lastIndex = 0;
  let out = text;
  for (const secret of literalSecrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return redactUrl(out.replace(pattern, '***'));
}

/** A short, redacted excerpt of text from elsewhere, for a log line. */
export function redactedExcerpt(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  const cut = oneLine.length > max * 4 ? oneLine.slice(0, max * 4) : oneLine;
  const redacted = redactSecrets(cut);
  return redacted.length > max ? `${redacted.slice(0, max)}…` : redacted;
}

/** A request's path for the log: no query string, which may carry a key (`?api_key=…`), and redacted. */
export function pathForLog(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return redactSecrets(path.length > 200 ? path.slice(0, 200) : path);
}

const REQUEST_LINE_END = '"msg":"request"}\n';

/**
 * The logger's last step for every line (pino's `streamWrite` hook). The per-request line is the one
 * exception: it is written field by field and its free text (path, error) is redacted where it is made,
 * so the hot path does not pay a scan of the whole line (~8 µs) on every request.
 */
export function redactLogLine(line: string): string {
  return line.endsWith(REQUEST_LINE_END) ? line : redactSecrets(line);
}

