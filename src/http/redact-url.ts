import type { FastifyRequest } from 'fastify';

/** Query parameters that carry credentials: session tokens on stream URLs, tokens some clients put in the URL. */
const SECRET_PARAMETER = /([?&](?:session|token|access_token)=)[^&#]*/gi;

/**
 * `url` with the values of its credential-carrying query parameters replaced by `[redacted]`.
 *
 * @example
 * redactUrl('/v2/models/energy/stream?session=eyJ…&x=1') // '/v2/models/energy/stream?session=[redacted]&x=1'
 */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMETER, '$1[redacted]');
}

/**
 * Fastify logger serializers that log a request as Fastify does, but with its URL redacted: a
 * session token (`?session=`) is a bearer credential for as long as it is valid.
 */
export const REDACTING_LOG_SERIALIZERS = {
  req(request: FastifyRequest) {
    return {
      method: request.method,
      url: redactUrl(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    };
  },
};
