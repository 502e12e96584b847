import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  NodeSessionParams,
  OpenSessionRequest,
  OpenSessionResponse,
  SessionEventRequest,
  SessionList,
  SessionListQuery,
  SessionParams,
  SessionView,
} from '../../contracts/sessions.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function sessionRoutes({ sessions }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/sessions',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary:
            'Open a 1:1 inference session: a node serving the deployment with room, else one that loads it on demand, else the cloud; returns a WebSocket URL and token',
          tags: ['sessions'],
          body: OpenSessionRequest,
          response: { 201: OpenSessionResponse, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const serverUrl = `${request.protocol}://${request.host}`;
        return reply.status(201).send(await sessions.open(request.body, serverUrl));
      },
    );

    app.get(
      '/sessions',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'List open inference sessions',
          tags: ['sessions'],
          querystring: SessionListQuery,
          response: { 200: SessionList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ sessions: await sessions.list(request.query.all ?? false) }),
    );

    app.delete(
      '/sessions/:sessionId',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'Close an inference session (its socket runs on until it closes or idles out)',
          tags: ['sessions'],
          params: SessionParams,
          response: { 200: SessionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => sessions.end(request.params.sessionId),
    );

    app.post(
      '/nodes/:id/sessions/:sessionId/events',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "A node reports that a session's socket connected or closed (node credential of that node only)",
          tags: ['sessions'],
          params: NodeSessionParams,
          body: SessionEventRequest,
          response: { 200: SessionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => sessions.record(request.params.id, request.params.sessionId, request.body.event, request.body.reason),
    );
  };
}
