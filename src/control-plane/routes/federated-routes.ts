import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { IdParams } from '../../contracts/common.js';
import {
  FederatedJobList,
  FederatedJobListQuery,
  FederatedJobView,
  FederatedNodeJobParams,
  FederatedTaskList,
  FederatedTaskQuery,
  FederatedUpdateQuery,
  FederatedUpdateReceipt,
  StartFederatedJobRequest,
} from '../../contracts/federated.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

/** Largest update frame accepted (a 64 MiB model in float32). */
const UPDATE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Federated jobs for users; tasks, weights and updates for the agents (node credentials, their own node only). */
export function federatedRoutes({ federated }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    // The coordinator runs on the leader replica only, and closing answers long polls at once: app.ts does both.
    // Updates travel as binary frames (src/ml/federated/update-codec.ts), not JSON.
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: UPDATE_LIMIT_BYTES }, (_request, body, done) =>
      done(null, body),
    );

    app.post(
      '/federated/jobs',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Start a federated job: agents train on their own data, the control plane aggregates round by round',
          tags: ['federated'],
          body: StartFederatedJobRequest,
          response: { 201: FederatedJobView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => reply.status(201).send(await federated.create(request.body, request.principal?.tokenId ?? null)),
    );

    app.get(
      '/federated/jobs',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'List federated jobs, newest first',
          tags: ['federated'],
          querystring: FederatedJobListQuery,
          response: { 200: FederatedJobList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ jobs: await federated.list(request.query) }),
    );

    app.get(
      '/federated/jobs/:id',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'A federated job with its rounds: sampled clients, reports, dropped clients and metrics per round',
          tags: ['federated'],
          params: IdParams,
          response: { 200: FederatedJobView, ...ERROR_RESPONSES },
        },
      },
      async (request) => federated.get(request.params.id),
    );

    app.post(
      '/federated/jobs/:id/cancel',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Cancel a running federated job',
          tags: ['federated'],
          params: IdParams,
          response: { 200: FederatedJobView, ...ERROR_RESPONSES },
        },
      },
      async (request) => federated.cancel(request.params.id),
    );

    app.get(
      '/federated/nodes/:id/tasks',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "A node's federated tasks (rounds it is sampled in); ?wait=N holds the request open until one comes",
          tags: ['federated'],
          params: IdParams,
          querystring: FederatedTaskQuery,
          response: { 200: FederatedTaskList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ tasks: await federated.tasks(request.params.id, request.query.wait ?? 0, request.query.kinds?.split(',')) }),
    );

    app.get(
      '/federated/nodes/:id/jobs/:jobId/weights',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "The round's global weights, as a float32 update frame (application/octet-stream)",
          tags: ['federated'],
          params: FederatedNodeJobParams,
          querystring: FederatedUpdateQuery,
          response: { 200: Type.Any(), ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const { id, jobId } = request.params;
        const bytes = await federated.weights(id, jobId, request.query.round, request.query.attempt);
        return reply.type('application/octet-stream').send(bytes);
      },
    );

    app.post(
      '/federated/nodes/:id/jobs/:jobId/update',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "A client's update: an encoded frame (float32, float16 or q8 + CRC-32) with its example count and metrics",
          tags: ['federated'],
          params: FederatedNodeJobParams,
          querystring: FederatedUpdateQuery,
          response: { 200: FederatedUpdateReceipt, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { id, jobId } = request.params;
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        return federated.submit(id, jobId, request.query.round, request.query.attempt, body);
      },
    );
  };
}
