import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams } from '../../contracts/common.js';
import { PipelineList, RunEventList, RunEventsQuery, RunList, RunListQuery, RunView, StartRunRequest } from '../../contracts/runs.js';
import { PIPELINES, pipelineView } from '../../pipelines/pipeline-catalog.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function runRoutes({ runs, runEvents }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/pipelines',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'The built-in pipelines and their parameters',
          tags: ['runs'],
          response: { 200: PipelineList, ...ERROR_RESPONSES },
        },
      },
      async () => ({ pipelines: Object.values(PIPELINES).map(pipelineView) }),
    );

    app.post(
      '/runs',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Start a pipeline run (prepare -> train -> evaluate -> register); it is queued and runs in a worker thread',
          tags: ['runs'],
          body: StartRunRequest,
          response: { 201: RunView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => reply.status(201).send(await runs.start(request.body, request.principal?.tokenId ?? null)),
    );

    app.get(
      '/runs',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'List runs, newest first',
          tags: ['runs'],
          querystring: RunListQuery,
          response: { 200: RunList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ runs: await runs.list(request.query) }),
    );

    app.get(
      '/runs/:id',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'A run with its steps and live progress',
          tags: ['runs'],
          params: IdParams,
          response: { 200: RunView, ...ERROR_RESPONSES },
        },
      },
      async (request) => runs.get(request.params.id),
    );

    app.get(
      '/runs/:id/events',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "A run's log and per-epoch losses; pass ?after=<last id> to follow it",
          tags: ['runs'],
          params: IdParams,
          querystring: RunEventsQuery,
          response: { 200: RunEventList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ events: await runEvents.events(request.params.id, request.query.after) }),
    );

    app.post(
      '/runs/:id/cancel',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Cancel a queued or running run',
          tags: ['runs'],
          params: IdParams,
          response: { 200: RunView, ...ERROR_RESPONSES },
        },
      },
      async (request) => runs.cancel(request.params.id),
    );
  };
}
