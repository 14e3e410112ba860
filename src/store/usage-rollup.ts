// Hourly usage aggregates (`usage_hourly`, issue 14): upserted in the transaction that inserts a batch of
// usage records and debits their costs, so the portal's charts read a few hundred rows, never the records.
import { sql, type ColumnType, type CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './database.js';
import type { UsageRecord } from './usage.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

type Count = ColumnType<number | string, number, number>;

export interface UsageHourlyTable {
  account_id: string;
  key_id: string;
  model: string;
  /** Milliseconds since the epoch, a multiple of an hour (UTC). */
  hour: number | string;
  requests: Count;
  /** Records whose status was 400 or more. */
  errors: Count;
  prompt_tokens: Count;
  cached_tokens: Count;
  completion_tokens: Count;
  cost_micros: Count;
}

export interface UsageRollupTables {
  usage_hourly: UsageHourlyTable;
}

/** What a row of the rollup, and a point of a chart, sum. */
export interface UsageSums {
  requests: number;
  errors: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costMicros: number;
}

export interface HourlyRow extends UsageSums {
  accountId: string;
  keyId: string;
  model: string;
  hour: number;
}

/** The batch's records summed per (account, hour, key, model), in primary-key order. */
export function hourlyRowsOf(records: readonly UsageRecord[]): HourlyRow[] {
  const rows = new Map<string, HourlyRow>();
  for (const r of records) {
    const hour = Math.floor(r.createdAt / HOUR_MS) * HOUR_MS;
    const id = `${r.accountId}\u0000${hour}\u0000${r.keyId}\u0000${r.model}`;
    let row = rows.get(id);
    if (row === undefined) {
      row = { accountId: r.accountId, keyId: r.keyId, model: r.model, hour, requests: 0, errors: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costMicros: 0 };
      rows.set(id, row);
    }
    row.requests += 1;
    if (r.status >= 400) row.errors += 1;
    row.promptTokens += r.promptTokens;
    row.cachedTokens += r.cachedTokens;
    row.completionTokens += r.completionTokens;
    row.costMicros += r.costMicros;
  }
  // One order for every batch: on PostgreSQL an upserted row stays locked until commit, and two
  // gateways upserting the same rows in different orders would deadlock.
  return [...rows.values()].sort((a, b) => cmp(a.accountId, b.accountId) || a.hour - b.hour || cmp(a.keyId, b.keyId) || cmp(a.model, b.model));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowValues(r: HourlyRow): unknown[] {
  return [r.accountId, r.keyId, r.model, r.hour, r.requests, r.errors, r.promptTokens, r.cachedTokens, r.completionTokens, r.costMicros];
}

/** Rows per upsert, largest first: a few statement texts, so a connection prepares each once. */
const UPSERT_SIZES = [64, 16, 4, 1] as const;

/**
 * The upserts that add a batch's records to `usage_hourly`, compiled to run in the batch's transaction
 * (on this thread or on the SQLite writer thread).
 */
export function rollupStatements(store: Kysely<Database>): (records: readonly UsageRecord[]) => CompiledQuery[] {
  const compiled = new Map<number, CompiledQuery>();
  const upsertOf = (n: number): CompiledQuery => {
    let query = compiled.get(n);
    if (query === undefined) {
      const template = { account_id: '', key_id: '', model: '', hour: 0, requests: 0, errors: 0, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, cost_micros: 0 };
      const add = (column: string) => sql<number>`${sql.ref(`usage_hourly.${column}`)} + ${sql.ref(`excluded.${column}`)}`;
      query = store
        .insertInto('usage_hourly')
        .values(Array.from({ length: n }, () => template))
        .onConflict((oc) =>
          oc.columns(['account_id', 'hour', 'key_id', 'model']).doUpdateSet({
            requests: add('requests'),
            errors: add('errors'),
            prompt_tokens: add('prompt_tokens'),
            cached_tokens: add('cached_tokens'),
            completion_tokens: add('completion_tokens'),
            cost_micros: add('cost_micros'),
          }),
        )
        .compile();
      if (query.parameters.length !== n * Object.keys(template).length) throw new Error('usage_hourly upsert: expected one parameter per column and row');
      compiled.set(n, query);
    }
    return query;
  };
  return (records) => {
    const rows = hourlyRowsOf(records);
    const statements: CompiledQuery[] = [];
    let i = 0;
    for (const size of UPSERT_SIZES) {
      for (; rows.length - i >= size; i += size) statements.push({ ...upsertOf(size), parameters: rows.slice(i, i + size).flatMap(rowValues) });
    }
    return statements;
  };
}

// ---- reads -----------------------------------------------------------------------------------------

export type UsageBucketSize = 'hour' | 'day';
export type UsageGroupBy = 'none' | 'model' | 'key' | 'account';

export interface UsageSeriesQuery {
  /** One account's usage; absent: every account's (the admin console). */
  accountId?: string;
  /** Inclusive: the bucket holding `from` is the first. */
  from: number;
  /** Exclusive. */
  to: number;
  bucket: UsageBucketSize;
  groupBy: UsageGroupBy;
}

export interface UsagePoint extends UsageSums {
  /** Start of the bucket (ms since the epoch, UTC hour or day). */
  t: number;
}

export interface UsageSeries {
  /** The model id, key id or account id of the group; `all` when not grouped. */
  name: string;
  /** Oldest first; buckets with no usage left out. */
  points: UsagePoint[];
}

export interface UsageDay {
  /** Start of the UTC day (ms since the epoch). */
  day: number;
  costMicros: number;
  requests: number;
}

export interface UsageRollupRepository {
  /** Series per group, largest total cost first. */
  series(query: UsageSeriesQuery): Promise<UsageSeries[]>;
  /** The account's requests and cost per UTC day over [from, to), oldest first (the ledger page's usage debits). */
  usageByDay(accountId: string, from: number, to: number): Promise<UsageDay[]>;
}

const GROUP_COLUMNS = { model: 'model', key: 'key_id', account: 'account_id' } as const;

interface SeriesRow {
  t: number | string;
  name: string;
  requests: number | string;
  errors: number | string;
  prompt_tokens: number | string;
  cached_tokens: number | string;
  completion_tokens: number | string;
  cost_micros: number | string;
}

export function usageRollupRepository(db: Kysely<Database>): UsageRollupRepository {
  const series = async (q: UsageSeriesQuery): Promise<UsageSeries[]> => {
    // Integer division on both dialects (bigint / bigint); the literal is inlined so SELECT and GROUP BY
    // read the same expression. Days are UTC days made of the hours they hold.
    const t = q.bucket === 'day' ? sql<number | string>`(hour / ${sql.lit(DAY_MS)}) * ${sql.lit(DAY_MS)}` : sql<number | string>`hour`;
    const name = q.groupBy === 'none' ? sql<string>`'all'` : sql<string>`${sql.ref(GROUP_COLUMNS[q.groupBy])}`;
    let query = db
      .selectFrom('usage_hourly')
      .select([
        t.as('t'),
        name.as('name'),
        sql<number | string>`sum(requests)`.as('requests'),
        sql<number | string>`sum(errors)`.as('errors'),
        sql<number | string>`sum(prompt_tokens)`.as('prompt_tokens'),
        sql<number | string>`sum(cached_tokens)`.as('cached_tokens'),
        sql<number | string>`sum(completion_tokens)`.as('completion_tokens'),
        sql<number | string>`sum(cost_micros)`.as('cost_micros'),
      ])
      .where('hour', '>=', Math.floor(q.from / HOUR_MS) * HOUR_MS)
      .where('hour', '<', q.to);
    if (q.accountId !== undefined) query = query.where('account_id', '=', q.accountId);
    const rows = (await query.groupBy([sql`1`, sql`2`]).orderBy(sql`1`).execute()) as SeriesRow[];
    const groups = new Map<string, { points: UsagePoint[]; cost: number }>();
    for (const row of rows) {
      const point: UsagePoint = {
        t: Number(row.t),
        requests: Number(row.requests),
        errors: Number(row.errors),
        promptTokens: Number(row.prompt_tokens),
        cachedTokens: Number(row.cached_tokens),
        completionTokens: Number(row.completion_tokens),
        costMicros: Number(row.cost_micros),
      };
      let group = groups.get(row.name);
      if (group === undefined) groups.set(row.name, (group = { points: [], cost: 0 }));
      group.points.push(point);
      group.cost += point.costMicros;
    }
    return [...groups.entries()].sort((a, b) => b[1].cost - a[1].cost || cmp(a[0], b[0])).map(([n, g]) => ({ name: n, points: g.points }));
  };
  return {
    series,
    async usageByDay(accountId, from, to) {
      const [all] = await series({ accountId, from, to, bucket: 'day', groupBy: 'none' });
      return (all?.points ?? []).map((p) => ({ day: p.t, costMicros: p.costMicros, requests: p.requests }));
    },
  };
}
