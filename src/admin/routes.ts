// The admin API (SPEC §13) under /admin/v1, authenticated by the admin token. (Being written.)
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';

/** What the running gateway must hear when the admin surface changes something it caches. */
export interface AdminEvents {
  /** A key or account changed (disabled, deleted, new tier or limits): cached identities must go now. */
  identitiesChanged(): void;
  /** An account's balance changed outside usage (a ledger entry). */
  balanceChanged(accountId: string): void;
}

export interface AdminDeps {
  store: Store;
  config: Config;
  pepper: string;
  events: AdminEvents;
}

export function registerAdminRoutes(_app: FastifyInstance, _deps: AdminDeps): void {}
