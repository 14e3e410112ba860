// Generates a value valid against a JSON schema, for tool-call arguments and `json_schema` answers.
// Covers what tool and response schemas use in practice (objects, arrays, scalars with their bounds,
// enum/const, anyOf/oneOf/allOf, $ref into $defs/definitions, recursion); `pattern` and `not` are not
// attempted.
import type { Rng } from './random.js';

type Schema = Record<string, unknown>;

interface SampleContext {
  root: unknown;
  rng: Rng;
}

/** Past this depth only what is required is generated, so recursive schemas terminate. */
const MAX_DEPTH = 6;
const HARD_DEPTH = 48;

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'simulated', 'value', 'sample'];

export function sampleJsonSchema(schema: unknown, rng: Rng): unknown {
  return sample(schema, { root: schema, rng }, 0);
}

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return {};
  const pointer = ref.slice(1);
  if (pointer === '' || pointer === '/') return root;
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isSchema(current) && !Array.isArray(current)) return {};
    current = (current as Record<string, unknown>)[key];
  }
  return current ?? {};
}

/** Merges the keywords of several schemas (allOf, or a branch with its siblings): properties merged, required united. */
function mergeSchemas(parts: unknown[], ctx: SampleContext): Schema {
  const merged: Schema = {};
  const properties: Schema = {};
  const required = new Set<string>();
  for (const raw of parts) {
    let part = raw;
    for (let hops = 0; isSchema(part) && typeof part.$ref === 'string' && hops < 16; hops++) {
      const { $ref, ...rest } = part;
      part = { ...(resolveRef(ctx.root, $ref as string) as Schema), ...rest };
    }
    if (!isSchema(part)) continue;
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties' && isSchema(value)) Object.assign(properties, value);
      else if (key === 'required' && Array.isArray(value)) for (const r of value) required.add(String(r));
      else if (key === 'allOf' && Array.isArray(value)) Object.assign(merged, mergeSchemas(value, ctx));
      else merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

function pickBranch(branches: unknown[], depth: number): unknown {
  // Deep in a recursive schema, prefer a branch that ends the recursion (null, or no $ref).
  if (depth >= MAX_DEPTH) {
    const terminal = branches.find((b) => isSchema(b) && (b.type === 'null' || (typeof b.$ref !== 'string' && b.type !== 'object' && b.type !== 'array')));
    if (terminal !== undefined) return terminal;
  }
  return branches[0];
}

function inferType(s: Schema): string {
  const type = s.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type) && type.length > 0) {
    const nonNull = type.find((t) => t !== 'null');
    return String(nonNull ?? type[0]);
  }
  if (isSchema(s.properties) || Array.isArray(s.required) || s.additionalProperties !== undefined) return 'object';
  if (s.items !== undefined || s.prefixItems !== undefined) return 'array';
  if (s.minimum !== undefined || s.maximum !== undefined || s.multipleOf !== undefined) return 'number';
  return 'string';
}

function sample(schema: unknown, ctx: SampleContext, depth: number): unknown {
  if (depth > HARD_DEPTH) return null;
  if (schema === true || schema === undefined) return sampleString({}, ctx);
  if (!isSchema(schema)) return null;
  let s = schema;
  if (typeof s.$ref === 'string') {
    const { $ref, ...rest } = s;
    s = mergeSchemas([resolveRef(ctx.root, $ref as string), rest], ctx);
  }
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return ctx.rng.pick(s.enum);
  if (Array.isArray(s.allOf)) {
    const { allOf, ...rest } = s;
    return sample(mergeSchemas([rest, ...(allOf as unknown[])], ctx), ctx, depth + 1);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches) && branches.length > 0) {
      const { [key]: _branches, ...rest } = s;
      const branch = pickBranch(branches, depth);
      // A branch inherits its siblings' keywords (a shared type or properties beside the anyOf).
      return sample(Object.keys(rest).length > 0 ? mergeSchemas([rest, branch], ctx) : branch, ctx, depth + 1);
    }
  }
  switch (inferType(s)) {
    case 'object':
      return sampleObject(s, ctx, depth);
    case 'array':
      return sampleArray(s, ctx, depth);
    case 'integer':
      return sampleNumber(s, ctx, true);
    case 'number':
      return sampleNumber(s, ctx, false);
    case 'boolean':
      return ctx.rng.chance(0.5);
    case 'null':
      return null;
    default:
      return sampleString(s, ctx);
  }
}

function sampleObject(s: Schema, ctx: SampleContext, depth: number): Record<string, unknown> {
  const properties = isSchema(s.properties) ? s.properties : {};
  const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
  const additional = s.additionalProperties;
  const minProps = typeof s.minProperties === 'number' ? s.minProperties : 0;
  const maxProps = typeof s.maxProperties === 'number' ? s.maxProperties : Infinity;
  const out: Record<string, unknown> = {};
  let count = 0;
  const optional: string[] = [];
  for (const key of Object.keys(properties)) {
    if (required.has(key)) {
      out[key] = sample(properties[key], ctx, depth + 1);
      count++;
    } else {
      optional.push(key);
    }
  }
  // Required names the schema does not declare: whatever additionalProperties allows.
  for (const key of required) {
    if (key in out) continue;
    out[key] = isSchema(additional) ? sample(additional, ctx, depth + 1) : sampleString({}, ctx);
    count++;
  }
  for (const key of optional) {
    if (count >= maxProps) break;
    const wanted = count < minProps || (depth < MAX_DEPTH && ctx.rng.chance(0.7));
    if (!wanted) continue;
    out[key] = sample(properties[key], ctx, depth + 1);
    count++;
  }
  for (let i = 1; count < minProps && additional !== false && i <= minProps + optional.length + 1; i++) {
    const key = `extra_${i}`;
    if (key in out) continue;
    out[key] = isSchema(additional) ? sample(additional, ctx, depth + 1) : sampleString({}, ctx);
    count++;
  }
  return out;
}

