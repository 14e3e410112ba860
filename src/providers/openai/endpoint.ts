// Where and how the `openai` provider calls its backend (SPEC §8), from its config: the base URL with an
// optional `{model}` in its path (Azure OpenAI's `…/openai/deployments/{model}`), query parameters added
// to every request (Azure's `api-version`), and the header that carries the key (`Authorization: Bearer`
// by default, Azure's `api-key` raw). Config errors are checked here too, so the provider's rules live
// in one place; `checkOpenAIProvider` runs at start-up through src/config/load.ts.
import type { OpenAIProviderConfig } from '../../config/schema.js';

/** The one placeholder a base URL may hold: the deployment's upstream model name. */
export const MODEL_PLACEHOLDER = '{model}';
const SENTINEL = 'floodgate-model-placeholder';
/** Headers the provider sets itself: the key may not be sent in one of them. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'accept', 'host', 'connection', 'transfer-encoding', 'x-request-id']);
/** Query parameter and header names whose values are credentials, masked wherever they show up. */
const SECRET_NAME = /key|token|secret|passw|sig|auth|credential|code/i;

export interface OpenAIEndpoint {
  origin: string;
  /** The base path split at each `{model}`: one part when the URL has none. */
  pathParts: string[];
  /** `?a=b&…` (the base URL's own parameters, then `query`), or ''. */
  search: string;
  /** content-type, accept, the configured headers and the key's header. */
  headers: Record<string, string>;
  /** Configured values that are credentials (the key, secret-named parameters and headers). */
  secrets: string[];
}

function parse(baseUrl: string): URL {
  return new URL(baseUrl.split(MODEL_PLACEHOLDER).join(SENTINEL));
}

/** Start-up checks the schema cannot make; each problem names its field under `path`. */
export function checkOpenAIProvider(cfg: OpenAIProviderConfig, path: string): string[] {
  const problems: string[] = [];
  const rest = cfg.base_url.split(MODEL_PLACEHOLDER).join('');
  const stray = /\{[^}]*\}?|\}/.exec(rest);
  if (stray !== null) problems.push(`${path}.base_url: unknown placeholder ${JSON.stringify(stray[0])}; the only one is ${MODEL_PLACEHOLDER} (the deployment's model name)`);
  let url: URL | undefined;
  try {
    url = parse(cfg.base_url);
  } catch {
    problems.push(`${path}.base_url: not a valid URL: ${JSON.stringify(cfg.base_url)}`);
  }
  if (url !== undefined && cfg.base_url.includes(MODEL_PLACEHOLDER)) {
    if (url.host.includes(SENTINEL) || url.search.includes(SENTINEL) || url.hash.includes(SENTINEL) || url.username.includes(SENTINEL)) {
      problems.push(`${path}.base_url: ${MODEL_PLACEHOLDER} may only stand in the URL's path (e.g. https://NAME.openai.azure.com/openai/deployments/{model})`);
    }
  }
  if (url !== undefined && url.hash !== '') problems.push(`${path}.base_url: a URL fragment (#…) is never sent; remove it`);
  for (const name of Object.keys(cfg.query ?? {})) {
    if (name === '' || /[\s&=#?]/.test(name)) problems.push(`${path}.query: ${JSON.stringify(name)} is not a query parameter name (non-empty, without spaces, &, =, # or ?)`);
  }
  const header = cfg.api_key_header?.toLowerCase();
  if (header !== undefined && RESERVED_HEADERS.has(header)) problems.push(`${path}.api_key_header: ${header} is set by the gateway itself; name the header the backend reads the key from (e.g. api-key)`);
  return problems;
}

/** The resolved endpoint of a config that passed `checkOpenAIProvider`. */
export function openAIEndpoint(cfg: OpenAIProviderConfig): OpenAIEndpoint {
  const url = parse(cfg.base_url);
  const basePath = url.pathname.replace(/\/+$/, '');
  const params: [string, string][] = [...url.searchParams.entries()].filter(([name]) => !(name in (cfg.query ?? {})));
  params.push(...Object.entries(cfg.query ?? {}));
  const search = params.length === 0 ? '' : `?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;

  const keyHeader = (cfg.api_key_header ?? 'authorization').toLowerCase();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  for (const [name, value] of Object.entries(cfg.headers ?? {})) {
    // The key's header, set below, replaces a configured one of the same name (any case).
    if (!(cfg.api_key && name.toLowerCase() === keyHeader)) headers[name] = value;
  }
  if (cfg.api_key) headers[keyHeader] = keyHeader === 'authorization' ? `Bearer ${cfg.api_key}` : cfg.api_key;

  const secrets: string[] = [];
  if (cfg.api_key) secrets.push(cfg.api_key);
  for (const [name, value] of params) if (SECRET_NAME.test(name)) secrets.push(value);
  for (const [name, value] of Object.entries(cfg.headers ?? {})) if (SECRET_NAME.test(name)) secrets.push(value.replace(/^(?:Bearer|Basic)\s+/i, ''));
  return { origin: url.origin, pathParts: basePath.split(SENTINEL), search, headers, secrets };
}

/** The base path for one call: `{model}` filled with the upstream model name, URL-encoded. */
export function basePathFor(endpoint: OpenAIEndpoint, model: unknown): string | undefined {
  if (endpoint.pathParts.length === 1) return endpoint.pathParts[0];
  if (typeof model !== 'string' || model === '') return undefined;
  return endpoint.pathParts.join(encodeURIComponent(model));
}
