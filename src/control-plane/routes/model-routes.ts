import fs from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ModelAliasParams,
  ModelImportQuery,
  ModelList,
  ModelParams,
  ModelVersionList,
  ModelVersionParams,
  ModelVersionView,
  ModelView,
  RegistryPublicKey,
  SetAliasRequest,
  TagsPatch,
} from '../../contracts/models.js';
import { FoglineError } from '../../errors/fogline-error.js';
import { bundleFileName } from '../../registry/bundle-file-name.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import { parseModelSelector } from '../../registry/model-selector.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export const SIGNED_MESSAGE_FORMAT = 'fogline.bundle.v1\\n<model>\\n<version>\\n<sha256>';

/** ONNX files are streamed to the importer as they arrive (it hashes them and enforces the size limit). */
const ONNX_TYPES = ['application/octet-stream', 'application/onnx'];

export function modelRoutes({ models, modelImports }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addContentTypeParser(ONNX_TYPES, (_request, payload, done) => done(null, payload));

    app.post(
      '/models/:name/versions',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Import an ONNX model as a new version (body: the .onnx file, streamed)',
          description:
            'The graph must load in ONNX Runtime and answer one request before the version is registered; a refused file uses up no version number.',
          tags: ['models'],
          params: ModelParams,
          querystring: ModelImportQuery,
          consumes: ONNX_TYPES,
          response: { 201: ModelVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!ONNX_TYPES.includes(type)) {
          throw new FoglineError(
            'FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA',
            `Send the .onnx file as the request body with content-type application/octet-stream (got ${type || 'no content type'})`,
          );
        }
        const { filename, description, tag = [], labels } = request.query;
        const view = await modelImports.import({
          model: request.params.name,
          body: request.body as AsyncIterable<Uint8Array>,
          fileName: filename ?? null,
          labels: labels === undefined ? undefined : parseLabels(labels),
          description: description ?? null,
          tags: parseTags(tag),
          createdBy: request.principal?.tokenId ?? null,
        });
        return reply.status(201).send(view);
      },
    );
    app.get(
      '/registry/public-key',
      {
        config: { access: 'public' },
        schema: {
          summary: "The registry's ed25519 public key: verifies every bundle signature",
          tags: ['models'],
          security: [],
          response: { 200: RegistryPublicKey },
        },
      },
      async () => ({ algorithm: 'ed25519' as const, publicKeyPem: models.publicKeyPem, signedMessage: SIGNED_MESSAGE_FORMAT }),
    );

    app.get(
      '/models',
      {
        config: { access: { minRole: 'viewer' } },
        schema: { summary: 'List registered models', tags: ['models'], response: { 200: ModelList, ...ERROR_RESPONSES } },
      },
      async () => ({ models: await models.listModels() }),
    );

    app.get(
      '/models/:name',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'Get a model with its aliases',
          tags: ['models'],
          params: ModelParams,
          response: { 200: ModelView, ...ERROR_RESPONSES },
        },
      },
      async (request) => models.getModel(request.params.name),
    );

    app.get(
      '/models/:name/versions',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "List a model's versions, newest first",
          tags: ['models'],
          params: ModelParams,
          response: { 200: ModelVersionList, ...ERROR_RESPONSES },
        },
      },
      async (request) => ({ versions: await models.listVersions(request.params.name) }),
    );

    app.get(
      '/models/:name/versions/:version',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: 'Get a version by number or alias',
          tags: ['models'],
          params: ModelVersionParams,
          response: { 200: ModelVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => resolveVersion(models, request.params.name, request.params.version),
    );

    app.get(
      '/models/:name/versions/:version/artifact',
      {
        config: { access: { minRole: 'viewer' } },
        schema: {
          summary: "Download a version's bundle; X-Fogline-Sha256 and X-Fogline-Signature let the client verify it",
          tags: ['models'],
          params: ModelVersionParams,
        },
      },
      async (request, reply) => {
        const view = await resolveVersion(models, request.params.name, request.params.version);
        const file = models.artifactPath(view);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', String(view.artifact.sizeBytes))
          .header('content-disposition', `attachment; filename="${bundleFileName(view.model, view.version)}"`)
          .header('x-fogline-sha256', view.artifact.sha256)
          .header('x-fogline-signature', view.artifact.signature)
          .header('x-fogline-model-version', String(view.version))
          .send(fs.createReadStream(file));
      },
    );

    app.put(
      '/models/:name/aliases/:alias',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Point an alias (champion, challenger, …) at a version, atomically',
          tags: ['models'],
          params: ModelAliasParams,
          body: SetAliasRequest,
          response: { 200: ModelVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => models.setAlias(request.params.name, request.params.alias, request.body.version),
    );

    app.delete(
      '/models/:name/aliases/:alias',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: 'Remove an alias',
          tags: ['models'],
          params: ModelAliasParams,
          response: { 204: { type: 'null' }, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        await models.deleteAlias(request.params.name, request.params.alias);
        return reply.status(204).send();
      },
    );

    app.patch(
      '/models/:name/versions/:version/tags',
      {
        config: { access: { minRole: 'operator' } },
        schema: {
          summary: "Set or remove a version's tags",
          tags: ['models'],
          params: ModelVersionParams,
          body: TagsPatch,
          response: { 200: ModelVersionView, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const view = await resolveVersion(models, request.params.name, request.params.version);
        return models.updateTags(view.model, view.version, request.body);
      },
    );
  };
}

/** `3` is a version number; anything else is an alias. */
function resolveVersion(models: ModelRegistry, name: string, version: string) {
  return models.resolve(parseModelSelector(`${name}@${version}`));
}

/** One label per line; a trailing newline (as a labels.txt file has) adds none. */
function parseLabels(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function parseTags(pairs: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `Tag "${pair}" is not key=value`);
    tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return tags;
}
