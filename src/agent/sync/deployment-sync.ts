import type { FastifyBaseLogger } from 'fastify';
import type { BearerToken } from '../../client/bearer-token.js';
import type { DeviceCounts } from '../../contracts/devices.js';
import { ArtifactCache } from '../artifacts/artifact-cache.js';
import { RegistryKey } from '../artifacts/registry-key.js';
import type { DeployedModels } from '../runtime/deployed-models.js';
import { AgentStateFiles } from './agent-state-files.js';
import { ControlPlaneLink } from './control-plane-link.js';
import { DesiredStateWatcher } from './desired-state-watcher.js';
import { Reconciler } from './reconciler.js';
import { StatusReporter } from './status-reporter.js';
import type { RanWhere } from '../offload/offloading-models.js';
import type { OffloadSettings } from '../offload/offload-settings.js';
import type { DesiredState } from '../../contracts/deployments.js';

export interface DeploymentSyncConfig {
  dataDir: string;
  server: string;
  nodeId: string;
  /** The node credential, read for each request (it changes when rotated). */
  credential: BearerToken;
  cacheLimitBytes: number;
  /** Answered requests per deployment by where they ran (OffloadingModels.ranWhere), for the status report. */
  ranWhere?: (name: string) => RanWhere | undefined;
  /** Offloading's settings (OffloadingModels.settings), handed each desired entry's offload and joint settings. */
  offload?: OffloadSettings;
  /** Counts of each deployment's MQTT binding on this node (MqttBindings.counts), for the status report. */
  deviceCounts?: (name: string) => DeviceCounts | undefined;
  /** Told of the kept desired state at start, then of every one received (the agent's EdgeGuard takes its tokens). */
  onDesiredState?: (state: DesiredState) => void;
}

export interface DeploymentSync {
  watcher: DesiredStateWatcher;
  reconciler: Reconciler;
  /** Sends the status report now (something it carries changed outside the reconciler, e.g. an MQTT subscription). */
  reportNow(): void;
  stop(): Promise<void>;
}

/**
 * The agent side of deployments, wired: first it serves what it served before the restart
 * (from the cache, verified with the pinned key, no control plane needed), then it applies the
 * last desired state it kept, then it watches the control plane for changes.
 */
export async function startDeploymentSync(
  config: DeploymentSyncConfig,
  models: DeployedModels,
  log: FastifyBaseLogger,
): Promise<DeploymentSync> {
  const link = new ControlPlaneLink(config.server, config.nodeId, config.credential);
  const key = new RegistryKey(config.dataDir, () => link.registryPublicKey());
  const cache = new ArtifactCache(config.dataDir, key, link, config.cacheLimitBytes);
  const files = new AgentStateFiles(config.dataDir);
  const status = new StatusReporter(
    (report) => link.reportStatus(report),
    log,
    (name) => models.usage(name),
    undefined,
    config.ranWhere,
    config.deviceCounts,
  );
  const reconciler = new Reconciler(models, cache, files, status, log, config.offload);

  const served = files.loadServing();
  if (served.length > 0) {
    await reconciler.apply(served);
    log.info({ deployments: models.names() }, 'serving the deployments kept from the last run');
  }
  const kept = files.loadDesired();
  if (kept) config.onDesiredState?.(kept);
  if (kept) void reconciler.apply(kept.deployments);

  const watcher = new DesiredStateWatcher(
    link,
    (state, changed) => {
      config.onDesiredState?.(state);
      if (changed) files.saveDesired(state);
      void reconciler.apply(state.deployments, changed);
    },
    () => status.flush(),
    log,
  );
  watcher.start();
  return {
    watcher,
    reconciler,
    reportNow: () => status.flush(),
    async stop() {
      await watcher.stop();
      await reconciler.stop();
      await status.stop();
    },
  };
}
