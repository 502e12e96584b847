/** Fixed histogram buckets (seconds unless named otherwise), so that an observation is one array walk. */

/** HTTP requests: sub-millisecond API calls up to 25 s desired-state long polls. */
export const HTTP_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One inference: queue wait or compute, 0.1 ms (onnx, batch 1) to 2.5 s. */
export const INFERENCE_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Samples in one batch. */
export const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Loading and warming up a model version; draining the old one on a swap. */
export const MODEL_LOAD_SECONDS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** An artifact download: a small bundle on loopback to a large one over a slow edge link. */
export const DOWNLOAD_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A pipeline step or a whole run. */
export const PIPELINE_SECONDS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
