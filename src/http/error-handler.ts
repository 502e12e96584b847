import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorBody } from '../contracts/common.js';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import { FoglineError } from '../errors/fogline-error.js';
import { isDatabaseUnavailable } from '../store/unavailable.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'FOGLINE_ERR_REQUEST_MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'FOGLINE_ERR_REQUEST_MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'FOGLINE_ERR_REQUEST_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'FOGLINE_ERR_REQUEST_UNSUPPORTED_MEDIA',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'FOGLINE_ERR_REQUEST_INVALID',
};

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** Turns every failure into `{code, message, details?}` with the status from the error registry. */
export function toErrorBody(error: FastifyError | Error): { status: number; body: ErrorBody } {
  if (error instanceof FoglineError) {
    return { status: error.status, body: { code: error.code, message: error.message, details: error.details } };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const message = `The request is not valid: ${fastifyError.message}`;
    return coded('FOGLINE_ERR_REQUEST_INVALID', message, fastifyError.validation);
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return coded(mapped, `${ERROR_CODES[mapped].message}: ${fastifyError.message}`);
  if (error instanceof SyntaxError) return coded('FOGLINE_ERR_REQUEST_MALFORMED_JSON', error.message);
  if (fastifyError.code && DISK_FULL_CODES.has(fastifyError.code)) {
    return coded(
      'FOGLINE_ERR_STORAGE_FULL',
      "The control plane's disk is full: the write was abandoned; free space in its data folder and retry",
    );
  }
  if (isDatabaseUnavailable(error)) {
    return coded('FOGLINE_ERR_DB_UNAVAILABLE', 'The database is not reachable; retry shortly');
  }
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return coded('FOGLINE_ERR_REQUEST_INVALID', fastifyError.message);
  }
  return coded('FOGLINE_ERR_INTERNAL', 'Internal error: see the server log for details');
}

function coded(code: ErrorCode, message: string, details?: unknown): { status: number; body: ErrorBody } {
  return { status: ERROR_CODES[code].status, body: { code, message, details } };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, body } = toErrorBody(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (status === 503) reply.header('retry-after', '5');
    // A refused upload may still be arriving: close the connection instead of reading the rest.
    if (!request.raw.complete) reply.header('connection', 'close');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      code: 'FOGLINE_ERR_ROUTE_NOT_FOUND',
      message: `No route ${request.method} ${request.url.split('?')[0]}: see /api/v1/openapi.json`,
    };
    return reply.status(404).send(body);
  });
}
