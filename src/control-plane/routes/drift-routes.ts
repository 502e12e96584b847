import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams } from '../../contracts/common.js';
import {
  DeploymentParams,
  DriftEventList,
  DriftEventQuery,
  DriftEventView,
  DriftPolicyList,
  DriftPolicyView,
  DriftReportBatch,
  DriftReportList,
  DriftReportQuery,
  DriftReportReceipt,
  DriftSampleBatch,
  DriftSampleReceipt,
  RetrainRequest,
  SetDriftPolicyRequest,
} from '../../contracts/drift.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

/** Drift policies and events for users; summaries from the agents (node credentials, their own node only). */
export function driftRoutes({ drift, desiredState }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    // The drift loop (retraining rounds, schedules) runs on the leader replica only: app.ts starts it.
    app.put(
      '/drift/policies/:deployment',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: "Set a deployment's drift policy (fields left out keep their value, or the default)",
          tags: ['drift'],
          params: DeploymentParams,
          body: SetDriftPolicyRequest,
          response: { 200: DriftPolicyView, ...ERROR_RESPONSES },
        },
      },
      async (request) => drift.setPolicy(request.params.deployment, request.body, request.principal?.tokenId ?? null),
    );

    app.get(
      '/drift/policies',
      {
        config: { access: { minRole: 'viewer' } },
        schema: { summary: 'List drift policies', tags: ['drift'], response: { 200: DriftPolicyList, ...ERROR_RESPONSES } },
      },
      async () => ({ policies: await drift.repository.listPolicies() }),
    );

    app.get(
      '/drift/policies/:deployment',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "A deployment's drift policy",
          tags: ['drift'],
          params: DeploymentParams,
          response: { 200: DriftPolicyView, ...ERROR_RESPONSES },
        },
      },
      async (request) => drift.repository.getPolicy(request.params.deployment),
    );

    app.delete(
      '/drift/policies/:deployment',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: "Remove a deployment's drift policy (reports are still kept; no event fires)",
          tags: ['drift'],
          params: DeploymentParams,
          response: { 204: { type: 'null' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        await drift.deletePolicy(request.params.deployment);
        return reply.status(204).send();
      },
    );

    app.post(
      '/drift/policies/:deployment/retrain',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Start a retraining round now: retrain, evaluate the challenger against the champion, promote per the action',
          tags: ['drift'],
          params: DeploymentParams,
          body: RetrainRequest,
          response: { 201: DriftEventView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => reply.status(201).send(await drift.retrainNow(request.params.deployment, request.body.action)),
    );

    app.get(
      '/drift/events',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'Drift events, newest first, each with its retraining round and timeline',
          tags: ['drift'],
          querystring: DriftEventQuery,
          response: { 200: DriftEventList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ events: await drift.repository.listEvents(request.query) }),
    );

    app.get(
      '/drift/events/:id',
      {
        config: { access: { minRole: 'viewer' } },
        schema: { summary: 'One drift event', tags: ['drift'], params: IdParams, response: { 200: DriftEventView, ...ERROR_RESPONSES } },
      },
      async (request) => drift.repository.getEvent(request.params.id),
    );

    app.get(
      '/drift/reports',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'The newest drift summary (aggregates only) of each node a deployment is placed on now',
          tags: ['drift'],
          querystring: DriftReportQuery,
          response: { 200: DriftReportList, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        // A node's last report stays stored after it stops serving the deployment (relabelled,
        // cordoned, gone, or the deployment moved): only the nodes it is placed on now are shown.
        const [reports, placements] = await Promise.all([drift.repository.reports(request.query.deployment), desiredState.rolloutInputs()]);
        const placed = new Map(placements.map(({ deployment, placedNodes }) => [deployment.name, new Set(placedNodes)]));
        return { reports: reports.filter((report) => placed.get(report.deployment)?.has(report.nodeId) === true) };
      },
    );

    app.post(
      '/drift/nodes/:id/reports',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "A node's drift summaries; the answer says when to report next and each deployment's windows",
          tags: ['drift'],
          params: IdParams,
          body: DriftReportBatch,
          response: { 200: DriftReportReceipt, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        // Only about deployments placed on this node: a batch about any other is refused whole (issue 14).
        const { reports } = request.body;
        const writable = await desiredState.writableBy(
          request.params.id,
          reports.map((r) => r.deployment),
          'drift report',
        );
        return drift.receive(request.params.id, { reports: reports.filter((r) => writable.has(r.deployment)) });
      },
    );

    app.post(
      '/drift/nodes/:id/samples',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary:
            "Observed values a node collected, with the drift policy's consent: those newer than the deployment's dataset become its next version (lineage: the node)",
          tags: ['drift'],
          params: IdParams,
          body: DriftSampleBatch,
          response: { 200: DriftSampleReceipt, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        // Samples only for a deployment placed on this node (issue 14); the drift policy decides the rest.
        await desiredState.writableBy(request.params.id, [request.body.deployment], 'sample upload');
        return drift.receiveSamples(request.params.id, request.body);
      },
    );
  };
}
