// The store as the rest of the gateway sees it: the database handle, one repository per table group,
// a health check and close. Opened by `openStore` (database.ts).
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { AccountRepository } from './accounts.js';
import type { ApiKeyRepository } from './api-keys.js';
import type { MetaRepository } from './meta.js';
import type { LedgerRepository } from './ledger.js';
import type { VideoJobRepository } from './video-jobs.js';
import type { UsageRepository } from './usage.js';
import type { PortalRepositories } from './portal.js';
import type { UsageRollupRepository } from './usage-rollup.js';
import type { ResponseRepository } from './responses.js';
import type { BudgetRepository } from './budgets.js';

/** The portal's repositories (users, members, sessions, redemptionCodes, inviteCodes) are spread in. */
export interface Store extends PortalRepositories {
  /** For repositories added later (ledger, usage, jobs) and for transactions spanning several. */
  db: Kysely<Database>;
  accounts: AccountRepository;
  keys: ApiKeyRepository;
  meta: MetaRepository;
  ledger: LedgerRepository;
  usage: UsageRepository;
  videos: VideoJobRepository;
  /** `usage_hourly`: the portal's charts. */
  usageRollup: UsageRollupRepository;
  /** The Responses API's stored responses (SPEC §17). */
  responses: ResponseRepository;
  /** Budgets on accounts and keys, and their spend per period (SPEC §10). */
  budgets: BudgetRepository;
  /** Throws when the database cannot answer (`/healthz?ready=1`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A row would break a unique rule (an account name already taken, a key hash already stored). */
export class AlreadyExistsError extends Error {
  override name = 'AlreadyExistsError';
}

/** JSON object columns (limit overrides) as parsed; their shape belongs to the module that reads them. */
export type JsonObject = Record<string, unknown>;

export function parseJsonObject(text: string | null): JsonObject | null {
  if (text === null) return null;
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : null;
}

export function parseStringArray(text: string | null): string[] | null {
  if (text === null) return null;
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}
