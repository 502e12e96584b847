import type { DesiredDeployment } from '../../contracts/deployments.js';

/** A deployment's offload settings, with the control plane's V2 infer path for the version this node serves. */
export interface DeploymentOffload {
  policy: NonNullable<DesiredDeployment['offload']>['policy'];
  latencyTargetMs: number;
  /** The same version as the node's (the desired one while none serves yet), on the control plane's /v2. */
  inferPath: string;
}

/** A deployment's joint inference: the cloud model version hard rows go to, the rule and its threshold. */
export type DeploymentJoint = NonNullable<DesiredDeployment['joint']>;

/** What serves a deployment on this node now (DeployedModels.serving). */
export type ServingModel = (deployment: string) => { version: number; model: string } | undefined;

/**
 * Offloading's own settings per deployment, from the desired state (the deployment sync hands
 * them over: `configure` when a version starts loading or only the settings changed, `expect`
 * with every desired name). Read by OffloadingModels on each request, in memory.
 *
 * @example
 * const settings = new OffloadSettings((name) => models.serving(name));
 * settings.configure(desired);
 * settings.offload('energy'); // { policy: 'auto', latencyTargetMs: 50, inferPath: '/v2/models/energy/versions/2/infer' }
 */
export class OffloadSettings {
  /** Offload settings per deployment name, from the desired entry whose version was loaded last. */
  private readonly offloadSettings = new Map<string, NonNullable<DesiredDeployment['offload']>>();
  /** Joint inference settings per deployment name, from its latest desired entry. */
  private readonly jointSettings = new Map<string, DeploymentJoint>();

  constructor(private readonly serving: ServingModel) {}

  /**
   * Takes a desired entry's offload and joint settings: when its version starts loading (so that a
   * deployment still loading can already be offloaded), and when only they changed (the joint cloud
   * model's alias moved) while the same version keeps serving.
   */
  configure(deployment: DesiredDeployment): void {
    if (deployment.offload) this.offloadSettings.set(deployment.name, deployment.offload);
    else this.offloadSettings.delete(deployment.name);
    if (deployment.joint) this.jointSettings.set(deployment.name, deployment.joint);
    else this.jointSettings.delete(deployment.name);
  }

  /** The desired deployments now: settings of the others are dropped once nothing serves them. */
  expect(names: readonly string[]): void {
    const expected = new Set(names);
    for (const settings of [this.offloadSettings, this.jointSettings])
      for (const name of settings.keys()) if (!expected.has(name) && !this.serving(name)) settings.delete(name);
  }

  /** Drops `name`'s settings (its deployment was removed from this node). */
  forget(name: string): void {
    this.offloadSettings.delete(name);
    this.jointSettings.delete(name);
  }

  /** `name`'s joint inference settings; undefined when it has none. */
  joint(name: string): DeploymentJoint | undefined {
    return this.jointSettings.get(name);
  }

  /** How `name`'s requests may be offloaded; undefined when it has no settings (edge-only). */
  offload(name: string): DeploymentOffload | undefined {
    const settings = this.offloadSettings.get(name);
    if (!settings) return undefined;
    const serving = this.serving(name);
    const inferPath = serving ? `/v2/models/${encodeURIComponent(serving.model)}/versions/${serving.version}/infer` : settings.inferPath;
    return { policy: settings.policy, latencyTargetMs: settings.latencyTargetMs, inferPath };
  }
}
