import type { TokenRepository } from '../auth/token-repository.js';
import type { ChangeSignal } from '../deployments/change-signal.js';
import type { DeploymentRepository } from '../deployments/deployment-repository.js';
import type { NodeRegistry } from '../nodes/node-registry.js';
import type { ModelRegistry } from '../registry/model-registry.js';

/** The domain objects that announce their changes and keep caches (a control plane's Services has them all). */
export interface AnnouncingServices {
  tokens: TokenRepository;
  nodes: NodeRegistry;
  models: ModelRegistry;
  deployments: DeploymentRepository;
}

/**
 * Connects the domain objects to `changes`: each announces what it changes through it (enrolment
 * and credential rotation through the node registry and the token store), and the caches drop
 * what every replica's events name. Calling it again with the same signal changes nothing.
 */
export function announceChanges(changes: ChangeSignal, services: AnnouncingServices): void {
  const { tokens, nodes, models, deployments } = services;
  if (tokens.changes === changes) return;
  tokens.changes = changes;
  nodes.changes = changes;
  models.changes = changes;
  deployments.changes = changes;
  changes.subscribe((event) => {
    tokens.forgetFor(event);
    nodes.forgetFor(event);
  });
}
