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

/** Σ tokens × pico-price, rounded up to micro-units once. */
function roundUp(picoTotal: bigint): number {
  const micros = (picoTotal + BigInt(PICO_PER_MICRO - 1)) / BigInt(PICO_PER_MICRO);
  return Number(micros);
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
  const total =
    BigInt(tokens.promptTokens - cached) * BigInt(prices.input) +
    BigInt(cached) * BigInt(prices.cachedInput) +
    BigInt(tokens.completionTokens) * BigInt(prices.output);
  return roundUp(total);
}

/** The most a request can cost: its whole prompt at the full input price and every output token it may produce. */
export function maxCostMicros(prices: ModelPrices | null, promptTokens: number, maxOutputTokens: number): number {
  return costMicros(prices, { promptTokens, cachedTokens: 0, completionTokens: maxOutputTokens });
}
