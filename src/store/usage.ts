// Usage records (SPEC §10): one row per admitted request. A batch is inserted and its costs debited from
// the accounts' balances in one transaction (the group commit of accounting/usage-writer), so the
// balance and the records can never disagree. Queries give totals and time buckets per account, key,
// model and time range.
import { CompiledQuery, PostgresAdapter, sql, type ColumnType, type Kysely, type Selectable, type SelectQueryBuilder } from 'kysely';
import { toNumber, type Database, type UsageRecordsTable } from './database.js';
import type { MediaUnit } from '../accounting/pricing.js';
import { rollupStatements } from './usage-rollup.js';
import { parseSpendKey } from './budgets.js';

export interface UsageRecord {
  id: string;
  /** Milliseconds since the epoch: when the request arrived. */
  createdAt: number;
  requestId: string;
  accountId: string;
  keyId: string;
  endpoint: string;
  /** The catalog id of the model (not the alias the client sent). */
  model: string;
  deployment: string | null;
  stream: boolean;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  /**
   * What the backend reported, when it was more than the request could use and settlement billed less
   * (SPEC §10): both figures, or null when the record bills what was reported. Absent: null.
   */
  reportedPromptTokens?: number | null;
  reportedCompletionTokens?: number | null;
  costMicros: number;
  /** The HTTP status the client got. */
  status: number;
  latencyMs: number;
  ttftMs: number | null;
  settle: string;
  errorCode: string | null;
  /** A media request's billing unit and count (absent: a token request). */
  mediaUnit?: MediaUnit | null;
  mediaUnits?: number;
  /** A postpaid account's record: its cost is recorded, not debited from the balance (absent: prepaid). */
  postpaid?: boolean;
  /** The budget periods (book entry ids, `b:…`) the cost counts against. Not stored on the row. */
  budgets?: string[];
}

/**
 * What a batch takes from each book entry: a prepaid account's balance (by its id) and each budget
 * period (`b:…`). The store applies exactly these in the batch's transaction, and the balance book
 * moves the same amounts from pending to written when it commits.
 */
export function debitsOf(records: readonly UsageRecord[]): Map<string, number> {
  const debits = new Map<string, number>();
  for (const r of records) {
    if (r.costMicros <= 0) continue;
    if (r.postpaid !== true) debits.set(r.accountId, (debits.get(r.accountId) ?? 0) + r.costMicros);
    if (r.budgets !== undefined) for (const id of r.budgets) debits.set(id, (debits.get(id) ?? 0) + r.costMicros);
  }
  return debits;
}

export interface UsageFilter {
  accountId?: string;
  keyId?: string;
  model?: string;
  /** Inclusive, ms since the epoch. */
  from?: number;
  /** Exclusive, ms since the epoch. */
  to?: number;
  /** `ok`: the client got a status below 400; `error`: 400 or above. */
  outcome?: 'ok' | 'error';
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  costMicros: number;
}

export interface UsageBucket extends UsageTotals {
  /** Start of the bucket, ms since the epoch (a multiple of the bucket size). */
  start: number;
}

export interface UsageRepository {
  /**
   * Inserts the records and debits each account by their summed cost (adding it to `debited_micros` in
   * the same statement), in one transaction.
   */
  insertBatch(records: readonly UsageRecord[]): Promise<void>;
  /** Whether a record with this id is stored. */
  has(id: string): Promise<boolean>;
  /** The statements `insertBatch` runs in its transaction, for a writer that runs them elsewhere. */
  batchStatements(records: readonly UsageRecord[]): CompiledQuery[];
  /** Newest first; `before` (ms) pages back. */
  list(filter: UsageFilter, page?: { limit?: number; before?: number }): Promise<UsageRecord[]>;
  totals(filter: UsageFilter): Promise<UsageTotals>;
  /** Totals per time bucket of `bucketMs`, oldest first; empty buckets are left out. */
  buckets(filter: UsageFilter, bucketMs: number): Promise<UsageBucket[]>;
}

