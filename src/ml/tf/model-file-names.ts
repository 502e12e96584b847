/** The tfjs network's two files inside a bundle (kept apart from the code that writes them, which loads TensorFlow.js). */
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