function sampleArray(s: Schema, ctx: SampleContext, depth: number): unknown[] {
  // Tuples: 2020-12 `prefixItems` (+ `items` for the rest), or draft-07 `items: [...]` (+ `additionalItems`).
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
  const rest = Array.isArray(s.prefixItems) ? s.items : Array.isArray(s.items) ? s.additionalItems : s.items;
  const minItems = typeof s.minItems === 'number' ? s.minItems : 0;
  let maxItems = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
  if (rest === false) maxItems = Math.min(maxItems, prefix.length);
  let count: number;
  if (depth >= MAX_DEPTH) count = minItems;
  else {
    const low = Math.max(minItems, prefix.length > 0 ? prefix.length : 1);
    count = ctx.rng.int(Math.min(low, maxItems), Math.min(maxItems, low + 2));
  }
  const unique = s.uniqueItems === true;
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (let i = 0; out.length < count && i < count + 20; i++) {
    const itemSchema = out.length < prefix.length ? prefix[out.length] : rest;
    const value = sample(itemSchema === undefined ? {} : itemSchema, ctx, depth + 1);
    if (unique) {
      const key = JSON.stringify(value);
      if (seen.has(key) && out.length >= minItems) break;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(value);
  }
  return out;
}

function sampleNumber(s: Schema, ctx: SampleContext, integer: boolean): number {
  // Draft-04 spells exclusive bounds as booleans beside minimum/maximum; later drafts as numbers.
  let low = typeof s.minimum === 'number' ? s.minimum : -Infinity;
  let high = typeof s.maximum === 'number' ? s.maximum : Infinity;
  let lowExclusive = s.exclusiveMinimum === true;
  let highExclusive = s.exclusiveMaximum === true;
  if (typeof s.exclusiveMinimum === 'number' && s.exclusiveMinimum >= low) {
    low = s.exclusiveMinimum;
    lowExclusive = true;
  }
  if (typeof s.exclusiveMaximum === 'number' && s.exclusiveMaximum <= high) {
    high = s.exclusiveMaximum;
    highExclusive = true;
  }
  if (low === -Infinity && high === Infinity) low = 0;
  if (low === -Infinity) low = high - 100;
  if (high === Infinity) high = low + 100;
  const step = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : 0;
  if (step > 0) {
    let kLow = Math.ceil(low / step);
    let kHigh = Math.floor(high / step);
    if (lowExclusive && kLow * step <= low) kLow++;
    if (highExclusive && kHigh * step >= high) kHigh--;
    if (integer && !Number.isInteger(step)) {
      // An integer that is also a multiple of a fractional step: walk to the first one.
      for (let k = kLow; k <= kHigh && k < kLow + 1000; k++) if (Number.isInteger(k * step)) return k * step;
    }
    const k = ctx.rng.int(kLow, Math.max(kLow, kHigh));
    const value = k * step;
    return Number.isInteger(step) ? value : Number(value.toPrecision(12));
  }
  const value = Math.round((low + ctx.rng.next() * (high - low)) * 100) / 100;
  if ((lowExclusive && value <= low) || value < low) return high > low ? (low + high) / 2 : low;
  if ((highExclusive && value >= high) || value > high) return (low + high) / 2;
  return value;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function formatted(format: string, ctx: SampleContext): string | undefined {
  const rng = ctx.rng;
  const word = rng.pick(WORDS);
  switch (format) {
    case 'date-time':
      return `20${pad2(rng.int(20, 29))}-${pad2(rng.int(1, 12))}-${pad2(rng.int(1, 28))}T${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}Z`;
    case 'date':
      return `20${pad2(rng.int(20, 29))}-${pad2(rng.int(1, 12))}-${pad2(rng.int(1, 28))}`;
    case 'time':
      return `${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}Z`;
    case 'email':
    case 'idn-email':
      return `${word}@example.com`;
    case 'uri':
    case 'url':
    case 'iri':
    case 'uri-reference':
    case 'iri-reference':
      return `https://example.com/${word}`;
    case 'hostname':
    case 'idn-hostname':
      return `${word}.example.com`;
    case 'ipv4':
      return `192.0.2.${rng.int(1, 254)}`;
    case 'ipv6':
      return `2001:db8::${rng.int(1, 0xffff).toString(16)}`;
    case 'uuid': {
      let hex = '';
      for (let i = 0; i < 32; i++) hex += Math.floor(rng.next() * 16).toString(16);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
    }
    case 'duration':
      return `P${rng.int(1, 30)}D`;
    default:
      return undefined;
  }
}

function sampleString(s: Schema, ctx: SampleContext): string {
  const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
  const maxLength = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  if (typeof s.format === 'string') {
    const value = formatted(s.format, ctx);
    if (value !== undefined && value.length >= minLength && value.length <= maxLength) return value;
  }
  const words = ctx.rng.int(1, 3);
  let text = ctx.rng.pick(WORDS);
  for (let i = 1; i < words; i++) text += ` ${ctx.rng.pick(WORDS)}`;
  while (text.length < minLength) text += ` ${ctx.rng.pick(WORDS)}`;
  if (text.length > maxLength) text = text.slice(0, maxLength).trimEnd().padEnd(Math.min(maxLength, Math.max(minLength, 1)), 'x');
  // Length counts code points; the words are ASCII, so characters are code points here.
  return text.length < minLength ? text.padEnd(minLength, 'x') : text;
}
