import { MlInputError } from '../errors.js';
import { decodeContainer } from './bundle-container.js';
import type { BundleManifest, ModelFramework, ModelKind } from './bundle-manifest.js';

const KINDS: readonly ModelKind[] = ['forecaster', 'anomaly-detector', 'image-classifier', 'imported'];
const FRAMEWORKS: readonly ModelFramework[] = ['tfjs', 'onnx'];

/**
 * Verifies a bundle's container and returns its manifest, without loading TensorFlow.js or ONNX Runtime: what a
 * registry needs to record signature, metrics and lineage. `M` narrows the type for a known kind;
 * it is not checked beyond format, framework and kind.
 */
export function readBundleManifest<M extends BundleManifest<unknown, object> = BundleManifest>(bytes: Uint8Array): M {
  const { manifest } = decodeContainer(bytes);
  if (manifest.format !== 'fogline-model-bundle')
    throw new MlInputError('bundle-unsupported', `The bundle format is "${String(manifest.format)}", not "fogline-model-bundle".`);
  if (!FRAMEWORKS.includes(manifest.framework as ModelFramework))
    throw new MlInputError(
      'bundle-unsupported',
      `The bundle needs framework "${String(manifest.framework)}"; this runtime has ${FRAMEWORKS.join(' and ')}.`,
    );
  if (!KINDS.includes(manifest.kind as ModelKind))
    throw new MlInputError('bundle-unsupported', `Unknown model kind "${String(manifest.kind)}"; known: ${KINDS.join(', ')}.`);
  return manifest as unknown as M;
}
