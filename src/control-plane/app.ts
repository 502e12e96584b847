import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { type Controller, LeaderControllers } from '../cluster/leader-controllers.js';
import { FoglineError } from '../errors/fogline-error.js';
import { VERSION } from '../version.js';
import { type Access, authorize } from '../http/access.js';
import { installErrorHandlers } from '../http/error-handler.js';
import { AuthFailureLimits } from '../http/auth-failures.js';
import { RateLimiter } from '../http/rate-limit.js';
import { auditTarget, targetFromAnswer } from './audit-target.js';
import { auditRoutes } from './routes/audit-routes.js';
import { datasetRoutes } from './routes/dataset-routes.js';
import { deploymentRoutes } from './routes/deployment-routes.js';
import { driftRoutes } from './routes/drift-routes.js';
import { eventRoutes } from './routes/event-routes.js';
import { federatedRoutes } from './routes/federated-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { modelRoutes } from './routes/model-routes.js';
import { nodeRoutes } from './routes/node-routes.js';
import { runRoutes } from './routes/run-routes.js';
import { seriesRoutes } from './routes/series-routes.js';
import { uiRoutes } from './routes/ui-routes.js';
import { v2Routes } from '../inference/v2-routes.js';
import { v2StreamRoutes } from '../inference/v2-stream.js';
import { sessionGate } from '../sessions/session-gate.js';
import { sessionRoutes } from './routes/session-routes.js';
import { tokenRoutes } from './routes/token-routes.js';
import type { Services } from './services.js';

/**
 * The background jobs that write and must run on one replica. Run recovery puts every unfinished
 * run on the work queue again when this replica becomes leader, and every minute after: adding is
 * idempotent, and a run a live worker holds is answered "retry" when claimed, so nothing runs twice.
 */
function leaderOnlyControllers(services: Services, log: FastifyBaseLogger): Controller[] {
  let recovery: NodeJS.Timeout | undefined;
  return [
    {
      name: 'run recovery',
      start: async () => {
        await services.runs.recover();
        // Again every minute: a queue that lost its jobs (Redis restarted without persistence) heals.
        recovery = setInterval(
          () => void services.runs.recover().catch((error: unknown) => log.warn({ err: error }, 'run recovery failed')),
          60_000,
        );
        recovery.unref();
      },
      stop: () => clearInterval(recovery),
    },
    { name: 'rollouts', start: () => services.rollouts.start(log), stop: () => services.rollouts.stop() },
    { name: 'session sweeps', start: () => services.sessions.start(), stop: () => services.sessions.stop() },
    { name: 'drift loop', start: () => services.drift.start(log), stop: () => services.drift.stop() },
    { name: 'federated rounds', start: () => services.federated.start(log), stop: () => services.federated.stop() },
  ];
}

