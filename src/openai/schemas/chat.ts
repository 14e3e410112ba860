// The request body of POST /v1/chat/completions, as openai-python 1.109.1 types it
// (`CompletionCreateParamsBase` + `stream`; shared/reference/openai/chat_params_1.109.1.md).
// Objects are open (no additionalProperties: false): newer SDKs and other backends add keys
// (`prompt_cache_breakpoint` on content parts, vLLM's `reasoning_content`, …) that must pass through.
import { Type, type Static } from '@sinclair/typebox';
import {
  AnyObject,
  ChoiceCount,
  Dict,
  FunctionName,
  LogitBias,
  ModelId,
  Nullable,
  Penalty,
  Seed,
  Stop,
  Stream,
  StreamOptions,
  StringEnum,
  Shared,
  TaggedUnion,
  Temperature,
  TopP,
} from './common.js';

const Opt = Type.Optional;

// ── Content parts ────────────────────────────────────────────────────────────────────────────────

export const TextPartSchema = Type.Object({ type: Type.Literal('text'), text: Type.String() });

export const ImagePartSchema = Type.Object({
  type: Type.Literal('image_url'),
  image_url: Type.Object({
    /** An https URL or a `data:image/…;base64,…` URI. */
    url: Type.String({ minLength: 1 }),
    detail: Opt(StringEnum(['auto', 'low', 'high'])),
  }),
});

export const InputAudioPartSchema = Type.Object({
  type: Type.Literal('input_audio'),
  input_audio: Type.Object({ data: Type.String(), format: StringEnum(['wav', 'mp3']) }),
});

/** No combination of the three keys is enforced, by the types or the spec. */
export const FilePartSchema = Type.Object({
  type: Type.Literal('file'),
  file: Type.Object({ file_data: Opt(Type.String()), file_id: Opt(Type.String()), filename: Opt(Type.String()) }),
});

export const RefusalPartSchema = Type.Object({ type: Type.Literal('refusal'), refusal: Type.String() });

export const UserContentPartSchema = Shared(
  'chat.user-content-part',
  TaggedUnion('type', [TextPartSchema, ImagePartSchema, InputAudioPartSchema, FilePartSchema]),
);
export const AssistantContentPartSchema = TaggedUnion('type', [TextPartSchema, RefusalPartSchema]);

/** `Union[str, Iterable[ChatCompletionContentPartTextParam]]` (system, developer, tool, prediction). */
export const TextContent = Type.Union([Type.String(), Type.Array(TextPartSchema, { minItems: 1 })]);

export type ChatTextPart = Static<typeof TextPartSchema>;
export type ChatImagePart = Static<typeof ImagePartSchema>;
export type ChatInputAudioPart = Static<typeof InputAudioPartSchema>;
export type ChatFilePart = Static<typeof FilePartSchema>;
export type ChatRefusalPart = Static<typeof RefusalPartSchema>;
/** A part of a user message's content. */
export type ChatContentPart = Static<typeof UserContentPartSchema>;
export type ChatAssistantContentPart = Static<typeof AssistantContentPartSchema>;

// ── Tool calls in assistant history ──────────────────────────────────────────────────────────────

export const FunctionToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});

export const CustomToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('custom'),
  custom: Type.Object({ name: Type.String(), input: Type.String() }),
});

export const ToolCallSchema = Shared('chat.tool-call', TaggedUnion('type', [FunctionToolCallSchema, CustomToolCallSchema]));
export type ChatFunctionToolCall = Static<typeof FunctionToolCallSchema>;
export type ChatCustomToolCall = Static<typeof CustomToolCallSchema>;
export type ChatToolCall = Static<typeof ToolCallSchema>;

// ── Messages ─────────────────────────────────────────────────────────────────────────────────────

export const SystemMessageSchema = Type.Object({ role: Type.Literal('system'), content: TextContent, name: Opt(Type.String()) });

export const DeveloperMessageSchema = Type.Object({ role: Type.Literal('developer'), content: TextContent, name: Opt(Type.String()) });

export const UserMessageSchema = Type.Object({
  role: Type.Literal('user'),
  content: Type.Union([Type.String(), Type.Array(UserContentPartSchema, { minItems: 1 })]),
  name: Opt(Type.String()),
});

