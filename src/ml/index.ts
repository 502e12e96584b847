// The ML library's public surface: plain data in, plain (structured-clone-able) data out, so every
// entry point can run inside a worker thread. No HTTP, SQL or CLI code lives under src/ml.

export { type MlProblem, MlInputError, isMlInputError } from './errors.js';
export { type ParamSpec, type ParamSpecs, resolveParams } from './params.js';
export type { PipelineProgress, RunOptions } from './progress.js';
export { type MlBackend, useBackend } from './tf/backend.js';
export type { EpochLog, TrainingProgress } from './tf/train-loop.js';

export { ingestTimeSeriesCsv, parseTimeSeriesCsv } from './timeseries/ingest.js';
export type { DuplicatePolicy, IngestedSeries, IngestOptions, IngestReport, RegularSeries } from './timeseries/series-types.js';
export { formatTimestamp, parseTimestamp } from './timeseries/timestamp.js';
export { type SplitOptions, type WindowSplit, splitWindows } from './timeseries/windows.js';
export { fitStandardScaler, type StandardScaler } from './timeseries/scaler.js';

export { type ForecastMetrics, forecastMetrics } from './metrics/forecast-metrics.js';
export { type ClassificationMetrics, classificationMetrics } from './metrics/classification-metrics.js';
export { type AnomalyWindowMetrics, anomalyWindowMetrics, type TimeWindow } from './metrics/anomaly-metrics.js';
export { seasonalNaive } from './baselines/seasonal-naive.js';
export { majorityClass } from './baselines/majority-class.js';

export { FORECASTER_PARAMS, type ForecasterParams } from './forecast/forecaster-params.js';
export type { ForecastRecipe, ForecastTarget } from './forecast/forecast-recipe.js';
export type { ForecastBaseline, ForecastComparison } from './forecast/forecast-evaluation.js';
export {
  type ForecasterManifest,
  type ForecasterMetrics,
  type ForecasterTrainingResult,
  trainForecaster,
} from './forecast/train-forecaster.js';
export { type ForecasterEvaluation, evaluateForecaster } from './forecast/evaluate-forecaster.js';

export { ANOMALY_PARAMS, type AnomalyParams } from './anomaly/anomaly-params.js';
export type { AnomalyRecipe } from './anomaly/anomaly-recipe.js';
export { type AnomalyManifest, type AnomalyTrainingResult, trainAnomalyDetector } from './anomaly/train-anomaly-detector.js';
export { type AnomalyDetection, detectAnomalies } from './anomaly/detect-anomalies.js';
export type { DetectedWindow } from './anomaly/detect-windows.js';
export { parseNabWindows } from './anomaly/nab-labels.js';

export { IMAGE_CLASSIFIER_PARAMS, type ImageClassifierParams } from './image/image-params.js';
export { type ImageCsvOptions, type ImageDataset, parseImageCsv } from './image/image-csv.js';
export type { ImageRecipe } from './image/image-recipe.js';
export {
  type ImageClassifierManifest,
  type ImageClassifierTrainingResult,
  type ImageData,
  type ImageEvaluation,
  imageRows,
  splitImages,
  trainImageClassifier,
} from './image/train-image-classifier.js';
export { evaluateImageClassifier } from './image/evaluate-image-classifier.js';
export {
  CONFIDENCE_RULE,
  type EdgeOutput,
  ENTROPY_RULE,
  HARD_EXAMPLE_RULES,
  type HardExampleRule,
  INTERVAL_WIDTH_RULE,
  type JointPoint,
  jointCurve,
  pointClosingGap,
} from './joint/hard-example.js';

export type { BundleManifest, ModelKind, ModelSignature, TensorDatatype, TensorSpec, TrainingSummary } from './bundle/bundle-manifest.js';
export type { InferInput, InferOutput, Predictor } from './bundle/infer-tensors.js';
export { type LoadedPredictor, loadBundle } from './bundle/load-bundle.js';
export { readBundleManifest } from './bundle/read-manifest.js';
export { BUNDLE_FORMAT_VERSION } from './bundle/bundle-container.js';
export type { DataFingerprint } from './stats/fingerprint.js';
export { QUANTILE_LEVELS, type ReferenceStats } from './stats/reference-stats.js';
