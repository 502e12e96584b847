import type { V2InferInput, V2InferRequest } from '../contracts/open-inference.js';
import type { InferInput, InferOutput } from '../ml/bundle/infer-tensors.js';
import { MlInputError } from '../ml/errors.js';
import { isTypedArray } from './v2-binary-tensors.js';

/** Most values one request may carry, across all its inputs. */
export const MAX_REQUEST_VALUES = 1_000_000;

/**
 * Turns a V2 request's tensors into the library's flat inputs. The spec allows `data` flat or
 * nested in row-major order; either way the values must be numbers (or booleans; strings for
 * BYTES) and as many as the shape says. Binary requests (src/inference/v2-binary-routes.ts) carry typed arrays, which are
 * flat and numeric already: they are passed on as they are, not copied. What is wrong is named in
 * an MlInputError, which the routes answer with 400. Called once per request, by whoever builds
 * its InferenceCall (src/inference/inference-call.ts).
 */
export function toInferInputs(request: V2InferRequest): InferInput[] {
  let total = 0;
  const inputs = request.inputs.map((input) => {
    const data = isTypedArray(input.data) ? input.data : flatten(input);
    total += data.length;
    if (total > MAX_REQUEST_VALUES) {
      throw new MlInputError('bad-input', `The request carries more than ${MAX_REQUEST_VALUES} values; split it into smaller batches.`);
    }
    return { name: input.name, shape: input.shape, datatype: input.datatype, data };
  });
  return inputs;
}

function flatten(input: V2InferInput): (number | boolean | string)[] {
  const out: (number | boolean | string)[] = [];
  // BYTES tensors carry strings (an imported model's text inputs); every other datatype numbers.
  const strings = input.datatype === 'BYTES';
  const visit = (value: unknown, depth: number): void => {
    if (Array.isArray(value)) {
      if (depth > 16) throw new MlInputError('bad-input', `Input "${input.name}" nests its data deeper than its shape allows.`);
      for (const item of value) visit(item, depth + 1);
      return;
    }
    if (typeof value === 'number' || typeof value === 'boolean' || (strings && typeof value === 'string')) {
      out.push(value);
      return;
    }
    throw new MlInputError('bad-input', `Input "${input.name}" has a value that is not a number: ${JSON.stringify(value)?.slice(0, 40)}.`);
  };
  visit(input.data, 0);
  return out;
}

/** Keeps the outputs the client asked for (all when it named none); unknown names are an error. */
export function selectOutputs(outputs: InferOutput[], requested: V2InferRequest['outputs']): InferOutput[] {
  if (!requested || requested.length === 0) return outputs;
  return requested.map(({ name }) => {
    const output = outputs.find((o) => o.name === name);
    if (!output) throw new MlInputError('bad-input', `The model has no output "${name}"; it has ${outputs.map((o) => o.name).join(', ')}.`);
    return output;
  });
}
