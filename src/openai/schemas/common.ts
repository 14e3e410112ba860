// Schema builders and the pieces shared by the chat, legacy-completion and embedding request schemas
// (openai-python 1.109.1). Built for Ajv's fast path: simple nullables become `type: [x, 'null']`
// rather than an anyOf, tagged unions use Ajv's `discriminator` so only the matching branch runs.
import { Type, type Static, type TSchema, type TUnion, type TUnsafe, type SchemaOptions } from '@sinclair/typebox';

/** `Optional[X]` in the Python types: the key may be sent as JSON `null`. */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, enum: values } = schema as { type?: unknown; enum?: unknown };
  // A single-typed schema takes `null` in its type list: one check, one error, no anyOf branches.
  if (typeof type === 'string' && type !== 'null') return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
  if (type === undefined && Array.isArray(values)) return Type.Unsafe<Static<T> | null>({ ...schema, enum: [...values, null] });
  const { anyOf } = schema as { anyOf?: unknown };
  // A plain union gains a null branch rather than being nested one level deeper.
  if (Array.isArray(anyOf) && Object.keys(schema).length === 1) return Type.Unsafe<Static<T> | null>({ anyOf: [...anyOf, { type: 'null' }] });
  return Type.Unsafe<Static<T> | null>({ anyOf: [schema, { type: 'null' }] });
}

/**
 * A closed set of strings as a plain `enum` (no `type`), so a wrong value of any type — `null` included —
 * gets the one message that matters: "must be one of …".
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, enum: [...values] });
}

/**
 * A union of objects told apart by the string property `tag` (`role`, `type`): Ajv's discriminator picks the
 * branch by the tag's value, so errors come from that branch only, and an unknown tag names the allowed ones.
 */
export function TaggedUnion<T extends TSchema[]>(tag: string, variants: [...T], options: SchemaOptions = {}): TUnsafe<Static<TUnion<T>>> {
  return Type.Unsafe<Static<TUnion<T>>>({
    ...options,
    type: 'object',
    required: [tag],
    discriminator: { propertyName: tag },
    oneOf: variants,
  });
}

const sharedSchemas = new Map<string, TSchema>();

/**
 * A schema Ajv compiles into a function of its own, used by `$ref`. V8 does not optimise a function beyond
 * ~60 KB of bytecode, and the whole chat request inlined is far more than that: split at the big pieces
 * (each message role, tools, …), every piece stays small enough to be optimised.
 */
export function Shared<T extends TSchema>(id: string, schema: T): TUnsafe<Static<T>> {
  if (sharedSchemas.has(id)) throw new Error(`schema id ${id} is defined twice`);
  sharedSchemas.set(id, { ...schema, $id: id });
  return Type.Unsafe<Static<T>>({ $ref: id });
}

/** Every schema made with `Shared`, to hand to Ajv before compiling the requests that use them. */
export function listSharedSchemas(): TSchema[] {
  return [...sharedSchemas.values()];
}

/** `Dict[str, V]`: an object whose every value matches `value` (plain additionalProperties, no regex). */
export function Dict<V extends TSchema>(value: V, options: SchemaOptions = {}): TUnsafe<Record<string, Static<V>>> {
  return Type.Unsafe<Record<string, Static<V>>>({ ...options, type: 'object', additionalProperties: value });
}

/** `Dict[str, object]`: any JSON object (a JSON Schema, a tool definition). Its contents are not ours to check. */
export const AnyObject = Dict(Type.Unknown());

/** Function, tool and response-format names: "a-z, A-Z, 0-9, or underscores and dashes, with a maximum length of 64". */
export const NAME_PATTERN = '^[a-zA-Z0-9_-]{1,64}$';
export const FunctionName = Type.String({ pattern: NAME_PATTERN });

export const ModelId = Type.String({ minLength: 1 });

export const Temperature = Nullable(Type.Number({ minimum: 0, maximum: 2 }));
export const TopP = Nullable(Type.Number({ minimum: 0, maximum: 1 }));
export const Penalty = Nullable(Type.Number({ minimum: -2, maximum: 2 }));
export const ChoiceCount = Nullable(Type.Integer({ minimum: 1, maximum: 128 }));
/** int64 in the spec; beyond ±2^53 JSON numbers lose precision anyway. */
export const Seed = Nullable(Type.Integer({ minimum: -(2 ** 63), maximum: 2 ** 63 }));
/** Token id (as a string key) → bias, −100..100. */
export const LogitBias = Nullable(Dict(Type.Integer({ minimum: -100, maximum: 100 })));

/** `Union[Optional[str], SequenceNotStr[str], None]`: a string or 1–4 strings. */
export const Stop = Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 4 }), Type.Null()]);

/** `Optional[Literal[False]] | Literal[True]` across the SDK's two param classes. */
export const Stream = Nullable(Type.Boolean());

/** `ChatCompletionStreamOptionsParam`, shared by chat and legacy completions. Open: vLLM adds its own keys here. */
export const StreamOptionsSchema = Type.Object({
  include_obfuscation: Type.Optional(Type.Boolean()),
  include_usage: Type.Optional(Type.Boolean()),
});
export type StreamOptions = Static<typeof StreamOptionsSchema>;
export const StreamOptions = Nullable(StreamOptionsSchema);

/** Token arrays: `Iterable[int]` and `Iterable[Iterable[int]]`. */
export const TokenIds = Type.Array(Type.Integer(), { minItems: 1 });
