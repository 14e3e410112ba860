// Prices (SPEC §10): configured per million tokens in currency units, held as integer pico-units per
// token (1 USD per million tokens = 1 micro-unit per token = 10^6 pico-units per token), so a request's
// cost is summed exactly in integers and rounded up once, to micro-units.
import type { PricingConfig } from '../config/schema.js';

export interface ModelPrices {
  /** Pico-units per token. */
  input: number;
  cachedInput: number;
  output: number;
}

const PICO_PER_MICRO = 1_000_000;

function pico(pricePerMillion: number): number {
  return Math.round(pricePerMillion * PICO_PER_MICRO);
}

/** Null for a model without prices (it costs nothing). */
export function modelPrices(pricing: PricingConfig | undefined): ModelPrices | null {
  if (pricing === undefined) return null;
  const input = pico(pricing.input);
  return { input, cachedInput: pricing.cached_input === undefined ? input : pico(pricing.cached_input), output: pico(pricing.output ?? 0) };
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
}

export function costMicros(prices: ModelPrices | null, tokens: BilledTokens): number {
  if (prices === null) return 0;
  const cached = Math.min(Math.max(0, tokens.cachedTokens), tokens.promptTokens);
  const total = (tokens.promptTokens - cached) * prices.input + cached * prices.cachedInput + tokens.completionTokens * prices.output;
  if (Number.isSafeInteger(total)) return roundUp(total);
  // Past 2^53 pico-units (about $9,000 in one request) only BigInt is exact.
  return roundUpBig(
    BigInt(tokens.promptTokens - cached) * BigInt(prices.input) + BigInt(cached) * BigInt(prices.cachedInput) + BigInt(tokens.completionTokens) * BigInt(prices.output),
  );
}

/** The most a request can cost: its whole prompt at the full input price and every output token it may produce. */
export function maxCostMicros(prices: ModelPrices | null, promptTokens: number, maxOutputTokens: number): number {
  return costMicros(prices, { promptTokens, cachedTokens: 0, completionTokens: maxOutputTokens });
}
