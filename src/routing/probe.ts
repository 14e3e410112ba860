// Active health probes (SPEC §7): the smallest real request a deployment serves — one output token of
// chat or completion, or one short embedding — sent through its provider like a client's. A backend that
// answers, even with a 400 about the probe itself, is alive; one that fails as a backend fails is not, and
// one that cannot be connected to is unreachable (its failed trial does not lengthen the cool-down).
import type { Capability } from '../config/schema.js';
import { CallSignal } from '../providers/call-signal.js';
import { GatewayError } from '../openai/errors.js';
import { BackendUnreachableError } from '../providers/exchange.js';
import type { Endpoint, JsonObject } from '../providers/types.js';
import type { CatalogDeployment } from './catalog.js';
import type { Outcome, Probe } from './health.js';
import { isBackendFailure } from './router.js';

function probeRequest(capabilities: ReadonlySet<Capability>, model: string): { endpoint: Endpoint; body: JsonObject } {
  if (capabilities.has('chat')) return { endpoint: 'chat', body: { model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 } };
  if (capabilities.has('completions')) return { endpoint: 'completions', body: { model, prompt: 'ping', max_tokens: 1 } };
  return { endpoint: 'embeddings', body: { model, input: 'ping' } };
}

let probeCount = 0;

export function deploymentProbe(deployment: Pick<CatalogDeployment, 'provider' | 'upstreamModel'>, capabilities: ReadonlySet<Capability>, timeoutMs: number): Probe {
  const { endpoint, body } = probeRequest(capabilities, deployment.upstreamModel);
  return async (): Promise<Outcome> => {
    const signal = new CallSignal();
    const timer = setTimeout(() => signal.abort(new GatewayError('upstream_timeout', `The probe got no answer within ${timeoutMs} ms.`)), timeoutMs);
    try {
      const result = await deployment.provider.call({ endpoint, body: { ...body }, stream: false, requestId: `probe-${++probeCount}`, signal });
      return result.kind === 'json' ? 'success' : 'failure';
    } catch (err) {
      if (err instanceof BackendUnreachableError) return 'unreachable';
      return err instanceof GatewayError && !isBackendFailure(err) ? 'success' : 'failure';
    } finally {
      clearTimeout(timer);
    }
  };
}
