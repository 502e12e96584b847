import { canonicalJson } from '../bundle/canonical-json.js';
import { MlInputError } from '../errors.js';
import { tf } from './backend.js';

/** A tfjs LayersModel as two files: `model.json` (topology + weight specs, canonical JSON) and `weights.bin` (float32 LE). */
export interface ModelFiles {
  modelJson: Uint8Array;
  weights: Uint8Array;
}

/** Serialises a LayersModel in tfjs's own layers format, so any tfjs runtime could load it too. */
export async function saveModelFiles(model: tf.LayersModel): Promise<ModelFiles> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.weightData || !saved.weightSpecs) throw new Error('tfjs returned no weights for the model');
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData));
  const modelJson = new TextEncoder().encode(canonicalJson({ modelTopology: saved.modelTopology, weightSpecs: saved.weightSpecs }));
  return { modelJson, weights };
}

/** Rebuilds the LayersModel from its two files (copies the weights, so the bundle bytes may be released). */
export async function loadModelFiles(files: ModelFiles): Promise<tf.LayersModel> {
  let parsed: { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[] };
  try {
    parsed = JSON.parse(new TextDecoder().decode(files.modelJson));
  } catch {
    throw new MlInputError('bundle-corrupt', "The bundle's model.json is not valid JSON.");
  }
  // Copy into a fresh ArrayBuffer: a Node Buffer's slice() is a view, and its .buffer the whole pool or file.
  const weightData = new Uint8Array(files.weights).buffer;
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: parsed.modelTopology, weightSpecs: parsed.weightSpecs, weightData }));
  } catch (error) {
    throw new MlInputError('bundle-corrupt', `The bundle's model could not be loaded: ${(error as Error).message}`);
  }
}
