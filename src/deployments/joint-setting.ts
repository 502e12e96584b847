import type {
  DeploymentView,
  DesiredDeployment,
  JointCounts,
  JointSetting,
  NodeDeploymentStatus,
  OffloadPolicy,
} from '../contracts/deployments.js';
import type { ModelVersionView, TensorSpec } from '../contracts/models.js';
import { FoglineError } from '../errors/fogline-error.js';
import { RULE_MAX_THRESHOLD, RULE_OUTPUTS } from '../ml/joint/edge-outputs.js';
import type { ModelRegistry } from '../registry/model-registry.js';

function invalid(message: string): FoglineError {
  return new FoglineError('FOGLINE_ERR_JOINT_INVALID', message);
}

const describeTensors = (specs: readonly TensorSpec[]) => specs.map((s) => `${s.name} ${s.datatype} [${s.shape.join(', ')}]`).join('; ');
const sameTensors = (a: readonly TensorSpec[], b: readonly TensorSpec[]) => describeTensors(a) === describeTensors(b);

/**
 * Checks a deployment's joint setting against its edge model (the version its selector resolves
 * to now) and resolves the cloud model; every refusal is FOGLINE_ERR_JOINT_INVALID (400) with
 * what to change. The cloud model must take the same inputs and give the same outputs as the
 * edge model, so that its answer can stand in for the edge's row by row.
 */
export async function validateJoint(
  joint: JointSetting,
  edge: ModelVersionView,
  offload: OffloadPolicy,
  models: Pick<ModelRegistry, 'resolve'>,
): Promise<ModelVersionView> {
  const { rule, threshold, cloudModel } = joint;
  if (offload !== 'edge-only') {
    throw invalid(
      `Joint inference runs the edge model first on every request and sends only hard rows to the cloud: it cannot be combined with offload "${offload}" (use edge-only)`,
    );
  }
  const max = RULE_MAX_THRESHOLD[rule];
  if (!Number.isFinite(threshold) || threshold < 0 || (max !== undefined && threshold > max)) {
    throw invalid(`The ${rule} rule's threshold must be between 0 and ${max ?? 'any positive number'}, not ${threshold}`);
  }
  const needs = RULE_OUTPUTS[rule];
  const has = edge.ioSignature.outputs.map((o) => o.name);
  if (!needs.every((name) => has.includes(name))) {
    throw invalid(
      `The ${rule} rule reads the edge model's ${needs.join(', ')} output${needs.length > 1 ? 's' : ''}; ` +
        `${edge.model} version ${edge.version} (${edge.kind}) gives ${has.join(', ') || 'none'}` +
        (rule === 'interval-width'
          ? ': use confidence or entropy for a classifier'
          : ': use interval-width for a model that gives intervals'),
    );
  }
  let cloud: ModelVersionView;
  try {
    cloud = await models.resolve(cloudModel);
  } catch (error) {
    if (error instanceof FoglineError && error.status < 500)
      throw invalid(`The joint cloud model "${cloudModel}" cannot be used: ${error.message}`);
    throw error;
  }
  if (
    !sameTensors(cloud.ioSignature.inputs, edge.ioSignature.inputs) ||
    !sameTensors(cloud.ioSignature.outputs, edge.ioSignature.outputs)
  ) {
    throw invalid(
      `The joint cloud model ${cloud.model} version ${cloud.version} must take the same inputs and give the same outputs as the edge model ` +
        `${edge.model} version ${edge.version}: ${describeTensors(cloud.ioSignature.inputs)} → ${describeTensors(cloud.ioSignature.outputs)} vs ` +
        `${describeTensors(edge.ioSignature.inputs)} → ${describeTensors(edge.ioSignature.outputs)}`,
    );
  }
  return cloud;
}

/** What agents get: the cloud model's version now, with the control plane's V2 path for it. Undefined when it resolves to nothing. */
export function desiredJoint(joint: JointSetting | null, cloud: ModelVersionView | undefined): DesiredDeployment['joint'] {
  if (!joint || !cloud) return undefined;
  return {
    model: cloud.model,
    version: cloud.version,
    rule: joint.rule,
    threshold: joint.threshold,
    inferPath: `/v2/models/${encodeURIComponent(cloud.model)}/versions/${cloud.version}/infer`,
  };
}

/** The joint setting as users see it, with the version its cloud model resolves to now. */
export function jointView(joint: JointSetting | null, cloud: ModelVersionView | undefined): DeploymentView['joint'] {
  if (!joint) return null;
  return { cloudModel: joint.cloudModel, rule: joint.rule, threshold: joint.threshold, cloudVersion: cloud?.version ?? null };
}

/** Resolves a deployment's cloud model now; undefined when it has none or it resolves to nothing (deleted, alias gone). */
export async function resolveJointCloud(
  joint: JointSetting | null,
  models: Pick<ModelRegistry, 'resolve'>,
): Promise<ModelVersionView | undefined> {
  if (!joint) return undefined;
  return models.resolve(joint.cloudModel).catch(() => undefined);
}

/** A node's reported joint counts with the rates derived from them; null when it reported none. */
export function jointNodeView(counts: JointCounts | null): NodeDeploymentStatus['joint'] {
  if (!counts) return null;
  const rows = counts.easy + counts.hard + counts.fallback;
  return {
    ...counts,
    offloadRate: rows === 0 ? 0 : counts.hard / rows,
    edgeAccuracy: counts.labelled === 0 ? null : counts.edgeCorrect / counts.labelled,
    finalAccuracy: counts.labelled === 0 ? null : counts.finalCorrect / counts.labelled,
  };
}