/** Rows per INSERT, largest first: at most 1,472 parameters, well under SQLite's and PostgreSQL's bounds. */
const INSERT_SIZES = [64, 16, 4, 1] as const;

/** The columns of migration 005 (the reported usage of a clamped record), typed where they are used. */
interface ReportedUsageColumns {
  reported_prompt_tokens: ColumnType<number | string | null, number | null | undefined, never>;
  reported_completion_tokens: ColumnType<number | string | null, number | null | undefined, never>;
}

type UsageDatabase = Database & { usage_records: ReportedUsageColumns };
type UsageRow = Selectable<UsageRecordsTable & ReportedUsageColumns>;

function nullableCount(value: number | string | null): number | null {
  return value === null ? null : toNumber(value);
}

function toRow(r: UsageRecord) {
  return {
    id: r.id,
    created_at: r.createdAt,
    request_id: r.requestId,
    account_id: r.accountId,
    key_id: r.keyId,
    endpoint: r.endpoint,
    model: r.model,
    deployment: r.deployment,
    stream: r.stream ? 1 : 0,
    prompt_tokens: r.promptTokens,
    cached_tokens: r.cachedTokens,
    completion_tokens: r.completionTokens,
    reasoning_tokens: r.reasoningTokens,
    reported_prompt_tokens: r.reportedPromptTokens ?? null,
    reported_completion_tokens: r.reportedCompletionTokens ?? null,
    cost_micros: r.costMicros,
    status: r.status,
    latency_ms: Math.round(r.latencyMs),
    ttft_ms: r.ttftMs === null ? null : Math.round(r.ttftMs),
    settle: r.settle,
    error_code: r.errorCode,
    media_unit: r.mediaUnit ?? null,
    media_units: r.mediaUnits ?? 0,
  };
}

function toUsageRecord(row: UsageRow): UsageRecord {
  return {
    id: row.id,
    createdAt: toNumber(row.created_at),
    requestId: row.request_id,
    accountId: row.account_id,
    keyId: row.key_id,
    endpoint: row.endpoint,
    model: row.model,
    deployment: row.deployment,
    stream: Number(row.stream) === 1,
    promptTokens: toNumber(row.prompt_tokens),
    cachedTokens: toNumber(row.cached_tokens),
    completionTokens: toNumber(row.completion_tokens),
    reasoningTokens: toNumber(row.reasoning_tokens),
    reportedPromptTokens: nullableCount(row.reported_prompt_tokens),
    reportedCompletionTokens: nullableCount(row.reported_completion_tokens),
    costMicros: toNumber(row.cost_micros),
    status: row.status,
    latencyMs: row.latency_ms,
    ttftMs: row.ttft_ms,
    settle: row.settle,
    errorCode: row.error_code,
    mediaUnit: row.media_unit as MediaUnit | null,
    mediaUnits: toNumber(row.media_units),
  };
}

function filtered<O>(query: SelectQueryBuilder<UsageDatabase, 'usage_records', O>, f: UsageFilter): SelectQueryBuilder<UsageDatabase, 'usage_records', O> {
  let q = query;
  if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
  if (f.keyId !== undefined) q = q.where('key_id', '=', f.keyId);
  if (f.model !== undefined) q = q.where('model', '=', f.model);
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<', f.to);
  if (f.outcome !== undefined) q = q.where('status', f.outcome === 'ok' ? '<' : '>=', 400);
  return q;
}

const SUMS = [
  sql<number | string>`count(*)`.as('requests'),
  sql<number | string | null>`sum(prompt_tokens)`.as('prompt_tokens'),
  sql<number | string | null>`sum(cached_tokens)`.as('cached_tokens'),
  sql<number | string | null>`sum(completion_tokens)`.as('completion_tokens'),
  sql<number | string | null>`sum(reasoning_tokens)`.as('reasoning_tokens'),
  sql<number | string | null>`sum(cost_micros)`.as('cost_micros'),
];

