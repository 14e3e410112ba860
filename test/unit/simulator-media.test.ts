// The simulator's media codecs: the PNGs, WAV/PCM speech, transcripts and AVI videos it makes are checked
// byte by byte against their formats (chunk sizes, CRCs, headers, indexes, RLE streams), not just for size.
import { randomBytes } from 'node:crypto';
import { crc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  SPEECH_FORMATS,
  SPEECH_SAMPLE_RATE,
  VIDEO_CONTENT_TYPE,
  renderPng,
  renderTranscript,
  renderVideo,
  synthesizeSpeech,
  transcribeAudio,
} from '../../src/providers/simulator/media.js';
import type { Transcript } from '../../src/providers/simulator/media.js';

interface PngChunk {
  type: string;
  data: Buffer;
}

/** Every chunk of a PNG, each CRC checked. */
function pngChunks(png: Buffer): PngChunk[] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: PngChunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length), `CRC of ${type}`).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  return chunks;
}

/** The decoded scanlines of an 8-bit RGB PNG, after checking its structure. */
function decodePng(png: Buffer, width: number, height: number): Buffer {
  const chunks = pngChunks(png);
  expect(chunks[0].type).toBe('IHDR');
  const ihdr = chunks[0].data;
  expect(ihdr.length).toBe(13);
  expect(ihdr.readUInt32BE(0)).toBe(width);
  expect(ihdr.readUInt32BE(4)).toBe(height);
  expect([...ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
  expect(chunks.at(-1)).toEqual({ type: 'IEND', data: Buffer.alloc(0) });
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const raw = inflateSync(idat);
  const stride = 1 + 3 * width;
  expect(raw.length).toBe(height * stride);
  for (let y = 0; y < height; y++) expect(raw[y * stride]).toBe(0);
  return raw;
}

interface RiffNode {
  id: string;
  /** For RIFF and LIST: the form type and the children. */
  type?: string;
  children?: RiffNode[];
  /** Where the body starts in the file. */
  offset: number;
  data: Buffer;
}

/** Parses RIFF chunks in [start, end) strictly: sizes must tile the range exactly (with pad bytes). */
function riffParse(file: Buffer, start: number, end: number): RiffNode[] {
  const nodes: RiffNode[] = [];
  let at = start;
  while (at < end) {
    expect(at + 8).toBeLessThanOrEqual(end);
    const id = file.toString('latin1', at, at + 4);
    const size = file.readUInt32LE(at + 4);
    const body = at + 8;
    expect(body + size, `chunk ${id} fits its parent`).toBeLessThanOrEqual(end);
    const node: RiffNode = { id, offset: body, data: file.subarray(body, body + size) };
    if (id === 'RIFF' || id === 'LIST') {
      node.type = file.toString('latin1', body, body + 4);
      node.children = riffParse(file, body + 4, body + size);
    }
    nodes.push(node);
    at = body + size + (size % 2);
  }
  expect(at).toBe(end);
  return nodes;
}

function riffRoot(file: Buffer, type: string): RiffNode {
  expect(file.toString('latin1', 0, 4)).toBe('RIFF');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  const [root] = riffParse(file, 0, file.length);
  expect(root.type).toBe(type);
  return root;
}

function child(node: RiffNode, id: string, type?: string): RiffNode {
  const found = node.children?.find((c) => c.id === id && (type === undefined || c.type === type));
  if (!found) throw new Error(`no ${id} ${type ?? ''} in ${node.id} ${node.type ?? ''}`);
  return found;
}

/** A PCM WAV as another tool would write it: optional extra chunks before 'fmt ' and after 'data'. */
function handMadeWav(opts: { rate: number; channels: number; bits: number; seconds: number; before?: Buffer; after?: Buffer }): Buffer {
  const blockAlign = (opts.channels * opts.bits) / 8;
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(opts.channels, 10);
  fmt.writeUInt32LE(opts.rate, 12);
  fmt.writeUInt32LE(opts.rate * blockAlign, 16);
  fmt.writeUInt16LE(blockAlign, 20);
  fmt.writeUInt16LE(opts.bits, 22);
  const samples = Buffer.alloc(Math.round(opts.seconds * opts.rate) * blockAlign);
  for (let i = 0; i < samples.length; i++) samples[i] = (i * 37) & 0xff;
  const dataHead = Buffer.alloc(8);
  dataHead.write('data', 0, 'latin1');
  dataHead.writeUInt32LE(samples.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE'), opts.before ?? Buffer.alloc(0), fmt, dataHead, samples, opts.after ?? Buffer.alloc(0)]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

function chunkBytes(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
}

/** Decodes one BI_RLE8 frame (bottom-up), checking that every row is filled exactly and the bitmap ends properly. */
function decodeRle8(data: Buffer, width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height);
  let x = 0;
  let row = height - 1;
  let i = 0;
  while (i + 1 < data.length) {
    const count = data[i++];
    const value = data[i++];
    if (count > 0) {
      expect(x + count).toBeLessThanOrEqual(width);
      pixels.fill(value, row * width + x, row * width + x + count);
      x += count;
    } else if (value === 0) {
      expect(x).toBe(width);
      expect(row).toBeGreaterThan(0);
      row--;
      x = 0;
    } else if (value === 1) {
      expect(x).toBe(width);
      expect(row).toBe(0);
      expect(i).toBe(data.length);
      return pixels;
    } else {
      throw new Error(`unexpected RLE escape ${value}`);
    }
  }
  throw new Error('no end-of-bitmap');
}

describe('renderPng', () => {
  it('writes a valid 8-bit RGB PNG with correct chunks, CRCs and scanlines', () => {
    for (const [w, h] of [[1, 1], [7, 3], [1, 300], [256, 256], [1792, 1024]]) {
      const png = renderPng(w, h, `size ${w}x${h}`);
      decodePng(png, w, h);
      expect(pngChunks(png).map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    }
  });

  it('draws a picture, not a flat fill', () => {
    const raw = decodePng(renderPng(256, 256, 'a lighthouse at dusk'), 256, 256);
    const colours = new Set<number>();
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const p = y * 769 + 1 + 3 * x;
        colours.add((raw[p] << 16) | (raw[p + 1] << 8) | raw[p + 2]);
      }
    }
    expect(colours.size).toBeGreaterThan(20);
  });

  it('is deterministic in the seed', () => {
    expect(renderPng(64, 48, 'a cat').equals(renderPng(64, 48, 'a cat'))).toBe(true);
    expect(renderPng(64, 48, 'a cat').equals(renderPng(64, 48, 'a dog'))).toBe(false);
  });

  it('renders 1024×1024 compactly', () => {
    const png = renderPng(1024, 1024, 'big');
    expect(png.length).toBeLessThan(200_000);
    decodePng(png, 1024, 1024);
  });
});

describe('synthesizeSpeech', () => {
  const TEXT = 'The quick brown fox jumps over the lazy dog.'; // 44 characters

  function samples(text: string, speed: number, voice = 'alloy'): number {
    return synthesizeSpeech(text, voice, speed, 'pcm').length / 2;
  }

  it('offers wav and pcm at 24 kHz', () => {
    expect(SPEECH_FORMATS).toEqual(['wav', 'pcm']);
    expect(SPEECH_SAMPLE_RATE).toBe(24_000);
  });

  it('writes a canonical 16-bit mono PCM WAV header', () => {
    const wav = synthesizeSpeech(TEXT, 'alloy', 1, 'wav');
    expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.toString('latin1', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt32LE(16)).toBe(16);
    expect(wav.readUInt16LE(20)).toBe(1); // PCM
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(24_000);
    expect(wav.readUInt32LE(28)).toBe(48_000);
    expect(wav.readUInt16LE(32)).toBe(2);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.toString('latin1', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(samples(TEXT, 1) * 2);
    riffRoot(wav, 'WAVE');
  });

  it('lasts about 60 ms per character divided by speed, at least 0.3 s', () => {
    const perChar = 1440; // 60 ms at 24 kHz
    expect(samples(TEXT, 1)).toBe(44 * perChar);
    expect(samples(TEXT, 2)).toBe((44 * perChar) / 2);
    expect(samples(TEXT, 0.25)).toBe(44 * perChar * 4);
    expect(samples(TEXT, 4)).toBe((44 * perChar) / 4);
    expect(samples('', 1)).toBe(7200);
    expect(samples('hi', 1)).toBe(7200);
    expect(samples('🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉', 1)).toBe(10 * perChar); // characters, not UTF-16 units
  });

  it('never throws on odd speeds', () => {
    for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 100, 0.01]) {
      const pcm = synthesizeSpeech(TEXT, 'echo', speed, 'pcm');
      expect(pcm.length / 2).toBeGreaterThanOrEqual(7200);
      expect(pcm.length / 2).toBeLessThanOrEqual(44 * 1440 * 4);
    }
  });

  it('pcm is exactly the WAV data chunk', () => {
    const wav = synthesizeSpeech(TEXT, 'nova', 1.5, 'wav');
    const pcm = synthesizeSpeech(TEXT, 'nova', 1.5, 'pcm');
    const data = child(riffRoot(wav, 'WAVE'), 'data');
    expect(data.data.equals(pcm)).toBe(true);
    expect(wav.subarray(44, 44 + pcm.length).equals(pcm)).toBe(true);
  });

  it('produces audible tones at about 0.3 full scale, silence for whitespace', () => {
    const pcm = synthesizeSpeech(TEXT, 'alloy', 1, 'pcm');
    let peak = 0;
    let sumSquares = 0;
    for (let i = 0; i < pcm.length; i += 2) {
      const s = pcm.readInt16LE(i);
      peak = Math.max(peak, Math.abs(s));
      sumSquares += s * s;
    }
    expect(peak).toBeGreaterThan(0.2 * 32767);
    expect(peak).toBeLessThanOrEqual(Math.ceil(0.3 * 32767));
    expect(Math.sqrt(sumSquares / (pcm.length / 2))).toBeGreaterThan(0.05 * 32767);
    expect(synthesizeSpeech('   \n  ', 'alloy', 1, 'pcm').every((b) => b === 0)).toBe(true);
  });

  it('starts and ends each tone quietly (no clicks)', () => {
    const pcm = synthesizeSpeech('ab', 'alloy', 1, 'pcm');
    const perChar = 1440;
    for (const boundary of [0, perChar - 1, perChar, 2 * perChar - 1]) expect(Math.abs(pcm.readInt16LE(2 * boundary))).toBeLessThan(300);
  });

  it('is deterministic; the voice and the text change the sound', () => {
    const a = synthesizeSpeech(TEXT, 'alloy', 1, 'wav');
    expect(a.equals(synthesizeSpeech(TEXT, 'alloy', 1, 'wav'))).toBe(true);
    expect(a.equals(synthesizeSpeech(TEXT, 'shimmer', 1, 'wav'))).toBe(false);
    const other = synthesizeSpeech(TEXT.replace('fox', 'cat'), 'alloy', 1, 'pcm');
    expect(other.equals(synthesizeSpeech(TEXT, 'alloy', 1, 'pcm'))).toBe(false);
  });

  it('carries the text in a LIST/INFO ICMT chunk', () => {
    const text = 'Grüße, 世界! 🎉';
    const info = child(riffRoot(synthesizeSpeech(text, 'alloy', 1, 'wav'), 'WAVE'), 'LIST', 'INFO');
    const icmt = child(info, 'ICMT').data;
    expect(icmt.equals(Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(1)]))).toBe(true);
  });
});

