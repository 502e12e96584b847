import path from 'node:path';
import { AuditLog } from '../audit/audit-log.js';
import { Authenticator } from '../auth/authenticator.js';
import { TokenRepository } from '../auth/token-repository.js';
import { DatasetCatalog } from '../datasets/dataset-catalog.js';
import { Enrolment } from '../nodes/enrolment.js';
import { NodeRegistry } from '../nodes/node-registry.js';
import { ArtifactStore } from '../registry/artifact-store.js';
import { ModelRegistry } from '../registry/model-registry.js';
import { SigningKey } from '../registry/signing-key.js';
import type { Store } from '../store/store.js';

export interface ServiceSettings {
  /** Holds the artifact store and the registry's signing key. */
  dataDir: string;
  datasetLimitBytes: number;
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
  artifacts: ArtifactStore;
  models: ModelRegistry;
  datasets: DatasetCatalog;
}

export function createServices(store: Store, settings: ServiceSettings): Services {
  const tokens = new TokenRepository(store.db);
  const authenticator = new Authenticator(tokens);
  const nodes = new NodeRegistry(store.db, settings.nodeTimeoutSeconds * 1000);
  const artifacts = new ArtifactStore(path.join(settings.dataDir, 'artifacts'));
  const signingKey = SigningKey.loadOrCreate(path.join(settings.dataDir, 'signing-key.pem'));
  return {
    store,
    settings,
    tokens,
    authenticator,
    nodes,
    enrolment: new Enrolment(store.db, authenticator, tokens, nodes),
    audit: new AuditLog(store.db),
    artifacts,
    models: new ModelRegistry(store.db, artifacts, signingKey),
    datasets: new DatasetCatalog(store.db, new ArtifactStore(path.join(settings.dataDir, 'datasets')), settings.datasetLimitBytes),
  };
}
