// A database of a benchmark run's own on the PostgreSQL server (FLOODGATE_BENCH_PG, else the local test
// server), created empty and dropped afterwards. Shared by `npm run bench` and `npm run bench:usage`.
import pg from 'pg';

export const BENCH_PG_URL = process.env.FLOODGATE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `floodgate_bench_<label>_<pid>_<time>`, with its URL and a drop that ends whatever is still connected. */
export async function benchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `floodgate_bench_${label}_${process.pid}_${Date.now()}`;
  await onServer(`create database "${name}"`);
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => onServer(`drop database if exists "${name}" with (force)`) };
}
