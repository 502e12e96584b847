import type { IoSignature, TensorSpec } from '../contracts/models.js';
import type { V2InferRequest, V2InferResponse } from '../contracts/open-inference.js';
import { FoglineError } from '../errors/fogline-error.js';
import { type DeviceReading, type DeviceResult, DeviceMessageError } from './device-reading.js';
import type { WindowStep } from './device-windows.js';

/** A model fed one reading per request: its one input, each reading's values one row of it. */
export interface PerReadingPlan {
  mode: 'per-reading';
  /** Numbers per row: the product of the input's dimensions after the batch. */
  width: number;
  /** The input's name, datatype and row shape (the dimensions after the batch). */
  input: string;
  datatype: string;
  rowShape: number[];
}

/** How device readings become a model's inputs. */
export type DeviceInputPlan = { mode: 'forecast' | 'score'; history: number } | PerReadingPlan;

export type DueStep = Extract<WindowStep, { kind: 'due' }>;

const ROW_TYPES = new Set(['FP32', 'FP64']);

const describe = (inputs: TensorSpec[]): string =>
  inputs.length === 0 ? 'no inputs' : inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(', ')}]`).join(', ');

const is = (t: TensorSpec | undefined, name: string, datatype: string, rank: number): boolean =>
  t !== undefined && t.name === name && t.datatype === datatype && t.shape.length === rank && t.shape[0] === -1;

/**
 * Which inputs a model takes, as the MQTT binding feeds them: a forecaster (history FP32 [-1, w],
 * start_time INT64 [-1]) from a window of w slots, an anomaly detector (history FP32 [-1, h],
 * value FP32 [-1]) from the h slots before each new one, any other model with one FP32 input of
 * fixed row size ([-1, n], [-1, a, b], …) from each reading's values.
 */
export function deviceInputPlan(io: IoSignature, model = 'the model'): DeviceInputPlan {
  const inputs = io.inputs;
  const byName = new Map(inputs.map((t) => [t.name, t]));
  const history = byName.get('history');
  if (inputs.length === 2 && is(history, 'history', 'FP32', 2) && history!.shape[1]! > 0) {
    if (is(byName.get('start_time'), 'start_time', 'INT64', 1)) return { mode: 'forecast', history: history!.shape[1]! };
    if (is(byName.get('value'), 'value', 'FP32', 1)) return { mode: 'score', history: history!.shape[1]! };
  }
  const only = inputs[0];
  if (inputs.length === 1 && only !== undefined && ROW_TYPES.has(only.datatype) && only.shape.length >= 2 && only.shape[0] === -1) {
    const rowShape = only.shape.slice(1);
    if (rowShape.every((d) => Number.isInteger(d) && d > 0)) {
      return { mode: 'per-reading', width: rowShape.reduce((a, b) => a * b, 1), input: only.name, datatype: only.datatype, rowShape };
    }
  }
  throw new FoglineError(
    'FOGLINE_ERR_REQUEST_INVALID',
    `model ${model} takes inputs ${describe(inputs)}: MQTT bindings feed forecasters (history, start_time), anomaly detectors (history, value) and models with one FP32 input of fixed size such as [-1, 64]; call this model over HTTP (/v2) instead`,
  );
}

/** A due window → the V2 request of a forecaster (history, start_time) or an anomaly detector (history, value). */
export function windowRequest(step: DueStep): V2InferRequest {
  const history = { name: 'history', shape: [1, step.history.length], datatype: 'FP32', data: step.history };
  if (step.value !== undefined) return { inputs: [history, { name: 'value', shape: [1], datatype: 'FP32', data: [step.value] }] };
  const startTime = step.startTime ?? step.slotTime;
  return { inputs: [history, { name: 'start_time', shape: [1], datatype: 'INT64', data: [Math.round(startTime)] }] };
}

/**
 * One reading → a one-row V2 request. Its `values` (or its single `value`) must hold exactly
 * `width` numbers ('wrong-shape'). Given a plan, the request uses the model's input name and row
 * shape; given a bare width, an input named "input" of shape [1, width].
 */
export function readingRequest(reading: DeviceReading, width: number | PerReadingPlan): V2InferRequest {
  const plan: PerReadingPlan =
    typeof width === 'number' ? { mode: 'per-reading', width, input: 'input', datatype: 'FP32', rowShape: [width] } : width;
  const row = reading.values ?? (reading.value !== undefined ? [reading.value] : []);
  const name = `reading "${reading.resource}" of device "${reading.device}"`;
  if (row.length !== plan.width) {
    throw new DeviceMessageError(
      'wrong-shape',
      `${name} has ${row.length} number${row.length === 1 ? '' : 's'}: the model's input ${plan.input} takes ${plan.width} per row ([${plan.rowShape.join(', ')}])`,
    );
  }
  const bad = row.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new DeviceMessageError('not-finite', `${name} has ${row[bad]} at ${bad}: a model input needs finite numbers`);
  return { inputs: [{ name: plan.input, shape: [1, ...plan.rowShape], datatype: plan.datatype, data: row }] };
}

const flatten = (data: unknown[]): unknown[] => data.flat(Number.POSITIVE_INFINITY);

/**
 * A V2 response → the result's outputs, each flattened (one request is one row). Outputs that are
 * neither numbers nor booleans (BYTES) are left out: EdgeX readings and the JSON result carry numbers.
 */
export function resultOutputs(response: Pick<V2InferResponse, 'outputs'>): DeviceResult['outputs'] {
  const outputs: DeviceResult['outputs'] = [];
  for (const output of response.outputs) {
    const data = flatten(output.data);
    if (data.every((v) => typeof v === 'boolean')) outputs.push({ name: output.name, values: data as boolean[] });
    else if (data.every((v) => typeof v === 'number')) outputs.push({ name: output.name, values: data as number[] });
  }
  return outputs;
}
