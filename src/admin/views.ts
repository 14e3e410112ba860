// The admin API's JSON (also the CLI's `--json` for the commands built on the admin operations):
// snake_case, an `object` tag like OpenAI's, money as integer `*_micros` plus a decimal string for people,
// times as unix seconds (`*_at`), and `created_at_ms` on ledger entries and usage records, which are
// paged by time.
import type { AccountRecord, BillingMode } from '../store/accounts.js';
import { apiKeyStatus, type ApiKeyRecord } from '../store/api-keys.js';
import type { LedgerEntry } from '../store/ledger.js';
import type { UsageRecord, UsageTotals } from '../store/usage.js';
import type { UsageReport } from './operations.js';
import type { LimitValuesConfig } from '../config/schema.js';
import { formatMicros } from './money.js';
import { unixSeconds, unixSecondsExact } from './time.js';
import type { Catalog, CatalogDeployment } from '../routing/catalog.js';

/** `effectiveLimits`: what applies — the tier's figures overridden by the account's own (operations.effectiveAccountLimits). */
export function accountView(a: AccountRecord, effectiveLimits: LimitValuesConfig, billingMode: BillingMode) {
  return {
    object: 'account' as const,
    id: a.id,
    name: a.name,
    tier: a.tier,
    status: a.status,
    balance_micros: a.balanceMicros,
    balance: formatMicros(a.balanceMicros),
    /** The account's own overrides of its tier's limits; null = the tier's. */
    limits: a.limits,
    effective_limits: effectiveLimits,
    /** The account's own billing mode; null = its tier's (or the config's). */
    billing: a.billing,
    billing_mode: billingMode,
    created_at: unixSeconds(a.createdAt),
  };
}

export function keyView(k: ApiKeyRecord, now = Date.now()) {
  return {
    object: 'api_key' as const,
    id: k.id,
    account_id: k.accountId,
    name: k.name,
    hint: k.hint,
    status: apiKeyStatus(k, now),
    created_at: unixSeconds(k.createdAt),
    expires_at: unixSeconds(k.expiresAt),
    disabled_at: unixSeconds(k.disabledAt),
    last_used_at: unixSeconds(k.lastUsedAt),
    allowed_models: k.allowedModels,
    limits: k.limits,
  };
}

export function ledgerEntryView(e: LedgerEntry) {
  return {
    object: 'ledger_entry' as const,
    id: e.id,
    account_id: e.accountId,
    kind: e.kind,
    amount_micros: e.amountMicros,
    amount: formatMicros(e.amountMicros),
    balance_after_micros: e.balanceAfterMicros,
    balance_after: formatMicros(e.balanceAfterMicros),
    reason: e.reason,
    actor: e.actor,
    created_at: unixSeconds(e.createdAt),
    created_at_ms: e.createdAt,
  };
}

export function usageRecordView(r: UsageRecord) {
  return {
    object: 'usage_record' as const,
    id: r.id,
    created_at: unixSeconds(r.createdAt),
    created_at_ms: r.createdAt,
    request_id: r.requestId,
    account_id: r.accountId,
    key_id: r.keyId,
    endpoint: r.endpoint,
    model: r.model,
    deployment: r.deployment,
    stream: r.stream,
    prompt_tokens: r.promptTokens,
    cached_tokens: r.cachedTokens,
    completion_tokens: r.completionTokens,
    reasoning_tokens: r.reasoningTokens,
    // Set when the backend reported more than the request could use and the figures above were billed.
    reported_prompt_tokens: r.reportedPromptTokens ?? null,
    reported_completion_tokens: r.reportedCompletionTokens ?? null,
    cost_micros: r.costMicros,
    cost: formatMicros(r.costMicros),
    status: r.status,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    settle: r.settle,
    error_code: r.errorCode,
    media_unit: r.mediaUnit ?? null,
    media_units: r.mediaUnits ?? 0,
  };
}

export function usageTotalsView(t: UsageTotals) {
  return {
    requests: t.requests,
    prompt_tokens: t.promptTokens,
    cached_tokens: t.cachedTokens,
    completion_tokens: t.completionTokens,
    reasoning_tokens: t.reasoningTokens,
    total_tokens: t.promptTokens + t.completionTokens,
    cost_micros: t.costMicros,
    cost: formatMicros(t.costMicros),
  };
}

export function usageReportView(report: UsageReport) {
  return {
    object: 'usage' as const,
    account_id: report.filter.accountId ?? null,
    key_id: report.filter.keyId ?? null,
    model: report.filter.model ?? null,
    start: report.filter.from === undefined ? null : unixSecondsExact(report.filter.from),
    end: report.filter.to === undefined ? null : unixSecondsExact(report.filter.to),
    bucket: report.bucket,
    totals: usageTotalsView(report.totals),
    buckets: report.buckets.map((b) => ({ start: unixSeconds(b.start), ...usageTotalsView(b) })),
  };
}

/** A list as OpenAI shapes them; time-paged lists add `has_more` and the `before` of the next page. */
export function listView<T>(data: T[], page?: { hasMore: boolean; nextBefore: number | null }) {
  if (page === undefined) return { object: 'list' as const, data };
  return { object: 'list' as const, data, has_more: page.hasMore, next_before: page.nextBefore === null ? null : unixSecondsExact(page.nextBefore) };
}

/** Every deployment's health: breaker state, requests in flight, the window's outcomes, the models it serves. */
export function deploymentViews(catalog: Catalog, now: number) {
  const byName = new Map<string, { deployment: CatalogDeployment; models: string[] }>();
  for (const model of catalog.models) {
    for (const deployment of model.deployments) {
      const entry = byName.get(deployment.name);
      if (entry) entry.models.push(model.id);
      else byName.set(deployment.name, { deployment, models: [model.id] });
    }
  }
  return [...byName.values()].map(({ deployment, models }) => {
    const { breaker } = deployment.health;
    const window = breaker.window(now);
    return {
      object: 'deployment' as const,
      id: deployment.name,
      upstream_model: deployment.upstreamModel,
      models,
      state: breaker.state,
      in_flight: deployment.health.inflight,
      window: { requests: window.requests, failures: window.failures },
      retry_at: breaker.state === 'open' ? unixSecondsExact(breaker.retryAt) : null,
      /** Why it is out of rotation: its own failures, a backend that cannot be connected to, or another instance's breaker. */
      open_reason: breaker.state === 'closed' ? null : breaker.openReason,
    };
  });
}
