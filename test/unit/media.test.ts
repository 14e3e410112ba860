// Media billing on its own: a WAV's length from its header (what a transcription is reserved and billed
// at), and media prices held in pico-units per unit, summed exactly like token prices.
import { describe, expect, it } from 'vitest';
import { wavDurationFromHead } from '../../src/api/wav.js';
import { costMicros, maxCostMicros, modelPrices } from '../../src/accounting/pricing.js';
import { synthesizeSpeech } from '../../src/providers/simulator/media.js';

function wav(dataBytes: number, byteRate: number, declared = dataBytes, extraChunk?: Buffer): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(1, 10);
  fmt.writeUInt32LE(byteRate / 2, 12);
  fmt.writeUInt32LE(byteRate, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  const data = Buffer.alloc(8 + dataBytes);
  data.write('data', 0, 'latin1');
  data.writeUInt32LE(declared, 4);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), fmt, ...(extraChunk ? [extraChunk] : []), data]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('wavDurationFromHead', () => {
  it('reads data bytes / byte rate, rounded up to the millisecond', () => {
    const file = wav(48_000 * 2 + 10, 48_000);
    expect(wavDurationFromHead(file, file.length)).toBe(2001);
  });

  it('walks past other chunks before the data', () => {
    const list = Buffer.alloc(8 + 6);
    list.write('LIST', 0, 'latin1');
    list.writeUInt32LE(6, 4);
    const file = wav(32_000, 32_000, 32_000, list);
    expect(wavDurationFromHead(file, file.length)).toBe(1000);
  });

  it('takes the rest of the file for a streamed WAV whose data size is unset', () => {
    const file = wav(16_000, 16_000, 0xffffffff);
    expect(wavDurationFromHead(file, file.length)).toBe(1000);
  });

  it("agrees with the simulator's speech, and is undefined for what is not a WAV", () => {
    const speech = synthesizeSpeech('hello world', 'alloy', 1, 'wav');
    const dataBytes = speech.readUInt32LE(40);
    expect(wavDurationFromHead(speech, speech.length)).toBe(Math.ceil((dataBytes / 48_000) * 1000));
    expect(wavDurationFromHead(Buffer.from('ID3\u0004 not a wav at all'), 100)).toBeUndefined();
    expect(wavDurationFromHead(Buffer.alloc(4), 4)).toBeUndefined();
  });
});

describe('media prices', () => {
  const prices = modelPrices({ per_image: 0.04, per_character: 0.000015, per_audio_second: 0.0001, per_video_second: 0.05 })!;

  it('bills each unit exactly, rounded up once to micro-units', () => {
    const none = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
    expect(costMicros(prices, { ...none, media: { unit: 'image', count: 3 } })).toBe(120_000);
    expect(costMicros(prices, { ...none, media: { unit: 'character', count: 19 } })).toBe(285);
    // $0.0001 a second is 0.1 micro-units a millisecond: 1,234 ms cost 123.4, rounded up to 124.
    expect(costMicros(prices, { ...none, media: { unit: 'audio_ms', count: 1234 } })).toBe(124);
    expect(costMicros(prices, { ...none, media: { unit: 'video_second', count: 4 } })).toBe(200_000);
    expect(maxCostMicros(prices, 0, 0, { unit: 'image', count: 10 })).toBe(400_000);
  });

  it('a text model has no media prices, and a media model no token prices', () => {
    const text = modelPrices({ input: 1, output: 2 })!;
    expect(costMicros(text, { promptTokens: 10, cachedTokens: 0, completionTokens: 5, media: { unit: 'image', count: 1 } })).toBe(20);
    expect(costMicros(prices, { promptTokens: 1000, cachedTokens: 0, completionTokens: 1000 })).toBe(0);
  });
});
