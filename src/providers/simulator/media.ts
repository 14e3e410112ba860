// The simulator's media codecs: real, valid files built from nothing but a seed or a text, so that the
// image, speech, transcription and video endpoints return something a browser or a player opens. PNG pictures,
// speech as PCM/WAV tones (the WAV carries its text, so transcribing it round-trips), transcripts in OpenAI's
// formats, and palettized AVI animations compressed with Microsoft RLE.
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import { Rng, hashString } from './random.js';
import { textPieces } from './text.js';

/** An RGB colour, each channel 0–255. */
type Rgb = [number, number, number];

/** A colour of the given hue (0–1), saturation and value (0–1). */
function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i];
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

function randomColour(rng: Rng, minValue = 0.35): Rgb {
  return hsv(rng.next(), 0.35 + rng.next() * 0.6, minValue + rng.next() * (1 - minValue));
}

function lerpColour(a: Rgb, b: Rgb, t: number): Rgb {
  return [Math.round(a[0] + (b[0] - a[0]) * t), Math.round(a[1] + (b[1] - a[1]) * t), Math.round(a[2] + (b[2] - a[2]) * t)];
}

/** Where a point moving at constant speed inside [0, range] is after travelling `p`, bouncing off both ends. */
function bounce(p: number, range: number): number {
  if (range <= 0) return 0;
  const period = 2 * range;
  const q = ((p % period) + period) % period;
  return q > range ? period - q : q;
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4, 8))), 0);
  return Buffer.concat([head, data, crc]);
}

