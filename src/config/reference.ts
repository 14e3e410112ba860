// The generated reference pages: docs/configuration.md from the config schema's annotations (schema.ts)
// and docs/errors.md from the error catalog (openai/errors.ts). `npm run docs:generate` writes them
// (scripts/generate-docs.mjs); test/unit/docs-reference.test.ts fails when a page and its source differ.
import { ConfigSchema } from './schema.js';
import { ERRORS, type ErrorName } from '../openai/errors.js';
import { anthropicErrorType } from '../providers/anthropic/errors.js';

/** A JSON Schema node as TypeBox makes it, with the annotations schema.ts adds. */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  /** Our own: the SPEC section, inherited by the fields below. */
  spec?: string;
  /** Our own: a default that is not one literal value. */
  defaultText?: string;
  /** Our own: what a record's keys name (`providers.<name>`). */
  keyName?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode | SchemaNode[];
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

/** One field of the config, as the reference lists it. */
export interface ConfigField {
  /** `server.port`, `providers.<name>.base_url`, `models[].pricing.input`. */
  path: string;
  /** The provider type whose field it is (`providers.<name>.…`), when the fields depend on it. */
  variant?: string;
  /** The field's last key, as written in the YAML. */
  key: string;
  node: SchemaNode;
  required: boolean;
  /** The SPEC section: the field's own or its nearest parent's. */
  spec: string | undefined;
  depth: number;
}

const isObject = (node: SchemaNode): boolean => node.properties !== undefined;
const recordValue = (node: SchemaNode): SchemaNode | undefined => (node.patternProperties ? Object.values(node.patternProperties)[0] : undefined);

/** Every field of the config schema, depth first, in the schema's order. */
export function configFields(schema: SchemaNode = ConfigSchema as SchemaNode): ConfigField[] {
  const out: ConfigField[] = [];
  const visitObject = (node: SchemaNode, prefix: string, spec: string | undefined, depth: number, variant: string | undefined): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const own = child.spec ?? spec;
      out.push({ path, variant, key, node: child, required: node.required?.includes(key) ?? false, spec: own, depth });
      visitChildren(child, path, own, depth + 1, variant);
    }
  };
  const visitChildren = (node: SchemaNode, path: string, spec: string | undefined, depth: number, variant: string | undefined): void => {
    if (isObject(node)) return visitObject(node, path, spec, depth, variant);
    const value = recordValue(node);
    if (value !== undefined) {
      const inner = `${path}.<${node.keyName ?? 'key'}>`;
      if (value.oneOf) {
        for (const branch of value.oneOf) visitObject(branch, inner, branch.spec ?? spec, depth, String(branch.properties?.type?.const));
      } else if (isObject(value)) visitObject(value, inner, value.spec ?? spec, depth, variant);
      return;
    }
    if (node.items !== undefined && !Array.isArray(node.items) && isObject(node.items)) visitObject(node.items, `${path}[]`, node.items.spec ?? spec, depth, variant);
  };
  visitObject(schema, '', undefined, 1, undefined);
  return out;
}

