// bench/serve runtime probe, preloaded into the agents the bench starts (NODE_OPTIONS=--import):
// registers runtime-probe-hooks.js, which records in $BENCH_PROBE_FILE whether the process imported
// TensorFlow.js (a process serving on ONNX Runtime never does) and, with BENCH_BLOCK_ONNX=1, makes
// `import('onnxruntime-node')` fail so that the agent serves built-in models on TensorFlow.js, as on a
// machine without ONNX Runtime. Nothing else in the agent changes.
import { register } from 'node:module';

register('./runtime-probe-hooks.js', import.meta.url);
