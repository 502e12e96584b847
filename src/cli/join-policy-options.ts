import type { JoinPolicy } from '../contracts/join-policy.js';
import type { NodeRole } from '../contracts/nodes.js';
import { parseLabelPattern } from '../nodes/label-pattern.js';
import { formatLabels, parseLabelList } from '../nodes/labels.js';
import { parseDuration } from './parse-arguments.js';

/** The `fogline token create` flags that make a join token decide for its nodes. */
export interface JoinPolicyFlags {
  nodeRole?: NodeRole;
  nodeLabels?: string;
  allowedLabels?: string;
  requireApproval?: boolean;
  credentialTtl?: string;
}

/** The join policy the flags ask for; undefined when they ask for nothing (the node decides, as before). */
export function joinPolicyFromFlags(flags: JoinPolicyFlags): JoinPolicy | undefined {
  const allowed = (flags.allowedLabels ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  // Checked here too, so that a typo is reported before anything is sent.
  for (const pattern of allowed) parseLabelPattern(pattern);
  const policy: JoinPolicy = {
    ...(flags.nodeRole ? { nodeRole: flags.nodeRole } : {}),
    ...(flags.nodeLabels ? { nodeLabels: parseLabelList(flags.nodeLabels) } : {}),
    ...(allowed.length > 0 ? { allowedLabels: allowed } : {}),
    ...(flags.requireApproval ? { requireApproval: true } : {}),
    ...(flags.credentialTtl ? { credentialTtlSeconds: parseDuration(flags.credentialTtl, '--credential-ttl') } : {}),
  };
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/** One line for `token list`: what a join token decides. */
export function describeJoinPolicy(policy: JoinPolicy): string {
  return [
    ...(policy.nodeRole ? [`${policy.nodeRole} only`] : []),
    ...(policy.nodeLabels ? [`labels ${formatLabels(policy.nodeLabels)}`] : []),
    ...(policy.allowedLabels ? [`allows ${policy.allowedLabels.join(',')}`] : []),
    ...(policy.requireApproval ? ['needs approval'] : []),
    ...(policy.credentialTtlSeconds ? [`credentials ${formatSeconds(policy.credentialTtlSeconds)}`] : []),
  ].join('; ');
}

function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
