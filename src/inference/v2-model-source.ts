import type { V2InferRequest, V2InferResponse, V2ModelMetadata } from '../contracts/open-inference.js';

/**
 * What the Open Inference Protocol routes serve from: the control plane's registry (any
 * registered version) or an agent's loaded deployments. Unknown names throw a coded 404.
 */
export interface V2ModelSource {
  /** True when the source can serve at all (database reachable, models loaded). */
  ready(): Promise<boolean>;
  metadata(name: string, version?: string): Promise<V2ModelMetadata>;
  /** Resolves when `name` can serve now; throws when it cannot. */
  modelReady(name: string, version?: string): Promise<void>;
  /** `signal` is aborted when the caller has gone (its connection closed): a source may drop the request then. */
  infer(name: string, version: string | undefined, request: V2InferRequest, signal?: AbortSignal): Promise<V2InferResponse>;
}