describe('transcribeAudio', () => {
  it('gives back exactly the text a simulator WAV carries, with its duration', () => {
    for (const text of ['Hello there.', 'Grüße, 世界! 🎉 and  two  spaces\nand a newline', '', 'odd', 'even', 'nul\0inside\0']) {
      const wav = synthesizeSpeech(text, 'fable', 1.25, 'wav');
      const t = transcribeAudio(wav);
      expect(t.text).toBe(text);
      expect(t.duration).toBeCloseTo(child(riffRoot(wav, 'WAVE'), 'data').data.length / 48_000, 9);
      expect(t.language).toBe('en');
    }
    expect(transcribeAudio(synthesizeSpeech('x'.repeat(100), 'alloy', 1, 'wav')).duration).toBeCloseTo(6, 9);
    expect(transcribeAudio(synthesizeSpeech('x'.repeat(100), 'alloy', 2, 'wav')).duration).toBeCloseTo(3, 9);
  });

  it('uses the language it is given', () => {
    expect(transcribeAudio(synthesizeSpeech('Hallo', 'alloy', 1, 'wav'), 'de').language).toBe('de');
  });

  it('reads any PCM WAV by walking its chunks, and hashes its bytes into words', () => {
    const junk = chunkBytes('JUNK', Buffer.alloc(27, 1));
    const wav = handMadeWav({ rate: 44_100, channels: 2, bits: 16, seconds: 2, before: junk, after: chunkBytes('id3 ', Buffer.alloc(9)) });
    const t = transcribeAudio(wav);
    expect(t.duration).toBeCloseTo(2, 9);
    expect(t.text.split(' ')).toHaveLength(5);
    expect(t.text).toMatch(/^[A-Z][a-z,]*( [a-z,]+)*\.$/);
    expect(transcribeAudio(wav)).toEqual(t);
    const other = handMadeWav({ rate: 8_000, channels: 1, bits: 8, seconds: 2 });
    expect(transcribeAudio(other).duration).toBeCloseTo(2, 9);
    expect(transcribeAudio(other).text).not.toBe(t.text);
  });

  it('does not read another tool\'s comment as the transcript', () => {
    const info = Buffer.concat([Buffer.from('INFO'), chunkBytes('ICMT', Buffer.from('Recorded on my phone\0'))]);
    const wav = handMadeWav({ rate: 16_000, channels: 1, bits: 16, seconds: 4, after: chunkBytes('LIST', info) });
    const t = transcribeAudio(wav);
    expect(t.duration).toBeCloseTo(4, 9);
    expect(t.text).not.toContain('phone');
    expect(t.text.split(' ')).toHaveLength(10);
  });

  it('estimates the duration of other files from their size as 128 kbit/s', () => {
    const mp3ish = randomBytes(80_000);
    const t = transcribeAudio(mp3ish);
    expect(t.duration).toBe(5);
    expect(t.text.split(' ').length).toBeGreaterThanOrEqual(12);
    expect(transcribeAudio(mp3ish).text).toBe(t.text);
    expect(transcribeAudio(Buffer.alloc(100)).duration).toBe(0.1);
    expect(transcribeAudio(Buffer.alloc(0)).duration).toBe(0.1);
    expect(transcribeAudio(Buffer.alloc(0)).text.length).toBeGreaterThan(0);
    expect(transcribeAudio(Buffer.from('RIFF')).duration).toBe(0.1);
  });

  it('splits the text into segments of at most 12 words spread over the duration', () => {
    const t = transcribeAudio(randomBytes(16_000 * 30)); // 30 s → 75 words
    const words = t.text.split(' ');
    expect(words).toHaveLength(75);
    expect(t.segments.length).toBe(Math.ceil(75 / 12));
    expect(t.segments.map((s) => s.text).join(' ')).toBe(t.text);
    t.segments.forEach((s, i) => {
      expect(s.id).toBe(i);
      expect(s.text.split(' ').length).toBeLessThanOrEqual(12);
      expect(s.end).toBeGreaterThan(s.start);
      expect(s.start).toBe(i === 0 ? 0 : t.segments[i - 1].end);
      expect(Math.round(s.start * 1000)).toBeCloseTo(s.start * 1000, 6);
    });
    expect(t.segments.at(-1)!.end).toBe(30);
    expect(transcribeAudio(synthesizeSpeech('', 'alloy', 1, 'wav')).segments).toEqual([]);
  });
});

