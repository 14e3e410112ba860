// Schema migrations, in code and in order: each entry runs once per database, on SQLite and PostgreSQL
// alike (portable column types only: text, integer, bigint, blob — `blob` becomes bytea on PostgreSQL, see
// `portableDdl`; no dialect-specific DDL).
import {
  Migrator,
  OperationNodeTransformer,
  PostgresAdapter,
  sql,
  type DataTypeNode,
  type Kysely,
  type KyselyPlugin,
  type Migration,
  type MigrationProvider,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import type { Database } from './database.js';

/** Ordered by name; a new migration is appended with the next number and never edits an old one. */
export const MIGRATIONS: Record<string, Migration> = {
  '001_accounts_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('tier', 'text', (c) => c.notNull().defaultTo('default'))
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'disabled')`))
        .addColumn('balance_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('limits', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text')
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('disabled_at', 'bigint')
        .addColumn('allowed_models', 'text')
        .addColumn('limits', 'text')
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_account_id_idx').on('api_keys').column('account_id').execute();

      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('meta').execute();
      await db.schema.dropTable('api_keys').execute();
      await db.schema.dropTable('accounts').execute();
    },
  },
  '002_ledger_usage': {
    async up(db: Kysely<unknown>) {
      // Balance changes other than usage: top-ups, refunds, adjustments (SPEC §10), with who and why.
      await db.schema
        .createTable('ledger_entries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('credit', 'refund', 'adjustment')`))
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('balance_after_micros', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_entries_account_idx').on('ledger_entries').columns(['account_id', 'created_at']).execute();

      // One row per admitted request (SPEC §10). No foreign keys: a record outlives a deleted key.
      await db.schema
        .createTable('usage_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text')
        .addColumn('stream', 'integer', (c) => c.notNull())
        .addColumn('prompt_tokens', 'bigint', (c) => c.notNull())
        .addColumn('cached_tokens', 'bigint', (c) => c.notNull())
        .addColumn('completion_tokens', 'bigint', (c) => c.notNull())
        .addColumn('reasoning_tokens', 'bigint', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('ttft_ms', 'integer')
        .addColumn('settle', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .execute();
      await db.schema.createIndex('usage_records_account_idx').on('usage_records').columns(['account_id', 'created_at']).execute();
      await db.schema.createIndex('usage_records_key_idx').on('usage_records').columns(['key_id', 'created_at']).execute();
      await db.schema.createIndex('usage_records_created_idx').on('usage_records').column('created_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('usage_records').execute();
      await db.schema.dropTable('ledger_entries').execute();
    },
  },
  '003_media': {
    async up(db: Kysely<unknown>) {
      // Media requests are billed by images, characters, audio milliseconds or video seconds.
      await db.schema.alterTable('usage_records').addColumn('media_unit', 'text').execute();
      await db.schema
        .alterTable('usage_records')
        .addColumn('media_units', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable('video_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('upstream_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'in_progress', 'completed', 'failed')`))
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('prompt', 'text', (c) => c.notNull())
        .addColumn('seconds', 'integer', (c) => c.notNull())
        .addColumn('size', 'text')
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('content_type', 'text')
        .addColumn('content', 'blob')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .execute();
      await db.schema.createIndex('video_jobs_account_idx').on('video_jobs').columns(['account_id', 'created_at']).execute();
      await db.schema.createIndex('video_jobs_status_idx').on('video_jobs').column('status').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('video_jobs').execute();
      await db.schema.alterTable('usage_records').dropColumn('media_units').execute();
      await db.schema.alterTable('usage_records').dropColumn('media_unit').execute();
    },
  },
  '004_debited': {
    async up(db: Kysely<unknown>) {
      // What usage records have debited from the balance, ever: a balance book that keeps the costs it
      // settled elsewhere (Redis) compares its own running total with this one (SPEC §11).
      await db.schema
        .alterTable('accounts')
        .addColumn('debited_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      // Every usage record with a cost was debited in the transaction that stored it.
      await sql`update accounts set debited_micros = coalesce((select sum(u.cost_micros) from usage_records u where u.account_id = accounts.id), 0)`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('accounts').dropColumn('debited_micros').execute();
    },
  },
  '005_reported_usage': {
    async up(db: Kysely<unknown>) {
      // What a backend reported when settlement billed less (SPEC §10): null on every record it billed as
      // reported, so the columns cost nothing on the usual record.
      await db.schema.alterTable('usage_records').addColumn('reported_prompt_tokens', 'bigint').execute();
      await db.schema.alterTable('usage_records').addColumn('reported_completion_tokens', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('usage_records').dropColumn('reported_completion_tokens').execute();
      await db.schema.alterTable('usage_records').dropColumn('reported_prompt_tokens').execute();
    },
  },
  '006_portal': {
    async up(db: Kysely<unknown>) {
      // The portal (SPEC §14): people, their accounts and sessions, and the codes an admin hands out.
      await db.schema
        .createTable('portal_users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull().defaultTo('user').check(sql`role in ('user', 'admin')`))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('account_members')
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('portal_users.id'))
        .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'member')`))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('account_members_pk', ['account_id', 'user_id'])
        .execute();
      await db.schema.createIndex('account_members_user_idx').on('account_members').column('user_id').execute();

      await db.schema
        .createTable('portal_sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.references('portal_users.id'))
        .addColumn('admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('portal_sessions_user_idx').on('portal_sessions').column('user_id').execute();
      await db.schema.createIndex('portal_sessions_expires_idx').on('portal_sessions').column('expires_at').execute();

      await db.schema
        .createTable('redemption_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('redeemed_at', 'bigint')
        .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
        .addColumn('batch', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('redemption_codes_created_idx').on('redemption_codes').columns(['created_at', 'batch']).execute();

      await db.schema
        .createTable('invite_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('used_at', 'bigint')
        .addColumn('used_by', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('invite_codes_created_idx').on('invite_codes').column('created_at').execute();

      // Hourly aggregates of usage_records, kept by every usage batch from now on (store/usage-rollup):
      // the charts read these, not the records.
      await db.schema
        .createTable('usage_hourly')
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('hour', 'bigint', (c) => c.notNull())
        .addColumn('requests', 'bigint', (c) => c.notNull())
        .addColumn('errors', 'bigint', (c) => c.notNull())
        .addColumn('prompt_tokens', 'bigint', (c) => c.notNull())
        .addColumn('cached_tokens', 'bigint', (c) => c.notNull())
        .addColumn('completion_tokens', 'bigint', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('usage_hourly_pk', ['account_id', 'hour', 'key_id', 'model'])
        .execute();
      await db.schema.createIndex('usage_hourly_hour_idx').on('usage_hourly').column('hour').execute();
      // The records stored before this migration, summed the way the rollup sums a batch.
      await sql`insert into usage_hourly (account_id, key_id, model, hour, requests, errors, prompt_tokens, cached_tokens, completion_tokens, cost_micros)
        select account_id, key_id, model, (created_at / 3600000) * 3600000, count(*), sum(case when status >= 400 then 1 else 0 end),
          sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens), sum(cost_micros)
        from usage_records group by account_id, key_id, model, (created_at / 3600000) * 3600000`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['usage_hourly', 'invite_codes', 'redemption_codes', 'portal_sessions', 'account_members', 'portal_users']) await db.schema.dropTable(table).execute();
    },
  },
  '007_responses': {
    async up(db: Kysely<unknown>) {
      // The Responses API's stored responses (SPEC §17), each visible only to its account, swept after expiry.
      await db.schema
        .createTable('responses')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('input_items', 'text', (c) => c.notNull())
        .addColumn('history', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('responses_expires_idx').on('responses').column('expires_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('responses').execute();
    },
  },  '008_budgets': {
    async up(db: Kysely<unknown>) {
      // Billing mode per account (SPEC §10): null follows the tier's, then the config's default.
      await db.schema.alterTable('accounts').addColumn('billing', 'text').execute();
      // One budget per owner (an account or a key) and the spend of each of its periods, added to by the
      // usage writer in the transaction that stores the records.
      await db.schema
        .createTable('budgets')
        .addColumn('owner_id', 'text', (c) => c.primaryKey())
        .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('account', 'key')`))
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('limit_micros', 'bigint', (c) => c.notNull())
        .addColumn('soft_limit_micros', 'bigint')
        .addColumn('period', 'text', (c) => c.notNull().check(sql`period in ('day', 'week', 'month', 'none')`))
        .addColumn('reset_minutes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('time_zone', 'text', (c) => c.notNull().defaultTo('UTC'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('budgets_account_id_idx').on('budgets').column('account_id').execute();
      await db.schema
        .createTable('budget_spend')
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('period_start', 'bigint', (c) => c.notNull())
        .addColumn('spent_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('budget_spend_pk', ['owner_id', 'period', 'period_start'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('budget_spend').execute();
      await db.schema.dropTable('budgets').execute();
      await db.schema.alterTable('accounts').dropColumn('billing').execute();
    },
  },
};

/** Writes the one column type that differs by dialect: `blob` is `bytea` on PostgreSQL. */
class PostgresTypes extends OperationNodeTransformer {
  protected override transformDataType(node: DataTypeNode): DataTypeNode {
    return node.dataType === 'blob' ? { ...node, dataType: 'bytea' } : node;
  }
}

const postgresDdl: KyselyPlugin = {
  transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => new PostgresTypes().transformNode(args.node, args.queryId),
  transformResult: (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => Promise.resolve(args.result),
};

/** The handle migrations run on: the store's, with the DDL rewrite on PostgreSQL (only here, off the query path). */
function portableDdl(db: Kysely<Database>): Kysely<Database> {
  return db.getExecutor().adapter instanceof PostgresAdapter ? db.withPlugin(postgresDdl) : db;
}

const provider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};

/** Runs every pending migration; returns the names of those that ran (empty when up to date). */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db: portableDdl(db), provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(failed ? `migration ${failed} failed: ${reason}` : `migrations failed: ${reason}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Runs the pending migrations up to and including `name` (tests of a migration on older data). */
export async function migrateTo(db: Kysely<Database>, name: string): Promise<void> {
  const { error } = await new Migrator({ db: portableDdl(db), provider }).migrateTo(name);
  if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
}

/** Names of the migrations this build knows, and which of them the database has applied. */
export async function migrationStatus(db: Kysely<Database>): Promise<{ name: string; applied: boolean }[]> {
  const migrator = new Migrator({ db: portableDdl(db), provider });
  const infos = await migrator.getMigrations();
  return infos.map((m) => ({ name: m.name, applied: m.executedAt !== undefined }));
}
