import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { NodeListQuery } from '../../contracts/nodes.js';
import { prometheusTargets } from '../metrics/prometheus-discovery.js';
import { parseLabelList } from '../../nodes/labels.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

const TargetGroups = Type.Array(Type.Object({ targets: Type.Array(Type.String()), labels: Type.Record(Type.String(), Type.String()) }), {
  description: "Prometheus http_sd_configs: one target per node's agent",
});

/**
 * `GET /metrics` (Prometheus text) and the Prometheus service discovery of the agents. /metrics
 * needs a viewer token unless the server runs with `--metrics-access public`: it names nodes,
 * deployments and models, which the API shows to viewers only.
 */
export function metricsRoutes({ metrics, nodes, settings }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/metrics',
      {
        config: { access: settings.metricsAccess === 'public' ? 'public' : { minRole: 'viewer' } },
        schema: {
          summary: 'Metrics in the Prometheus text format (docs/metrics.md)',
          tags: ['metrics'],
          produces: ['text/plain'],
        },
      },
      async (_request, reply) =>
        reply
          .header('content-type', metrics.contentType)
          .header('cache-control', 'no-store')
          .send(await metrics.render()),
    );
    app.get(
      '/api/v1/discovery/prometheus',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "Prometheus HTTP service discovery: every node's agent as a scrape target",
          tags: ['metrics'],
          querystring: NodeListQuery,
          response: { 200: TargetGroups, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { selector, status, role } = request.query;
        return prometheusTargets(await nodes.list({ selector: selector ? parseLabelList(selector) : undefined, status, role }));
      },
    );
  };
}
