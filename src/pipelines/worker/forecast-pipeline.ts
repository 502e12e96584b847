import fs from 'node:fs';
import { readBundleManifest } from '../../ml/bundle/read-manifest.js';
import { evaluateForecaster } from '../../ml/forecast/evaluate-forecaster.js';
import type { ForecastComparison } from '../../ml/forecast/forecast-evaluation.js';
import { FORECASTER_PARAMS, type ForecasterParams } from '../../ml/forecast/forecaster-params.js';
import { type ForecasterManifest, trainForecaster } from '../../ml/forecast/train-forecaster.js';
import { resolveParams } from '../../ml/params.js';
import { StepCache } from './step-cache.js';
import type { StepContext } from './step-context.js';
import { prepareSeries } from './prepare-series.js';
import type { ToWorker, WorkerResult } from './worker-protocol.js';

type RunMessage = Extract<ToWorker, { type: 'run' }>;

/** prepare → train → evaluate for the load forecaster; the register step runs in the control plane. */
export async function runForecastPipeline(run: RunMessage, ctx: StepContext): Promise<WorkerResult> {
  const params = resolveParams<ForecasterParams>(FORECASTER_PARAMS, run.params);

  const { key: prepareKey, series } = await prepareSeries(run, ctx);

  const trainKey = StepCache.key({ step: 'forecast-train', prepared: prepareKey, params, code: run.codeVersion });
  const trained = await ctx.step(
    'train',
    trainKey,
    ['bundle.bin', 'training.json'],
    async () => {
      const result = await trainForecaster(series, params, {
        onProgress: ctx.progress('train'),
        signal: ctx.signal,
        ...(run.warmStart ? { warmStart: await fs.promises.readFile(run.warmStart.file) } : {}),
      });
      return {
        'bundle.bin': result.bundle,
        'training.json': JSON.stringify({ ...result.training, split: result.split, validation: result.manifest.metrics.validation }),
      };
    },
    (files) => {
      const training = JSON.parse(files['training.json'].toString()) as {
        bestEpoch: number;
        stoppedEarly: boolean;
        trainingMs: number;
        backend: string;
        history: unknown[];
        validation: ForecastComparison;
      };
      return {
        epochsRun: training.history.length,
        bestEpoch: training.bestEpoch,
        stoppedEarly: training.stoppedEarly,
        trainingMs: training.trainingMs,
        backend: training.backend,
        validationMape: training.validation.model.mape,
        ...(params.warmStartFrom !== undefined ? { warmStartFrom: params.warmStartFrom } : {}),
      };
    },
  );

  const evaluateKey = StepCache.key({ step: 'forecast-evaluate', trained: trainKey, prepared: prepareKey, code: run.codeVersion });
  const evaluated = await ctx.step(
    'evaluate',
    evaluateKey,
    ['bundle.bin', 'test.json'],
    async () => {
      const evaluation = await evaluateForecaster(trained['bundle.bin'], series, {
        onProgress: ctx.progress('evaluate'),
        signal: ctx.signal,
      });
      return { 'bundle.bin': evaluation.bundle, 'test.json': JSON.stringify(evaluation.test) };
    },
    (files) => {
      const test = JSON.parse(files['test.json'].toString()) as ForecastComparison;
      return {
        windows: test.windows,
        mape: test.model.mape,
        bestBaseline: test.bestBaseline,
        baselineMape: test.baselines[test.bestBaseline]?.mape,
        mapeRatio: test.mapeRatio,
      };
    },
  );

  const test = JSON.parse(evaluated['test.json'].toString()) as ForecastComparison;
  const training = JSON.parse(trained['training.json'].toString()) as { validation: ForecastComparison };
  const manifest = readBundleManifest<ForecasterManifest>(evaluated['bundle.bin']);
  const baseline = test.baselines[test.bestBaseline]?.mape ?? Number.NaN;
  return {
    bundleFile: ctx.cache.file(evaluateKey, 'bundle.bin'),
    kind: 'forecaster',
    ioSignature: manifest.signature,
    metrics: {
      mape: test.model.mape,
      mae: test.model.mae,
      rmse: test.model.rmse,
      smape: test.model.smape,
      baselineMape: baseline,
      mapeRatio: test.mapeRatio,
      test,
      validation: training.validation,
    },
    gate: {
      passed: test.beatsBestBaseline,
      metric: 'mape',
      model: test.model.mape,
      baseline,
      baselineName: test.bestBaseline,
      rule: 'test MAPE below the best seasonal-naive baseline on the same windows',
    },
    params: params as unknown as Record<string, unknown>,
  };
}
