// The store's database: the table types Kysely checks queries against, and opening a store from
// `store.url`: a SQLite file (embedded) or PostgreSQL (scale-out, §11), through the same queries and migrations.
import { videoJobRepository } from './video-jobs.js';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql, type ColumnType, type SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import { migrateToLatest } from './migrations.js';
import { accountsRepository } from './accounts.js';
import { apiKeysRepository } from './api-keys.js';
import { metaRepository } from './meta.js';
import { ledgerRepository } from './ledger.js';
import { usageRepository } from './usage.js';
import type { Store } from './store.js';
import { portalRepositories, type PortalTables } from './portal.js';
import { usageRollupRepository, type UsageRollupTables } from './usage-rollup.js';
import { responseRepository, type ResponsesTables } from './responses.js';
import { budgetsRepository, type BudgetTables } from './budgets.js';
import { redactUrl } from '../observability/redact.js';

// Conventions every table follows, so one set of queries serves SQLite and PostgreSQL:
// timestamps are integer milliseconds since the epoch (bigint columns), money is integer micro-units
// (bigint), JSON is stored as text and parsed by the repositories. PostgreSQL returns bigint as a
// string unless told otherwise (this store's pool tells it to parse them), and sums as numeric strings:
// the repositories convert with Number() so either works.

export interface AccountsTable {
  id: string;
  name: string;
  tier: ColumnType<string, string | undefined, string>;
  status: ColumnType<'active' | 'disabled', 'active' | 'disabled' | undefined, 'active' | 'disabled'>;
  balance_micros: ColumnType<number | string, number | undefined, number>;
  /** The running total of usage costs ever debited from `balance_micros` by usage records (not ledger entries). */
  debited_micros: ColumnType<number | string, number | undefined, number>;
  /** JSON object: per-account limit overrides. */
  limits: string | null;
  /** `prepaid` or `postpaid`; null: the tier's mode, else the config's (migration 008). */
  billing: ColumnType<'prepaid' | 'postpaid' | null, 'prepaid' | 'postpaid' | null | undefined, 'prepaid' | 'postpaid' | null>;
  created_at: ColumnType<number | string, number, never>;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string | null;
  /** Hex HMAC-SHA-256 of the key under the pepper; the key itself is never stored. */
  key_hash: ColumnType<string, string, never>;
  hint: string;
  created_at: ColumnType<number | string, number, never>;
  expires_at: ColumnType<number | string | null, number | null | undefined, number | null>;
  disabled_at: ColumnType<number | string | null, number | null | undefined, number | null>;
  /** JSON array of model ids (or aliases) the key may use; null = every model. */
  allowed_models: string | null;
  /** JSON object: per-key limit overrides (never looser than the account's). */
  limits: string | null;
  last_used_at: ColumnType<number | string | null, number | null | undefined, number | null>;
}

export type LedgerKind = 'credit' | 'refund' | 'adjustment';

export interface LedgerEntriesTable {
  id: string;
  account_id: string;
  kind: LedgerKind;
  /** Signed micro-units: positive adds to the balance. */
  amount_micros: ColumnType<number | string, number, never>;
  balance_after_micros: ColumnType<number | string, number, never>;
  reason: string;
  actor: string;
  created_at: ColumnType<number | string, number, never>;
}

export interface UsageRecordsTable {
  id: string;
  created_at: ColumnType<number | string, number, never>;
  request_id: string;
  account_id: string;
  key_id: string;
  endpoint: string;
  model: string;
  deployment: string | null;
  /** 0 or 1 (portable boolean). */
  stream: number;
  prompt_tokens: ColumnType<number | string, number, never>;
  cached_tokens: ColumnType<number | string, number, never>;
  completion_tokens: ColumnType<number | string, number, never>;
  reasoning_tokens: ColumnType<number | string, number, never>;
  cost_micros: ColumnType<number | string, number, never>;
  status: number;
  latency_ms: number;
  ttft_ms: number | null;
  settle: string;
  error_code: string | null;
  /** What a media request is billed by (`image`, `character`, `audio_ms`, `video_second`), else null. */
  media_unit: ColumnType<string | null, string | null | undefined, never>;
  media_units: ColumnType<number | string, number | undefined, never>;
}

