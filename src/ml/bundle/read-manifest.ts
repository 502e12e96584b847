import { MlInputError } from '../errors.js';
import { decodeContainer } from './bundle-container.js';
import type { BundleManifest, ModelKind } from './bundle-manifest.js';

const KINDS: readonly ModelKind[] = ['forecaster', 'anomaly-detector', 'image-classifier'];

/**
 * Verifies a bundle's container and returns its manifest, without loading TensorFlow.js: what a
 * registry needs to record signature, metrics and lineage. `M` narrows the type for a known kind;
 * it is not checked beyond format, framework and kind.
 */
export function readBundleManifest<M extends BundleManifest<unknown, object> = BundleManifest>(bytes: Uint8Array): M {
  const { manifest } = decodeContainer(bytes);
  if (manifest.format !== 'fogline-model-bundle')
    throw new MlInputError('bundle-unsupported', `The bundle format is "${String(manifest.format)}", not "fogline-model-bundle".`);
  if (manifest.framework !== 'tfjs')
    throw new MlInputError('bundle-unsupported', `The bundle needs framework "${String(manifest.framework)}"; this runtime has tfjs.`);
  if (!KINDS.includes(manifest.kind as ModelKind))
    throw new MlInputError('bundle-unsupported', `Unknown model kind "${String(manifest.kind)}"; known: ${KINDS.join(', ')}.`);
  return manifest as unknown as M;
}
