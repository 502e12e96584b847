/**
 * What an audited call acted on, in one place for every route: the model, version, alias,
 * deployment, dataset version, drift policy, federated job, run, token, session or node. Taken
 * from the answer when the call created it (its new id), else from the body where the path names
 * nothing (or only the node that acts), else from the path's parameters.
 *
 * @example
 * auditTarget({ method: 'PUT', route: '/api/v1/models/:name/aliases/:alias', params: { name: 'energy', alias: 'champion' }, body: { version: 3 } })
 * // 'energy@champion'
 */

export interface AuditedCall {
  method: string;
  /** The route's pattern, as Fastify names it (`/api/v1/models/:name/aliases/:alias`). */
  route: string;
  params: unknown;
  body: unknown;
}

type Pick = (value: unknown) => string | undefined;

/** Creates whose answer names what they made. */
const FROM_ANSWER: Record<string, Pick> = {
  'POST /api/v1/tokens': (answer) => text(answer, 'info', 'id'),
  'POST /api/v1/runs': (answer) => text(answer, 'id'),
  'POST /api/v1/federated/jobs': (answer) => text(answer, 'id'),
  'POST /api/v1/sessions': (answer) => text(answer, 'session', 'id'),
  'POST /api/v1/nodes/enroll': (answer) => text(answer, 'nodeId'),
  'POST /api/v1/datasets/:name/versions': (answer) => {
    const name = text(answer, 'name');
    const version = text(answer, 'version');
    return name && version ? `${name}@${version}` : undefined;
  },
};

/** Routes whose path names nothing, or only the node that writes: the body says what. */
const FROM_BODY: Record<string, Pick> = {
  'POST /api/v1/tokens': (body) => text(body, 'name'),
  'POST /api/v1/deployments': (body) => text(body, 'name'),
  'POST /api/v1/runs': (body) => text(body, 'model') ?? text(body, 'dataset'),
  'POST /api/v1/federated/jobs': (body) => text(body, 'model'),
  'POST /api/v1/sessions': (body) => text(body, 'model'),
  'POST /api/v1/nodes/enroll': (body) => text(body, 'name'),
  'POST /api/v1/drift/nodes/:id/samples': (body) => text(body, 'deployment'),
  'POST /api/v1/drift/nodes/:id/reports': (body) => list(body, 'reports', 'deployment'),
  'POST /api/v1/nodes/:id/deployment-status': (body) => list(body, 'deployments', 'name'),
};

/** What the answer of a create names (its new id); undefined for other routes. Only the id is kept: answers may hold secrets. */
export function targetFromAnswer(method: string, route: string, payload: unknown): string | undefined {
  const pick = FROM_ANSWER[`${method} ${route}`];
  if (!pick || typeof payload !== 'string') return undefined;
  try {
    return pick(JSON.parse(payload));
  } catch {
    return undefined;
  }
}

/** True when `auditTarget` has a rule for the route: a path parameter, or what its body or answer names. */
export function hasTargetRule(method: string, route: string): boolean {
  const key = `${method} ${route}`;
  return key in FROM_ANSWER || key in FROM_BODY || /\/:[A-Za-z]/.test(route);
}

export function auditTarget(call: AuditedCall, fromAnswer?: string): string | null {
  return fromAnswer ?? FROM_BODY[`${call.method} ${call.route}`]?.(call.body) ?? fromParams(call.params) ?? null;
}

/** A version or an alias of a model as a selector (`energy@3`, `energy@champion`), else the most specific parameter. */
function fromParams(params: unknown): string | undefined {
  const name = text(params, 'name');
  const version = text(params, 'version') ?? text(params, 'alias');
  if (name && version) return `${name}@${version}`;
  return text(params, 'deployment') ?? text(params, 'jobId') ?? text(params, 'sessionId') ?? text(params, 'id') ?? name;
}

/** A string or number at `path` in `value`, as text. */
function text(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' || typeof current === 'number' ? String(current) : undefined;
}

/** The `field` of each item of the array at `key`, joined by commas (distinct, in order). */
function list(value: unknown, key: string, field: string): string | undefined {
  const items = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  if (!Array.isArray(items)) return undefined;
  const names = [...new Set(items.map((item) => text(item, field)).filter((n): n is string => n !== undefined))];
  return names.length > 0 ? names.join(',') : undefined;
}
