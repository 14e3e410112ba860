// The portal's JSON API as the pages see it: its shapes (docs/portal-contract.md) and one fetch wrapper
// that adds the session's CSRF token and chosen account, and turns the error envelope into ApiError.

export interface Limits { requests_per_minute: number | null; tokens_per_minute: number | null; concurrent_requests: number | null }
export interface TierView { name: string; requests_per_minute: number | null; tokens_per_minute: number | null; concurrent_requests: number | null }
export interface PortalConfig {
  title: string; base_url: string; key_prefix: string; signup: 'open' | 'invite' | 'closed';
  support: string | null; currency: string; tiers: TierView[];
}
export interface Pricing {
  input?: number; cached_input?: number; output?: number; per_image?: number; per_second?: number;
  per_character?: number; per_video_second?: number;
}
export interface ModelView {
  id: string; aliases: string[]; owned_by: string; family: string; category: string; description?: string | null;
  context_length: number | null; max_output_tokens: number | null; capabilities: string[]; pricing: Pricing;
  live: boolean; voices?: string[]; sizes?: string[]; formats?: string[];
}
export interface DocsView {
  base_url: string; key_prefix: string;
  endpoints: { method: string; path: string; description: string }[];
  unsupported: { path: string; alternative: string }[];
  errors: { status: number; type: string; code: string | null; when: string }[];
  tiers: TierView[]; streaming: string; usage: string;
}
export type BillingMode = 'prepaid' | 'postpaid';
export interface AccountView {
  id: string; name: string; tier: string; status: string; balance_micros: number; balance: string; limits: Limits;
  /** The mode in force; `billing` is the account's own choice (null: its tier's). */
  billing_mode: BillingMode; billing: BillingMode | null;
}
export type BudgetPeriod = 'day' | 'week' | 'month' | 'none';
/** A budget as the admin API shows it (times in unix seconds), with the key's name and hint for a key's. */
export interface BudgetView {
  scope: 'account' | 'key'; account_id: string; key_id: string | null; key_name: string | null; key_hint: string | null;
  limit: string; limit_micros: number; soft_limit: string | null; soft_limit_micros: number | null;
  period: BudgetPeriod; reset_time: string; time_zone: string;
  current_period: { start: number; resets_at: number | null; spent: string; spent_micros: number; remaining: string; remaining_micros: number };
  created_at: number; updated_at: number;
}
export interface BudgetsView { account_id: string; billing_mode: BillingMode; billing: BillingMode | null; data: BudgetView[] }
export interface SessionView {
  user: { id: string; email: string; role: string } | null; admin: boolean; account: AccountView | null;
  accounts: { id: string; name: string; role: string }[]; csrf_token: string;
}
export interface KeyView {
  id: string; name: string | null; hint: string; created_at: string; expires_at: string | null; last_used_at: string | null;
  disabled_at: string | null; allowed_models: string[] | null; status: 'active' | 'disabled' | 'expired'; account_id?: string;
}
export interface LedgerEntry {
  id: string; created_at: string; kind: string; amount_micros: number; amount: string; reason: string | null;
  actor: string | null; balance_after_micros: number | null;
}
export interface LedgerPage { data: LedgerEntry[]; has_more: boolean; next_before?: string | null; usage_by_day: { day: string; cost_micros: number; requests: number }[] }
export interface UsagePoint { t: number | string; requests: number; prompt_tokens: number; cached_tokens: number; completion_tokens: number; cost_micros: number }
export interface UsageSeries { bucket: 'hour' | 'day'; from: number | string; to: number | string; series: { name: string; points: UsagePoint[] }[] }
export interface RecordsPage { data: UsageRecord[]; has_more: boolean; next_before?: string | null }
export interface UsageRecord {
  created_at: string; request_id: string; model: string; key_id: string | null; key_hint: string | null; status: number;
  prompt_tokens: number; cached_tokens: number; completion_tokens: number; cost_micros: number;
  latency_ms: number | null; ttft_ms: number | null; settle: string | null;
}
export interface AdminAccount extends AccountView { created_at: string; members: string[] }
export interface Deployment {
  id: string; upstream_model: string; models: string[]; state: string; in_flight: number;
  window: { requests: number; failures: number }; retry_at: number | null;
  open_reason: 'failures' | 'unreachable' | 'peer' | null;
}

/** The portal's path ("/" by default), read from where this script was served: `${path}assets/…`. */
export const portalPath: string = (() => {
  try {
    const script = new URL(import.meta.url).pathname;
    const at = script.lastIndexOf('/assets/');
    return at >= 0 ? script.slice(0, at + 1) : '/';
  } catch {
    return '/';
  }
})();
export const apiPrefix = `${portalPath}api`;

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | null, readonly param: string | null) {
    super(message);
  }
  /** The message as a person reads it, with the field named when the server named one. */
  get display(): string {
    return this.param ? `${this.message} (field: ${this.param})` : this.message;
  }
}

interface Credentials { csrf: string | null; account: string | null }
const credentials: Credentials = { csrf: null, account: readStoredAccount() };
let onUnauthorized: () => void = () => undefined;

function readStoredAccount(): string | null {
  try { return localStorage.getItem('floodgate.account'); } catch { return null; }
}

export function setCsrfToken(token: string | null): void { credentials.csrf = token; }
export function chosenAccount(): string | null { return credentials.account; }
export function chooseAccount(id: string | null): void {
  credentials.account = id;
  try {
    if (id) localStorage.setItem('floodgate.account', id);
    else localStorage.removeItem('floodgate.account');
  } catch { /* private mode: the choice lasts for this page only */ }
}
export function whenUnauthorized(handler: () => void): void { onUnauthorized = handler; }

export interface RequestOptions { method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; body?: unknown; query?: Record<string, string | number | undefined | null>; quiet401?: boolean }

export function apiUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const qs = params.toString();
  return `${apiPrefix}${path}${qs ? `?${qs}` : ''}`;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && credentials.csrf) headers['x-csrf-token'] = credentials.csrf;
  if (credentials.account) headers['x-floodgate-account'] = credentials.account;
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError('The server could not be reached. Check your connection and try again.', 0, null, null);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let payload: unknown = null;
  try { payload = text ? JSON.parse(text) : null; } catch { payload = null; }
  if (!response.ok) {
    const envelope = (payload as { error?: { message?: string; code?: string | null; param?: string | null } } | null)?.error;
    const error = new ApiError(envelope?.message ?? `The server answered ${response.status}.`, response.status, envelope?.code ?? null, envelope?.param ?? null);
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    throw error;
  }
  return payload as T;
}

/** The message to show for anything a request threw. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.display;
  return error instanceof Error ? error.message : String(error);
}
