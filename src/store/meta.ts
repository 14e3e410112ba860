// Meta: small named values the gateway keeps about itself (the generated admin token's hash, …).
import type { Kysely } from 'kysely';
import type { Database } from './database.js';

export interface MetaRepository {
  get(key: string): Promise<string | undefined>;
  /** Inserts or replaces. */
  set(key: string, value: string): Promise<void>;
  /** Inserts only when the key is absent; true when this call stored the value (safe under races). */
  setIfAbsent(key: string, value: string): Promise<boolean>;
  delete(key: string): Promise<boolean>;
}

export function metaRepository(db: Kysely<Database>): MetaRepository {
  return {
    async get(key) {
      const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
      return row?.value;
    },
    async set(key, value) {
      await db
        .insertInto('meta')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
    },
    async setIfAbsent(key, value) {
      const result = await db
        .insertInto('meta')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },
    async delete(key) {
      const result = await db.deleteFrom('meta').where('key', '=', key).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
