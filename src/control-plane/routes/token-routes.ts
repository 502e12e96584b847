import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { InferenceScopes } from '../../auth/inference-tokens.js';
import type { TokenRecord } from '../../auth/token-repository.js';
import { IdParams } from '../../contracts/common.js';
import { CreateTokenRequest, CreateTokenResponse, type TokenInfo, TokenList, TokenListQuery } from '../../contracts/tokens.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function tokenRoutes({ tokens, inferenceTokens, deployments, store }: Services): FastifyPluginAsyncTypebox {
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
        const { record, token } = await store.db.transaction().execute(async (trx) => {
          const created = await tokens.create(
            {
              name,
              role,
              expiresAt: expiresInSeconds ? Date.now() + expiresInSeconds * 1000 : null,
              maxUses: maxUses ?? null,
              createdBy: request.principal?.tokenId ?? null,
            },
            trx,
          );
          if (scopes) await inferenceTokens.setScopes(created.record.id, scopes, trx);
          return created;
        });
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

export function toTokenInfo(record: TokenRecord, scopes?: InferenceScopes): TokenInfo {
  const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());
  return {
    ...(scopes ? { deployments: scopes.deployments, metrics: scopes.metrics } : {}),
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