describe('renderTranscript', () => {
  const T: Transcript = {
    text: 'Hello there. General Kenobi --> you are a bold one.',
    duration: 3723.5,
    language: 'en',
    segments: [
      { id: 0, start: 0, end: 1.25, text: 'Hello there.' },
      { id: 1, start: 1.25, end: 3723.5, text: 'General Kenobi --> you are a <bold> one & more.' },
    ],
  };

  it('json is just the text', () => {
    expect(renderTranscript(T, 'json')).toEqual({ contentType: 'application/json', body: JSON.stringify({ text: T.text }) });
  });

  it('text ends in a newline', () => {
    expect(renderTranscript(T, 'text')).toEqual({ contentType: 'text/plain; charset=utf-8', body: `${T.text}\n` });
  });

  it('verbose_json has OpenAI\'s fields', () => {
    const r = renderTranscript(T, 'verbose_json');
    expect(r.contentType).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      task: 'transcribe',
      language: 'en',
      duration: 3723.5,
      text: T.text,
      segments: T.segments.map((s) => ({
        ...s,
        seek: 0,
        tokens: [],
        temperature: 0,
        avg_logprob: 0,
        compression_ratio: 1,
        no_speech_prob: 0,
      })),
    });
  });

  it('srt numbers its cues and times them with comma milliseconds', () => {
    const r = renderTranscript(T, 'srt');
    expect(r.contentType).toBe('text/plain; charset=utf-8');
    expect(r.body).toBe(
      '1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n' + '2\n00:00:01,250 --> 01:02:03,500\nGeneral Kenobi -> you are a <bold> one & more.\n\n',
    );
  });

  it('vtt starts with WEBVTT and times its cues with dot milliseconds', () => {
    const r = renderTranscript(T, 'vtt');
    expect(r.contentType).toBe('text/vtt; charset=utf-8');
    expect(r.body).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n' +
        '00:00:01.250 --> 01:02:03.500\nGeneral Kenobi --&gt; you are a &lt;bold&gt; one &amp; more.\n\n',
    );
  });

  it('renders a real transcript in every format', () => {
    const t = transcribeAudio(synthesizeSpeech('one two three four five six seven eight nine ten eleven twelve thirteen', 'alloy', 1, 'wav'));
    expect(renderTranscript(t, 'srt').body.match(/^\d+$/gm)).toEqual(['1', '2']);
    expect(renderTranscript(t, 'vtt').body.match(/^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$/gm)).toHaveLength(2);
    expect(JSON.parse(renderTranscript(t, 'verbose_json').body).segments[1].text).toBe('thirteen');
  });
});

