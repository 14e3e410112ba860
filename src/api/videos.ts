// Asynchronous video generation (SPEC §2): POST /v1/videos/generations creates a job on a backend and
// answers at once; the job runner advances every active job against its backend, stores the finished
// video, and ends failed jobs with a refund; GET /v1/videos/generations/{id} reports the job to the
// account that made it (anyone else gets a 404), and …/content downloads the video. Jobs live in the
// store, so a restarted gateway picks up where it left off. A job is charged when it is created (its
// seconds × the model's price, like any request's settlement) and refunded through the ledger if it fails.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError, invalidRequest } from '../openai/errors.js';
import { randomBase62 } from '../openai/ids.js';
import type { VideoRequest } from '../openai/schemas/media.js';
import { CallSignal } from '../providers/call-signal.js';
import type { JsonObject } from '../providers/types.js';
import type { Catalog, CatalogDeployment } from '../routing/catalog.js';
import { isBackendFailure } from '../routing/router.js';
import type { Store } from '../store/store.js';
import type { VideoJob, VideoJobStatus } from '../store/video-jobs.js';
import type { BalanceBook } from '../accounting/balance-book.js';
import { costMicros } from '../accounting/pricing.js';
import { admitMedia, checkSize, mediaModel, readAll, readJson, routeMedia, upstreamBody, type MediaDeps } from './media.js';
import { ClientDisconnected } from './stream-relay.js';

const DEFAULT_SECONDS = 4;
const DEFAULT_MAX_SECONDS = 20;
const MAX_VIDEO_BYTES = 512 * 1024 * 1024;
/** A job's JSON (created, or its status). */
const MAX_JOB_ANSWER = 1024 * 1024;
/** A job its backend has not finished in this long is given up (and refunded). */
const GIVE_UP_MS = 24 * 60 * 60 * 1000;

export interface VideoDeps extends MediaDeps {
  store: Store;
  runner: VideoJobRunner;
}

function newJobId(): string {
  return `video_${randomBase62(24)}`;
}

/** A job as the client sees it. */
export function videoJobView(job: VideoJob, basePath: string): JsonObject {
  return {
    id: job.id,
    object: 'video.generation',
    model: job.model,
    status: job.status,
    progress: job.progress,
    created_at: Math.floor(job.createdAt / 1000),
    completed_at: job.completedAt === null ? null : Math.floor(job.completedAt / 1000),
    prompt: job.prompt,
    seconds: job.seconds,
    size: job.size,
    error: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage },
    result:
      job.status === 'completed' && job.contentType !== null
        ? { content_type: job.contentType, bytes: job.contentBytes, url: `${basePath}/videos/generations/${job.id}/content` }
        : null,
  };
}

function backendStatus(value: unknown): VideoJobStatus | undefined {
  return value === 'queued' || value === 'in_progress' || value === 'completed' || value === 'failed' ? value : undefined;
}

