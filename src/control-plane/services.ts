import { AuditLog } from '../audit/audit-log.js';
import { Authenticator } from '../auth/authenticator.js';
import { TokenRepository } from '../auth/token-repository.js';
import { Enrolment } from '../nodes/enrolment.js';
import { NodeRegistry } from '../nodes/node-registry.js';
import type { Store } from '../store/store.js';

export interface ServiceSettings {
  nodeTimeoutSeconds: number;
  heartbeatIntervalSeconds: number;
}

/** The domain services the control plane's routes call, wired over one store. */
export interface Services {
  store: Store;
  settings: ServiceSettings;
  tokens: TokenRepository;
  authenticator: Authenticator;
  nodes: NodeRegistry;
  enrolment: Enrolment;
  audit: AuditLog;
}

export function createServices(store: Store, settings: ServiceSettings): Services {
  const tokens = new TokenRepository(store.db);
  const authenticator = new Authenticator(tokens);
  const nodes = new NodeRegistry(store.db, settings.nodeTimeoutSeconds * 1000);
  return {
    store,
    settings,
    tokens,
    authenticator,
    nodes,
    enrolment: new Enrolment(store.db, authenticator, tokens, nodes),
    audit: new AuditLog(store.db),
  };
}