interface SumsRow {
  requests: number | string;
  prompt_tokens: number | string | null;
  cached_tokens: number | string | null;
  completion_tokens: number | string | null;
  reasoning_tokens: number | string | null;
  cost_micros: number | string | null;
}

function toTotals(row: SumsRow | undefined): UsageTotals {
  return {
    requests: Number(row?.requests ?? 0),
    promptTokens: Number(row?.prompt_tokens ?? 0),
    cachedTokens: Number(row?.cached_tokens ?? 0),
    completionTokens: Number(row?.completion_tokens ?? 0),
    reasoningTokens: Number(row?.reasoning_tokens ?? 0),
    costMicros: Number(row?.cost_micros ?? 0),
  };
}

/**
 * PostgreSQL's type of each column of `toRow`, in its order: a batch goes in as one INSERT … SELECT FROM
 * unnest() of one array per column — one statement and one round trip whatever the batch's size, and
 * the same text every time (a multi-row VALUES would take one round trip per size, as SQLite's do).
 */
const PG_COLUMN_TYPES: Record<keyof ReturnType<typeof toRow>, string> = {
  id: 'text',
  created_at: 'int8',
  request_id: 'text',
  account_id: 'text',
  key_id: 'text',
  endpoint: 'text',
  model: 'text',
  deployment: 'text',
  stream: 'int4',
  prompt_tokens: 'int8',
  cached_tokens: 'int8',
  completion_tokens: 'int8',
  reasoning_tokens: 'int8',
  reported_prompt_tokens: 'int8',
  reported_completion_tokens: 'int8',
  cost_micros: 'int8',
  status: 'int4',
  latency_ms: 'int4',
  ttft_ms: 'int4',
  settle: 'text',
  error_code: 'text',
  media_unit: 'text',
  media_units: 'int8',
};
const PG_COLUMNS = Object.keys(PG_COLUMN_TYPES) as (keyof typeof PG_COLUMN_TYPES)[];
const PG_INSERT_SQL = `insert into "usage_records" (${PG_COLUMNS.map((c) => `"${c}"`).join(', ')}) select * from unnest(${PG_COLUMNS.map((c, i) => `$${i + 1}::${PG_COLUMN_TYPES[c]}[]`).join(', ')})`;

/** The batch as PostgreSQL's one INSERT: per column, its values in the records' order. */
function pgInsertOf(records: readonly UsageRecord[]): CompiledQuery {
  const columns: unknown[][] = PG_COLUMNS.map(() => new Array<unknown>(records.length));
  for (let r = 0; r < records.length; r++) {
    const row = toRow(records[r]);
    for (let c = 0; c < PG_COLUMNS.length; c++) columns[c][r] = row[PG_COLUMNS[c]];
  }
  return CompiledQuery.raw(PG_INSERT_SQL, columns);
}

/** The values of a record in the column order of `toRow`. */
function rowValues(r: UsageRecord): unknown[] {
  return Object.values(toRow(r));
}