/** A rectangle or an ellipse: centre and half-sizes in pixels (a circle has rx = ry). */
interface Shape {
  kind: 'rect' | 'circle';
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/** The pixel span [x0, x1) a shape covers on row y (pixel centres at y + 0.5), clipped to the width; empty when x1 ≤ x0. */
function shapeSpan(s: Shape, y: number, width: number): [number, number] {
  const dy = y + 0.5 - s.cy;
  let half: number;
  if (s.kind === 'rect') {
    if (Math.abs(dy) > s.ry) return [0, 0];
    half = s.rx;
  } else {
    if (Math.abs(dy) > s.ry) return [0, 0];
    half = s.rx * Math.sqrt(1 - (dy * dy) / (s.ry * s.ry));
  }
  return [Math.max(0, Math.ceil(s.cx - half - 0.5)), Math.min(width, Math.floor(s.cx + half + 0.5))];
}

/** A valid PNG (8-bit RGB, non-interlaced) of width×height, a deterministic picture derived from `seed`. */
export function renderPng(width: number, height: number, seed: string): Buffer {
  const w = Math.max(1, Math.floor(width));
  const h = Math.max(1, Math.floor(height));
  const rng = new Rng(hashString(seed, 0x706e67));
  const top = randomColour(rng, 0.15);
  const bottom = randomColour(rng, 0.5);
  const shapes: { shape: Shape; colour: Buffer }[] = [];
  const count = rng.int(4, 7);
  for (let i = 0; i < count; i++) {
    const circle = rng.chance(0.5);
    const rx = (0.05 + rng.next() * 0.2) * (circle ? Math.min(w, h) : w);
    const shape: Shape = { kind: circle ? 'circle' : 'rect', cx: rng.next() * w, cy: rng.next() * h, rx, ry: circle ? rx : (0.05 + rng.next() * 0.2) * h };
    shapes.push({ shape, colour: Buffer.from(randomColour(rng)) });
  }

  const stride = 1 + 3 * w;
  const raw = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {
    const row = y * stride;
    raw[row] = 0; // filter type None
    raw.fill(Buffer.from(lerpColour(top, bottom, h === 1 ? 0 : y / (h - 1))), row + 1, row + stride);
    for (const { shape, colour } of shapes) {
      const [x0, x1] = shapeSpan(shape, y, w);
      if (x1 > x0) raw.fill(colour, row + 1 + 3 * x0, row + 1 + 3 * x1);
    }
  }

  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

// ---------------------------------------------------------------------------------------------------------------
// RIFF helpers (WAV and AVI)

/** A RIFF chunk: id, little-endian size, body, and a pad byte when the body's length is odd. */
function riffChunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat(body.length % 2 === 1 ? [head, body, Buffer.alloc(1)] : [head, body]);
}

/** A RIFF list ('RIFF' or 'LIST'): id, size, form type, then the already-built child chunks. */
function riffList(id: string, type: string, children: Buffer[]): Buffer {
  return riffChunk(id, Buffer.concat([Buffer.from(type, 'latin1'), ...children]));
}

interface RiffChunkRef {
  id: string;
  /** Where the chunk's body starts in the file. */
  offset: number;
  size: number;
}

/** The chunks of a RIFF body between `start` and `end`, walked by their sizes; a truncated last chunk is clipped. */
function riffChunks(file: Buffer, start: number, end: number): RiffChunkRef[] {
  const chunks: RiffChunkRef[] = [];
  let at = start;
  while (at + 8 <= end) {
    const id = file.toString('latin1', at, at + 4);
    const size = Math.min(file.readUInt32LE(at + 4), end - at - 8);
    chunks.push({ id, offset: at + 8, size });
    at += 8 + size + (size % 2);
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------------------------------
// Speech

export type SpeechFormat = 'wav' | 'pcm';
export const SPEECH_FORMATS: readonly SpeechFormat[] = ['wav', 'pcm'];
/** 24 kHz, 16-bit signed little-endian, mono: OpenAI's `pcm` format; `wav` is the same samples in a RIFF/WAVE file. */
export const SPEECH_SAMPLE_RATE = 24_000;

/** Marks a WAV as the simulator's own (its INFO/ISFT), so that only such a WAV's comment is read back as its text. */
const SPEECH_SOFTWARE = 'Floodgate simulator';
const SECONDS_PER_CHAR = 0.06;
const MIN_SPEECH_SECONDS = 0.3;
const SPEECH_AMPLITUDE = 0.3 * 32767;
const FADE_SAMPLES = Math.round(0.005 * SPEECH_SAMPLE_RATE);

/** 16-bit little-endian mono samples: a tone per character (silence for whitespace), faded at both ends. */
function speechSamples(text: string, voice: string, speed: number): Buffer {
  const rate = Number.isFinite(speed) && speed > 0 ? Math.min(4, Math.max(0.25, speed)) : 1;
  const chars = Array.from(text);
  const perChar = (SECONDS_PER_CHAR * SPEECH_SAMPLE_RATE) / rate;
  const spoken = Math.round(chars.length * perChar);
  const total = Math.max(spoken, Math.round(MIN_SPEECH_SECONDS * SPEECH_SAMPLE_RATE));
  const pcm = Buffer.alloc(total * 2);
  const basePitch = 110 * 2 ** ((hashString(voice, 0x766f) % 24) / 12); // 110–208 Hz
  for (let c = 0; c < chars.length; c++) {
    if (/\s/u.test(chars[c])) continue;
    const code = chars[c].codePointAt(0) ?? 0;
    const freq = basePitch * 2 ** (((code * 7) % 19) / 12);
    const step = (2 * Math.PI * freq) / SPEECH_SAMPLE_RATE;
    const start = Math.round(c * perChar);
    const end = Math.round((c + 1) * perChar);
    const length = end - start;
    const fade = Math.max(1, Math.min(FADE_SAMPLES, Math.floor(length / 3)));
    for (let i = 0; i < length; i++) {
      const envelope = Math.min(1, i / fade, (length - 1 - i) / fade);
      const wave = (Math.sin(step * i) + 0.25 * Math.sin(2 * step * i)) / 1.25;
      pcm.writeInt16LE(Math.round(SPEECH_AMPLITUDE * envelope * wave), 2 * (start + i));
    }
  }
  return pcm;
}

/** The 16-byte 'fmt ' body of 16-bit mono PCM at the speech sample rate. */
function pcmFormat(): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0); // PCM
  fmt.writeUInt16LE(1, 2); // mono
  fmt.writeUInt32LE(SPEECH_SAMPLE_RATE, 4);
  fmt.writeUInt32LE(SPEECH_SAMPLE_RATE * 2, 8); // byte rate
  fmt.writeUInt16LE(2, 12); // block align
  fmt.writeUInt16LE(16, 14); // bits per sample
  return fmt;
}

/** A NUL-terminated UTF-8 INFO string's chunk body. */
function infoString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(1)]);
}

