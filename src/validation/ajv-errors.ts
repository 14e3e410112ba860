// Turns Ajv's errors into what a person reads: a field path like `messages[0].role` and a message that
// says what is allowed. Shared by request validation and config validation.
import type { ErrorObject } from 'ajv';

/** `/messages/0/role` → `messages[0].role`; `` → null. */
export function pointerToPath(pointer: string): string | null {
  if (pointer === '') return null;
  let path = '';
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path;
}

/** The path of a field below `base` (a JSON pointer) named by a `required` or `additionalProperties` error. */
export function childPath(base: string, key: string): string {
  const parent = pointerToPath(base);
  return parent === null ? key : `${parent}.${key}`;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typeList(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(' or ');
}

/** One Ajv error as `{path, message}`; `value` is the offending value when known. */
export function describeAjvError(err: ErrorObject, value: unknown): { path: string | null; message: string } {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required': {
      const path = childPath(err.instancePath, String(p.missingProperty));
      return { path, message: 'is required' };
    }
    case 'additionalProperties': {
      const path = childPath(err.instancePath, String(p.additionalProperty));
      return { path, message: 'is not a known field here' };
    }
    case 'type':
      return { path: pointerToPath(err.instancePath), message: `must be ${typeList(p.type)}; got ${describeValue(value)}` };
    case 'enum':
      return {
        path: pointerToPath(err.instancePath),
        message: `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}; got ${describeValue(value)}`,
      };
    case 'const':
      return { path: pointerToPath(err.instancePath), message: `must be ${JSON.stringify(p.allowedValue)}; got ${describeValue(value)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path: pointerToPath(err.instancePath), message: `must be ${String(p.comparison)} ${String(p.limit)}; got ${describeValue(value)}` };
    case 'minItems':
      return { path: pointerToPath(err.instancePath), message: `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path: pointerToPath(err.instancePath), message: `must have at most ${String(p.limit)} items` };
    case 'minLength':
      return { path: pointerToPath(err.instancePath), message: p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long` };
    case 'maxLength':
      return { path: pointerToPath(err.instancePath), message: `must be at most ${String(p.limit)} characters long` };
    case 'pattern':
      return { path: pointerToPath(err.instancePath), message: `must match ${String(p.pattern)}; got ${describeValue(value)}` };
    case 'minProperties':
      return { path: pointerToPath(err.instancePath), message: 'must not be empty' };
    case 'maxProperties':
      return { path: pointerToPath(err.instancePath), message: `must have at most ${String(p.limit)} entries` };
    default:
      return { path: pointerToPath(err.instancePath), message: err.message ?? 'is invalid' };
  }
}

/** Reads the value an Ajv error points at (by JSON pointer) from the validated document. */
export function valueAt(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** Splits a JSON pointer into its unescaped segments (`''` → `[]`). */
function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Like `pointerToPath`, but reads the document to tell array indices from object keys that look like
 * numbers: `/messages/0/role` → `messages[0].role`, `/logit_bias/50256` → `logit_bias.50256`.
 */
export function pathIn(doc: unknown, segments: readonly string[]): string | null {
  if (segments.length === 0) return null;
  let path = '';
  let cur: unknown = doc;
  for (const segment of segments) {
    if (Array.isArray(cur) && /^\d+$/.test(segment)) path += `[${segment}]`;
    else path += path === '' ? segment : `.${segment}`;
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[segment] : undefined;
  }
  return path;
}

/** Errors that only say "a branch below failed": the branch's own errors say what. */
const WRAPPER_KEYWORDS = new Set(['anyOf', 'oneOf', 'if', 'propertyNames']);
/** Errors that name one acceptable form; several at the same place merge into "must be X or Y". */
const FORM_KEYWORDS = new Set(['type', 'enum', 'const']);

interface Located {
  err: ErrorObject;
  /** Where the fault is: the instance path, plus the key for `required`, tag and property-name errors. */
  segments: string[];
  /** JSON pointer of `segments`. */
  pointer: string;
  /** `pointer`, told apart per key for property-name errors. */
  place: string;
}

function locate(err: ErrorObject): Located {
  const segments = pointerSegments(err.instancePath);
  const p = err.params as Record<string, unknown>;
  if (err.keyword === 'required') segments.push(String(p.missingProperty));
  else if (err.keyword === 'additionalProperties') segments.push(String(p.additionalProperty));
  else if (err.keyword === 'discriminator') segments.push(String(p.tag));
  const pointer = segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  // A property-name error is about a key, one level below the object, but the key is not a path.
  return { err, segments, pointer, place: err.propertyName === undefined ? pointer : `${pointer}#${err.propertyName}` };
}

/** True when `a` is further along than `b` at the first place they differ (a later array index wins). */
function isFurther(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    const na = Number(a[i]);
    const nb = Number(b[i]);
    return Number.isInteger(na) && Number.isInteger(nb) && na > nb;
  }
  return false;
}