export function usageRepository(store: Kysely<Database>): UsageRepository {
  const db = store.withTables<{ usage_records: ReportedUsageColumns }>();
  // An INSERT of n rows, built and compiled once per size: building a multi-row INSERT with Kysely costs
  // more than SQLite takes to store the rows.
  const inserts = new Map<number, CompiledQuery>();
  const insertOf = (n: number): CompiledQuery => {
    let compiled = inserts.get(n);
    if (compiled === undefined) {
      const template = toRow({ id: '', createdAt: 0, requestId: '', accountId: '', keyId: '', endpoint: '', model: '', deployment: null, stream: false, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, costMicros: 0, status: 0, latencyMs: 0, ttftMs: 0, settle: '', errorCode: null });
      compiled = db.insertInto('usage_records').values(Array.from({ length: n }, () => template)).compile();
      if (compiled.parameters.length !== n * Object.keys(template).length) throw new Error('usage insert: expected one parameter per column and row');
      inserts.set(n, compiled);
    }
    return compiled;
  };

  const rollup = rollupStatements(store);
  const pg = store.getExecutor().adapter instanceof PostgresAdapter;
  const batchStatements = (records: readonly UsageRecord[]): CompiledQuery[] => {
    const statements: CompiledQuery[] = [];
    const debits = debitsOf(records);
    if (pg) {
      if (records.length > 0) statements.push(pgInsertOf(records));
    } else {
      // Only a few INSERT sizes, largest first, so a connection keeps a handful of prepared statements (a
      // prepared 100-row INSERT holds ~100 KB of SQLite memory) however batch sizes vary.
      let i = 0;
      for (const size of INSERT_SIZES) {
        for (; records.length - i >= size; i += size) {
          statements.push({ ...insertOf(size), parameters: records.slice(i, i + size).flatMap(rowValues) });
        }
      }
    }
    // The hourly aggregates the portal's charts read, in the same transaction as the records they sum.
    statements.push(...rollup(records));
    // Accounts and budget periods in one order (by id) for every batch: on PostgreSQL each UPDATE holds its
    // row lock until commit, and two gateways debiting the same rows in different orders would deadlock.
    const ids = [...debits.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const id of ids) {
      const cost = debits.get(id)!;
      const period = parseSpendKey(id);
      if (period !== undefined) {
        statements.push(
          db
            .insertInto('budget_spend')
            .values({ owner_id: period.ownerId, period: period.period, period_start: period.start, spent_micros: cost })
            .onConflict((oc) => oc.columns(['owner_id', 'period', 'period_start']).doUpdateSet({ spent_micros: sql<number>`budget_spend.spent_micros + ${cost}` }))
            .compile(),
        );
        continue;
      }
      const accountId = id;
      statements.push(
        db
          .updateTable('accounts')
          // In the same statement: a reader of the row sees both or neither (accounts.credits).
          .set({ balance_micros: sql<number>`balance_micros - ${cost}`, debited_micros: sql<number>`debited_micros + ${cost}` })
          .where('id', '=', accountId)
          .compile(),
      );
    }
    return statements;
  };

  return {
    batchStatements,
    async has(id) {
      return (await db.selectFrom('usage_records').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    },
    async insertBatch(records) {
      if (records.length === 0) return;
      const statements = batchStatements(records);
      await db.transaction().execute(async (trx) => {
        for (const statement of statements) await trx.executeQuery(statement);
      });
    },
    async list(filter, page = {}) {
      let query = filtered(db.selectFrom('usage_records').selectAll(), filter);
      if (page.before !== undefined) query = query.where('created_at', '<', page.before);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit ?? 100)
        .execute();
      return rows.map(toUsageRecord);
    },
    async totals(filter) {
      const row = await filtered(db.selectFrom('usage_records').select(SUMS), filter).executeTakeFirst();
      return toTotals(row as SumsRow | undefined);
    },
    async buckets(filter, bucketMs) {
      if (!Number.isSafeInteger(bucketMs) || bucketMs <= 0) throw new RangeError('bucketMs must be a positive integer');
      // Integer division on both dialects (bigint / bigint); the literal is inlined, not a parameter, so
      // GROUP BY and SELECT see the same expression.
      const start = sql<number | string>`(created_at / ${sql.lit(bucketMs)}) * ${sql.lit(bucketMs)}`;
      const rows = await filtered(db.selectFrom('usage_records').select([start.as('start'), ...SUMS]), filter)
        .groupBy(sql`1`)
        .orderBy(sql`1`)
        .execute();
      return rows.map((row) => ({ start: Number((row as { start: number | string }).start), ...toTotals(row as SumsRow) }));
    },
  };
}
