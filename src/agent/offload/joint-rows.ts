import type { InferenceCall, InferenceResult } from '../../inference/inference-call.js';
import { MlInputError } from '../../ml/errors.js';

/** The request parameter that carries true labels of evaluation traffic: a class index, or one (or null) per row. */
export const LABEL_PARAMETER = 'fogline.label';

/** One output tensor with its data flat, row-major, first dimension the batch. */
export interface FlatOutput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

/** The batch size of a call: the first dimension of its first input (the model checks the rest agree). */
export function batchOf(call: Pick<InferenceCall, 'inputs'>): number {
  return call.inputs[0]?.shape[0] ?? 0;
}

/**
 * The true class of each row, from the request's `fogline.label` parameter: an integer for a
 * one-row request, or an array with one integer (or null: not labelled) per row. Undefined for
 * an unlabelled request; a label that does not fit the batch is the client's error (400).
 */
export function readLabels(call: Pick<InferenceCall, 'parameters'>, batch: number): (number | null)[] | undefined {
  const raw = call.parameters?.[LABEL_PARAMETER];
  if (raw === undefined || raw === null) return undefined;
  const isLabel = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (isLabel(raw)) {
    if (batch !== 1)
      throw new MlInputError('bad-input', `"${LABEL_PARAMETER}": a single label fits a one-row request; give an array of ${batch} labels.`);
    return [raw as number];
  }
  if (!Array.isArray(raw) || raw.length !== batch || !raw.every((v) => v === null || isLabel(v))) {
    throw new MlInputError(
      'bad-input',
      `"${LABEL_PARAMETER}" must be a class index (one-row request) or an array of ${batch} class indexes or nulls, one per row.`,
    );
  }
  return raw as (number | null)[];
}

/** The answer's outputs with their data flattened (the spec allows nested data). */
export function flatOutputs(response: Pick<InferenceResult, 'outputs'>): FlatOutput[] {
  return response.outputs.map((o) => ({ name: o.name, shape: o.shape, datatype: o.datatype, data: (o.data as unknown[]).flat(16) }));
}

/**
 * A call with only `rows` of every input (in that order), for the cloud: same tensors, first
 * dimension `rows.length`. Without `parameters` (labels stay on the node), `outputs` (all come
 * back) and the caller's signal.
 */
export function sliceRows(call: InferenceCall, rows: readonly number[]): InferenceCall {
  const batch = batchOf(call);
  const inputs = call.inputs.map((input) => {
    const width = batch === 0 ? 0 : input.data.length / batch;
    const data: (number | bigint | boolean | string)[] = [];
    for (const row of rows) for (let j = 0; j < width; j++) data.push(input.data[row * width + j]!);
    return { name: input.name, shape: [rows.length, ...input.shape.slice(1)], datatype: input.datatype, data };
  });
  return { name: call.name, ...(call.id !== undefined ? { id: call.id } : {}), inputs };
}

/**
 * The edge model's outputs with `rows` replaced by the cloud's answers for them (the cloud's row
 * k is the answer for `rows[k]`). Throws when the cloud's outputs do not match the edge's (names,
 * row sizes): the caller keeps the edge answer then.
 */
export function mergeRows(edge: readonly FlatOutput[], cloud: readonly FlatOutput[], rows: readonly number[], batch: number): FlatOutput[] {
  return edge.map((output) => {
    const other = cloud.find((o) => o.name === output.name);
    const width = batch === 0 ? 0 : output.data.length / batch;
    if (!other || other.data.length !== rows.length * width || other.shape[0] !== rows.length) {
      throw new Error(`the cloud's output "${output.name}" does not match the edge model's`);
    }
    const data = output.data.slice();
    rows.forEach((row, k) => {
      for (let j = 0; j < width; j++) data[row * width + j] = other.data[k * width + j];
    });
    return { ...output, data };
  });
}