/** `content` may be missing or null only with `tool_calls` or `function_call`: checked in code (validate.ts). */
export const AssistantMessageSchema = Type.Object({
  role: Type.Literal('assistant'),
  content: Opt(Nullable(Type.Union([Type.String(), Type.Array(AssistantContentPartSchema, { minItems: 1 })]))),
  refusal: Opt(Nullable(Type.String())),
  name: Opt(Type.String()),
  audio: Opt(Nullable(Type.Object({ id: Type.String() }))),
  tool_calls: Opt(Type.Array(ToolCallSchema)),
  function_call: Opt(Nullable(Type.Object({ name: Type.String(), arguments: Type.String() }))),
});

export const ToolMessageSchema = Type.Object({ role: Type.Literal('tool'), content: TextContent, tool_call_id: Type.String() });

/** Deprecated. `content` is required but nullable. */
export const FunctionMessageSchema = Type.Object({ role: Type.Literal('function'), content: Nullable(Type.String()), name: Type.String() });

/** The order here is the order the error message lists the roles in. */
export const MessageSchema = TaggedUnion('role', [
  Shared('chat.message.system', SystemMessageSchema),
  Shared('chat.message.developer', DeveloperMessageSchema),
  Shared('chat.message.user', UserMessageSchema),
  Shared('chat.message.assistant', AssistantMessageSchema),
  Shared('chat.message.tool', ToolMessageSchema),
  Shared('chat.message.function', FunctionMessageSchema),
]);

export type ChatSystemMessage = Static<typeof SystemMessageSchema>;
export type ChatDeveloperMessage = Static<typeof DeveloperMessageSchema>;
export type ChatUserMessage = Static<typeof UserMessageSchema>;
export type ChatAssistantMessage = Static<typeof AssistantMessageSchema>;
export type ChatToolMessage = Static<typeof ToolMessageSchema>;
export type ChatFunctionMessage = Static<typeof FunctionMessageSchema>;
export type ChatMessage = Static<typeof MessageSchema>;
export type ChatRole = ChatMessage['role'];

// ── Tools ────────────────────────────────────────────────────────────────────────────────────────

/** `FunctionDefinition`: `parameters` is any JSON Schema object. */
export const FunctionDefinitionSchema = Type.Object({
  name: FunctionName,
  description: Opt(Type.String()),
  parameters: Opt(AnyObject),
  strict: Opt(Nullable(Type.Boolean())),
});

export const FunctionToolSchema = Type.Object({ type: Type.Literal('function'), function: FunctionDefinitionSchema });

export const CustomToolFormatSchema = TaggedUnion('type', [
  Type.Object({ type: Type.Literal('text') }),
  Type.Object({
    type: Type.Literal('grammar'),
    grammar: Type.Object({ definition: Type.String(), syntax: StringEnum(['lark', 'regex']) }),
  }),
]);

export const CustomToolSchema = Type.Object({
  type: Type.Literal('custom'),
  custom: Type.Object({ name: Type.String(), description: Opt(Type.String()), format: Opt(CustomToolFormatSchema) }),
});

export const ToolSchema = Shared('chat.tool', TaggedUnion('type', [FunctionToolSchema, CustomToolSchema]));
export type ChatFunctionDefinition = Static<typeof FunctionDefinitionSchema>;
export type ChatFunctionTool = Static<typeof FunctionToolSchema>;
export type ChatCustomTool = Static<typeof CustomToolSchema>;
export type ChatTool = Static<typeof ToolSchema>;

export const NamedToolChoiceSchema = TaggedUnion('type', [
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) }),
  Type.Object({ type: Type.Literal('custom'), custom: Type.Object({ name: Type.String() }) }),
  Type.Object({
    type: Type.Literal('allowed_tools'),
    allowed_tools: Type.Object({ mode: StringEnum(['auto', 'required']), tools: Type.Array(AnyObject) }),
  }),
]);
export const ToolChoiceSchema = Shared('chat.tool-choice', Type.Union([StringEnum(['none', 'auto', 'required']), NamedToolChoiceSchema]));
export type ChatToolChoice = Static<typeof ToolChoiceSchema>;

/** Items of the deprecated `functions`. */
export const LegacyFunctionSchema = Shared(
  'chat.legacy-function',
  Type.Object({ name: FunctionName, description: Opt(Type.String()), parameters: Opt(AnyObject) }),
);
export const LegacyFunctionCallSchema = Type.Union([StringEnum(['none', 'auto']), Type.Object({ name: Type.String() })]);

// ── Output controls ──────────────────────────────────────────────────────────────────────────────

