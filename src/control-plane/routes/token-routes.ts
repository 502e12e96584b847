import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { InferenceScopes } from '../../auth/inference-tokens.js';
import type { TokenRecord } from '../../auth/token-repository.js';
import { IdParams } from '../../contracts/common.js';
import type { JoinPolicy } from '../../contracts/join-policy.js';
import { CreateTokenRequest, CreateTokenResponse, type TokenInfo, TokenList, TokenListQuery } from '../../contracts/tokens.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { normalizeJoinPolicy } from '../../nodes/join-policy.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function tokenRoutes({ tokens, inferenceTokens, deployments, settings }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/tokens',
      {
        config: { access: { minRole: 'admin' } },
        schema: {
          summary: 'Create a token (the secret is returned once)',
          tags: ['tokens'],
          body: CreateTokenRequest,
          response: { 201: CreateTokenResponse, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const { name, role, expiresInSeconds, maxUses } = request.body;
        const scopes = await inferenceScopes(request.body, (deployment) => deployments.get(deployment));
        const joinPolicy = checkedJoinPolicy(request.body, settings.heartbeatIntervalSeconds);
        const { record, token } = await tokens.createWith(
          {
            name,
            role,
            expiresAt: expiresInSeconds ? Date.now() + expiresInSeconds * 1000 : null,
            maxUses: maxUses ?? null,
            createdBy: request.principal?.tokenId ?? null,
            joinPolicy,
          },
          async (trx, created) => {
            if (scopes) await inferenceTokens.setScopes(created.id, scopes, trx);
          },
        );
        return reply.status(201).send({ token, info: toTokenInfo(record, scopes) });
      },
    );

    app.get(
      '/tokens',
      {
        config: { access: { minRole: 'admin' } },
        schema: {
          summary: 'List tokens (never their secrets)',
          tags: ['tokens'],
          querystring: TokenListQuery,
          response: { 200: TokenList, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const all = request.query.all === true;
        const list = await tokens.list({ includeRevoked: all, includeNodeCredentials: all });
        const scopes = await inferenceTokens.scopesOf(list.filter((t) => t.role === 'inference').map((t) => t.id));
        return { tokens: list.map((record) => toTokenInfo(record, scopes.get(record.id))) };
      },
    );

    app.delete(
      '/tokens/:id',
      {
        config: { access: { minRole: 'admin' } },
        schema: { summary: 'Revoke a token', tags: ['tokens'], params: IdParams, response: { 204: { type: 'null' }, ...ERROR_RESPONSES } },
      },
      async (request, reply) => {
        const revoked = await tokens.revoke(request.params.id);
        if (!revoked) {
          throw new FoglineError(
            'FOGLINE_ERR_TOKEN_NOT_FOUND',
            `No active token has the id "${request.params.id}" (fogline token list shows the ids)`,
          );
        }
        return reply.status(204).send();
      },
    );
  };
}

/**
 * An inference token's scopes, checked: it needs a deployment (each one existing) or --metrics;
 * other roles take neither. Undefined for other roles.
 */
async function inferenceScopes(
  body: { role: string; deployments?: string[]; metrics?: boolean },
  findDeployment: (name: string) => Promise<unknown>,
): Promise<InferenceScopes | undefined> {
  const deployments = [...new Set(body.deployments ?? [])];
  if (body.role !== 'inference') {
    if (deployments.length > 0 || body.metrics === true) {
      throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', 'deployments and metrics are for inference tokens (role inference) only');
    }
    return undefined;
  }
  if (deployments.length === 0 && body.metrics !== true) {
    throw new FoglineError(
      'FOGLINE_ERR_REQUEST_INVALID',
      'An inference token needs the deployments it may call (--deployment <name>, repeatable) or --metrics, or both',
    );
  }
  // A typo would make a token that opens nothing: each deployment must exist (404 otherwise).
  for (const name of deployments) await findDeployment(name);
  return { deployments: deployments.sort(), metrics: body.metrics === true };
}

/**
 * A join token's policy, checked: join tokens only, labels and patterns valid, and a credential
 * lifetime that leaves a node at least two heartbeats to pick up the next credential (it is renewed
 * at half its life). Null when the policy decides nothing.
 */
function checkedJoinPolicy(body: { role: string; joinPolicy?: JoinPolicy }, heartbeatIntervalSeconds: number): JoinPolicy | null {
  if (body.joinPolicy === undefined) return null;
  if (body.role !== 'join') throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', 'joinPolicy is for join tokens (role join) only');
  const policy = normalizeJoinPolicy(body.joinPolicy);
  const ttl = policy?.credentialTtlSeconds;
  if (ttl !== undefined && ttl < 4 * heartbeatIntervalSeconds) {
    throw new FoglineError(
      'FOGLINE_ERR_REQUEST_INVALID',
      `--credential-ttl must be at least 4 heartbeat intervals (${4 * heartbeatIntervalSeconds} s here): a node renews its credential at half its life, with a heartbeat`,
    );
  }
  return policy;
}

export function toTokenInfo(record: TokenRecord, scopes?: InferenceScopes): TokenInfo {
  const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());
  return {
    ...(scopes ? { deployments: scopes.deployments, metrics: scopes.metrics } : {}),
    ...(record.joinPolicy ? { joinPolicy: record.joinPolicy } : {}),
    id: record.id,
    name: record.name,
    role: record.role,
    nodeId: record.nodeId,
    expiresAt: iso(record.expiresAt),
    maxUses: record.maxUses,
    uses: record.uses,
    revokedAt: iso(record.revokedAt),
    createdAt: new Date(record.createdAt).toISOString(),
    createdBy: record.createdBy,
  };
}
