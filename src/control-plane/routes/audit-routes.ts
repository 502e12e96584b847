import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuditList, AuditQuery } from '../../contracts/audit.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export function auditRoutes({ audit }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/audit',
      {
        config: { access: { minRole: 'admin' } },
        schema: {
          summary: 'Mutating calls: who, what, when (newest first)',
          tags: ['audit'],
          querystring: AuditQuery,
          response: { 200: AuditList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ events: await audit.list(request.query) }),
    );
  };
}
