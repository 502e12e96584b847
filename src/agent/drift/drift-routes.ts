import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError } from 'fastify';
import { V2Error } from '../../contracts/open-inference.js';
import { toErrorBody } from '../../http/error-handler.js';
import { type DriftMonitoredModels, MAX_ACTUALS } from './drift-models.js';

const ActualsRequest = Type.Object(
  {
    start_time: Type.Integer({ description: 'Unix seconds of values[0]' }),
    values: Type.Array(Type.Number(), { minItems: 1, maxItems: MAX_ACTUALS, description: 'Observed values, one per interval' }),
    interval_seconds: Type.Optional(Type.Integer({ minimum: 1, description: "Spacing of values (default: the model's)" })),
  },
  { additionalProperties: false },
);

/**
 * `POST /v2/models/{name}/actuals` on an agent: a client posts the values it observed after
 * asking for a forecast, and the node scores the forecasts it made for those times (the forecast
 * error drift test). Guarded like the node's other /v2 routes, and needs an inference token for the
 * deployment whenever its drift policy uploads samples (src/agent/edge-auth); answers {scored, pending}.
 */
export function driftRoutes(models: DriftMonitoredModels): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const { status, body } = toErrorBody(error);
      return reply.status(status).send({ error: body.message });
    });
    app.post(
      '/v2/models/:name/actuals',
      {
        config: { access: 'public', audit: false },
        schema: {
          summary: 'Observed values for earlier forecasts (forecast error drift)',
          tags: ['inference'],
          params: Type.Object({ name: Type.String({ maxLength: 200 }) }),
          body: ActualsRequest,
          response: {
            200: Type.Object({ scored: Type.Integer(), pending: Type.Integer() }),
            400: V2Error,
            404: V2Error,
            503: V2Error,
          },
        },
      },
      async (request) =>
        models.recordActuals(request.params.name, request.body.start_time, request.body.values, request.body.interval_seconds),
    );
  };
}
