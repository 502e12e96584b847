import type { DatasetKind } from '../contracts/datasets.js';
import type { PipelineName, PipelineView } from '../contracts/runs.js';
import { ANOMALY_PARAMS } from '../ml/anomaly/anomaly-params.js';
import { FORECASTER_PARAMS } from '../ml/forecast/forecaster-params.js';
import { IMAGE_CLASSIFIER_PARAMS } from '../ml/image/image-params.js';
import type { ParamSpecs } from '../ml/params.js';

export interface PipelineDefinition {
  name: PipelineName;
  description: string;
  datasetKind: DatasetKind;
  modelKind: string;
  params: ParamSpecs;
  /** Where a run registers its model unless told otherwise. */
  defaultModel: (dataset: string) => string;
}

/** The built-in pipelines: prepare → train → evaluate → register, each on its kind of data. */
export const PIPELINES: Record<PipelineName, PipelineDefinition> = {
  forecast: {
    name: 'forecast',
    description: 'Load forecaster: a week of history -> the next day, beside seasonal-naive baselines',
    datasetKind: 'timeseries',
    modelKind: 'forecaster',
    params: FORECASTER_PARAMS,
    defaultModel: (dataset) => `${dataset}-forecaster`,
  },
  anomaly: {
    name: 'anomaly',
    description: 'Forecast-residual anomaly detector for sensor series',
    datasetKind: 'timeseries',
    modelKind: 'anomaly-detector',
    params: ANOMALY_PARAMS,
    defaultModel: (dataset) => `${dataset}-anomaly`,
  },
  'image-classifier': {
    name: 'image-classifier',
    description: 'Small image classifier (image size and class count from the dataset)',
    datasetKind: 'image-csv',
    modelKind: 'image-classifier',
    params: IMAGE_CLASSIFIER_PARAMS,
    defaultModel: (dataset) => `${dataset}-classifier`,
  },
};

export function pipelineView(definition: PipelineDefinition): PipelineView {
  return {
    name: definition.name,
    description: definition.description,
    datasetKind: definition.datasetKind,
    modelKind: definition.modelKind,
    params: Object.entries(definition.params).map(([name, spec]) => ({
      name,
      type: spec.type,
      default: spec.default ?? null,
      description: spec.description,
      ...('min' in spec ? { min: spec.min, max: spec.max } : {}),
      ...('values' in spec ? { values: [...spec.values] } : {}),
    })),
  };
}
