// The usage-record writer's thread (SQLite only): batches arrive by message and are written, with their
// balance debits, through the same repository on a connection of the thread's own — so a batch's
// SQLite work (~15-35 us a record on this class of machine) never holds up the event loop that serves
// requests. Replies `{ id, ok }` or `{ id, ok: false, error }`.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from './database.js';
import type { UsageRecord } from './usage.js';

export interface UsageWorkerRequest {
  id: number;
  records: readonly UsageRecord[];
}

export type UsageWorkerReply = { id: number; ok: true } | { id: number; ok: false; error: string };

const port = parentPort;
if (port) {
  const store = await openStore({ url: (workerData as { url: string }).url, migrate: false });
  port.on('message', (message: UsageWorkerRequest | 'close') => {
    if (message === 'close') {
      void store.close().finally(() => port.close());
      return;
    }
    store.usage.insertBatch(message.records).then(
      () => port.postMessage({ id: message.id, ok: true } satisfies UsageWorkerReply),
      (err: unknown) => port.postMessage({ id: message.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies UsageWorkerReply),
    );
  });
  port.postMessage('ready');
}
