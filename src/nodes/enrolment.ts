import type { Kysely } from 'kysely';
import type { Authenticator } from '../auth/authenticator.js';
import type { TokenRepository } from '../auth/token-repository.js';
import { newTokenId } from '../auth/token-secret.js';
import type { EnrollRequest } from '../contracts/nodes.js';
import { FoglineError } from '../errors/fogline-error.js';
import type { Database } from '../store/schema.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { assertValidLabels } from './labels.js';
import type { NodeRegistry } from './node-registry.js';

export interface EnrolmentResult {
  nodeId: string;
  nodeName: string;
  credential: string;
  /** The join token that was used, for the audit log. */
  joinTokenId: string;
}

/**
 * Exchanges a join token for a node record and that node's own credential. One transaction:
 * a refused enrolment (duplicate name, used-up token) writes nothing and uses nothing up.
 */
export class Enrolment {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly authenticator: Authenticator,
    private readonly tokens: TokenRepository,
    private readonly nodes: NodeRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  async enroll(joinToken: string, request: EnrollRequest): Promise<EnrolmentResult> {
    const labels = request.labels ?? {};
    assertValidLabels(labels);
    const join = await this.authenticator.verify(joinToken).catch((error: unknown) => {
      throw joinTokenError(error);
    });
    if (join.role !== 'join') {
      throw new FoglineError('FOGLINE_ERR_JOIN_TOKEN_INVALID', 'Enrolment needs a join token (fogline token create --role join)');
    }
    return this.db.transaction().execute(async (trx) => {
      if (await this.nodes.nameTaken(request.name, trx)) {
        throw nameTaken(request.name);
      }
      if (!(await this.tokens.consumeUse(join.id, this.now(), trx))) {
        throw new FoglineError('FOGLINE_ERR_JOIN_TOKEN_USED_UP', 'The join token has no uses left: create a new one');
      }
      const nodeId = newTokenId();
      await this.nodes
        .insert({ id: nodeId, name: request.name, role: request.role, labels, inferenceUrl: request.inferenceUrl ?? null }, trx)
        .catch((error) => {
          throw isUniqueViolation(error) ? nameTaken(request.name) : error;
        });
      const { token } = await this.tokens.create({ name: `node ${request.name}`, role: 'node', nodeId, createdBy: join.id }, trx);
      return { nodeId, nodeName: request.name, credential: token, joinTokenId: join.id };
    });
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
