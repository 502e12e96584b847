import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { FoglineError } from '../../errors/fogline-error.js';
import { BUILD, VERSION } from '../../version.js';
import type { Services } from '../services.js';

const READY_TIMEOUT_MS = 2000;

export function healthRoutes(services: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { access: 'public' },
        schema: {
          summary: 'The process is up, with its version and build',
          tags: ['health'],
          security: [],
          response: {
            200: Type.Object({
              status: Type.Literal('ok'),
              version: Type.String({ description: "Fogline's version, e.g. 0.1.0" }),
              build: Type.String({ description: "The commit's short sha it was built from, or 'unknown'" }),
            }),
          },
        },
      },
      async () => ({ status: 'ok' as const, version: VERSION, build: BUILD.build }),
    );
    app.get(
      '/readyz',
      {
        config: { access: 'public' },
        schema: {
          summary: 'The database is reachable',
          tags: ['health'],
          security: [],
          response: { 200: Type.Object({ status: Type.Literal('ready') }) },
        },
      },
      async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS);
        });
        try {
          await Promise.race([services.store.ping(), timeout]);
        } catch (error) {
          throw new FoglineError('FOGLINE_ERR_DB_UNAVAILABLE', `The database is not reachable: ${(error as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
        return { status: 'ready' as const };
      },
    );
  };
}
