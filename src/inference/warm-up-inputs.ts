import type { ModelSignature, TensorDatatype } from '../ml/bundle/bundle-manifest.js';
import type { InferInput } from '../ml/bundle/infer-tensors.js';

const ZERO: Partial<Record<TensorDatatype, string | boolean>> = { BYTES: '', BOOL: false };

/**
 * One valid request for a signature: a batch of one (every dynamic dimension 1), zeros (empty
 * strings, false) everywhere. Running it once before a version takes traffic compiles its
 * kernels, so the first real request is not the slow one; an imported model that cannot answer
 * it is refused.
 */
export function warmUpInputs(signature: ModelSignature): InferInput[] {
  return signature.inputs.map((spec) => {
    const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
    const count = shape.reduce((a, b) => a * b, 1);
    return {
      name: spec.name,
      shape,
      datatype: spec.datatype,
      data: new Array<number | string | boolean>(count).fill(ZERO[spec.datatype] ?? 0),
    };
  });
}
