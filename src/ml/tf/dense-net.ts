import { tf } from './backend.js';

export interface DenseNetSpec {
  inputSize: number;
  hidden: readonly number[];
  outputs: number;
  activation?: 'relu' | 'elu' | 'tanh';
  /** Dropout rate after each hidden layer (0: none). */
  dropout?: number;
  /** Seeds the weight initialisers, so the same seed and data train the same model. */
  seed: number;
}

/**
 * A plain multilayer perceptron with a linear output. Layer names are fixed ("hidden_1", …,
 * "output") rather than tfjs's process-wide counters, so a saved topology is the same bytes
 * whichever models the process built before.
 */
export function buildDenseNet(spec: DenseNetSpec): tf.LayersModel {
  const model = tf.sequential({ name: 'dense_net' });
  spec.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        name: `hidden_${i + 1}`,
        units,
        activation: spec.activation ?? 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: spec.seed + i }),
        ...(i === 0 ? { inputShape: [spec.inputSize] } : {}),
      }),
    );
    if (spec.dropout) model.add(tf.layers.dropout({ name: `dropout_${i + 1}`, rate: spec.dropout, seed: spec.seed + 100 + i }));
  });
  model.add(
    tf.layers.dense({
      name: 'output',
      units: spec.outputs,
      kernelInitializer: tf.initializers.glorotUniform({ seed: spec.seed + spec.hidden.length }),
      ...(spec.hidden.length === 0 ? { inputShape: [spec.inputSize] } : {}),
    }),
  );
  return model;
}