/** POST /v1/videos/generations: the job is created on a backend and stored; the answer is the queued job. */
export async function createVideo(deps: VideoDeps, req: VideoRequest, basePath: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const state = request.state;
  const model = mediaModel(deps, state, req.model, 'video', 'POST /v1/videos/generations');
  const defaultSeconds = model.defaults.seconds;
  const seconds = req.seconds ?? (typeof defaultSeconds === 'number' ? defaultSeconds : DEFAULT_SECONDS);
  const most = model.config.max_video_seconds ?? DEFAULT_MAX_SECONDS;
  if (seconds > most) throw invalidRequest('seconds', `seconds: ${seconds} is too long; the model "${model.id}" makes at most ${most} seconds of video.`);
  checkSize(req.size, model);
  const media = { unit: 'video_second' as const, count: seconds };
  await admitMedia(deps, state, 'videos', model, media);
  const body = upstreamBody({ ...req, seconds }, model);
  const { started, end } = await routeMedia(model, state, reply, { endpoint: 'video_create', body }, deps.shutdown);
  let ok = false;
  try {
    const answer = readJson(await readAll(started.result.body, MAX_JOB_ANSWER));
    if (typeof answer.id !== 'string' || answer.id.length === 0) throw new GatewayError('upstream_error', 'The backend answered without a job id.');
    const now = Date.now();
    const job: VideoJob = {
      id: newJobId(),
      accountId: state.principal!.accountId,
      keyId: state.principal!.keyId,
      requestId: state.id,
      model: model.id,
      deployment: state.deployment!,
      upstreamId: answer.id,
      status: backendStatus(answer.status) === 'in_progress' ? 'in_progress' : 'queued',
      progress: 0,
      prompt: req.prompt,
      seconds,
      size: req.size ?? (typeof answer.size === 'string' ? answer.size : null),
      costMicros: costMicros(model.prices, { promptTokens: 0, cachedTokens: 0, completionTokens: 0, media }),
      errorCode: null,
      errorMessage: null,
      contentType: null,
      contentBytes: null,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    await deps.store.videos.create(job);
    // Charged now (settlement records it); a failed job is refunded by the runner.
    state.media = media;
    state.settle = 'complete';
    ok = true;
    deps.runner.wake();
    await reply.type('application/json').send(JSON.stringify(videoJobView(job, basePath)));
  } catch (err) {
    if (err instanceof ClientDisconnected) return;
    throw err;
  } finally {
    end(ok ? 'success' : 'failure');
  }
}

/** The job, if it exists and belongs to the caller's account; else the same 404 either way. */
export async function findVideo(deps: VideoDeps, request: FastifyRequest, id: string): Promise<VideoJob> {
  const job = await deps.store.videos.get(id);
  if (job === undefined || job.accountId !== request.state.principal!.accountId) {
    throw new GatewayError('not_found', `No video generation job "${id}" exists for this account.`, { param: 'id' });
  }
  return job;
}

/** Advances active jobs against their backends, one pass every `pollMs` (and at once when woken). */
export class VideoJobRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly signal = new CallSignal();

  constructor(
    private readonly store: Store,
    private readonly catalog: Catalog,
    private readonly book: BalanceBook,
    private readonly logger: Logger,
    private readonly pollMs = 500,
    /**
     * Whether this instance runs the passes now: with several instances, one of them holds the runner's
     * lock (redis) and the others stand by. Absent: always.
     */
    private readonly claim: () => Promise<boolean> = () => Promise.resolve(true),
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Runs a pass now (or right after the one running). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.logger.warn({ err }, 'video job pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.signal.abort(new Error('The gateway is shutting down.'));
    await this.running;
  }

  private deployment(job: VideoJob): CatalogDeployment | undefined {
    for (const model of this.catalog.models) for (const d of model.deployments) if (d.name === job.deployment) return d;
    return undefined;
  }

  private async pass(): Promise<void> {
    if (!(await this.claim())) return;
    for (const job of await this.store.videos.active()) {
      if (this.stopped) return;
      await this.advance(job).catch((err: unknown) => this.logger.warn({ err, video_job: job.id }, 'video job not advanced'));
    }
  }

  private async advance(job: VideoJob): Promise<void> {
    const deployment = this.deployment(job);
    if (deployment?.provider.media === undefined) return this.fail(job, 'upstream_error', `The deployment ${job.deployment} is no longer configured.`);
    const call = { requestId: job.requestId, signal: this.signal, jobId: job.upstreamId };
    let status: JsonObject;
    try {
      const result = await deployment.provider.media({ ...call, endpoint: 'video_get' });
      status = readJson(await readAll(result.body, MAX_JOB_ANSWER));
    } catch (err) {
      // The backend no longer knows the job: it will not finish.
      if (err instanceof GatewayError && err.upstreamStatus === 404) return this.fail(job, 'upstream_error', 'The backend lost the job.');
      if (Date.now() - job.createdAt > GIVE_UP_MS) return this.fail(job, 'upstream_timeout', 'The backend did not finish the job within a day.');
      if (isBackendFailure(err)) return; // Tried again on the next pass.
      throw err;
    }
    const next = backendStatus(status.status);
    const progress = typeof status.progress === 'number' ? Math.max(0, Math.min(100, Math.round(status.progress))) : job.progress;
    if (next === 'failed') {
      const error = (status.error ?? {}) as JsonObject;
      return this.fail(job, 'upstream_error', typeof error.message === 'string' ? `The backend failed the job: ${error.message}` : 'The backend failed the job.');
    }
    if (next !== 'completed') {
      if (next !== job.status || progress !== job.progress) await this.store.videos.update(job.id, { status: next ?? job.status, progress });
      return;
    }
    const content = await deployment.provider.media({ ...call, endpoint: 'video_content' });
    const bytes = await readAll(content.body, MAX_VIDEO_BYTES);
    await this.store.videos.update(job.id, { status: 'completed', progress: 100, content: { type: content.contentType, bytes }, completedAt: Date.now() });
    this.logger.info({ video_job: job.id, model: job.model, bytes: bytes.length }, 'video job completed');
  }

  /** Ends a job as failed and gives its charge back (once: only an active job can fail). */
  private async fail(job: VideoJob, code: string, message: string): Promise<void> {
    if (!(await this.store.videos.update(job.id, { status: 'failed', errorCode: code, errorMessage: message, completedAt: Date.now() }))) return;
    if (job.costMicros > 0) {
      await this.store.ledger.record({ accountId: job.accountId, kind: 'refund', amountMicros: job.costMicros, reason: `video job ${job.id} failed`, actor: 'floodgate' });
      await this.book.refresh(job.accountId);
    }
    this.logger.warn({ video_job: job.id, model: job.model, error_code: code, error: message }, 'video job failed');
  }
}
