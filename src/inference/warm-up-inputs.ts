import type { ModelSignature } from '../../ml/bundle/bundle-manifest.js';
import type { InferInput } from '../../ml/bundle/infer-tensors.js';

/**
 * One valid request for a signature: a batch of one, zeros everywhere. Running it once before a
 * version takes traffic compiles its kernels, so the first real request is not the slow one.
 */
export function warmUpInputs(signature: ModelSignature): InferInput[] {
  return signature.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
    const count = shape.reduce((a, b) => a * b, 1);
    return { name: spec.name, shape, datatype: spec.datatype, data: new Array<number>(count).fill(0) };
  });
}
