// Video generation jobs (SPEC §2): one row per job, owned by the account that made it, advanced by the
// gateway against its backend until it completes (with the video stored here) or fails. In the store,
// not in memory, so a job outlives a restart of the gateway.
import type { Kysely, Selectable } from 'kysely';
import { toNumber, type Database, type VideoJobsTable } from './database.js';

export type VideoJobStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

export interface VideoJob {
  id: string;
  accountId: string;
  keyId: string;
  requestId: string;
  model: string;
  deployment: string;
  upstreamId: string;
  status: VideoJobStatus;
  progress: number;
  prompt: string;
  seconds: number;
  size: string | null;
  costMicros: number;
  errorCode: string | null;
  errorMessage: string | null;
  contentType: string | null;
  /** Bytes of the finished video (its content is read with `content`). */
  contentBytes: number | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

export type NewVideoJob = Omit<VideoJob, 'errorCode' | 'errorMessage' | 'contentType' | 'contentBytes' | 'updatedAt' | 'completedAt'>;

export interface VideoJobUpdate {
  status?: VideoJobStatus;
  progress?: number;
  errorCode?: string | null;
  errorMessage?: string | null;
  content?: { type: string; bytes: Uint8Array };
  completedAt?: number;
}

export interface VideoJobRepository {
  create(job: NewVideoJob): Promise<void>;
  get(id: string): Promise<VideoJob | undefined>;
  /** Jobs still queued or in progress, oldest first. */
  active(): Promise<VideoJob[]>;
  /** Applies the update only while the job is still active; false when it had already ended. */
  update(id: string, update: VideoJobUpdate, now?: number): Promise<boolean>;
  content(id: string): Promise<{ contentType: string; bytes: Buffer } | undefined>;
}

const COLUMNS = [
  'id',
  'account_id',
  'key_id',
  'request_id',
  'model',
  'deployment',
  'upstream_id',
  'status',
  'progress',
  'prompt',
  'seconds',
  'size',
  'cost_micros',
  'error_code',
  'error_message',
  'content_type',
  'created_at',
  'updated_at',
  'completed_at',
] as const;

type JobRow = Pick<Selectable<VideoJobsTable>, (typeof COLUMNS)[number]> & { content_bytes: number | string | null };

function toJob(row: JobRow): VideoJob {
  return {
    id: row.id,
    accountId: row.account_id,
    keyId: row.key_id,
    requestId: row.request_id,
    model: row.model,
    deployment: row.deployment,
    upstreamId: row.upstream_id,
    status: row.status as VideoJobStatus,
    progress: Number(row.progress),
    prompt: row.prompt,
    seconds: Number(row.seconds),
    size: row.size,
    costMicros: toNumber(row.cost_micros),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    contentType: row.content_type,
    contentBytes: row.content_bytes === null ? null : toNumber(row.content_bytes),
    createdAt: toNumber(row.created_at),
    updatedAt: toNumber(row.updated_at),
    completedAt: row.completed_at === null ? null : toNumber(row.completed_at),
  };
}

export function videoJobRepository(db: Kysely<Database>): VideoJobRepository {
  const select = () => db.selectFrom('video_jobs').select([...COLUMNS, (eb) => eb.fn('length', ['content']).as('content_bytes')]);
  return {
    async create(job) {
      await db
        .insertInto('video_jobs')
        .values({
          id: job.id,
          account_id: job.accountId,
          key_id: job.keyId,
          request_id: job.requestId,
          model: job.model,
          deployment: job.deployment,
          upstream_id: job.upstreamId,
          status: job.status,
          progress: job.progress,
          prompt: job.prompt,
          seconds: job.seconds,
          size: job.size,
          cost_micros: job.costMicros,
          error_code: null,
          error_message: null,
          content_type: null,
          content: null,
          created_at: job.createdAt,
          updated_at: job.createdAt,
          completed_at: null,
        })
        .execute();
    },
    async get(id) {
      const row = await select().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toJob(row as JobRow);
    },
    async active() {
      const rows = await select().where('status', 'in', ['queued', 'in_progress']).orderBy('created_at').orderBy('id').execute();
      return rows.map((r) => toJob(r as JobRow));
    },
    async update(id, update, now = Date.now()) {
      const result = await db
        .updateTable('video_jobs')
        .set({
          updated_at: now,
          ...(update.status !== undefined && { status: update.status }),
          ...(update.progress !== undefined && { progress: update.progress }),
          ...(update.errorCode !== undefined && { error_code: update.errorCode }),
          ...(update.errorMessage !== undefined && { error_message: update.errorMessage }),
          ...(update.content !== undefined && { content_type: update.content.type, content: update.content.bytes }),
          ...(update.completedAt !== undefined && { completed_at: update.completedAt }),
        })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'in_progress'])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async content(id) {
      const row = await db.selectFrom('video_jobs').select(['content_type', 'content']).where('id', '=', id).executeTakeFirst();
      if (row?.content === null || row?.content === undefined || row.content_type === null) return undefined;
      return { contentType: row.content_type, bytes: Buffer.from(row.content) };
    },
  };
}
