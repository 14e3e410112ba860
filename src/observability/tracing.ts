// OpenTelemetry traces (config `tracing`): one SERVER span per API request, named and attributed as the
// GenAI semantic conventions say (`chat sim-chat`, gen_ai.*), with child spans for admission, each
// upstream attempt and settlement. A client's W3C `traceparent`/`tracestate` is honoured (the request
// joins its trace; a sampled parent is kept whatever the ratio) and each attempt's own context goes to
// the backend. Only names, ids, counts and statuses are recorded: never bodies, keys or prompt text.
// When tracing is off none of this exists: the hooks elsewhere are one `tracing !== undefined` check.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config/load.js';
import type { RequestState } from '../api/request-state.js';
import { GatewayError } from '../openai/errors.js';
import type { Endpoint, JsonObject } from '../providers/types.js';

/** gen_ai.operation.name per backend endpoint (the Messages door's native calls are chats too). */
const OPERATIONS: Record<Endpoint, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings', messages: 'chat' };

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** What one traced request holds until its span ends. */
interface RequestTrace {
  span: Span;
  context: Context;
  operation: string | undefined;
  attempts: number;
  /** A stream's attempt stays open until the response is over. */
  openAttempt: Span | undefined;
}

/** A started backend call: a stream (`kind: 'stream'`) keeps its attempt span open until the response ends. */
interface StartedCall {
  kind: string;
}

export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly traces = new WeakMap<RequestState, RequestTrace>();

  constructor(config: TracingConfig) {
    const exporter = new OTLPTraceExporter({ url: config.endpoint, headers: config.headers });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplingRatio) }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    this.tracer = this.provider.getTracer('floodgate');
  }

  /** An API request arrived: its SERVER span, a child of the client's `traceparent` when it sent one. */
  begin(state: RequestState, method: string, route: string, headers: IncomingHttpHeaders): void {
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = this.tracer.startSpan(
      `${method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route, 'floodgate.request_id': state.id } },
      parent,
    );
    this.traces.set(state, { span, context: trace.setSpan(ROOT_CONTEXT, span), operation: undefined, attempts: 0, openAttempt: undefined });
  }

  /** Admission (limits and reservation) as a child span; the request's operation and bounds go on the request's span. */
  async admission<T>(state: RequestState, endpoint: Endpoint, req: JsonObject, admit: () => Promise<T>): Promise<T> {
    const t = this.traces.get(state);
    if (t === undefined) return admit();
    t.operation = OPERATIONS[endpoint];
    t.span.setAttribute('gen_ai.operation.name', t.operation);
    const maxTokens = req.max_completion_tokens ?? req.max_tokens;
    if (typeof maxTokens === 'number') t.span.setAttribute('gen_ai.request.max_tokens', maxTokens);
    const span = this.tracer.startSpan('admission', { kind: SpanKind.INTERNAL }, t.context);
    try {
      return await admit();
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * One backend attempt as a CLIENT span; `call` gets the headers that carry the attempt's context to the
   * backend (`traceparent`, and `tracestate` when the client sent one).
   */
  async attempt<T extends StartedCall>(state: RequestState, deployment: string, providerName: string, call: (headers: Record<string, string> | undefined) => Promise<T>): Promise<T> {
    const t = this.traces.get(state);
    if (t === undefined) return call(undefined);
    const span = this.tracer.startSpan(
      `attempt ${deployment}`,
      { kind: SpanKind.CLIENT, attributes: { 'gen_ai.provider.name': providerName, 'floodgate.deployment': deployment, 'floodgate.retry': t.attempts++ } },
      t.context,
    );
    const headers: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, { set: (carrier, key, value) => (carrier[key] = value) });
    try {
      const started = await call(headers);
      span.setAttribute('http.response.status_code', 200);
      if (started.kind === 'stream') t.openAttempt = span;
      else span.end();
      return started;
    } catch (err) {
      if (err instanceof GatewayError && err.upstreamStatus !== undefined) span.setAttribute('http.response.status_code', err.upstreamStatus);
      failed(span, err);
      span.end();
      throw err;
    }
  }

  /** Settlement as a child span (a stream's attempt ends first: the response is over). */
  settlement(state: RequestState, settle: () => void): void {
    const t = this.traces.get(state);
    if (t === undefined) return settle();
    t.openAttempt?.end();
    t.openAttempt = undefined;
    const span = this.tracer.startSpan('settlement', { kind: SpanKind.INTERNAL }, t.context);
    try {
      settle();
      if (state.costMicros !== undefined) span.setAttribute('floodgate.cost_micros', state.costMicros);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** The request is over (answered, settled, logged): what it came to goes on its span, which ends. */
  end(state: RequestState, status: number): void {
    const t = this.traces.get(state);
    if (t === undefined) return;
    this.traces.delete(state);
    t.openAttempt?.end();
    const span = t.span;
    if (t.operation !== undefined && state.model !== undefined) span.updateName(`${t.operation} ${state.model}`);
    if (state.model !== undefined) span.setAttribute('gen_ai.request.model', state.model);
    const served = state.servedModel ?? state.modelId;
    if (served !== undefined && state.deployment !== undefined) span.setAttribute('gen_ai.response.model', served);
    if (state.usage !== undefined) {
      span.setAttribute('gen_ai.usage.input_tokens', state.usage.prompt_tokens);
      span.setAttribute('gen_ai.usage.output_tokens', state.usage.completion_tokens);
    }
    span.setAttribute('http.response.status_code', status);
    if (state.principal !== undefined) span.setAttribute('floodgate.account_id', state.principal.accountId);
    if (state.door !== undefined) span.setAttribute('floodgate.door', state.door);
    if (state.deployment !== undefined) span.setAttribute('floodgate.deployment', state.deployment);
    if (state.stream === true) span.setAttribute('gen_ai.request.stream', true);
    if (state.errorCode) span.setAttribute('error.type', state.errorCode);
    // Server spans are errors for 5xx only (the semantic conventions: a 4xx is the client's).
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /** Exports what is buffered and stops (the gateway's shutdown). */
  async shutdown(): Promise<void> {
    await this.provider.forceFlush();
    await this.provider.shutdown();
  }
}

/** An error on a child span: its catalog code, never its message (a backend's message may echo the prompt). */
function failed(span: Span, err: unknown): void {
  span.setAttribute('error.type', err instanceof GatewayError ? err.errorName : err instanceof Error ? err.name : 'error');
  span.setStatus({ code: SpanStatusCode.ERROR });
}
