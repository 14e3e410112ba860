// Test helper: a throwaway database on the PostgreSQL server the tests run against (FLOODGATE_TEST_PG, else
// postgres://postgres@127.0.0.1:5432/test), created per test file or per test and dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the databases are created from (its database is only connected to, never changed). */
export const PG_ADMIN_URL = process.env.FLOODGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** `postgres://…/floodgate_t_<random>` */
  url: string;
  /** Ends every connection to it and drops it (idempotent). */
  drop(): Promise<void>;
}

async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a unique name (`floodgate_t_<prefix_><random>`). */
export async function createTestDatabase(prefix = ''): Promise<TestDatabase> {
  const cleanPrefix = prefix.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 20);
  const name = `floodgate_t_${cleanPrefix ? cleanPrefix + '_' : ''}${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`create database "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdminClient(async (client) => {
        // PostgreSQL 13+: ends the sessions still connected (a pool a failed test left open) and drops.
        await client.query(`drop database if exists "${name}" with (force)`);
      });
    },
  };
}
