import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdParams } from '../../contracts/common.js';
import { RotateCredentialRequest } from '../../contracts/join-policy.js';
import {
  EnrollRequest,
  EnrollResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LabelPatch,
  NodeList,
  NodeListQuery,
  NodeView,
  SetInferenceUrlRequest,
} from '../../contracts/nodes.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { parseLabelList } from '../../nodes/labels.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function nodeRoutes({ nodes, enrolment, credentials, settings, audit, registryPublicKeyPem }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/nodes/enroll',
      {
        config: { access: 'join' },
        schema: {
          summary: 'Enrol a node with a join token (Authorization: Bearer <join token>)',
          tags: ['nodes'],
          body: EnrollRequest,
          response: { 201: EnrollResponse, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const joinToken = bearerOrJoinError(request.headers.authorization);
        // Once the join token is known, a refusal (a role or label it does not allow) is audited as its own.
        const result = await enrolment.enroll(joinToken, request.body, (join) => {
          request.principal = { tokenId: join.id, name: `join for ${request.body.name}`, role: 'join', nodeId: null };
        });
        return reply.status(201).send({
          nodeId: result.nodeId,
          nodeName: result.nodeName,
          credential: result.credential,
          heartbeatIntervalSeconds: settings.heartbeatIntervalSeconds,
          ...(result.pending ? { pendingApproval: true } : {}),
          // Pinned by the agent now, over the channel it enrolled on, rather than trusted on its first download.
          registryPublicKey: registryPublicKeyPem,
        });
      },
    );

    app.post(
      '/nodes/:id/heartbeat',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: "Report a node's resources (node credential of that node only)",
          tags: ['nodes'],
          params: IdParams,
          body: HeartbeatRequest,
          response: { 200: HeartbeatResponse, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const outcome = await nodes.recordHeartbeat(request.params.id, request.body);
        if (!outcome.found) {
          throw new FoglineError('FOGLINE_ERR_NODE_NOT_FOUND', 'This node has been deleted: enrol it again with a new join token');
        }
        if (outcome.ignoredUrl) {
          // Where the control plane calls an agent is fixed at enrolment: a heartbeat naming another
          // URL (a moved agent, or a stolen credential pointing replicas at a listener of its own) is ignored.
          const { stored, reported } = outcome.ignoredUrl;
          request.log.warn(
            { nodeId: request.params.id, stored, reported },
            'heartbeat names another inference URL than the enrolled one: ignored (fogline nodes set-url to move it)',
          );
          await audit
            .record({
              actor: { id: request.principal?.tokenId ?? null, name: request.principal?.name ?? 'node', role: 'node' },
              action: 'POST /api/v1/nodes/:id/heartbeat (inferenceUrl ignored)',
              target: request.params.id,
              statusCode: 403,
            })
            .catch((error: unknown) => request.log.error({ err: error }, 'could not write the audit log'));
        }
        const principal = request.principal;
        const step = principal ? await credentials.onHeartbeat(request.params.id, principal.tokenId) : undefined;
        if (step) {
          // A credential handed out or retired is a change of who may act as this node: audited.
          await audit
            .record({
              actor: { id: principal?.tokenId ?? null, name: principal?.name ?? 'node', role: 'node' },
              action:
                'issued' in step
                  ? `POST /api/v1/nodes/:id/heartbeat (new credential ${step.issued.id} handed out)`
                  : `POST /api/v1/nodes/:id/heartbeat (new credential in use; ${step.retired} expires after the overlap)`,
              target: request.params.id,
              statusCode: 200,
            })
            .catch((error: unknown) => request.log.error({ err: error }, 'could not write the audit log'));
        }
        return {
          heartbeatIntervalSeconds: settings.heartbeatIntervalSeconds,
          serverTime: new Date().toISOString(),
          ...(principal?.pendingApproval ? { pendingApproval: true } : {}),
          ...(step && 'issued' in step ? { newCredential: { credential: step.issued.credential, expiresAt: step.issued.expiresAt } } : {}),
        };
      },
    );

    app.get(
      '/nodes',
      {
        config: { access: { minRole: 'viewer' } },
        schema: { summary: 'List nodes', tags: ['nodes'], querystring: NodeListQuery, response: { 200: NodeList, ...ERROR_RESPONSES } },
      },
      async (request) => {
        const { selector, status, role } = request.query;
        return { nodes: await nodes.list({ selector: selector ? parseLabelList(selector) : undefined, status, role }) };
      },
    );

    app.get(
      '/nodes/:id',
      {
        config: { access: { minRole: 'viewer', nodeSelf: true } },
        schema: { summary: 'Get a node by id or name', tags: ['nodes'], params: IdParams, response: { 200: NodeView, ...ERROR_RESPONSES } },
      },
      async (request) => nodes.get(request.params.id),
    );

    app.put(
      '/nodes/:id/inference-url',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: "Set where the control plane calls a node's agent (its heartbeats cannot change it)",
          tags: ['nodes'],
          params: IdParams,
          body: SetInferenceUrlRequest,
          response: { 200: NodeView, ...ERROR_RESPONSES },
        },
      },
      async (request) => nodes.setInferenceUrl(request.params.id, request.body.url),
    );

    app.patch(
      '/nodes/:id/labels',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: "Set or remove a node's labels",
          tags: ['nodes'],
          params: IdParams,
          body: LabelPatch,
          response: { 200: NodeView, ...ERROR_RESPONSES },
        },
      },
      async (request) => nodes.updateLabels(request.params.id, request.body),
    );

    for (const [action, cordoned] of [
      ['cordon', true],
      ['uncordon', false],
    ] as const) {
      app.post(
        `/nodes/:id/${action}`,
        {
          config: { access: { minRole: 'operator' } },
          schema: {
            summary: cordoned ? 'Cordon a node: no new deployments go to it' : 'Uncordon a node',
            tags: ['nodes'],
            params: IdParams,
            response: { 200: NodeView, ...ERROR_RESPONSES },
          },
        },
        async (request) => nodes.setCordoned(request.params.id, cordoned),
      );
    }

    app.post(
      '/nodes/:id/approve',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Approve a pending node (enrolled with a --require-approval join token): it may take work from now on',
          tags: ['nodes'],
          params: IdParams,
          response: { 200: NodeView, ...ERROR_RESPONSES },
        },
      },
      async (request) => nodes.approve(request.params.id),
    );

    app.post(
      '/nodes/:id/rotate-credential',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary:
            'Give a node a new credential: handed to its agent with its next heartbeat; the old one stops working 30 s after the agent first uses the new one',
          tags: ['nodes'],
          params: IdParams,
          body: RotateCredentialRequest,
          response: { 200: NodeView, ...ERROR_RESPONSES },
        },
      },
      async (request) => credentials.request(request.params.id, request.body.credentialTtlSeconds),
    );

    app.delete(
      '/nodes/:id',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Delete a node and revoke its credential',
          tags: ['nodes'],
          params: IdParams,
          response: { 200: NodeView, ...ERROR_RESPONSES },
        },
      },
      async (request) => nodes.delete(request.params.id),
    );
  };
}

function bearerOrJoinError(authorization: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) {
    throw new FoglineError(
      'FOGLINE_ERR_JOIN_TOKEN_INVALID',
      'Enrolment needs Authorization: Bearer <join token> (fogline agent --join-token)',
    );
  }
  return match[1] as string;
}
