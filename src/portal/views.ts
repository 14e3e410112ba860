// The portal's JSON shapes (docs/portal-contract.md): snake_case, times as ISO 8601 (or null), money as
// integer micro-units beside a decimal string. No view carries a password hash, a key or a session id.
import type { Config } from '../config/load.js';
import type { AccountRecord } from '../store/accounts.js';
import { apiKeyStatus, type ApiKeyRecord } from '../store/api-keys.js';
import type { LedgerEntry } from '../store/ledger.js';
import type { UsageRecord } from '../store/usage.js';
import type { Membership, PortalUser } from '../store/portal.js';
import { formatMicros } from '../admin/money.js';
import { effectiveAccountLimits } from '../admin/operations.js';
import { billingModeOf } from '../admin/budgets.js';

export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function accountView(config: Config, a: AccountRecord) {
  const limits = effectiveAccountLimits(config, a);
  return {
    id: a.id,
    name: a.name,
    tier: a.tier,
    status: a.status,
    balance_micros: a.balanceMicros,
    balance: formatMicros(a.balanceMicros),
    /** The mode requests are billed in: the account's own, else its tier's, else the config's. */
    billing_mode: billingModeOf(config, a),
    /** The account's own mode; null follows its tier's (then the config's). */
    billing: a.billing,
    limits: {
      requests_per_minute: limits.requests_per_minute ?? null,
      tokens_per_minute: limits.tokens_per_minute ?? null,
      concurrent_requests: limits.concurrent_requests ?? null,
    },
  };
}

export type AccountView = ReturnType<typeof accountView>;

export function userView(u: PortalUser) {
  return { id: u.id, email: u.email, role: u.role };
}

export function sessionView(opts: { user: PortalUser | null; admin: boolean; account: AccountView | null; memberships: Membership[]; csrfToken: string }) {
  return {
    user: opts.user && userView(opts.user),
    admin: opts.admin,
    account: opts.account,
    accounts: opts.memberships.map((m) => ({ id: m.accountId, name: m.accountName, role: m.role })),
    csrf_token: opts.csrfToken,
  };
}

export function keyView(k: ApiKeyRecord, now = Date.now()) {
  return {
    id: k.id,
    name: k.name,
    hint: k.hint,
    created_at: isoTime(k.createdAt),
    expires_at: isoTime(k.expiresAt),
    last_used_at: isoTime(k.lastUsedAt),
    disabled_at: isoTime(k.disabledAt),
    allowed_models: k.allowedModels,
    status: apiKeyStatus(k, now),
  };
}

export function ledgerView(e: LedgerEntry) {
  return {
    id: e.id,
    created_at: isoTime(e.createdAt),
    kind: e.kind,
    amount_micros: e.amountMicros,
    amount: formatMicros(e.amountMicros),
    reason: e.reason,
    actor: e.actor,
    balance_after_micros: e.balanceAfterMicros,
  };
}

export const USAGE_RECORD_COLUMNS = [
  'created_at',
  'request_id',
  'model',
  'key_id',
  'key_hint',
  'status',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'cost_micros',
  'latency_ms',
  'ttft_ms',
  'settle',
] as const;

export function usageRecordView(r: UsageRecord, hints: ReadonlyMap<string, string>) {
  return {
    created_at: isoTime(r.createdAt),
    request_id: r.requestId,
    model: r.model,
    key_id: r.keyId,
    key_hint: hints.get(r.keyId) ?? null,
    status: r.status,
    prompt_tokens: r.promptTokens,
    cached_tokens: r.cachedTokens,
    completion_tokens: r.completionTokens,
    cost_micros: r.costMicros,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    settle: r.settle,
  };
}

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  // A leading =, +, - or @ would be read as a formula by a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function usageCsv(rows: ReturnType<typeof usageRecordView>[]): string {
  const lines = [USAGE_RECORD_COLUMNS.join(',')];
  for (const row of rows) lines.push(USAGE_RECORD_COLUMNS.map((c) => csvField(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
