import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { HTTP_SECONDS } from './buckets.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * HTTP server metrics, labelled by method, route *pattern* (`/api/v1/nodes/:id`, never the URL
 * itself) and status class, so that the number of series is bounded by the routes the server has.
 * Requests that match no route count under route="unmatched".
 */
export class HttpMetrics {
  readonly requests: Counter<'method' | 'route' | 'status_class'>;
  readonly duration: Histogram<'method' | 'route' | 'status_class'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'fogline_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status class',
      labelNames: ['method', 'route', 'status_class'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'fogline_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to sending the last byte of its answer',
      labelNames: ['method', 'route', 'status_class'],
      buckets: HTTP_SECONDS,
      registers: [registry],
    });
  }

  /** Counts one answered request; `elapsedMs` is Fastify's reply.elapsedTime. */
  observe(method: string, route: string | undefined, statusCode: number, elapsedMs: number): void {
    const labels = {
      method: METHODS.has(method) ? method : 'OTHER',
      route: route ?? 'unmatched',
      status_class: STATUS_CLASSES[Math.floor(statusCode / 100) - 1] ?? 'other',
    };
    this.requests.inc(labels);
    this.duration.observe(labels, elapsedMs / 1000);
  }

  /**
   * Adds an onResponse hook to `app` (call it before registering routes). A callback hook: no
   * promise per request.
   */
  install(app: FastifyInstance): void {
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      this.observe(request.method, request.is404 ? undefined : request.routeOptions.url, reply.statusCode, reply.elapsedTime);
      done();
    });
  }
}
