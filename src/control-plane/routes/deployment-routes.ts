import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { IdParams } from '../../contracts/common.js';
import {
  CreateDeploymentRequest,
  DEFAULT_LATENCY_TARGET_MS,
  DeploymentList,
  DeploymentParams,
  DeploymentStatusReport,
  DeploymentView,
  DesiredState,
  DesiredStateQuery,
} from '../../contracts/deployments.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { DeploymentRecord, DeploymentRepository } from '../../deployments/deployment-repository.js';
import { validateJoint } from '../../deployments/joint-setting.js';
import { resolveDeviceBinding } from '../../deployments/device-binding.js';
import { NothingToRollBackTo, requestRollback } from '../../deployments/rollout.js';
import { assertValidLabels } from '../../nodes/labels.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

const ArtifactParams = Type.Object({
  id: Type.String({ maxLength: 253 }),
  model: Type.String({ maxLength: 200 }),
  version: Type.Integer({ minimum: 1 }),
});

export function deploymentRoutes({ deployments, desiredState, models, rollouts }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/deployments',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Deploy a model (selector: name, name@version or name@alias) to the nodes a label selector picks',
          tags: ['deployments'],
          body: CreateDeploymentRequest,
          response: { 201: DeploymentView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const {
          name,
          model,
          nodeSelector = {},
          strategy = 'all',
          canaryPercent = 20,
          soakSeconds = 60,
          maxErrorRate = 0.01,
          offload = 'edge-only',
          latencyTargetMs = DEFAULT_LATENCY_TARGET_MS,
          joint,
          mqtt,
        } = request.body;
        assertValidLabels(nodeSelector);
        const first = await models.resolve(model);
        if (joint) await validateJoint(joint, first, offload, models);
        const binding = mqtt ? resolveDeviceBinding(mqtt, { name: first.model, ioSignature: first.ioSignature }) : undefined;
        const record = await deployments.create({
          firstVersion: first.version,
          name,
          modelSelector: model,
          nodeSelector,
          policy: { strategy, canaryPercent, soakMs: soakSeconds * 1000, maxErrorRate },
          offload: { policy: offload, latencyTargetMs },
          ...(joint ? { joint } : {}),
          ...(binding ? { mqtt: binding } : {}),
          createdBy: request.principal?.tokenId ?? null,
        });
        return reply.status(201).send(await desiredState.view(record));
      },
    );

    app.get(
      '/deployments',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'List deployments with per-node state',
          tags: ['deployments'],
          response: { 200: DeploymentList, ...ERROR_RESPONSES },
        },
      },
      async () => ({ deployments: await desiredState.views(await deployments.list()) }),
    );

    app.get(
      '/deployments/:name',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'A deployment: resolved version and each node’s state',
          tags: ['deployments'],
          params: DeploymentParams,
          response: { 200: DeploymentView, ...ERROR_RESPONSES },
        },
      },
      async (request) => desiredState.view(await deployments.get(request.params.name)),
    );

    app.post(
      '/deployments/:name/rollback',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary:
            'Roll back: an unfinished rollout returns to the stable version, a finished one to the good version before it; the version left is not rolled out again until the selector moves on',
          tags: ['deployments'],
          params: DeploymentParams,
          response: { 200: DeploymentView, ...ERROR_RESPONSES },
        },
      },
      async (request) => desiredState.view(await rollbackDeployment(deployments, request.params.name)),
    );

    app.delete(
      '/deployments/:name',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Delete a deployment: every node unloads it',
          tags: ['deployments'],
          params: DeploymentParams,
          response: { 204: { type: 'null' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        await deployments.delete(request.params.name);
        return reply.status(204).send();
      },
    );

    app.get(
      '/nodes/:id/desired-state',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: 'What this node should serve; with ?revision and ?waitSeconds, a long poll that answers on the next change',
          tags: ['deployments'],
          params: IdParams,
          querystring: DesiredStateQuery,
          response: { 200: DesiredState, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        // Stop waiting when the agent hangs up.
        const abort = new AbortController();
        request.raw.on('close', () => abort.abort());
        return desiredState.waitForChange(request.params.id, request.query.revision, (request.query.waitSeconds ?? 0) * 1000, abort.signal);
      },
    );

    app.post(
      '/nodes/:id/deployment-status',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary:
            'Report the state of each deployment on this node (only deployments placed on it: else 403 FOGLINE_ERR_NODE_NOT_ASSIGNED, nothing written)',
          tags: ['deployments'],
          params: IdParams,
          body: DeploymentStatusReport,
          response: { 204: { type: 'null' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        // Only about deployments placed on this node: a report about any other is refused whole (issue 14).
        const reported = request.body.deployments;
        const writable = await desiredState.writableBy(
          request.params.id,
          reported.map((d) => d.name),
          'deployment status report',
        );
        await deployments.recordStatus(request.params.id, { deployments: reported.filter((d) => writable.has(d.name)) });
        rollouts.poke();
        return reply.status(204).send();
      },
    );

    app.get(
      '/nodes/:id/artifacts/:model/:version',
      {
        config: { access: { nodeSelf: true }, audit: false },
        schema: {
          summary: 'Download a bundle this node is assigned (Range: bytes=N- resumes)',
          tags: ['deployments'],
          params: ArtifactParams,
        },
      },
      async (request, reply) => {
        const { id, model, version } = request.params;
        await desiredState.assertAssigned(id, model, version);
        const view = await models.getVersion(model, version);
        const size = view.artifact.sizeBytes;
        const start = rangeStart(request.headers.range, size);
        const body = await models.openArtifact(view, { start });
        reply
          .header('content-type', 'application/octet-stream')
          .header('accept-ranges', 'bytes')
          .header('x-fogline-sha256', view.artifact.sha256);
        if (start > 0) {
          reply.status(206).header('content-range', `bytes ${start}-${size - 1}/${size}`);
        }
        reply.header('content-length', String(size - start));
        return reply.send(body);
      },
    );
  };
}

/** Applies a user's rollback, retrying if the rollout controller wrote in between. */
async function rollbackDeployment(deployments: DeploymentRepository, name: string): Promise<DeploymentRecord> {
  for (;;) {
    const record = await deployments.get(name);
    let next;
    try {
      next = requestRollback(record.rollout, Date.now());
    } catch (error) {
      if (!(error instanceof NothingToRollBackTo)) throw error;
      throw new FoglineError('FOGLINE_ERR_NOTHING_TO_ROLL_BACK', `Deployment "${name}" cannot roll back: ${error.message}`);
    }
    if (await deployments.saveRollout(record, next)) return deployments.get(name);
  }
}

/** The first byte asked for by `Range: bytes=N-`; 0 without one. Other range forms are refused. */
function rangeStart(range: string | undefined, size: number): number {
  if (!range) return 0;
  const match = /^bytes=(\d+)-$/.exec(range.trim());
  if (!match || Number(match[1]) >= size) {
    throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `Unsupported Range "${range}": use bytes=N- with N below ${size}`);
  }
  return Number(match[1]);
}
