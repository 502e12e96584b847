// Module hooks for runtime-probe.js (they run on Node's loader thread): see that file.
import fs from 'node:fs';

const seen = new Set();

/** Appends one line to $BENCH_PROBE_FILE the first time `what` is imported. */
function record(what) {
  if (seen.has(what) || !process.env.BENCH_PROBE_FILE) return;
  seen.add(what);
  fs.appendFileSync(process.env.BENCH_PROBE_FILE, `${what}\n`);
}

export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node' && process.env.BENCH_BLOCK_ONNX === '1') {
    record('onnxruntime-node blocked');
    throw Object.assign(new Error('onnxruntime-node blocked by the bench (BENCH_BLOCK_ONNX=1)'), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  const resolved = await next(specifier, context);
  if (specifier === '@tensorflow/tfjs') record('@tensorflow/tfjs');
  if (specifier === 'onnxruntime-node') record('onnxruntime-node');
  return resolved;
}
