// The simulator as an in-process Provider (the embedded default's backend): no network, the same
// answers, pacing and faults as the standalone server, errors mapped exactly as a remote backend's.
import type { SimulatorSettings } from '../../config/schema.js';
import { GatewayError } from '../../openai/errors.js';
import { abortableSleep, type CallSignal } from '../call-signal.js';
import { readFile } from 'node:fs/promises';
import type { JsonObject, MediaCall, MediaResult, Provider, UpstreamCall, UpstreamResult } from '../types.js';
import { answerMedia, DEFAULT_VIDEO_MS } from './media-answers.js';
import { mapUpstreamStatus } from '../upstream-errors.js';
import type { Answer, Emission } from './answer.js';
import { createSimulatorCore, faultErrorBody, type SimulatorCore } from './core.js';
import { SimulatorRequestError } from './params.js';

/** Never resolves: rejects with the signal's reason when it aborts (an injected hang). */
function untilAborted(signal: CallSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.onAbort(() => reject(signal.reason));
  });
}

function brokenError(pieces: number): GatewayError {
  return new GatewayError('upstream_error', `The backend broke the connection after ${pieces} tokens (simulated fault).`);
}

/**
 * Yields the stream's chunks at their due times: step k at TTFT + k token intervals. Steps already due
 * go out together, so fast pacing costs one timer per batch rather than one per token, and no pacing
 * costs none at all.
 */
async function* pacedChunks(core: SimulatorCore, steps: Emission[][], signal: CallSignal): AsyncGenerator<JsonObject[]> {
  const start = performance.now();
  const breakAfter = core.runtime.faults.breakAfterTokens;
  let pieces = 0;
  let batch: JsonObject[] = [];
  for (let s = 0; s < steps.length; s++) {
    const wait = start + core.stepDueMs(s) - performance.now();
    if (wait >= 1) {
      // What is due now goes out together before the pause.
      if (batch.length > 0) yield batch;
      batch = [];
      await abortableSleep(wait, signal);
    }
    for (const emission of steps[s]) {
      signal.throwIfAborted();
      if (breakAfter !== null && pieces + emission.pieces > breakAfter) {
        if (batch.length > 0) yield batch;
        throw brokenError(pieces);
      }
      pieces += emission.pieces;
      batch.push(emission.chunk);
    }
  }
  if (batch.length > 0) yield batch;
}

async function deliver(core: SimulatorCore, answer: Answer, signal: CallSignal): Promise<UpstreamResult> {
  if (answer.kind === 'stream') return { kind: 'stream', events: pacedChunks(core, answer.steps, signal) };
  const limit = core.runtime.faults.breakAfterTokens;
  const broken = limit !== null && core.breaks(answer.pieces);
  // A non-streamed answer arrives when its last token would have been generated (or when it breaks).
  const lastStep = broken ? Math.min(limit, answer.steps - 1) : answer.steps - 1;
  const delay = lastStep < 0 ? core.runtime.ttftMs : core.stepDueMs(lastStep);
  if (delay >= 1) await abortableSleep(delay, signal);
  if (broken) throw brokenError(limit);
  return { kind: 'json', body: answer.body };
}

/** Draws this request's faults and acts them out: a delay, a hang, or an injected error status. */
async function actOutFault(core: SimulatorCore, signal: CallSignal): Promise<void> {
  signal.throwIfAborted();
  const fault = core.nextFault();
  if (fault.latencyMs > 0) await abortableSleep(fault.latencyMs, signal);
  if (fault.hang) await untilAborted(signal);
  if (fault.errorStatus !== null) {
    const err = mapUpstreamStatus(fault.errorStatus, faultErrorBody(fault.errorStatus));
    err.upstreamStatus = fault.errorStatus;
    throw err;
  }
}

/** A request the simulator refuses, mapped as a remote backend's answer would be. */
function refused(err: SimulatorRequestError): GatewayError {
  const mapped = mapUpstreamStatus(err.status, err.toBody());
  mapped.upstreamStatus = err.status;
  return mapped;
}

async function* once(body: Buffer): AsyncGenerator<Buffer> {
  yield body;
}

export function createSimulatorProvider(settings: SimulatorSettings): Provider {
  const core = createSimulatorCore(settings);
  const videoMs = settings.video_ms ?? DEFAULT_VIDEO_MS;
  return {
    async call(call: UpstreamCall): Promise<UpstreamResult> {
      await actOutFault(core, call.signal);
      const { signal } = call;
      const body = call.stream === (call.body.stream === true) ? call.body : { ...call.body, stream: call.stream };
      let answer: Answer;
      try {
        answer = core.answer(call.endpoint, body);
      } catch (err) {
        if (err instanceof SimulatorRequestError) throw refused(err);
        throw err;
      }
      return deliver(core, answer, signal);
    },
    async media(call: MediaCall): Promise<MediaResult> {
      await actOutFault(core, call.signal);
      const file = call.form === undefined ? undefined : await readFile(call.form.file.path);
      try {
        const answer = answerMedia({ endpoint: call.endpoint, body: call.body, fields: call.form?.fields, file, jobId: call.jobId }, videoMs);
        return { contentType: answer.contentType, body: once(answer.body) };
      } catch (err) {
        if (err instanceof SimulatorRequestError) throw refused(err);
        throw err;
      }
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}
