import { ALL_DEPLOYMENTS, type EdgeToken } from '../contracts/edge-access.js';

/** An inference token the control plane may hand to agents (src/auth/inference-tokens.ts). */
export interface EdgeGrant {
  id: string;
  /** SHA-256 of the secret, hex. */
  secretHash: string;
  /** Deployment names; ALL_DEPLOYMENTS for every one. */
  deployments: readonly string[];
  metrics: boolean;
  expiresAt: number | null;
  /** Given only to cloud nodes (the control plane's own token, which it presents to cloud replicas). */
  cloudOnly?: boolean;
}

/** What shapes the edge half of desired state: the tokens agents may accept, and the deployments that upload samples. */
export interface EdgeAccess {
  grants(): Promise<EdgeGrant[]>;
  /** Deployments whose drift policy consents to sample upload. */
  sampleUploads(): Promise<ReadonlySet<string>>;
}

/**
 * The tokens one node is given: those covering a deployment it serves (narrowed to those
 * deployments, so a node learns nothing of the others), and those that may read /metrics.
 * Sorted by id, so that the desired state's revision changes only when the set does.
 */
export function edgeTokensFor(grants: readonly EdgeGrant[], node: { role: string }, served: readonly string[]): EdgeToken[] {
  const here = new Set(served);
  const tokens: EdgeToken[] = [];
  for (const grant of grants) {
    if (grant.cloudOnly && node.role !== 'cloud') continue;
    // A token for every deployment goes only where there is one to call (not to a node given none, or pending).
    const deployments = grant.deployments.includes(ALL_DEPLOYMENTS)
      ? here.size > 0
        ? [ALL_DEPLOYMENTS]
        : []
      : grant.deployments.filter((name) => here.has(name)).sort();
    if (deployments.length === 0 && !grant.metrics) continue;
    tokens.push({
      id: grant.id,
      sha256: grant.secretHash,
      deployments,
      metrics: grant.metrics,
      expiresAt: grant.expiresAt === null ? null : new Date(grant.expiresAt).toISOString(),
    });
  }
  return tokens.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
