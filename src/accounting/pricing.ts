// Prices (SPEC §10): configured per million tokens in currency units, held as integer pico-units per
// token (1 USD per million tokens = 1 micro-unit per token = 10^6 pico-units per token), and per media
// unit (an image, a character, a millisecond of audio, a second of video), so a request's cost is
// summed exactly in integers and rounded up once, to micro-units.
import type { PricingConfig } from '../config/schema.js';

/** What a media request is billed by: images, characters of speech input, milliseconds of audio transcribed, seconds of video. */
export type MediaUnit = 'image' | 'character' | 'audio_ms' | 'video_second';

export interface ModelPrices {
  /** Pico-units per token. */
  input: number;
  cachedInput: number;
  output: number;
  /** Pico-units per media unit (per_audio_second is held per millisecond). */
  media: Record<MediaUnit, number>;
}

const PICO_PER_MICRO = 1_000_000;
const PICO_PER_UNIT = 1_000_000_000_000;

function pico(pricePerMillion: number): number {
  return Math.round(pricePerMillion * PICO_PER_MICRO);
}

/** Null for a model without prices (it costs nothing). */
export function modelPrices(pricing: PricingConfig | undefined): ModelPrices | null {
  if (pricing === undefined) return null;
  const input = pico(pricing.input ?? 0);
  return {
    input,
    cachedInput: pricing.cached_input === undefined ? input : pico(pricing.cached_input),
    output: pico(pricing.output ?? 0),
    media: {
      image: Math.round((pricing.per_image ?? 0) * PICO_PER_UNIT),
      character: Math.round((pricing.per_character ?? 0) * PICO_PER_UNIT),
      audio_ms: Math.round(((pricing.per_audio_second ?? 0) * PICO_PER_UNIT) / 1000),
      video_second: Math.round((pricing.per_video_second ?? 0) * PICO_PER_UNIT),
    },
  };
}

/** Σ tokens × pico-price (an exact integer), rounded up to micro-units once. */
function roundUp(picoTotal: number): number {
  // Both the quotient and q × 10^6 are exact below 2^53; the float division may land one off, so step.
  let q = Math.floor(picoTotal / PICO_PER_MICRO);
  while (q * PICO_PER_MICRO > picoTotal) q--;
  while (q * PICO_PER_MICRO < picoTotal) q++;
  return q;
}

function roundUpBig(picoTotal: bigint): number {
  return Number((picoTotal + BigInt(PICO_PER_MICRO - 1)) / BigInt(PICO_PER_MICRO));
}

export interface BilledTokens {
  /** All prompt tokens, cached ones included. */
  promptTokens: number;
  /** The part of the prompt read from the backend's cache (cheaper). */
  cachedTokens: number;
  completionTokens: number;
  /** A media request's units (images, characters, audio milliseconds, video seconds). */
  media?: MediaUsage;
}

export interface MediaUsage {
  unit: MediaUnit;
  count: number;
}

export function costMicros(prices: ModelPrices | null, tokens: BilledTokens): number {
  if (prices === null) return 0;
  const cached = Math.min(Math.max(0, tokens.cachedTokens), tokens.promptTokens);
  const media = tokens.media;
  const mediaPrice = media === undefined ? 0 : prices.media[media.unit];
  const mediaCount = media === undefined ? 0 : media.count;
  const total = (tokens.promptTokens - cached) * prices.input + cached * prices.cachedInput + tokens.completionTokens * prices.output + mediaCount * mediaPrice;
  if (Number.isSafeInteger(total)) return roundUp(total);
  // Past 2^53 pico-units (about $9,000 in one request) only BigInt is exact.
  return roundUpBig(
    BigInt(tokens.promptTokens - cached) * BigInt(prices.input) +
      BigInt(cached) * BigInt(prices.cachedInput) +
      BigInt(tokens.completionTokens) * BigInt(prices.output) +
      BigInt(mediaCount) * BigInt(mediaPrice),
  );
}

/** The most a request can cost: its whole prompt at the full input price and every output token it may produce. */
export function maxCostMicros(prices: ModelPrices | null, promptTokens: number, maxOutputTokens: number, media?: MediaUsage): number {
  return costMicros(prices, { promptTokens, cachedTokens: 0, completionTokens: maxOutputTokens, media });
}
