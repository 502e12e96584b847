import type { V2ModelMetadata } from '../contracts/open-inference.js';

/** The window a forecaster takes and the horizon it forecasts, from its V2 metadata. */
export interface ForecasterShape {
  window: number;
  horizon: number;
}

/**
 * The forecaster contract (`history` FP32 [-1, W], `start_time` INT64 [-1], `forecast` FP32
 * [-1, H]) read from a model's V2 metadata; throws, naming the model's inputs, when it has others.
 */
export function forecasterShape(metadata: V2ModelMetadata): ForecasterShape {
  const history = metadata.inputs.find((input) => input.name === 'history');
  const startTime = metadata.inputs.find((input) => input.name === 'start_time');
  const window = history?.shape[1];
  const ok =
    metadata.inputs.length === 2 &&
    history?.datatype === 'FP32' &&
    history.shape.length === 2 &&
    window !== undefined &&
    window > 0 &&
    startTime?.datatype === 'INT64' &&
    startTime.shape.length === 1;
  if (!ok) {
    const inputs = metadata.inputs.map((input) => `${input.name} (${input.datatype} [${input.shape.join(', ')}])`).join(', ');
    throw new Error(
      `${metadata.name} takes ${inputs || 'no inputs'}, not a forecaster's history (FP32 [-1, window]) and start_time (INT64 [-1]): ` +
        '--from-csv builds only forecaster requests; send this model a request body with --input',
    );
  }
  const forecast = metadata.outputs.find((output) => output.name === 'forecast')?.shape[1];
  return { window, horizon: forecast !== undefined && forecast > 0 ? forecast : 24 };
}
