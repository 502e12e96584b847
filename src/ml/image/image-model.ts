import { tf } from '../tf/backend.js';
import { buildDenseNet } from '../tf/dense-net.js';
import type { ImageRecipe } from './image-recipe.js';

/**
 * 'dense': an MLP on the flattened pixels. 'conv': two 3×3 convolutions (same padding, ReLU) and a
 * 2×2 max-pool before the dense layers; it takes [height, width, channels] images. Layer names are
 * fixed so saved topologies are byte-stable.
 */
export function buildImageModel(
  recipe: ImageRecipe,
  spec: { hidden: readonly number[]; filters: number; dropout: number; seed: number },
): tf.LayersModel {
  const classes = recipe.classNames.length;
  const inputSize = recipe.height * recipe.width * recipe.channels;
  if (recipe.architecture === 'dense')
    return buildDenseNet({ inputSize, hidden: spec.hidden, outputs: classes, dropout: spec.dropout, seed: spec.seed });
  const model = tf.sequential({ name: 'conv_net' });
  model.add(tf.layers.reshape({ name: 'to_image', targetShape: [recipe.height, recipe.width, recipe.channels], inputShape: [inputSize] }));
  for (const i of [1, 2]) {
    model.add(
      tf.layers.conv2d({
        name: `conv_${i}`,
        filters: spec.filters * i,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: spec.seed + 10 + i }),
      }),
    );
  }
  if (recipe.height >= 2 && recipe.width >= 2) model.add(tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  spec.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        name: `hidden_${i + 1}`,
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: spec.seed + i }),
      }),
    );
    if (spec.dropout) model.add(tf.layers.dropout({ name: `dropout_${i + 1}`, rate: spec.dropout, seed: spec.seed + 100 + i }));
  });
  model.add(
    tf.layers.dense({
      name: 'output',
      units: classes,
      kernelInitializer: tf.initializers.glorotUniform({ seed: spec.seed + spec.hidden.length }),
    }),
  );
  return model;
}
