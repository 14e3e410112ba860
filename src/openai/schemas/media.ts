// Request bodies of the media endpoints (SPEC §2), as openai-python 1.109.1 types them where OpenAI has the
// endpoint (`ImageGenerateParams`, `SpeechCreateParams`, `TranscriptionCreateParams`); video generation
// follows the same conventions. Unknown top-level fields are forwarded, as for the text endpoints.
import { Type, type Static } from '@sinclair/typebox';
import { SPEECH_FORMATS } from '../../config/schema.js';
import { ModelId, StringEnum } from './common.js';

const Opt = Type.Optional;

/** `WIDTHxHEIGHT` (or `auto`, where the model picks). */
export const SIZE_PATTERN = '^(auto|[1-9][0-9]{0,3}x[1-9][0-9]{0,3})$';

export const ImageRequestSchema = Type.Object({
  model: ModelId,
  prompt: Type.String({ minLength: 1, maxLength: 32_000 }),
  n: Opt(Type.Integer({ minimum: 1, maximum: 10 })),
  size: Opt(Type.String({ pattern: SIZE_PATTERN })),
  quality: Opt(Type.String({ minLength: 1 })),
  style: Opt(Type.String({ minLength: 1 })),
  response_format: Opt(StringEnum(['b64_json', 'url'])),
  background: Opt(Type.String({ minLength: 1 })),
  output_format: Opt(Type.String({ minLength: 1 })),
  user: Opt(Type.String()),
});
export type ImageRequest = Static<typeof ImageRequestSchema>;

export const SpeechRequestSchema = Type.Object({
  model: ModelId,
  input: Type.String({ minLength: 1, maxLength: 4096 }),
  voice: Type.String({ minLength: 1 }),
  instructions: Opt(Type.String()),
  response_format: Opt(StringEnum(SPEECH_FORMATS)),
  speed: Opt(Type.Number({ minimum: 0.25, maximum: 4 })),
  stream_format: Opt(StringEnum(['audio', 'sse'])),
});
export type SpeechRequest = Static<typeof SpeechRequestSchema>;

export const TRANSCRIPT_FORMATS = ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const;

/** The text fields of a transcription's multipart form (the `file` part is checked on its own). */
export const TranscriptionFieldsSchema = Type.Object({
  model: ModelId,
  language: Opt(Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]+)?$' })),
  prompt: Opt(Type.String()),
  response_format: Opt(StringEnum(TRANSCRIPT_FORMATS)),
  temperature: Opt(Type.Number({ minimum: 0, maximum: 1 })),
});
export type TranscriptionFields = Static<typeof TranscriptionFieldsSchema>;

export const VideoRequestSchema = Type.Object({
  model: ModelId,
  prompt: Type.String({ minLength: 1, maxLength: 32_000 }),
  seconds: Opt(Type.Integer({ minimum: 1, maximum: 3600 })),
  size: Opt(Type.String({ pattern: SIZE_PATTERN })),
  seed: Opt(Type.Integer()),
  user: Opt(Type.String()),
});
export type VideoRequest = Static<typeof VideoRequestSchema>;