export type ControlPlaneApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface AppOptions {
  bodyLimitBytes: number;
  /** Serve HTTPS with this certificate and key; plain HTTP without. */
  https?: { cert: Buffer; key: Buffer } | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Proxies whose X-Forwarded-* headers are believed (--trust-proxy); none: the socket's address. */
  trustProxy?: string[];
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Builds the control plane's HTTP app over the given services. Listening is the caller's job. */
export async function buildControlPlaneApp(services: Services, options: AppOptions): Promise<ControlPlaneApp> {
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    // A list, not true: the client is the rightmost address that is not a trusted proxy.
    trustProxy: options.trustProxy?.length ? options.trustProxy : false,
    // Requests that arrive while draining get our own coded 503 (below), not Fastify's body.
    return503OnClosing: false,
    // Thousands of heartbeats a second would drown the log: requests are logged at debug level below.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Fogline control plane API', version: VERSION },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'fgl.<id>.<secret>' } },
      },
      security: [{ bearer: [] }],
    },
  });

  // The API speaks JSON only: a text/plain body is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');
  installErrorHandlers(app);
  services.metrics.http.install(app);
  app.decorateRequest('principal', null);

  const authFailures = new AuthFailureLimits(services.settings.authFailureLimit ?? 30);
  const enrolments = new RateLimiter(services.settings.enrolRateLimit ?? 600);
  let closing = false;
  // What must run once across the replicas that share the database runs on the lease's leader
  // only (src/cluster); requests, and the cloud replicas' health checks each replica balances
  // its own /v2 requests by, run on every replica.
  const controllers = new LeaderControllers(leaderOnlyControllers(services, app.log), {
    info: (message) => app.log.info(message),
    error: (message) => app.log.error(message),
  });
  controllers.follow(services.lease);
  app.addHook('onReady', async () => {
    // Change events from the domain code (and, with --redis, from the other replicas) start flowing.
    services.changes.start(app.log);
    // startControlPlane has usually made the first attempt already (SQLite's one-replica check).
    await services.lease.start().catch((error: unknown) => app.log.warn(`leader lease: ${(error as Error).message}`));
    if (services.lease.isLeader) void controllers.startAll();
    else app.log.info('follower: another control plane holds the leader lease and runs the background controllers');
    services.cloudReplicas.start((error) => app.log.warn(`cloud replica check failed: ${error.message}`));
  });
  app.addHook('preClose', async () => {
    closing = true;
    services.cloudReplicas.stop();
    services.changes.close();
    // The controllers stop before the lease is released, so the next leader never overlaps them.
    await services.lease
      .stop(() => controllers.stopAll())
      .catch((error: unknown) => app.log.warn(`could not release the leader lease: ${(error as Error).message}`));
    // Long-polling agents are answered at once (the coordinator may never have run here).
    await services.federated.close();
  });
  // Which replica answered, and its role: for load balancers' logs and `curl -i /readyz`.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-fogline-control-plane-role', services.lease.isLeader ? 'leader' : 'follower');
    return payload;
  });

  // Authentication runs before the body is read or validated: a caller without the right token
  // learns nothing about what the route expects.
  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw new FoglineError('FOGLINE_ERR_SHUTTING_DOWN', 'The server is shutting down: retry shortly');
    }
    if (request.is404) return;
    // Routes that declare nothing are admin-only, so that a forgotten declaration fails closed.
    const access: Access = request.routeOptions.config.access ?? { minRole: 'admin' };
    if (access === 'public') return;
    const tooMany = (retryAfterSeconds: number): FoglineError => {
      reply.header('retry-after', String(retryAfterSeconds));
      return new FoglineError(
        'FOGLINE_ERR_RATE_LIMITED',
        `Too many attempts from ${request.ip} or with this token: wait a minute and retry`,
      );
    };
    // Failed token checks count per address and per token id (src/http/auth-failures.ts): past the
    // limit a failing check gets 429 for the rest of the minute, while a valid token always passes.
    const presented = request.headers.authorization;
    const refusal = (error: unknown): unknown => {
      // Only a refused token is a failed check (a database away is not).
      if (!(error instanceof FoglineError) || error.status !== 401) return error;
      const dead = error.code === 'FOGLINE_ERR_AUTH_REVOKED' || error.code === 'FOGLINE_ERR_AUTH_EXPIRED';
      // A missing token is not a guess: it does not count, but a locked-out address gets 429 for it.
      const retryAfter = presented
        ? authFailures.failed(request.ip, presented, dead ? 'dead' : 'guess')
        : authFailures.addressLocked(request.ip);
      return retryAfter === undefined ? error : tooMany(retryAfter);
    };
    if (access === 'join') {
      if (enrolments.count(request.ip)) throw tooMany(enrolments.retryAfterSeconds(request.ip));
      // The enrolment checks its join token and says what is wrong with it; a wrong one counts here.
      await services.authenticator.authenticate(presented).catch((error: unknown) => {
        const answer = refusal(error);
        if (answer !== error) throw answer;
      });
      return;
    }
    const principal = await services.authenticator.authenticate(presented).catch((error: unknown) => {
      throw refusal(error);
    });
    request.principal = principal;
    authorize(request, principal, access);
  });

  // Creates name what they made in their answer (a token's id, a run's): kept for the audit entry.
  const answerTargets = new WeakMap<object, string>();
  app.addHook('onSend', async (request, _reply, payload) => {
    const target = MUTATING.has(request.method) ? targetFromAnswer(request.method, request.routeOptions.url ?? '', payload) : undefined;
    if (target !== undefined) answerTargets.set(request, target);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    if (!MUTATING.has(request.method)) return;
    // Telemetry (heartbeats, status reports, inference) is neither audited nor a change, except when it
    // is refused as forbidden: a node writing about what is not its own is in the audit log (issue 14).
    const telemetry = request.routeOptions.config.audit === false;
    if (telemetry && reply.statusCode !== 403) return;
    if (!request.routeOptions.url) return;
    const principal = request.principal;
    const target = auditTarget(
      { method: request.method, route: request.routeOptions.url, params: request.params, body: request.body },
      answerTargets.get(request),
    );
    await services.audit
      .record({
        actor: principal
          ? { id: principal.tokenId, name: principal.name, role: principal.role }
          : { id: null, name: 'anonymous', role: 'none' },
        action: `${request.method} ${request.routeOptions.url}`,
        target,
        statusCode: reply.statusCode,
      })
      .catch((error: unknown) => request.log.error({ err: error }, 'could not write the audit log'));
  });

  await app.register(healthRoutes(services));
  await app.register(metricsRoutes(services));
  // Before the API routes: its onResponse hook feeds the dashboard's live events from theirs.
  await app.register(eventRoutes(services));
  await app.register(uiRoutes());
  await app.register(tokenRoutes(services), { prefix: '/api/v1' });
  await app.register(nodeRoutes(services), { prefix: '/api/v1' });
  await app.register(auditRoutes(services), { prefix: '/api/v1' });
  await app.register(modelRoutes(services), { prefix: '/api/v1' });
  await app.register(datasetRoutes(services), { prefix: '/api/v1' });
  await app.register(runRoutes(services), { prefix: '/api/v1' });
  await app.register(deploymentRoutes(services), { prefix: '/api/v1' });
  await app.register(federatedRoutes(services), { prefix: '/api/v1' });
  await app.register(seriesRoutes(services), { prefix: '/api/v1' });
  await app.register(driftRoutes(services), { prefix: '/api/v1' });
  await app.register(sessionRoutes(services), { prefix: '/api/v1' });
  // Agents offload inference here with their node credential (any node's; they act as no node).
  // Cloud nodes serving the version take the request first (src/inference/replica-balancer.ts).
  await app.register(v2Routes(services.cloudReplicas, { minRole: 'viewer', anyNode: true }));
  // Cloud sessions: the session token is the credential (checked before the upgrade).
  await app.register(
    v2StreamRoutes(
      services.cloudReplicas,
      'public',
      sessionGate({
        required: true,
        publicKey: () => services.registryPublicKeyPem,
        holder: () => 'cloud',
        modelClaim: (name, version) => `${name}/${version ?? ''}`,
        report: (id, event, reason) => {
          services.sessions.record(null, id, event, reason).catch((error: unknown) => {
            app.log.warn({ err: error, session: id }, 'session report');
          });
        },
      }),
    ),
  );
  app.get('/api/v1/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger());

  return app;
}
