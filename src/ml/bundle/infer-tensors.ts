import { MlInputError } from '../errors.js';
import type { ModelSignature, TensorDatatype, TensorSpec } from './bundle-manifest.js';

/** A request tensor as the Open Inference Protocol sends it: flat row-major data. */
export interface InferInput {
  name: string;
  shape: number[];
  datatype?: string;
  data: ArrayLike<number | bigint | boolean | string>;
}

/** A response tensor; `data` is a plain array so it serialises to JSON as the protocol expects (BYTES: strings). */
export interface InferOutput {
  name: string;
  shape: number[];
  datatype: TensorDatatype;
  data: number[] | boolean[] | string[];
}

/** A loaded bundle, ready to serve. Safe to call concurrently; dispose() frees its tensors. */
export interface Predictor {
  kind: string;
  signature: ModelSignature;
  predict(inputs: InferInput[]): Promise<InferOutput[]>;
  dispose(): void;
}

/** Checks one named input against its spec and returns it as float64 numbers plus its batch size. */
export function readInput(inputs: InferInput[], spec: TensorSpec): { values: Float64Array; batch: number } {
  const input = inputs.find((i) => i.name === spec.name);
  const expected = `[${spec.shape.join(', ')}]`;
  if (!input) {
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" (${spec.datatype} ${expected}) is missing; got: ${inputs.map((i) => i.name).join(', ') || 'none'}.`,
    );
  }
  if (input.datatype !== undefined && input.datatype !== spec.datatype) {
    throw new MlInputError('bad-input', `Input "${spec.name}" must have datatype ${spec.datatype}, not ${input.datatype}.`);
  }
  const shape = input.shape;
  const fits =
    Array.isArray(shape) &&
    shape.length === spec.shape.length &&
    shape.every((d, i) => Number.isInteger(d) && d >= 0 && (spec.shape[i] === -1 || spec.shape[i] === d));
  if (!fits) throw new MlInputError('bad-input', `Input "${spec.name}" must have shape ${expected}; got ${JSON.stringify(shape)}.`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (input.data.length !== count) {
    throw new MlInputError(
      'bad-input',
      `Input "${spec.name}" has shape ${JSON.stringify(shape)} (${count} values) but ${input.data.length} data values.`,
    );
  }
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = Number(input.data[i]);
    if (!Number.isFinite(v)) throw new MlInputError('bad-input', `Input "${spec.name}" value ${i} is not a finite number.`);
    values[i] = v;
  }
  return { values, batch: shape[0] ?? 1 };
}

/** Reads every input of the signature and checks they agree on the batch size. */
export function readInputs(inputs: InferInput[], signature: ModelSignature): { values: Map<string, Float64Array>; batch: number } {
  const values = new Map<string, Float64Array>();
  let batch = -1;
  for (const spec of signature.inputs) {
    const read = readInput(inputs, spec);
    if (batch >= 0 && read.batch !== batch)
      throw new MlInputError('bad-input', `Inputs disagree on the batch size (${batch} vs ${read.batch} for "${spec.name}").`);
    batch = read.batch;
    values.set(spec.name, read.values);
  }
  return { values, batch };
}
