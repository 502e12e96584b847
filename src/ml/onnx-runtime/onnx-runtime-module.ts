import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

export type OnnxRuntimeModule = typeof Ort;

let loading: Promise<OnnxRuntimeModule> | undefined;
let loaded: OnnxRuntimeModule | undefined;

/**
 * onnxruntime-node, loaded on first use: its native library exists for a few platforms only
 * (linux, macOS and Windows on x64 and arm64), and an agent elsewhere must still start, serve
 * tfjs models and say that it lacks ONNX Runtime instead of crashing at import.
 */
export function onnxRuntime(): Promise<OnnxRuntimeModule> {
  loading ??= import('onnxruntime-node').then((module) => (loaded = module));
  return loading;
}

/** The module once `onnxRuntime()` has loaded it: tensors are made only for sessions, which need it loaded. */
export function loadedOnnxRuntime(): OnnxRuntimeModule {
  if (!loaded) throw new Error('ONNX Runtime is used before it was loaded: create a session first');
  return loaded;
}

/** Null when ONNX Runtime loads here; otherwise why not (reported by agents, shown when a model cannot be placed). */
export async function onnxRuntimeProblem(): Promise<string | null> {
  try {
    await onnxRuntime();
    return null;
  } catch (error) {
    return `ONNX Runtime does not load on ${process.platform}/${process.arch}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
}

/** The onnxruntime-node version this build serves with, read without loading its native library. */
export const ONNX_RUNTIME_VERSION: string = (() => {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    const manifest = main.replace(/dist[/\\]index\.js$/, 'package.json');
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
