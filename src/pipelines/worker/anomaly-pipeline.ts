import { ANOMALY_PARAMS, type AnomalyParams } from '../../ml/anomaly/anomaly-params.js';
import { detectAnomalies } from '../../ml/anomaly/detect-anomalies.js';
import { type AnomalyManifest, anomalySplit, trainAnomalyDetector } from '../../ml/anomaly/train-anomaly-detector.js';
import { readBundleManifest } from '../../ml/bundle/read-manifest.js';
import { gatherWindows } from '../../ml/forecast/forecast-windows.js';
import { resolveParams } from '../../ml/params.js';
import type { RegularSeries } from '../../ml/timeseries/series-types.js';
import { prepareSeries } from './prepare-series.js';
import { StepCache } from './step-cache.js';
import type { StepContext } from './step-context.js';
import type { ToWorker, WorkerResult } from './worker-protocol.js';

type RunMessage = Extract<ToWorker, { type: 'run' }>;

/**
 * prepare → train → evaluate for the forecast-residual anomaly detector. A dataset carries no
 * anomaly labels, so the gate judges what can be judged: the detector's one-step forecaster must
 * beat persistence (the last value) on the validation windows, or its residuals mean little.
 */
export async function runAnomalyPipeline(run: RunMessage, ctx: StepContext): Promise<WorkerResult> {
  const params = resolveParams<AnomalyParams>(ANOMALY_PARAMS, run.params);
  const { key: prepareKey, series } = await prepareSeries(run, ctx);

  const trainKey = StepCache.key({ step: 'anomaly-train', prepared: prepareKey, params, code: run.codeVersion });
  const trained = await ctx.step(
    'train',
    trainKey,
    ['bundle.bin', 'training.json'],
    async () => {
      const result = await trainAnomalyDetector(series, params, { onProgress: ctx.progress('train'), signal: ctx.signal });
      return {
        'bundle.bin': result.bundle,
        'training.json': JSON.stringify({ ...result.training, validation: result.manifest.metrics.validation }),
      };
    },
    (files) => {
      const training = JSON.parse(files['training.json'].toString()) as {
        history: unknown[];
        bestEpoch: number;
        trainingMs: number;
        validation: { residualMae: number };
      };
      return {
        epochsRun: training.history.length,
        bestEpoch: training.bestEpoch,
        trainingMs: training.trainingMs,
        residualMae: training.validation.residualMae,
      };
    },
  );

  const evaluateKey = StepCache.key({ step: 'anomaly-evaluate', trained: trainKey, prepared: prepareKey, code: run.codeVersion });
  const evaluated = await ctx.step(
    'evaluate',
    evaluateKey,
    ['evaluation.json'],
    async () => {
      const detection = await detectAnomalies(trained['bundle.bin'], series, { onProgress: ctx.progress('evaluate'), signal: ctx.signal });
      const evaluation = {
        scoredFrom: detection.scoredFrom,
        detectedWindows: detection.windows.length,
        windows: detection.windows.slice(0, 50),
        persistenceMae: persistenceMae(series, params),
      };
      return { 'evaluation.json': JSON.stringify(evaluation) };
    },
    (files) => {
      const evaluation = JSON.parse(files['evaluation.json'].toString()) as { detectedWindows: number; persistenceMae: number };
      return { detectedWindows: evaluation.detectedWindows, persistenceMae: evaluation.persistenceMae };
    },
  );

  const evaluation = JSON.parse(evaluated['evaluation.json'].toString()) as {
    persistenceMae: number;
    detectedWindows: number;
    scoredFrom: number;
  };
  const manifest = readBundleManifest<AnomalyManifest>(trained['bundle.bin']);
  const residualMae = manifest.metrics.validation.residualMae;
  return {
    bundleFile: ctx.cache.file(trainKey, 'bundle.bin'),
    kind: 'anomaly-detector',
    ioSignature: manifest.signature,
    metrics: { residualMae, persistenceMae: evaluation.persistenceMae, detectedWindows: evaluation.detectedWindows, evaluation },
    gate: {
      passed: residualMae < evaluation.persistenceMae,
      metric: 'residual MAE',
      model: residualMae,
      baseline: evaluation.persistenceMae,
      baselineName: 'persistence',
      rule: 'one-step forecast MAE below persistence (last value) on the validation windows',
    },
    params: params as unknown as Record<string, unknown>,
  };
}

/** MAE of "the next value equals the last one" on the detector's validation windows. */
function persistenceMae(series: RegularSeries, params: AnomalyParams): number {
  const split = anomalySplit(series, params);
  const batch = gatherWindows(series, split.validation, params.window, 1);
  let sum = 0;
  for (let i = 0; i < batch.n; i++) sum += Math.abs(batch.targets[i]! - batch.histories[i * params.window + params.window - 1]!);
  return sum / Math.max(1, batch.n);
}
