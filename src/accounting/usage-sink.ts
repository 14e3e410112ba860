// Where the usage writer's batches go. On PostgreSQL (or an in-memory SQLite) that is the repository
// itself: the database works on its own time. On a SQLite file, better-sqlite3 works synchronously on
// the calling thread, so batches go to a worker thread with its own connection (store/usage-worker),
// and the event loop that serves requests only hands them over.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { UsageRecord, UsageRepository } from '../store/usage.js';
import type { UsageWorkerReply, UsageWorkerRequest } from '../store/usage-worker.js';
import type { Logger } from '../observability/logger.js';

export interface UsageSink {
  /** Inserts the records and debits their costs, all or nothing. */
  insertBatch(records: readonly UsageRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Writes on this thread, through the repository. */
export function directSink(repository: Pick<UsageRepository, 'insertBatch'>): UsageSink {
  return { insertBatch: (records) => repository.insertBatch(records), close: () => Promise.resolve() };
}

/** The compiled worker beside this module (absent when the sources run untranspiled, as under vitest). */
export const USAGE_WORKER_FILE = fileURLToPath(new URL('../store/usage-worker.js', import.meta.url));

class WorkerSink implements UsageSink {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private failed: Error | undefined;

  constructor(
    private readonly worker: Worker,
    private readonly fallback: UsageRepository,
    private readonly logger: Logger,
  ) {
    worker.on('message', (reply: UsageWorkerReply) => {
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

  insertBatch(records: readonly UsageRecord[]): Promise<void> {
    // A thread that died takes nothing with it: its batch was rolled back and is retried here.
    if (this.failed) return this.fallback.insertBatch(records);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, records } satisfies UsageWorkerRequest);
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
export async function openUsageSink(storeUrl: string, repository: UsageRepository, logger: Logger, workerFile = USAGE_WORKER_FILE): Promise<UsageSink> {
  const sqliteFile = storeUrl.startsWith('sqlite:') && storeUrl !== 'sqlite::memory:';
  if (!sqliteFile || !existsSync(workerFile)) return directSink(repository);
  const worker = new Worker(workerFile, { workerData: { url: storeUrl } });
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
