import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
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
import { parseByteRange } from '../../registry/byte-range.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import { parseModelSelector } from '../../registry/model-selector.js';
import type { Services } from '../services.js';
import { ERROR_RESPONSES } from './errors.js';

export const SIGNED_MESSAGE_FORMAT = 'fogline.bundle.v1\\n<model>\\n<version>\\n<sha256>';

/**
 * The import body: the .onnx file itself (application/octet-stream; metadata in the query), or a
 * multipart form whose fields come before a `file` part (labels of any length travel this way:
 * the query string is limited to about 16 KiB). Either way the file streams to the importer, which
 * hashes it and enforces the size limit as it arrives.
 */
const IMPORT_TYPES = ['application/octet-stream', 'application/onnx', 'multipart/form-data'];

export function modelRoutes({ models, modelImports }: Services): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Its own scope: any content type reaches the handler, which says what to send instead.
    await app.register(async (scope) => {
      await scope.register(multipart, { limits: { fieldSize: LABELS_LIMIT_BYTES, fields: 60, files: 1, parts: 62 } });
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      scope.withTypeProvider<TypeBoxTypeProvider>().post(
        '/models/:name/versions',
        {
          config: { access: { minRole: 'operator' } },
          schema: {
            summary:
              'Import an ONNX model as a new version (body: the .onnx file, or a form with labels, description and tag fields then a file part)',
            description:
              'The graph must load in ONNX Runtime and answer one request before the version is registered; a refused file uses up no version number.',
            tags: ['models'],
            params: ModelParams,
            querystring: ModelImportQuery,
            consumes: IMPORT_TYPES,
            response: { 201: ModelVersionView, ...ERROR_RESPONSES },
          },
        },
        async (request, reply) => {
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (!IMPORT_TYPES.includes(type)) {
            throw new FoglineError(
              'FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA',
              `Send the .onnx file as the request body with content-type application/octet-stream, or as the file part of a multipart/form-data body (got ${type || 'no content type'})`,
            );
          }
          const fields: ImportFields = { ...request.query, tag: [...(request.query.tag ?? [])] };
          const importWith = (body: AsyncIterable<Uint8Array>) =>
            modelImports.import({
              model: request.params.name,
              body,
              fileName: fields.filename ?? null,
              labels: fields.labels === undefined ? undefined : parseLabels(fields.labels),
              description: fields.description ?? null,
              tags: parseTags(fields.tag ?? []),
              createdBy: request.principal?.tokenId ?? null,
            });
          if (type !== 'multipart/form-data') return reply.status(201).send(await importWith(request.body as AsyncIterable<Uint8Array>));
          for await (const part of request.parts()) {
            if (part.type === 'file') {
              if (part.fieldname !== 'file') throw invalidForm(`the file part must be named "file", not "${part.fieldname}"`);
              fields.filename ??= part.filename || undefined;
              return reply.status(201).send(await importWith(part.file));
            }
            if (part.valueTruncated) throw invalidForm(`field "${part.fieldname}" is longer than ${LABELS_LIMIT_BYTES} bytes`);
            readField(fields, part.fieldname, String(part.value));
          }
          throw invalidForm('it has no "file" part (the .onnx file, after the other fields)');
        },
      );
    });

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
          summary:
            "Download a version's bundle (Range: bytes=N-M, bytes=N- or bytes=-N for a part); X-Fogline-Sha256 and X-Fogline-Signature let the client verify it",
          tags: ['models'],
          params: ModelVersionParams,
        },
      },
      async (request, reply) => {
        const view = await resolveVersion(models, request.params.name, request.params.version);
        const size = view.artifact.sizeBytes;
        // Several ranges or other units: the whole bundle, as RFC 9110 allows.
        const asked = parseByteRange(request.headers.range, size);
        if (asked === 'unsatisfiable') return reply.status(416).header('content-range', `bytes */${size}`).send();
        const range = asked === 'unsupported' ? undefined : asked;
        const body = await models.openArtifact(view, range);
        if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('accept-ranges', 'bytes')
          .header('content-length', String(range ? range.end - range.start + 1 : size))
          .header('content-disposition', `attachment; filename="${bundleFileName(view.model, view.version)}"`)
          .header('x-fogline-sha256', view.artifact.sha256)
          .header('x-fogline-signature', view.artifact.signature)
          .header('x-fogline-model-version', String(view.version))
          .send(body);
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

/** Labels may be long (one line per class); other fields are short. */
const LABELS_LIMIT_BYTES = 4 * 1_048_576;

type ImportFields = { filename?: string; description?: string; labels?: string; tag?: string[] };

function readField(fields: ImportFields, name: string, value: string): void {
  if (name === 'tag') fields.tag = [...(fields.tag ?? []), value];
  else if (name === 'labels' || name === 'description' || name === 'filename') fields[name] = value;
  else throw invalidForm(`unknown field "${name}" (known: labels, description, tag, filename, file)`);
}

function invalidForm(problem: string): FoglineError {
  return new FoglineError('FOGLINE_ERR_REQUEST_INVALID', `The import form is not valid: ${problem}`);
}
