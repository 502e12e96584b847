import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TokenRecord } from '../../auth/token-repository.js';
import { IdParams } from '../../contracts/common.js';
import { CreateTokenRequest, CreateTokenResponse, type TokenInfo, TokenList, TokenListQuery } from '../../contracts/tokens.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function tokenRoutes({ tokens }: Services): FastifyPluginAsyncTypebox {
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
        const { record, token } = await tokens.create({
          name,
          role,
          expiresAt: expiresInSeconds ? Date.now() + expiresInSeconds * 1000 : null,
          maxUses: maxUses ?? null,
          createdBy: request.principal?.tokenId ?? null,
        });
        return reply.status(201).send({ token, info: toTokenInfo(record) });
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
        return { tokens: list.map(toTokenInfo) };
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

export function toTokenInfo(record: TokenRecord): TokenInfo {
  const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());
  return {
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
