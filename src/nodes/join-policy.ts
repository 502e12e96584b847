import type { JoinPolicy } from '../contracts/join-policy.js';
import type { NodeRole } from '../contracts/nodes.js';
import { FoglineError } from '../errors/fogline-error.js';
import { labelAllowed, type LabelPattern, parseLabelPattern } from './label-pattern.js';
import { assertValidLabels, formatLabels, type LabelMap } from './labels.js';

export type { JoinPolicy };

/** What enrolment gives a node: decided by its join token where the token decides, else by the node. */
export interface AdmittedNode {
  role: NodeRole;
  labels: LabelMap;
  /** Waits for an operator's approval before it gets any work. */
  pending: boolean;
  /** Its credentials expire this long after they are issued (null: never). */
  credentialTtlSeconds: number | null;
}

/**
 * Checks a policy given to `POST /tokens` and returns it without empty parts; null when it fixes
 * nothing. Throws FOGLINE_ERR_LABEL_INVALID for a bad label or pattern.
 */
export function normalizeJoinPolicy(policy: JoinPolicy | undefined): JoinPolicy | null {
  if (!policy) return null;
  if (policy.nodeLabels) assertValidLabels(policy.nodeLabels);
  for (const text of policy.allowedLabels ?? []) parseLabelPattern(text);
  const normal: JoinPolicy = {
    ...(policy.nodeRole ? { nodeRole: policy.nodeRole } : {}),
    ...(policy.nodeLabels && Object.keys(policy.nodeLabels).length > 0 ? { nodeLabels: policy.nodeLabels } : {}),
    ...(policy.allowedLabels && policy.allowedLabels.length > 0 ? { allowedLabels: [...new Set(policy.allowedLabels)] } : {}),
    ...(policy.requireApproval ? { requireApproval: true } : {}),
    ...(policy.credentialTtlSeconds ? { credentialTtlSeconds: policy.credentialTtlSeconds } : {}),
  };
  return Object.keys(normal).length > 0 ? normal : null;
}

/**
 * Decides a node's role and labels at enrolment. Where the token fixes the role, the node must ask
 * for that one. Where it fixes labels or allows patterns, every label the node asks for must be one
 * of the fixed labels (same value) or, for a key the token does not fix, match an allowed pattern;
 * the node gets the fixed labels in any case, so an agent that asks for none gets the token's.
 * A token that fixes neither labels nor patterns leaves the labels to the node.
 */
export function admitNode(policy: JoinPolicy | null, asked: { role: NodeRole; labels: LabelMap }): AdmittedNode {
  const fixed = policy?.nodeLabels ?? {};
  const patterns = (policy?.allowedLabels ?? []).map(parseLabelPattern);
  if (policy?.nodeRole && asked.role !== policy.nodeRole) {
    throw new FoglineError(
      'FOGLINE_ERR_JOIN_ROLE_REFUSED',
      `This join token enrols ${policy.nodeRole} nodes only; the agent asked for role ${asked.role}: start it with --role ${policy.nodeRole}, or use a join token made for ${asked.role} nodes`,
    );
  }
  const decidesLabels = Object.keys(fixed).length > 0 || patterns.length > 0;
  if (decidesLabels) {
    for (const [key, value] of Object.entries(asked.labels)) {
      const ok = key in fixed ? fixed[key] === value : labelAllowed(patterns, key, value);
      if (!ok) throw labelRefused(key, value, fixed, patterns);
    }
  }
  return {
    role: policy?.nodeRole ?? asked.role,
    labels: { ...asked.labels, ...fixed },
    pending: policy?.requireApproval === true,
    credentialTtlSeconds: policy?.credentialTtlSeconds ?? null,
  };
}

function labelRefused(key: string, value: string, fixed: LabelMap, patterns: readonly LabelPattern[]): FoglineError {
  const allows = [
    ...(Object.keys(fixed).length > 0 ? [`gives its nodes ${formatLabels(fixed)}`] : []),
    ...(patterns.length > 0 ? [`allows ${patterns.map((p) => `${p.key}=${p.value}`).join(', ')}`] : []),
  ].join(' and ');
  return new FoglineError(
    'FOGLINE_ERR_JOIN_LABELS_REFUSED',
    `This join token does not allow the label ${key}=${value}: it ${allows}. Start the agent without that label (it gets the token's labels), or have an operator set it once the node has joined (fogline nodes label)`,
  );
}
