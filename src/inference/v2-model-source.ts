import type { V2ModelMetadata } from '../contracts/open-inference.js';
import type { InferenceCall, InferenceResult } from './inference-call.js';

/**
 * What the Open Inference Protocol routes serve from: the control plane's registry (any
 * registered version) or an agent's loaded deployments. Unknown names throw a coded 404.
 * Every implementation passes test/support/v2-model-source-conformance.ts.
 */
export interface V2ModelSource {
  /** True when the source can serve at all (database reachable, models loaded). */
  ready(): Promise<boolean>;
  metadata(name: string, version?: string): Promise<V2ModelMetadata>;
  /** Resolves when `name` can serve now; throws when it cannot. */
  modelReady(name: string, version?: string): Promise<void>;
  /** Answers one call (built once by the outermost layer: inferenceCall); a bad input throws MlInputError (400). */
  infer(call: InferenceCall): Promise<InferenceResult>;
}
