// Breaker alerts: `breaker.opened` / `breaker.closed` when a deployment's breaker changes on this instance's
// own outcomes (HealthRegistry.onTransition); a breaker that follows a peer's news is that peer's to report.
import type { AlertEvent, AlertSink } from './events.js';

/** The event of one transition; its id is new per transition (the millisecond it happened). */
export function breakerAlert(deployment: string, state: 'open' | 'closed', openMs: number, models: readonly string[], now: number): AlertEvent {
  const type = state === 'open' ? 'breaker.opened' : 'breaker.closed';
  const data: Record<string, unknown> = { deployment, models: [...models], state, at: new Date(now).toISOString() };
  // How long it stays open before a trial (the cool-down); a closed breaker has none.
  if (state === 'open') data.open_ms = openMs;
  return { id: `${type}:${deployment}:${now}`, type, data };
}

/** What `breakerAlerts` reads of the catalog: which models each deployment serves. */
export interface DeploymentModels {
  models: readonly { id: string; deployments: readonly { name: string }[] }[];
}

/** A `HealthRegistry.onTransition` listener that emits the transition's alert when a webhook wants it. */
export function breakerAlerts(sink: AlertSink, catalog: DeploymentModels): (deployment: string, state: 'open' | 'closed', openMs: number) => void {
  let byDeployment: Map<string, string[]> | undefined;
  return (deployment, state, openMs) => {
    if (!sink.wants(state === 'open' ? 'breaker.opened' : 'breaker.closed')) return;
    if (byDeployment === undefined) {
      byDeployment = new Map();
      for (const model of catalog.models) {
        for (const d of model.deployments) {
          const ids = byDeployment.get(d.name) ?? [];
          if (!ids.includes(model.id)) ids.push(model.id);
          byDeployment.set(d.name, ids);
        }
      }
    }
    sink.emit(breakerAlert(deployment, state, openMs, byDeployment.get(deployment) ?? [], Date.now()));
  };
}