/** An asynchronous video generation (SPEC §2): owned by one account, advanced against its backend. */
export interface VideoJobsTable {
  id: string;
  account_id: string;
  key_id: string;
  request_id: string;
  /** The catalog id of the model. */
  model: string;
  /** The deployment's name and the backend's own job id. */
  deployment: string;
  upstream_id: string;
  status: string;
  progress: number;
  prompt: string;
  seconds: number;
  size: string | null;
  cost_micros: ColumnType<number | string, number, number>;
  error_code: string | null;
  error_message: string | null;
  content_type: string | null;
  /** The finished video. */
  content: Uint8Array | null;
  created_at: ColumnType<number | string, number, never>;
  updated_at: ColumnType<number | string, number, number>;
  completed_at: ColumnType<number | string | null, number | null, number | null>;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** The portal's tables (migration 006), stored responses (007) and budgets (008) are declared beside their repositories. */
export interface Database extends PortalTables, UsageRollupTables, ResponsesTables, BudgetTables {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  meta: MetaTable;
  ledger_entries: LedgerEntriesTable;
  usage_records: UsageRecordsTable;
  video_jobs: VideoJobsTable;
}

export interface OpenStoreOptions {
  /** `sqlite:PATH` (or `sqlite::memory:`) or `postgres://…`. */
  url: string;
  /** Run pending migrations on open (default true); `floodgate migrate` opens without and reports. */
  migrate?: boolean;
  /** SQLite: how long a writer waits for the lock before failing. */
  busyTimeoutMs?: number;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
  /** PostgreSQL: how long opening a connection (or waiting for a free one) may take (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL: a pooled connection failed outside a query (the server restarted, the network dropped).
   * The pool drops it and opens another when needed; this only reports it. Default: ignored.
   */
  onConnectionError?: (err: Error) => void;
}

/** Opens the store named by `url` and brings its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const db = await createKysely(opts);
  try {
    // A server that cannot be reached fails here, at once and with the URL's password left out.
    if (isPostgresUrl(opts.url)) await checkConnection(db, opts.url);
    if (opts.migrate !== false) await migrateToLatest(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return {
    db,
    accounts: accountsRepository(db),
    keys: apiKeysRepository(db),
    meta: metaRepository(db),
    ledger: ledgerRepository(db),
    usage: usageRepository(db),
    videos: videoJobRepository(db),
    ...portalRepositories(db),
    usageRollup: usageRollupRepository(db),
    responses: responseRepository(db),
    budgets: budgetsRepository(db),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

async function createKysely(opts: OpenStoreOptions): Promise<Kysely<Database>> {
  const url = opts.url;
  if (url.startsWith('sqlite:')) {
    const database = withStatementCache(openSqlite(sqlitePath(url), opts));
    return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  }
  if (isPostgresUrl(url)) {
    // Loaded only for a PostgreSQL store: the embedded default never needs the driver (~15 MB resident).
    const { default: driver } = await import('pg');
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool: openPool(driver, url, opts) }) });
  }
  throw new Error(`unsupported store.url ${JSON.stringify(redactUrl(url))}: expected sqlite:PATH or postgres://…`);
}

export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

/** pg's object identifier of `bigint` (int8). */
const INT8_OID = 20;
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

function openPool(driver: typeof pg, url: string, opts: OpenStoreOptions): pg.Pool {
  // Every integer the store keeps (money in micro-units, milliseconds, token counts) is far below 2^53, so
  // bigint columns and count(*) are read as numbers. Set on this pool only, not on pg's global parsers.
  const types = new driver.TypeOverrides();
  types.setTypeParser(INT8_OID, (text: string) => Number(text));
  const pool = new driver.Pool({
    connectionString: url,
    max: opts.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'floodgate',
    types,
  });
  // An 'error' event nobody listens to would end the process. A connection that breaks emits it on itself
  // (checked out, between the statements of a transaction, as well as idle), and the pool repeats it for
  // an idle one: each connection gets a listener that reports, the pool one that only keeps the process
  // alive. The broken connection is dropped and the next query opens another; a running query rejects.
  const report = (err: Error) => opts.onConnectionError?.(new Error(redactSecret(err.message, url)));
  pool.on('connect', (client) => client.on('error', report));
  pool.on('error', () => undefined);
  return pool;
}

async function checkConnection(db: Kysely<Database>, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    // No `cause`: the driver's error may carry the connection settings, password included.
    const reason = err instanceof Error ? err.message || String((err as { code?: unknown }).code ?? err.name) : String(err);
    throw new Error(`cannot connect to the PostgreSQL store ${redactUrl(url)}: ${redactSecret(reason, url)}`);
  }
}

/** `sqlite:/abs`, `sqlite:rel`, `sqlite:///abs` or `sqlite::memory:` → a better-sqlite3 filename. */
export function sqlitePath(url: string): string {
  let rest = url.slice('sqlite:'.length);
  if (rest === ':memory:') return rest;
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === '') throw new Error('store.url "sqlite:" names no file');
  return resolve(rest);
}

/**
 * The database holds key hashes, balances and usage: readable by its owner only (0600, like the pepper).
 * A new file is made so before SQLite opens it (SQLite gives its -wal and -shm files the database's mode);
 * an older, looser one is tightened.
 */
function restrictToOwner(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function openSqlite(path: string, opts: OpenStoreOptions): SqliteDatabase.Database {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    restrictToOwner(path);
  }
  const sqlite = new SqliteDatabase(path);
  try {
    // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes (fsync at
    // checkpoints), which is the bound the usage writer documents.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  return sqlite;
}

/** Prepared statements kept per connection; SQL text varies little (`in (?, ?)` lists are the exception). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running an indexed lookup,
 * so statements are kept and reused by SQL text (least recently used dropped first). A statement still
 * iterating (a streamed query) is busy and is not handed out twice.
 */
function withStatementCache(sqlite: SqliteDatabase.Database, size = STATEMENT_CACHE_SIZE): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(text) {
      const cached = cache.get(text);
      if (cached !== undefined && !cached.busy) {
        // Re-inserting moves it to the end: Map order is the LRU order.
        cache.delete(text);
        cache.set(text, cached);
        return cached;
      }
      const statement = sqlite.prepare(text);
      if (cached === undefined) {
        cache.set(text, statement);
        if (cache.size > size) cache.delete(cache.keys().next().value as string);
      }
      return statement;
    },
  };
}

/** The URL with its user and password replaced (`postgres://***@db/floodgate`). */
/** `text` with the URL's password (as written and decoded) and the URL itself redacted. */
function redactSecret(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  const password = /^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i.exec(url)?.[1];
  if (password) {
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // Not percent-encoded: the raw form is the only form.
    }
    for (const secret of new Set([password, decoded])) out = out.split(secret).join('***');
  }
  return out;
}

/** A unique constraint refused a row (SQLite SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY, PostgreSQL 23505). */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** An integer/bigint column as a number, whichever dialect read it (pg returns bigint as a string). */
export function toNumber(value: number | string | bigint): number;
export function toNumber(value: number | string | bigint | null): number | null;
export function toNumber(value: number | string | bigint | null): number | null {
  return value === null ? null : Number(value);
}
