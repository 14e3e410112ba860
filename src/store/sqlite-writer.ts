// A SQLite writer thread: runs batches of statements, each batch in one transaction, on a connection of
// its own, so that better-sqlite3's synchronous work never holds up the event loop that serves requests.
// The statements come compiled (by the repositories' Kysely queries on the main thread), so the SQL has
// one source; the thread loads better-sqlite3 alone (~9 MB, against ~32 MB with Kysely and the store).
// Replies `{ id, ok }` or `{ id, ok: false, error }`.
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

export interface SqliteStatement {
  sql: string;
  parameters: readonly unknown[];
}

export interface SqliteWriterRequest {
  id: number;
  statements: readonly SqliteStatement[];
}

export type SqliteWriterReply = { id: number; ok: true } | { id: number; ok: false; error: string };

export interface SqliteWriterData {
  /** The database file (already migrated by the main thread). */
  path: string;
  busyTimeoutMs: number;
}

const port = parentPort;
if (port) {
  const { path, busyTimeoutMs } = workerData as SqliteWriterData;
  const db = new SqliteDatabase(path);
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const prepared = new Map<string, SqliteDatabase.Statement>();
  const runBatch = db.transaction((statements: readonly SqliteStatement[]) => {
    for (const { sql, parameters } of statements) {
      let statement = prepared.get(sql);
      if (statement === undefined) {
        statement = db.prepare(sql);
        prepared.set(sql, statement);
      }
      statement.run(parameters as unknown[]);
    }
  });
  port.on('message', (message: SqliteWriterRequest | 'close') => {
    if (message === 'close') {
      db.close();
      port.close();
      return;
    }
    try {
      runBatch(message.statements);
      port.postMessage({ id: message.id, ok: true } satisfies SqliteWriterReply);
    } catch (err) {
      port.postMessage({ id: message.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies SqliteWriterReply);
    }
  });
  port.postMessage('ready');
}
