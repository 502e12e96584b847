/** What the serving runtime reports as it works; the metrics module implements it. */
export interface ServingObserver {
  inferred(event: {
    deployment: string;
    model: string;
    version: number;
    ok: boolean;
    queueSeconds: number;
    computeSeconds: number;
    batchSize: number;
  }): void;
  loaded(event: { deployment: string; model: string; version: number; seconds: number; ok: boolean }): void;
  swapped(event: { deployment: string; model: string; fromVersion: number; toVersion: number; seconds: number }): void;
  unloaded(event: { deployment: string; model: string; version: number }): void;
  /** A request dropped before it reached the model because its client had gone. */
  abandoned(event: { deployment: string; model: string; version: number; queueSeconds: number }): void;
}
export const NO_SERVING_OBSERVER: ServingObserver = { inferred() {}, loaded() {}, swapped() {}, unloaded() {}, abandoned() {} };