/**
 * Speech for `text`: deterministic tones (the voice shifts the pitch), about 60 ms per character divided by
 * `speed` (0.25–4), at least 0.3 s. A WAV also carries the text in a RIFF LIST/INFO chunk (ICMT) so that
 * transcribing it gives the text back exactly.
 */
export function synthesizeSpeech(text: string, voice: string, speed: number, format: SpeechFormat): Buffer {
  const pcm = speechSamples(text, voice, speed);
  if (format === 'pcm') return pcm;
  // The INFO list goes after the data, so the first 44 bytes are the canonical header naive readers expect.
  const info = riffList('LIST', 'INFO', [riffChunk('ISFT', infoString(SPEECH_SOFTWARE)), riffChunk('ICMT', infoString(text))]);
  return riffList('RIFF', 'WAVE', [riffChunk('fmt ', pcmFormat()), riffChunk('data', pcm), info]);
}

// ---------------------------------------------------------------------------------------------------------------
// Transcription

export interface Transcript {
  text: string;
  /** Seconds of audio. */
  duration: number;
  language: string;
  segments: { id: number; start: number; end: number; text: string }[];
}

interface WavFacts {
  /** Seconds of audio, when the header says (a 'fmt ' with a byte rate and a 'data' chunk). */
  duration?: number;
  /** The text the simulator put in the file, when it made it. */
  text?: string;
}

/** An INFO string chunk's text: UTF-8 without its NUL terminator. */
function readInfoString(file: Buffer, chunk: RiffChunkRef): string {
  let end = chunk.offset + chunk.size;
  if (end > chunk.offset && file[end - 1] === 0) end--;
  return file.toString('utf8', chunk.offset, end);
}

