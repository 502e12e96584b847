import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashSecret, parseToken } from '../../auth/token-secret.js';
import type { DesiredState } from '../../contracts/deployments.js';
import { ALL_DEPLOYMENTS, type EdgeAuthMode, type EdgeToken } from '../../contracts/edge-access.js';
import { FoglineError } from '../../errors/fogline-error.js';

/** Routes anyone may call whatever the mode: liveness and readiness, for load balancers and probes. */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/v2', '/v2/health/live', '/v2/health/ready']);
const METRICS_ROUTE = '/metrics';
const ACTUALS_ROUTE = '/v2/models/:name/actuals';

interface KnownToken {
  sha256: Buffer;
  deployments: ReadonlySet<string>;
  metrics: boolean;
  expiresAt: number | null;
}

/** What one request must show, worked out from its route. */
type Need = { kind: 'none' } | { kind: 'deployment'; name: string; samples: boolean } | { kind: 'metrics' } | { kind: 'any' };

/**
 * Who may call this agent's /v2 and /metrics (`--edge-auth`), checked on the agent itself, with
 * no call to the control plane:
 * - `open`: anyone (a lab, `fogline up`);
 * - `token`: a bearer inference token (`fogline token create --role inference --deployment energy`)
 *   whose id and secret hash came with the node's desired state: 401 without one or with one the
 *   node does not know (a revoked token is dropped from the set with the next desired state),
 *   403 for a token that does not cover the deployment in the path (or /metrics without
 *   `--metrics`). A stream opened with a `?session=` token needs no bearer token: the session
 *   token, checked before the upgrade, is the control plane's grant for it;
 * - `mtls`: the TLS handshake already refused clients without a certificate of `--client-ca`.
 * In every mode, `POST …/actuals` needs a token for the deployment when its drift policy uploads
 * samples: those values become training data.
 * Liveness and readiness stay open for probes.
 *
 * @example
 * const guard = new EdgeGuard('token');
 * guard.install(app);              // before the routes
 * guard.update(desiredState);      // on every desired state
 */
export class EdgeGuard {
  private tokens = new Map<string, KnownToken>();
  private sampleUploads: ReadonlySet<string> = new Set();

  constructor(
    readonly mode: EdgeAuthMode,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the tokens and the sample-upload flags of a desired state; entries that do not parse are left out. */
  update(state: Pick<DesiredState, 'deployments' | 'edgeTokens'>): void {
    const tokens = new Map<string, KnownToken>();
    for (const entry of Array.isArray(state.edgeTokens) ? state.edgeTokens : []) {
      const known = toKnown(entry);
      if (known) tokens.set(entry.id, known);
    }
    this.tokens = tokens;
    this.sampleUploads = new Set(state.deployments.filter((d) => d.sampleUpload === true).map((d) => d.name));
  }

  /** Checks every request before its body is read (onRequest): refused ones never reach a route. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      try {
        this.check(request);
      } catch (error) {
        if (error instanceof FoglineError && error.status === 401) reply.header('www-authenticate', 'Bearer realm="fogline-agent"');
        throw error;
      }
    });
  }

  /** Throws a coded 401 or 403 when the request may not go on. */
  check(request: Pick<FastifyRequest, 'routeOptions' | 'params' | 'query' | 'headers'>): void {
    const need = this.need(request);
    if (need.kind === 'none') return;
    const token = this.verify(request.headers.authorization, need);
    if (need.kind === 'metrics' && !token.metrics) {
      throw new FoglineError(
        'FOGLINE_ERR_AUTH_SCOPE',
        "This token may not read this agent's /metrics: scrape with an inference token created with --metrics",
      );
    }
    if (need.kind === 'deployment' && !token.deployments.has(need.name) && !token.deployments.has(ALL_DEPLOYMENTS)) {
      throw new FoglineError(
        'FOGLINE_ERR_AUTH_SCOPE',
        `This token does not cover deployment "${need.name}" (fogline token create --role inference --deployment ${need.name})`,
      );
    }
  }

  private need(request: Pick<FastifyRequest, 'routeOptions' | 'params' | 'query'>): Need {
    const route = request.routeOptions.url;
    // No route (a 404) or one open to all.
    if (route === undefined || PUBLIC_ROUTES.has(route)) return { kind: 'none' };
    const name = route.startsWith('/v2/models/:name') ? (request.params as { name?: unknown }).name : undefined;
    if (typeof name === 'string') {
      const samples = route === ACTUALS_ROUTE && this.sampleUploads.has(name);
      if (this.mode === 'token') {
        // The session token is checked before the upgrade (src/inference/v2-stream.ts).
        const session = (request.query as { session?: unknown } | undefined)?.session;
        if (route.endsWith('/stream') && typeof session === 'string') return { kind: 'none' };
        return { kind: 'deployment', name, samples };
      }
      return samples ? { kind: 'deployment', name, samples } : { kind: 'none' };
    }
    if (this.mode !== 'token') return { kind: 'none' };
    // Anything else a token-mode agent serves needs a token of some kind: a new route fails closed.
    return route === METRICS_ROUTE ? { kind: 'metrics' } : { kind: 'any' };
  }

  private verify(authorization: string | undefined, need: Exclude<Need, { kind: 'none' }>): KnownToken {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!match) throw new FoglineError('FOGLINE_ERR_AUTH_MISSING', `Authorization: Bearer <token> is required: ${this.why(need)}`);
    const parts = parseToken(match[1] as string);
    const known = parts ? this.tokens.get(parts.id) : undefined;
    if (!parts || !known || !sameHash(hashSecret(parts.secret), known.sha256)) {
      throw new FoglineError(
        'FOGLINE_ERR_AUTH_INVALID',
        `The token is not one this node accepts (unknown, revoked, or not yet here: tokens reach nodes with their desired state): ${this.why(need)}`,
      );
    }
    if (known.expiresAt !== null && known.expiresAt <= this.now()) throw new FoglineError('FOGLINE_ERR_AUTH_EXPIRED');
    return known;
  }

  /** What a refused request was missing, worded only when one is refused (not on every request). */
  private why(need: Exclude<Need, { kind: 'none' }>): string {
    if (need.kind === 'deployment' && need.samples && this.mode !== 'token') {
      return `actuals for "${need.name}" become training data (its drift policy uploads samples): send them with an inference token for it`;
    }
    const what = need.kind === 'deployment' ? ` for deployment "${need.name}"` : need.kind === 'metrics' ? ' created with --metrics' : '';
    return `this agent needs an inference token${what}`;
  }
}

/** An entry as the guard keeps it; undefined when it does not have the shape of an EdgeToken. */
function toKnown(entry: EdgeToken): KnownToken | undefined {
  const { id, sha256, deployments, metrics, expiresAt } = (entry ?? {}) as Partial<EdgeToken>;
  if (typeof id !== 'string' || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  if (!Array.isArray(deployments) || !deployments.every((name) => typeof name === 'string') || typeof metrics !== 'boolean')
    return undefined;
  const expires = expiresAt === null || expiresAt === undefined ? null : Date.parse(String(expiresAt));
  // An expiry that does not parse counts as expired: fail closed.
  return { sha256: Buffer.from(sha256, 'hex'), deployments: new Set(deployments), metrics, expiresAt: Number.isNaN(expires) ? 0 : expires };
}

function sameHash(actualHex: string, expected: Buffer): boolean {
  const actual = Buffer.from(actualHex, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
