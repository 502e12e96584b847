import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's process and Node.js metrics, less three gauges whose names end in `_total`
 * (`promtool check metrics` refuses that suffix on a gauge; the same counts are exported by type as
 * nodejs_active_handles, nodejs_active_requests and nodejs_active_resources).
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}