/** What a RIFF/WAVE file's chunks tell; empty for anything else. */
function readWav(file: Buffer): WavFacts {
  if (file.length < 12 || file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WAVE') return {};
  const end = Math.min(file.length, 8 + file.readUInt32LE(4));
  let byteRate = 0;
  let dataBytes: number | undefined;
  const info = new Map<string, string>();
  for (const chunk of riffChunks(file, 12, end < 12 ? file.length : end)) {
    if (chunk.id === 'fmt ' && chunk.size >= 12) byteRate = file.readUInt32LE(chunk.offset + 8);
    else if (chunk.id === 'data' && dataBytes === undefined) dataBytes = chunk.size;
    else if (chunk.id === 'LIST' && chunk.size >= 4 && file.toString('latin1', chunk.offset, chunk.offset + 4) === 'INFO') {
      for (const sub of riffChunks(file, chunk.offset + 4, chunk.offset + chunk.size)) info.set(sub.id, readInfoString(file, sub));
    }
  }
  const facts: WavFacts = {};
  if (byteRate > 0 && dataBytes !== undefined) facts.duration = dataBytes / byteRate;
  if (info.get('ISFT') === SPEECH_SOFTWARE && info.has('ICMT')) facts.text = info.get('ICMT');
  return facts;
}

const WORDS_PER_SECOND = 2.5;
const SEGMENT_WORDS = 12;
/** Bytes per second of the audio a non-WAV file is assumed to be: 128 kbit/s. */
const ESTIMATE_BYTES_PER_SECOND = 16_000;
const MIN_ESTIMATED_SECONDS = 0.1;

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Up to ~12 words a piece, each timed by its share of the words. */
function transcriptSegments(text: string, duration: number): Transcript['segments'] {
  const words = text.split(/\s+/u).filter((w) => w.length > 0);
  const segments: Transcript['segments'] = [];
  for (let i = 0; i < words.length; i += SEGMENT_WORDS) {
    const last = Math.min(words.length, i + SEGMENT_WORDS);
    segments.push({
      id: segments.length,
      start: roundMs((duration * i) / words.length),
      end: roundMs((duration * last) / words.length),
      text: words.slice(i, last).join(' '),
    });
  }
  return segments;
}

/**
 * A deterministic transcript of an audio file: the text a WAV from synthesizeSpeech carries; otherwise words
 * chosen from a hash of the bytes, about 2.5 words per second of audio. Duration comes from the WAV header
 * when the file is a WAV (any PCM WAV: use data-chunk bytes / byteRate), else is estimated from the size as
 * 128 kbit/s audio (bytes / 16000), at least 0.1 s. `language` is the given one or 'en'. Segments split the
 * text into pieces of at most ~12 words with start/end spread evenly over the duration (rounded to ms).
 */
export function transcribeAudio(file: Buffer, language?: string): Transcript {
  const wav = readWav(file);
  const duration = wav.duration ?? Math.max(MIN_ESTIMATED_SECONDS, file.length / ESTIMATE_BYTES_PER_SECOND);
  let text = wav.text;
  if (text === undefined) {
    const words = duration > 0 ? Math.max(1, Math.round(duration * WORDS_PER_SECOND)) : 0;
    const rng = new Rng(createHash('sha256').update(file).digest().readUInt32LE(0));
    text = textPieces(rng, words, []).join('');
  }
  return { text, duration, language: language || 'en', segments: transcriptSegments(text, duration) };
}

export type TranscriptFormat = 'json' | 'text' | 'verbose_json' | 'srt' | 'vtt';

/** `HH:MM:SS<sep>mmm`, as subtitle cues time themselves. */
function cueTime(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  const hh = Math.floor(ms / 3_600_000);
  const mm = Math.floor(ms / 60_000) % 60;
  const ss = Math.floor(ms / 1000) % 60;
  return `${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}${separator}${pad(ms % 1000, 3)}`;
}

/** SRT cue text that cannot be read as a timing line. */
function srtText(text: string): string {
  return text.replace(/-->/g, '->');
}

/** WebVTT cue text: `&`, `<` and `>` escaped (which also rules out a stray "-->"). */
function vttText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The transcript as OpenAI's /v1/audio/transcriptions answers it in each response_format:
 * json → `{"text": …}` (application/json); text → the text + "\n" (text/plain; charset=utf-8);
 * verbose_json → `{task: "transcribe", language, duration, text, segments: [{id, seek: 0, start, end, text,
 * tokens: [], temperature: 0, avg_logprob: 0, compression_ratio: 1, no_speech_prob: 0}]}` (application/json);
 * srt → numbered cues `HH:MM:SS,mmm --> HH:MM:SS,mmm` (text/plain; charset=utf-8);
 * vtt → "WEBVTT\n\n" then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm` (text/vtt; charset=utf-8).
 */
export function renderTranscript(t: Transcript, format: TranscriptFormat): { contentType: string; body: string } {
  switch (format) {
    case 'json':
      return { contentType: 'application/json', body: JSON.stringify({ text: t.text }) };
    case 'text':
      return { contentType: 'text/plain; charset=utf-8', body: `${t.text}\n` };
    case 'verbose_json': {
      const segments = t.segments.map((s) => ({
        id: s.id,
        seek: 0,
        start: s.start,
        end: s.end,
        text: s.text,
        tokens: [],
        temperature: 0,
        avg_logprob: 0,
        compression_ratio: 1,
        no_speech_prob: 0,
      }));
      const body = { task: 'transcribe', language: t.language, duration: t.duration, text: t.text, segments };
      return { contentType: 'application/json', body: JSON.stringify(body) };
    }
    case 'srt': {
      const cues = t.segments.map((s, i) => `${i + 1}\n${cueTime(s.start, ',')} --> ${cueTime(s.end, ',')}\n${srtText(s.text)}\n\n`);
      return { contentType: 'text/plain; charset=utf-8', body: cues.join('') };
    }
    case 'vtt': {
      const cues = t.segments.map((s) => `${cueTime(s.start, '.')} --> ${cueTime(s.end, '.')}\n${vttText(s.text)}\n\n`);
      return { contentType: 'text/vtt; charset=utf-8', body: `WEBVTT\n\n${cues.join('')}` };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Video

export const VIDEO_CONTENT_TYPE = 'video/x-msvideo';
const VIDEO_FPS = 4;
/** Palette layout: background shades first, then the colours of the moving shapes. */
const BACKGROUND_SHADES = 64;
const BACKGROUND_BANDS = 16;
const AVIF_HASINDEX = 0x10;
const AVIIF_KEYFRAME = 0x10;
const BI_RLE8 = 1;

interface MovingShape {
  kind: 'rect' | 'circle';
  /** Half-size (rectangles) or radius (circles) in pixels. */
  rx: number;
  ry: number;
  /** Start position of the centre and velocity in pixels per frame. */
  x: number;
  y: number;
  vx: number;
  vy: number;
  colour: number;
}

/** Encodes one 8-bit row as BI_RLE8 runs (count, index) into `out` at `at`; returns the new position. */
function rle8Row(row: Uint8Array, out: Buffer, at: number): number {
  const width = row.length;
  let x = 0;
  while (x < width) {
    const colour = row[x];
    let n = 1;
    while (n < 255 && x + n < width && row[x + n] === colour) n++;
    out[at++] = n;
    out[at++] = colour;
    x += n;
  }
  return at;
}

/** The 256-entry palette as BITMAPINFO RGBQUADs (blue, green, red, 0). */
function videoPalette(rng: Rng): Buffer {
  const palette = Buffer.alloc(1024);
  const dark = randomColour(rng, 0.1);
  const light = randomColour(rng, 0.6);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = i < BACKGROUND_SHADES ? lerpColour(dark, light, i / (BACKGROUND_SHADES - 1)) : randomColour(rng, 0.5);
    palette[4 * i] = b;
    palette[4 * i + 1] = g;
    palette[4 * i + 2] = r;
  }
  return palette;
}

/** One frame as BI_RLE8: bottom-up rows, each ended by end-of-line, the last by end-of-bitmap. */
function videoFrame(frame: number, width: number, height: number, shapes: MovingShape[], out: Buffer): Buffer {
  const placed = shapes.map((s) => ({
    shape: {
      kind: s.kind,
      rx: s.rx,
      ry: s.ry,
      cx: s.rx + bounce(s.x + s.vx * frame, width - 2 * s.rx),
      cy: s.ry + bounce(s.y + s.vy * frame, height - 2 * s.ry),
    },
    colour: s.colour,
  }));
  const row = new Uint8Array(width);
  let at = 0;
  for (let y = height - 1; y >= 0; y--) {
    // Background: horizontal bands of shades that scroll one band per frame, up and back down the gradient.
    const band = (Math.floor((y * BACKGROUND_BANDS) / height) + frame) % (2 * BACKGROUND_BANDS);
    const shade = band < BACKGROUND_BANDS ? band : 2 * BACKGROUND_BANDS - 1 - band;
    row.fill(Math.round((shade * (BACKGROUND_SHADES - 1)) / (BACKGROUND_BANDS - 1)));
    for (const { shape, colour } of placed) {
      const [x0, x1] = shapeSpan(shape, y, width);
      if (x1 > x0) row.fill(colour, x0, x1);
    }
    at = rle8Row(row, out, at);
    out[at++] = 0;
    out[at++] = y === 0 ? 1 : 0;
  }
  return Buffer.from(out.subarray(0, at));
}

function fourcc(id: string): Buffer {
  return Buffer.from(id, 'latin1');
}

/**
 * A small valid AVI video: `seconds` long at 4 frames per second, width×height, 8-bit palettized frames
 * compressed with BI_RLE8 (Microsoft RLE, which ffmpeg/VLC play), a deterministic animation from `seed`
 * (large solid bands and blocks that move per frame, so RLE keeps it small). Proper RIFF 'AVI ' structure:
 * hdrl LIST (avih, strl LIST with strh 'vids'/'mrle' and strf BITMAPINFOHEADER + 256-entry palette), movi
 * LIST of '00dc' chunks, and an idx1 index.
 */
export function renderVideo(seconds: number, width: number, height: number, seed: string): Buffer {
  const w = Math.max(1, Math.floor(width));
  const h = Math.max(1, Math.floor(height));
  const frameCount = Math.max(1, Math.round((Number.isFinite(seconds) ? seconds : 1) * VIDEO_FPS));
  const rng = new Rng(hashString(seed, 0x617669));
  const palette = videoPalette(rng);
  const shapes: MovingShape[] = [];
  const count = rng.int(3, 6);
  for (let i = 0; i < count; i++) {
    const circle = rng.chance(0.4);
    const rx = Math.max(1, Math.round((0.06 + rng.next() * 0.12) * (circle ? Math.min(w, h) : w)));
    const ry = circle ? rx : Math.max(1, Math.round((0.06 + rng.next() * 0.12) * h));
    const speed = 0.02 + rng.next() * 0.05;
    shapes.push({
      kind: circle ? 'circle' : 'rect',
      rx,
      ry,
      x: rng.next() * w,
      y: rng.next() * h,
      vx: (rng.chance(0.5) ? 1 : -1) * speed * w,
      vy: (rng.chance(0.5) ? 1 : -1) * speed * h * rng.next(),
      colour: rng.int(BACKGROUND_SHADES, 255),
    });
  }

  const scratch = Buffer.alloc(h * (2 * w + 2) + 2);
  const frames: Buffer[] = [];
  for (let f = 0; f < frameCount; f++) frames.push(videoFrame(f, w, h, shapes, scratch));
  const largest = frames.reduce((max, f) => Math.max(max, f.length), 0);

  const avih = Buffer.alloc(56);
  avih.writeUInt32LE(Math.round(1_000_000 / VIDEO_FPS), 0); // dwMicroSecPerFrame
  avih.writeUInt32LE(largest * VIDEO_FPS, 4); // dwMaxBytesPerSec
  avih.writeUInt32LE(0, 8); // dwPaddingGranularity
  avih.writeUInt32LE(AVIF_HASINDEX, 12); // dwFlags
  avih.writeUInt32LE(frameCount, 16); // dwTotalFrames
  avih.writeUInt32LE(0, 20); // dwInitialFrames
  avih.writeUInt32LE(1, 24); // dwStreams
  avih.writeUInt32LE(largest, 28); // dwSuggestedBufferSize
  avih.writeUInt32LE(w, 32);
  avih.writeUInt32LE(h, 36);

  const strh = Buffer.alloc(56);
  strh.write('vids', 0, 'latin1');
  strh.write('mrle', 4, 'latin1');
  strh.writeUInt32LE(1, 20); // dwScale
  strh.writeUInt32LE(VIDEO_FPS, 24); // dwRate
  strh.writeUInt32LE(frameCount, 32); // dwLength
  strh.writeUInt32LE(largest, 36); // dwSuggestedBufferSize
  strh.writeInt32LE(-1, 40); // dwQuality: default
  strh.writeInt16LE(Math.min(w, 0x7fff), 52); // rcFrame right
  strh.writeInt16LE(Math.min(h, 0x7fff), 54); // rcFrame bottom

  const bitmapInfo = Buffer.alloc(40);
  bitmapInfo.writeUInt32LE(40, 0); // biSize
  bitmapInfo.writeInt32LE(w, 4);
  bitmapInfo.writeInt32LE(h, 8); // positive: bottom-up
  bitmapInfo.writeUInt16LE(1, 12); // biPlanes
  bitmapInfo.writeUInt16LE(8, 14); // biBitCount
  bitmapInfo.writeUInt32LE(BI_RLE8, 16); // biCompression
  bitmapInfo.writeUInt32LE(((w + 3) & ~3) * h, 20); // biSizeImage (decoded)
  bitmapInfo.writeUInt32LE(256, 32); // biClrUsed

  const hdrl = riffList('LIST', 'hdrl', [
    riffChunk('avih', avih),
    riffList('LIST', 'strl', [riffChunk('strh', strh), riffChunk('strf', Buffer.concat([bitmapInfo, palette]))]),
  ]);

  // idx1 offsets count from the 'movi' form type, so the first chunk sits at 4.
  const index = Buffer.alloc(16 * frameCount);
  const chunks: Buffer[] = [];
  let offset = 4;
  frames.forEach((data, i) => {
    const chunk = riffChunk('00dc', data);
    fourcc('00dc').copy(index, 16 * i);
    index.writeUInt32LE(AVIIF_KEYFRAME, 16 * i + 4);
    index.writeUInt32LE(offset, 16 * i + 8);
    index.writeUInt32LE(data.length, 16 * i + 12);
    chunks.push(chunk);
    offset += chunk.length;
  });
  return riffList('RIFF', 'AVI ', [hdrl, riffList('LIST', 'movi', chunks), riffChunk('idx1', index)]);
}
