import fs from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  DatasetList,
  DatasetParams,
  DatasetUploadQuery,
  DatasetVersionList,
  DatasetVersionParams,
  DatasetVersionView,
} from '../../contracts/datasets.js';
import { FoglineError } from '../../errors/fogline-error.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

/** CSV bodies are streamed to disk as they arrive, never buffered whole. */
const CSV_TYPES = ['text/csv', 'application/octet-stream'];

export function datasetRoutes({ datasets }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addContentTypeParser(CSV_TYPES, (_request, payload, done) => done(null, payload));

    app.post(
      '/datasets/:name/versions',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Upload a CSV as a new immutable dataset version (body: text/csv, streamed)',
          tags: ['datasets'],
          params: DatasetParams,
          querystring: DatasetUploadQuery,
          consumes: CSV_TYPES,
          response: { 201: DatasetVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        // Other types (JSON) are parsed by their own parsers: the upload must be the CSV itself.
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!CSV_TYPES.includes(type)) {
          throw new FoglineError(
            'FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA',
            `Send the dataset as the request body with content-type text/csv (got ${type || 'no content type'})`,
          );
        }
        const { kind = 'timeseries', filename, ...read } = request.query;
        const view = await datasets.push({
          name: request.params.name,
          read: { kind, ...read },
          body: request.body as AsyncIterable<Uint8Array>,
          source: { upload: filename ?? null },
          createdBy: request.principal?.tokenId ?? null,
        });
        return reply.status(201).send(view);
      },
    );

    app.get(
      '/datasets',
      {
        config: { access: { minRole: 'viewer' } },
        schema: { summary: 'List datasets', tags: ['datasets'], response: { 200: DatasetList, ...ERROR_RESPONSES } },
      },
      async () => ({ datasets: await datasets.list() }),
    );

    app.get(
      '/datasets/:name',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "List a dataset's versions, newest first",
          tags: ['datasets'],
          params: DatasetParams,
          response: { 200: DatasetVersionList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ versions: await datasets.versions(request.params.name) }),
    );

    app.get(
      '/datasets/:name/versions/:version',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'Get one dataset version',
          tags: ['datasets'],
          params: DatasetVersionParams,
          response: { 200: DatasetVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => datasets.get(request.params.name, request.params.version),
    );

    app.get(
      '/datasets/:name/versions/:version/file',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "Download a dataset version's file as uploaded (CSV or image archive); X-Fogline-Sha256 lets the client check it",
          tags: ['datasets'],
          params: DatasetVersionParams,
        },
      },
      async (request, reply) => {
        const view = await datasets.get(request.params.name, request.params.version);
        const file = await datasets.filePath(view);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', String(fs.statSync(file).size))
          .header('x-fogline-sha256', view.sha256)
          .send(fs.createReadStream(file));
      },
    );
  };
}
