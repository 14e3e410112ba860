// Alert events (SPEC §12): what the gateway tells an operator's webhook about — a budget crossing its soft
// threshold or running out, a prepaid balance running low, a deployment's breaker opening or closing.
// Each event's `id` is its idempotency key: the same crossing always has the same id, so a receiver (and
// the gateway's own de-duplication across instances) can tell a retry or a second sighting from news.

export const ALERT_EVENT_TYPES = ['budget.threshold_reached', 'budget.exhausted', 'balance.low', 'breaker.opened', 'breaker.closed'] as const;

export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

export interface AlertEvent {
  /** The idempotency key: one per crossing (e.g. `budget.exhausted:key_…:day:1764979200000:1000000`). */
  id: string;
  type: AlertEventType;
  /** JSON-ready facts: ids, money as decimal strings in currency units, times as ISO 8601. */
  data: Record<string, unknown>;
}

/** Where events go: `emit` never blocks and never throws (delivery is off the request's path). */
export interface AlertSink {
  emit(event: AlertEvent): void;
  /** Whether any webhook wants this type (detection work can be skipped when none does). */
  wants(type: AlertEventType): boolean;
}

/** No webhooks configured. */
export const NO_ALERTS: AlertSink = { emit: () => undefined, wants: () => false };
