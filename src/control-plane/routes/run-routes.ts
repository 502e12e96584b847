import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams } from '../../contracts/common.js';
import {
  PipelineList,
  RunAttemptParams,
  RunClaim,
  RunClaimRequest,
  RunCompletion,
  RunEventList,
  RunEventsQuery,
  RunList,
  RunListQuery,
  RunReport,
  RunReportAnswer,
  RunView,
  StartRunRequest,
} from '../../contracts/runs.js';
import { PIPELINES, pipelineView } from '../../pipelines/pipeline-catalog.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

/** Base64 grows a bundle by a third; the register step takes bundles up to the model-file limit. */
const completionLimit = (modelLimitBytes: number) => Math.ceil((modelLimitBytes * 4) / 3) + 1024 * 1024;

export function runRoutes({ runs, runEvents, runLedger, settings }: Services): FastifyPluginAsyncTypebox {
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
          summary: 'Start a pipeline run (prepare -> train -> evaluate -> register); it goes on the work queue and a worker takes it',
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
          summary: 'List runs, newest first, and the work queue (waiting, running, oldest wait)',
          tags: ['runs'],
          querystring: RunListQuery,
          response: { 200: RunList, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        // Runs are in the database: listing them works while Redis (the queue) is away, without the queue line.
        const queue = await runs.queueStats().catch(() => undefined);
        return { runs: await runs.list(request.query), ...(queue ? { queue } : {}) };
      },
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

    // What `fogline worker` calls for a run it took from the work queue (an operator token).
    app.post(
      '/runs/:id/claim',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'A worker takes a run from the queue: the run and its inputs, "finished", or "retry" after a while',
          tags: ['workers'],
          params: IdParams,
          body: RunClaimRequest,
          response: { 200: RunClaim, ...ERROR_RESPONSES },
        },
      },
      async (request) => runLedger.claim(request.params.id, request.body.worker),
    );

    app.post(
      '/runs/:id/attempts/:attempt/reports',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary:
            'The worker holding this attempt reports a step, progress, a log line, a failure or a ping; 409 once another attempt holds the run',
          tags: ['workers'],
          params: RunAttemptParams,
          body: RunReport,
          response: { 200: RunReportAnswer, ...ERROR_RESPONSES },
        },
      },
      async (request) => runLedger.report(request.params.id, request.params.attempt, request.body),
    );

    app.post(
      '/runs/:id/attempts/:attempt/release',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'The worker stops before the end: the run goes back to the queue at once',
          tags: ['workers'],
          params: RunAttemptParams,
          response: { 204: { type: 'null' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        await runLedger.release(request.params.id, request.params.attempt);
        return reply.status(204).send();
      },
    );

    app.post(
      '/runs/:id/attempts/:attempt/complete',
      {
        bodyLimit: completionLimit(settings.modelLimitBytes ?? 536_870_912),
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'The worker hands in the evaluated bundle; the register step runs here (at most one version per run)',
          tags: ['workers'],
          params: RunAttemptParams,
          body: RunCompletion,
          response: { 200: RunView, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { bundleBase64, ...outcome } = request.body;
        await runLedger.complete(request.params.id, request.params.attempt, outcome, Buffer.from(bundleBase64, 'base64'));
        return runs.get(request.params.id);
      },
    );
  };
}
