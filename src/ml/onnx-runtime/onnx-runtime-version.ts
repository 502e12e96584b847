import * as ort from 'onnxruntime-node';

/** The ONNX Runtime this build serves with (recorded in imported bundles' manifests). */
export const ONNX_RUNTIME_VERSION: string = ort.env.versions.node ?? ort.env.versions.common;
