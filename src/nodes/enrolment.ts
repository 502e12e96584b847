import type { Kysely } from 'kysely';
import type { Authenticator } from '../auth/authenticator.js';
import type { TokenRecord, TokenRepository } from '../auth/token-repository.js';
import { newTokenId } from '../auth/token-secret.js';
import type { EnrollRequest } from '../contracts/nodes.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { admitNode } from './join-policy.js';
import { assertValidLabels } from './labels.js';
import type { NodeRegistry } from './node-registry.js';

export interface EnrolmentResult {
  nodeId: string;
  nodeName: string;
  credential: string;
  /** The join token that was used, for the audit log. */
  joinTokenId: string;
  /** The node waits for an operator's approval before it gets work. */
  pending: boolean;
}

/**
 * Exchanges a join token for a node record and that node's own credential. The join token's
 * policy decides the role and labels where it fixes them, whether the node waits for approval and
 * how long its credentials live. One transaction: a refused enrolment (a role or label the token
 * does not allow, a duplicate name, a used-up token) writes nothing and uses nothing up.
 */
export class Enrolment {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly authenticator: Authenticator,
    private readonly tokens: TokenRepository,
    private readonly nodes: NodeRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `seen` hears of the join token once it is verified, before the policy is applied: a refusal
   * after that is audited as the join token's.
   */
  async enroll(joinToken: string, request: EnrollRequest, seen?: (join: TokenRecord) => void): Promise<EnrolmentResult> {
    assertValidLabels(request.labels ?? {});
    const join = await this.authenticator.verify(joinToken).catch((error: unknown) => {
      throw joinTokenError(error);
    });
    if (join.role !== 'join') {
      throw new FoglineError('FOGLINE_ERR_JOIN_TOKEN_INVALID', 'Enrolment needs a join token (fogline token create --role join)');
    }
    seen?.(join);
    // The token decides what it fixes; a node asking for more is refused before anything is used up.
    const admitted = admitNode(join.joinPolicy, { role: request.role, labels: request.labels ?? {} });
    const { labels } = admitted;
    const enrolled = await this.db.transaction().execute(async (trx) => {
      if (await this.nodes.nameTaken(request.name, trx)) {
        throw nameTaken(request.name);
      }
      if (!(await this.tokens.consumeUse(join.id, this.now(), trx))) {
        throw new FoglineError('FOGLINE_ERR_JOIN_TOKEN_USED_UP', 'The join token has no uses left: create a new one');
      }
      const nodeId = newTokenId();
      const credentialId = newTokenId();
      const now = this.now();
      await this.nodes
        .insert(
          {
            id: nodeId,
            name: request.name,
            role: admitted.role,
            labels,
            inferenceUrl: request.inferenceUrl ?? null,
            pending: admitted.pending,
            credentialId,
            credentialTtlSeconds: admitted.credentialTtlSeconds,
          },
          trx,
        )
        .catch((error) => {
          throw isUniqueViolation(error) ? nameTaken(request.name) : error;
        });
      const { token } = await this.tokens.create(
        {
          id: credentialId,
          name: `node ${request.name}`,
          role: 'node',
          nodeId,
          createdBy: join.id,
          createdAt: now,
          expiresAt: admitted.credentialTtlSeconds === null ? null : now + admitted.credentialTtlSeconds * 1000,
        },
        trx,
      );
      return { nodeId, nodeName: request.name, credential: token, joinTokenId: join.id, pending: admitted.pending };
    });
    // A new node may be placed at once: announced once committed.
    this.nodes.changes.publish({ kind: 'node-changed', nodeId: enrolled.nodeId, change: 'enrolled' });
    return enrolled;
  }
}

function nameTaken(name: string): FoglineError {
  return new FoglineError(
    'FOGLINE_ERR_NODE_NAME_TAKEN',
    `A node named "${name}" already exists: pick another --name, or delete the old node (fogline nodes delete ${name})`,
  );
}

function joinTokenError(error: unknown): unknown {
  if (!(error instanceof FoglineError)) return error;
  const reason = error.code === 'FOGLINE_ERR_AUTH_MISSING' ? error.message : `The join token is not valid (${error.message.toLowerCase()})`;
  return new FoglineError('FOGLINE_ERR_JOIN_TOKEN_INVALID', reason);
}
