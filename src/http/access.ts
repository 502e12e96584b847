import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/authenticator.js';
import { roleAllows } from '../auth/roles.js';
import type { UserRole } from '../contracts/roles.js';
import { FoglineError } from '../errors/fogline-error.js';

/**
 * Who may call a route, declared in the route's `config.access`:
 * - `public`: anyone (health, OpenAPI);
 * - `join`: the handler checks a join token itself (enrolment);
 * - `{ minRole, nodeSelf, anyNode }`: a user token of at least `minRole`, and/or (with `nodeSelf`) the
 *   credential of the node named by the `:id` parameter, or (with `anyNode`) any node's credential
 *   (the control plane's /v2 routes, where agents offload inference).
 */
export type Access = 'public' | 'join' | { minRole?: UserRole; nodeSelf?: boolean; anyNode?: boolean };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** Mutating routes are audited unless this is false (heartbeats are telemetry, not changes). */
    audit?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function authorize(request: FastifyRequest, principal: Principal, access: Exclude<Access, 'public' | 'join'>): void {
  if (access.minRole && roleAllows(principal.role, access.minRole)) return;
  if (access.anyNode && principal.role === 'node') {
    // A node that waits for approval may report in, not use the cluster (cloud inference).
    if (principal.pendingApproval) {
      throw new FoglineError(
        'FOGLINE_ERR_NODE_PENDING',
        'This node waits for an operator to approve it (fogline nodes approve): until then it may only send heartbeats',
      );
    }
    return;
  }
  if (access.nodeSelf && principal.role === 'node') {
    const id = (request.params as { id?: string }).id;
    if (id !== undefined && id === principal.nodeId) return;
    throw new FoglineError('FOGLINE_ERR_AUTH_FORBIDDEN', 'A node credential can act only as its own node');
  }
  const needed = access.minRole
    ? `${/^[aeiou]/.test(access.minRole) ? 'an' : 'a'} ${access.minRole} token or stronger`
    : 'a node credential';
  throw new FoglineError('FOGLINE_ERR_AUTH_FORBIDDEN', `This call needs ${needed}; this token's role is ${principal.role}`);
}