/** A value as YAML's flow style (JSON with spaces): what a config file may say. */
export function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k)}: ${flow(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

/** GitHub's heading anchors: lowercase, spaces to `-`, punctuation other than `-` and `_` dropped. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The field's heading text (its anchor is the slug of this, without the backticks). */
export function fieldHeading(field: ConfigField): string {
  return field.variant === undefined ? `\`${field.path}\`` : `\`${field.path}\` (${field.variant})`;
}

function typeName(node: SchemaNode): string {
  if (node.const !== undefined) return `\`${flow(node.const)}\``;
  if (node.enum !== undefined) return 'string';
  if (node.anyOf !== undefined) return node.anyOf.map(typeName).join(' or ');
  if (node.oneOf !== undefined) return 'object';
  if (Array.isArray(node.items)) return `[${node.items.map(typeName).join(', ')}]`;
  if (node.items !== undefined) {
    const item = node.items.properties ? 'object' : typeName(node.items);
    return `list of ${/^[a-z]+$/.test(item) ? `${item}s` : item}`;
  }
  const value = recordValue(node);
  if (value !== undefined) return `map of ${node.keyName ?? 'name'} → ${value.oneOf || value.properties ? 'object' : typeName(value)}`;
  if (node.type === undefined) return 'any';
  return node.type;
}

function range(node: SchemaNode, unit = ''): string | undefined {
  const low = node.exclusiveMinimum !== undefined ? `> ${node.exclusiveMinimum}` : node.minimum !== undefined ? `${node.minimum}` : undefined;
  if (node.maximum !== undefined) return node.exclusiveMinimum !== undefined ? `${low}, ≤ ${node.maximum}${unit}` : `${low ?? '…'}–${node.maximum}${unit}`;
  if (low !== undefined) return node.exclusiveMinimum !== undefined ? `${low}${unit}` : `≥ ${low}${unit}`;
  return undefined;
}

/** What the schema allows beyond the type: enums, ranges, lengths, patterns. */
function allowed(node: SchemaNode): string[] {
  const out: string[] = [];
  if (node.enum !== undefined) out.push(`one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  const numbers = range(node);
  if (numbers !== undefined) out.push(numbers);
  if (node.minLength !== undefined || node.maxLength !== undefined) {
    out.push(node.maxLength !== undefined ? `${node.minLength ?? 0}–${node.maxLength} characters` : `at least ${node.minLength} character${node.minLength === 1 ? '' : 's'}`);
  }
  if (node.pattern !== undefined) out.push(`matches \`${node.pattern}\``);
  if (node.minItems !== undefined && !Array.isArray(node.items)) out.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
  if (node.items !== undefined && !Array.isArray(node.items) && !node.items.properties) {
    const each = allowed(node.items);
    if (each.length > 0) out.push(`each: ${each.join(', ')}`);
  }
  if (Array.isArray(node.items)) {
    const each = allowed(node.items[0]);
    if (each.length > 0) out.push(`each: ${each.join(', ')}`);
  }
  const value = recordValue(node);
  if (value !== undefined) {
    const pattern = Object.keys(node.patternProperties ?? {})[0];
    if (pattern !== '^(.*)$') out.push(`${node.keyName ?? 'key'}s match \`${pattern}\``);
    if (!value.oneOf && !value.properties) {
      const each = allowed(value);
      if (each.length > 0) out.push(`values: ${each.join(', ')}`);
    }
  }
  return out;
}

function defaultOf(field: ConfigField): string {
  if (field.node.default !== undefined) return `\`${flow(field.node.default)}\``;
  if (field.node.defaultText !== undefined) return field.node.defaultText;
  return field.required ? '— (required)' : 'none';
}

const escapeCell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function renderField(field: ConfigField): string {
  const { node } = field;
  const lines = [`${'#'.repeat(Math.min(field.depth + 1, 4))} ${fieldHeading(field)}`, ''];
  if (node.description !== undefined) lines.push(node.description, '');
  const facts = [`- Type: ${typeName(node)}${field.required ? ', required' : ''}`];
  const allow = allowed(node);
  if (allow.length > 0) facts.push(`- Allowed: ${allow.join('; ')}`);
  // A section or map that is absent is just empty: its fields say what that means.
  const container = node.properties !== undefined || node.patternProperties !== undefined || node.oneOf !== undefined;
  if ((!field.required && !(container && defaultOf(field) === 'none')) || node.default !== undefined) facts.push(`- Default: ${defaultOf(field)}`);
  for (const example of node.examples ?? []) facts.push(`- Example: \`${field.key}: ${flow(example)}\``);
  if (field.spec !== undefined) facts.push(`- SPEC ${field.spec}`);
  lines.push(...facts, '');
  return lines.join('\n');
}

const CONFIG_INTRO = `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:generate\`: edit the schema, not this page. -->

Floodgate reads one YAML file: \`floodgate serve --config PATH\`, else \`FLOODGATE_CONFIG\`, else
\`./floodgate.yaml\`; without any, the embedded default (the simulator and a small catalog,
[examples/embedded-default.yaml](../examples/embedded-default.yaml)). Ready configs are in
[examples/](../examples/).

- \`\${VAR}\` and \`\${VAR:-default}\` in any string are replaced from the environment, so secrets stay out of
  the file. A field that is one \`\${VAR}\` and nothing else is read as the field's type: \`port: \${PORT:-8080}\`
  is a number, \`enabled: \${METRICS:-true}\` a boolean.
- The command line wins over the environment, which wins over the file: \`--host\` / \`FLOODGATE_HOST\` /
  \`server.host\`, \`--port\` / \`FLOODGATE_PORT\` / \`server.port\`, and \`--data-dir\` over \`data_dir\`.
- The file is validated at start-up: a bad one exits with code 2 and names the field,
  \`models[2].deployments[0].provider: unknown provider "vlm" (known: local-vllm, sim)\`.
- Paths: \`a.b\` is a field of an object, \`<name>\` a key you choose, \`[]\` each item of a list.
  "SPEC §n" is the section of the product specification the field belongs to.
- An error's status, type and code, which \`errors\` can reword, are in the [error catalog](errors.md).
`;

/** docs/configuration.md. */
export function configurationReference(): string {
  const fields = configFields();
  const top = fields.filter((f) => f.depth === 1);
  const parts = [CONFIG_INTRO, '## Sections', ''];
  for (const f of top) {
    const summary = f.node.description === undefined ? '' : ` — ${f.node.description.split(/(?<=\.)\s/)[0]}`;
    parts.push(`- [\`${f.path}\`](#${githubSlug(f.path)})${f.required ? ' (required)' : ''}${summary}`);
  }
  parts.push('');
  for (const f of fields) {
    if (f.depth === 1 && fields.some((g) => g.path.startsWith(`${f.path}.`) || g.path.startsWith(`${f.path}[]`))) {
      const below = fields.filter((g) => g !== f && (g.path.startsWith(`${f.path}.`) || g.path.startsWith(`${f.path}[]`)));
      parts.push(renderField(f));
      parts.push('| Field | Type | Default |', '|---|---|---|');
      for (const g of below) parts.push(`| [${fieldHeading(g)}](#${githubSlug(fieldHeading(g).replaceAll('`', ''))}) | ${escapeCell(typeName(g.node))} | ${escapeCell(defaultOf(g))} |`);
      parts.push('');
    } else parts.push(renderField(f));
  }
  return `${parts.join('\n').trimEnd()}\n`;
}

const ERRORS_INTRO = `# Error catalog

<!-- Generated from src/openai/errors.ts by \`npm run docs:generate\`: edit the catalog, not this page. -->

Every error Floodgate sends, its own or a backend's, is OpenAI's envelope, on every path and method:

\`\`\`json
{"error": {"message": "…", "type": "invalid_request_error", "param": "messages[0].role", "code": null}}
\`\`\`

- \`param\` names the offending field as a path, or is \`null\`; key, quota and limit errors add \`doc_url\`
  when the config sets one ([\`doc_urls\`](configuration.md#doc_urls), [\`auth.doc_url\`](configuration.md#authdoc_url)).
- 429 and 503 carry \`Retry-After\` (seconds) and \`retry-after-ms\`; the 402, and a request that no wait could
  admit (one larger than a limit), carry \`x-should-retry: false\`.
- A stream that fails after its first byte ends with \`data: {"error": {…}}\`, then the end of the response.
- The Messages door (\`/v1/messages\`) answers the same errors, with the same status, in Anthropic's
  envelope: \`{"type": "error", "error": {"type": "…", "message": "…"}, "request_id": "…"}\`, its \`type\`
  given by the status (the "Messages type" column).
- A deployment words its errors in [\`errors.<error>\`](configuration.md#errors) by the name in the first
  column: the message, and where a service insists, the type, code and doc_url. The status, \`param\`
  and headers stay the catalog's.
`;

/** docs/errors.md. */
export function errorCatalogReference(): string {
  const names = (Object.keys(ERRORS) as ErrorName[]).map((name, i) => ({ name, i })).sort((a, b) => ERRORS[a.name].status - ERRORS[b.name].status || a.i - b.i);
  const rows = ['| Name | Status | `type` | `code` | Messages type | `doc_urls` kind | When |', '|---|---|---|---|---|---|---|'];
  for (const { name } of names) {
    const e: { status: number; type: string; code: string | null; docKind?: string; when: string } = ERRORS[name];
    const code = e.code === null ? '`null`' : `\`${e.code}\``;
    rows.push(`| \`${name}\` | ${e.status} | \`${e.type}\` | ${code} | \`${anthropicErrorType(e.status)}\` | ${e.docKind === undefined ? '' : `\`${e.docKind}\``} | ${escapeCell(e.when)} |`);
  }
  return `${ERRORS_INTRO}\n## Errors\n\n${rows.join('\n')}\n`;
}

/** The generated pages by their path in the repository. */
export function generatedDocs(): Record<string, string> {
  return { 'docs/configuration.md': configurationReference(), 'docs/errors.md': errorCatalogReference() };
}
