// Where the usage writer's batches go. On PostgreSQL (or an in-memory SQLite) that is the repository
// itself: the database works on its own time. On a SQLite file, better-sqlite3 works synchronously on
// the calling thread, so the repository's statements for a batch go to a writer thread with its own
// connection (store/sqlite-writer), and the event loop that serves requests only hands them over.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { UsageRecord, UsageRepository } from '../store/usage.js';
import { sqlitePath } from '../store/database.js';
import type { SqliteWriterData, SqliteWriterReply, SqliteWriterRequest } from '../store/sqlite-writer.js';
import type { Logger } from '../observability/logger.js';

export interface UsageSink {
  /** Inserts the records and debits their costs, all or nothing. */
  insertBatch(records: readonly UsageRecord[]): Promise<void>;
  /** Whether the record with this id is stored (a batch's first record: whether the batch committed). */
  committed(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Writes on this thread, through the repository. */
export function directSink(repository: Pick<UsageRepository, 'insertBatch' | 'has'>): UsageSink {
  return { insertBatch: (records) => repository.insertBatch(records), committed: (id) => repository.has(id), close: () => Promise.resolve() };
}

/** The compiled worker beside this module (absent when the sources run untranspiled, as under vitest). */
export const SQLITE_WRITER_FILE = fileURLToPath(new URL('../store/sqlite-writer.js', import.meta.url));

class WorkerSink implements UsageSink {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private failed: Error | undefined;

  constructor(
    private readonly worker: Worker,
    private readonly repository: UsageRepository,
    private readonly logger: Logger,
  ) {
    worker.on('message', (reply: SqliteWriterReply) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve();
      else waiter.reject(new Error(reply.error));
    });
    const fail = (err: Error): void => {
      if (this.failed) return;
      this.failed = err;
      this.logger.error({ err }, 'usage writer thread stopped; writing usage records on the main thread');
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`usage writer thread exited with code ${code}`)));
  }

  /** Read on this thread's own connection: the writer thread's commits are visible to it. */
  committed(id: string): Promise<boolean> {
    return this.repository.has(id);
  }

  insertBatch(records: readonly UsageRecord[]): Promise<void> {
    // A thread that died takes nothing with it: its batch was rolled back and is retried here.
    if (this.failed) return this.repository.insertBatch(records);
    if (records.length === 0) return Promise.resolve();
    const id = this.nextId++;
    const statements = this.repository.batchStatements(records).map(({ sql, parameters }) => ({ sql, parameters }));
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, statements } satisfies SqliteWriterRequest);
    });
  }

  async close(): Promise<void> {
    if (this.failed) return;
    this.failed = new Error('closed');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    await exited;
  }
}

/**
 * A sink for the store at `storeUrl`: a worker thread for a SQLite file when the compiled worker is
 * there, else the repository on this thread.
 */
export async function openUsageSink(storeUrl: string, repository: UsageRepository, logger: Logger, workerFile = SQLITE_WRITER_FILE): Promise<UsageSink> {
  const path = storeUrl.startsWith('sqlite:') ? sqlitePath(storeUrl) : undefined;
  if (path === undefined || path === ':memory:' || !existsSync(workerFile)) return directSink(repository);
  // The thread holds one batch's statements at a time: a young generation of 4 MB (V8's default lets it
  // grow to 32) is plenty, and keeps ~5 MB of resident memory off an idle gateway (measured: a worker
  // writing 500-row batches added 26 MB of RSS with the default, 20-21 MB with this).
  const worker = new Worker(workerFile, { workerData: { path, busyTimeoutMs: 5000 } satisfies SqliteWriterData, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  const started = new Promise<void>((resolve, reject) => {
    const ready = (): void => {
      worker.off('error', failed).off('exit', exited);
      resolve();
    };
    const failed = (err: Error): void => {
      worker.off('message', ready).off('exit', exited);
      reject(err);
    };
    const exited = (code: number): void => failed(new Error(`usage writer thread exited with code ${code} at start`));
    worker.once('message', ready).once('error', failed).once('exit', exited);
  });
  await started;
  return new WorkerSink(worker, repository, logger);
}