describe('renderVideo', () => {
  interface Avi {
    frames: number;
    width: number;
    height: number;
    chunks: Buffer[];
  }

  /** Checks an AVI's whole structure and returns its frames. */
  function readAvi(avi: Buffer): Avi {
    const root = riffRoot(avi, 'AVI ');
    expect(root.children!.map((c) => `${c.id}${c.type ?? ''}`)).toEqual(['LISThdrl', 'LISTmovi', 'idx1']);
    const hdrl = child(root, 'LIST', 'hdrl');
    const avih = child(hdrl, 'avih').data;
    expect(avih.length).toBe(56);
    expect(avih.readUInt32LE(0)).toBe(250_000);
    expect(avih.readUInt32LE(12) & 0x10).toBe(0x10); // AVIF_HASINDEX
    const frames = avih.readUInt32LE(16);
    expect(avih.readUInt32LE(24)).toBe(1);
    const width = avih.readUInt32LE(32);
    const height = avih.readUInt32LE(36);

    const strl = child(hdrl, 'LIST', 'strl');
    const strh = child(strl, 'strh').data;
    expect(strh.length).toBe(56);
    expect(strh.toString('latin1', 0, 8)).toBe('vidsmrle');
    expect(strh.readUInt32LE(20)).toBe(1);
    expect(strh.readUInt32LE(24)).toBe(4);
    expect(strh.readUInt32LE(32)).toBe(frames);
    const strf = child(strl, 'strf').data;
    expect(strf.length).toBe(40 + 1024);
    expect(strf.readUInt32LE(0)).toBe(40);
    expect(strf.readInt32LE(4)).toBe(width);
    expect(strf.readInt32LE(8)).toBe(height);
    expect(strf.readUInt16LE(12)).toBe(1);
    expect(strf.readUInt16LE(14)).toBe(8);
    expect(strf.readUInt32LE(16)).toBe(1); // BI_RLE8
    expect(strf.readUInt32LE(32)).toBe(256);

    const movi = child(root, 'LIST', 'movi');
    expect(movi.children!.every((c) => c.id === '00dc')).toBe(true);
    expect(movi.children).toHaveLength(frames);
    const idx1 = child(root, 'idx1').data;
    expect(idx1.length).toBe(16 * frames);
    movi.children!.forEach((c, i) => {
      expect(idx1.toString('latin1', 16 * i, 16 * i + 4)).toBe('00dc');
      expect(idx1.readUInt32LE(16 * i + 4)).toBe(0x10); // AVIIF_KEYFRAME
      expect(movi.offset + idx1.readUInt32LE(16 * i + 8)).toBe(c.offset - 8); // from the 'movi' fourcc to the chunk header
      expect(idx1.readUInt32LE(16 * i + 12)).toBe(c.data.length);
    });
    const chunks = movi.children!.map((c) => c.data);
    expect(avih.readUInt32LE(28)).toBeGreaterThanOrEqual(Math.max(...chunks.map((c) => c.length)));
    return { frames, width, height, chunks };
  }

  it('is served as video/x-msvideo', () => {
    expect(VIDEO_CONTENT_TYPE).toBe('video/x-msvideo');
  });

  it('writes a consistent RIFF AVI with an index and 4 frames a second', () => {
    for (const [seconds, w, h] of [[1, 33, 17], [2, 1, 1], [3, 320, 240], [5, 1280, 720]]) {
      const avi = readAvi(renderVideo(seconds, w, h, `video ${w}`));
      expect(avi).toMatchObject({ frames: seconds * 4, width: w, height: h });
    }
  });

  it('decodes every frame as exactly width×height RLE8 pixels, and animates', () => {
    const avi = readAvi(renderVideo(2, 200, 120, 'bouncing blocks'));
    const frames = avi.chunks.map((c) => decodeRle8(c, 200, 120));
    for (let i = 1; i < frames.length; i++) expect(Buffer.from(frames[i]).equals(Buffer.from(frames[i - 1]))).toBe(false);
    expect(new Set(frames[0]).size).toBeGreaterThan(3);
  });

  it('keeps a 5 s 1280×720 video well under 1 MB', () => {
    const avi = renderVideo(5, 1280, 720, 'size check');
    expect(avi.length).toBeLessThan(1_000_000);
    const { chunks } = readAvi(avi);
    decodeRle8(chunks[7], 1280, 720);
  });

  it('is deterministic in the seed', () => {
    expect(renderVideo(1, 64, 48, 'a').equals(renderVideo(1, 64, 48, 'a'))).toBe(true);
    expect(renderVideo(1, 64, 48, 'a').equals(renderVideo(1, 64, 48, 'b'))).toBe(false);
  });
});