function depth(l: Located): number {
  return l.segments.length + (l.err.propertyName === undefined ? 0 : 1);
}

type TagBranch = { $ref?: string; properties?: Record<string, { const?: unknown; enum?: unknown[] }> };

/**
 * The tags a discriminated `oneOf` accepts, read from the schema (Ajv's `verbose` option supplies it);
 * `resolveRef` looks up branches given as `$ref`.
 */
function discriminatorTags(err: ErrorObject, tag: string, resolveRef?: (ref: string) => unknown): string[] | null {
  const oneOf = (err.parentSchema as { oneOf?: unknown } | undefined)?.oneOf;
  if (!Array.isArray(oneOf)) return null;
  const tags: string[] = [];
  for (let branch of oneOf as TagBranch[]) {
    if (branch.$ref !== undefined) branch = (resolveRef?.(branch.$ref) ?? {}) as TagBranch;
    const prop = branch.properties?.[tag];
    if (prop?.const !== undefined) tags.push(String(prop.const));
    else if (Array.isArray(prop?.enum)) tags.push(...prop.enum.map(String));
  }
  return tags;
}

function formAlternatives(err: ErrorObject): string[] {
  const p = err.params as Record<string, unknown>;
  if (err.keyword === 'enum') return [`one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`];
  if (err.keyword === 'const') return [JSON.stringify(p.allowedValue)];
  const types = Array.isArray(p.type) ? (p.type as unknown[]) : [p.type];
  return types.map((t) => TYPE_NAMES[String(t)] ?? String(t));
}

/** `a`, `a or b`, `a, b or c`. */
function orList(items: readonly string[]): string {
  return items.length <= 2 ? items.join(' or ') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/**
 * The one error worth reporting from a failed validation (Ajv with `allErrors: false`), as a field path and a
 * message: the deepest fault wins, because a union's branches all fail and only the branch that got furthest
 * says what is really wrong (`content[0].image_url.url`, not "content must be a string"). Faults at the same
 * place that each name one acceptable form merge: "must be a number or null", "one of none, auto or an object".
 */
export function pickAjvError(
  errors: readonly ErrorObject[],
  doc: unknown,
  resolveRef?: (ref: string) => unknown,
): { path: string | null; message: string } {
  const real = errors.filter((e) => !WRAPPER_KEYWORDS.has(e.keyword));
  const located = (real.length > 0 ? real : errors).map(locate);
  if (located.length === 0) return { path: null, message: 'The request is invalid.' };

  let best = located[0];
  for (const l of located) {
    const d = depth(l);
    const bd = depth(best);
    if (d > bd || (d === bd && isFurther(l.segments, best.segments))) best = l;
  }
  const here = located.filter((l) => l.place === best.place);
  const path = pathIn(doc, best.segments);
  const value = valueAt(doc, best.pointer);

  let message: string;
  const specific = here.find((l) => !FORM_KEYWORDS.has(l.err.keyword));
  if (specific === undefined) {
    const forms = [...new Set(here.flatMap((l) => formAlternatives(l.err)))];
    message = `must be ${orList(forms)}; got ${describeValue(value)}`;
  } else if (specific.err.keyword === 'discriminator') {
    const tag = String((specific.err.params as Record<string, unknown>).tag);
    const tags = discriminatorTags(specific.err, tag, resolveRef);
    if (value === undefined) message = 'is required';
    else if (tags === null || tags.length === 0) message = `is not a known ${tag}; got ${describeValue(value)}`;
    else message = `must be one of ${tags.join(', ')}; got ${describeValue(value)}`;
  } else if (specific.err.propertyName !== undefined) {
    const inner = describeAjvError(specific.err, specific.err.propertyName).message;
    message = `key ${describeValue(specific.err.propertyName)} ${inner}`;
  } else {
    message = describeAjvError(specific.err, value).message;
  }
  return { path, message: path === null ? message : `${path}: ${message}` };
}
