// Worker thread: trains one client update at a time, so the agent's event loop (inference,
// heartbeats) never waits on TensorFlow.js. The local data is read here and stays on the node.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { ImageData } from '../../ml/image/train-image-classifier.js';
import { parseImageCsv } from '../../ml/image/image-csv.js';
import { trainClientUpdate } from '../../ml/federated/client-update.js';
import { clientMatrices, type ClientMatrices, type FederatedModelSpec } from '../../ml/federated/federated-model.js';
import { decodeUpdate, encodeUpdate, type UpdateEncoding } from '../../ml/federated/update-codec.js';
import { parseTimeSeriesCsv } from '../../ml/timeseries/ingest.js';
import type { RegularSeries } from '../../ml/timeseries/series-types.js';
import type { TrainReply, TrainRequest } from './training-protocol.js';

const port = parentPort;
if (!port) throw new Error('training-worker must run in a worker thread');

// The parsed local data, by file, kind and model spec (it does not change between rounds).
const cache = new Map<string, ClientMatrices>();

function localData(request: TrainRequest): ClientMatrices {
  const key = `${request.dataPath}\n${request.task.datasetKind}\n${JSON.stringify(request.task.modelSpec)}`;
  let data = cache.get(key);
  if (!data) {
    const text = fs.readFileSync(request.dataPath, 'utf8');
    const spec = request.task.modelSpec as unknown as FederatedModelSpec;
    let parsed: ImageData | RegularSeries;
    if (request.task.datasetKind === 'digits') {
      const recipe = spec.kind === 'image-classifier' ? spec.recipe : { height: 8, width: 8, channels: 1 };
      parsed = parseImageCsv(text, { height: recipe.height, width: recipe.width, channels: recipe.channels });
    } else {
      parsed = parseTimeSeriesCsv(text);
    }
    data = clientMatrices(spec, parsed, 0.15, 1);
    cache.clear();
    cache.set(key, data);
  }
  return data;
}

port.on('message', (request: TrainRequest) => {
  void (async () => {
    try {
      const spec = request.task.modelSpec as unknown as FederatedModelSpec;
      const global = decodeUpdate(request.weightsFrame).values;
      const data = localData(request);
      const result = await trainClientUpdate(spec, global, data, request.task.params);
      const metrics: Record<string, number> = {
        evalLoss: result.globalEvaluation.loss,
        evalCount: result.globalEvaluation.count,
        trainLoss: result.trainLoss,
        trainingMs: Math.round(result.trainingMs),
      };
      if (result.globalEvaluation.accuracy !== undefined) metrics.evalAccuracy = result.globalEvaluation.accuracy;
      const frame = encodeUpdate(result.delta, request.task.encoding as UpdateEncoding, {
        examples: result.examples,
        metrics,
        jobId: request.task.jobId,
        round: request.task.round,
      });
      port.postMessage({ type: 'trained', id: request.id, frame, examples: result.examples, metrics } satisfies TrainReply, [
        frame.buffer as ArrayBuffer,
      ]);
    } catch (error) {
      port.postMessage({ type: 'failed', id: request.id, message: (error as Error).message } satisfies TrainReply);
    }
  })();
});