export const JsonSchemaFormatSchema = Type.Object({
  name: FunctionName,
  description: Opt(Type.String()),
  schema: Opt(AnyObject),
  strict: Opt(Nullable(Type.Boolean())),
});

export const ResponseFormatSchema = Shared(
  'chat.response-format',
  TaggedUnion('type', [
    Type.Object({ type: Type.Literal('text') }),
    Type.Object({ type: Type.Literal('json_object') }),
    Type.Object({ type: Type.Literal('json_schema'), json_schema: JsonSchemaFormatSchema }),
  ]),
);
export type ChatResponseFormat = Static<typeof ResponseFormatSchema>;

/** Output audio. `voice` is a string in 1.109.1; newer SDKs may send a custom `{id}` voice, which is let through. */
export const AudioOutputSchema = Shared(
  'chat.audio-output',
  Type.Object({
    format: StringEnum(['wav', 'aac', 'mp3', 'flac', 'opus', 'pcm16']),
    voice: Type.Union([Type.String(), Type.Object({ id: Type.String() })]),
  }),
);

export const PredictionSchema = Shared('chat.prediction', Type.Object({ type: Type.Literal('content'), content: TextContent }));

/** `Metadata`: up to 16 pairs, keys up to 64 characters, values up to 512. */
export const MetadataSchema = Dict(Type.String({ maxLength: 512 }), { maxProperties: 16, propertyNames: { maxLength: 64 } });

export const WebSearchOptionsSchema = Shared(
  'chat.web-search-options',
  Type.Object({
    search_context_size: Opt(StringEnum(['low', 'medium', 'high'])),
    user_location: Opt(
      Nullable(
        Type.Object({
          type: Type.Literal('approximate'),
          approximate: Type.Object({
            city: Opt(Type.String()),
            country: Opt(Type.String()),
            region: Opt(Type.String()),
            timezone: Opt(Type.String()),
          }),
        }),
      ),
    ),
  }),
);

// ── The request ──────────────────────────────────────────────────────────────────────────────────

/** Top-level keys not listed here are not errors: they are forwarded to the backend untouched. */
export const ChatCompletionRequestSchema = Type.Object({
  messages: Type.Array(MessageSchema, { minItems: 1 }),
  model: ModelId,
  audio: Opt(Nullable(AudioOutputSchema)),
  frequency_penalty: Opt(Penalty),
  function_call: Opt(LegacyFunctionCallSchema),
  functions: Opt(Type.Array(LegacyFunctionSchema, { minItems: 1, maxItems: 128 })),
  logit_bias: Opt(LogitBias),
  logprobs: Opt(Nullable(Type.Boolean())),
  max_completion_tokens: Opt(Nullable(Type.Integer({ minimum: 1 }))),
  max_tokens: Opt(Nullable(Type.Integer({ minimum: 1 }))),
  metadata: Opt(Nullable(MetadataSchema)),
  modalities: Opt(Nullable(Type.Array(StringEnum(['text', 'audio'])))),
  n: Opt(ChoiceCount),
  parallel_tool_calls: Opt(Type.Boolean()),
  prediction: Opt(Nullable(PredictionSchema)),
  presence_penalty: Opt(Penalty),
  prompt_cache_key: Opt(Type.String()),
  // 1.109.1's values plus those newer SDKs send (none, xhigh, max), so upgrading the SDK is not a 400.
  reasoning_effort: Opt(Nullable(StringEnum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max']))),
  response_format: Opt(ResponseFormatSchema),
  safety_identifier: Opt(Type.String({ maxLength: 64 })),
  seed: Opt(Seed),
  service_tier: Opt(Nullable(StringEnum(['auto', 'default', 'flex', 'scale', 'priority', 'fast']))),
  stop: Opt(Stop),
  store: Opt(Nullable(Type.Boolean())),
  /** Only with `stream: true`: checked in code. */
  stream_options: Opt(StreamOptions),
  temperature: Opt(Temperature),
  tool_choice: Opt(ToolChoiceSchema),
  tools: Opt(Type.Array(ToolSchema)),
  /** 0–20, and only with `logprobs: true`: checked in code. */
  top_logprobs: Opt(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  top_p: Opt(TopP),
  user: Opt(Type.String()),
  verbosity: Opt(Nullable(StringEnum(['low', 'medium', 'high']))),
  web_search_options: Opt(WebSearchOptionsSchema),
  stream: Opt(Stream),
});

export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>;
