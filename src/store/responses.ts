// Stored responses of the Responses API door (SPEC §17): one row per response made with `store` (the
// default), owned by the account that made it, read back by GET /v1/responses/{id}, its input items and
// `previous_response_id`, and gone after the configured retention (a read treats an expired row as absent;
// a periodic sweep deletes it).
import type { Kysely } from 'kysely';
import { toNumber, type Database } from './database.js';

/** JSON as the door made it: the response object, its input items, the earlier turns. */
type Json = Record<string, unknown>;

export interface StoredResponse {
  id: string;
  accountId: string;
  /** The `response` object as it was sent. */
  response: Json;
  /** This request's input items (with their ids), in order. */
  inputItems: Json[];
  /** The items of the turns before this one (previous responses' input and output), in order. */
  history: Json[];
  createdAt: number;
  expiresAt: number;
}

export interface ResponseRepository {
  save(stored: StoredResponse): Promise<void>;
  /** The response, when it belongs to `accountId` and has not expired by `now`. */
  get(id: string, accountId: string, now?: number): Promise<StoredResponse | undefined>;
  /** False when there was nothing of this account's to delete. */
  delete(id: string, accountId: string, now?: number): Promise<boolean>;
  /** Deletes every response expired by `now`; returns how many. */
  deleteExpired(now?: number): Promise<number>;
}

/** The table (migration 007). JSON columns are text. */
export interface ResponsesTable {
  id: string;
  account_id: string;
  response: string;
  input_items: string;
  history: string;
  created_at: number | string;
  expires_at: number | string;
}

export interface ResponsesTables {
  responses: ResponsesTable;
}

export function responseRepository(db: Kysely<Database>): ResponseRepository {
  return {
    async save(stored) {
      await db
        .insertInto('responses')
        .values({
          id: stored.id,
          account_id: stored.accountId,
          response: JSON.stringify(stored.response),
          input_items: JSON.stringify(stored.inputItems),
          history: JSON.stringify(stored.history),
          created_at: stored.createdAt,
          expires_at: stored.expiresAt,
        })
        .execute();
    },
    async get(id, accountId, now = Date.now()) {
      const row = await db.selectFrom('responses').selectAll().where('id', '=', id).where('account_id', '=', accountId).where('expires_at', '>', now).executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        id: row.id,
        accountId: row.account_id,
        response: JSON.parse(row.response) as Json,
        inputItems: JSON.parse(row.input_items) as Json[],
        history: JSON.parse(row.history) as Json[],
        createdAt: toNumber(row.created_at),
        expiresAt: toNumber(row.expires_at),
      };
    },
    async delete(id, accountId, now = Date.now()) {
      const result = await db.deleteFrom('responses').where('id', '=', id).where('account_id', '=', accountId).where('expires_at', '>', now).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async deleteExpired(now = Date.now()) {
      const result = await db.deleteFrom('responses').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
