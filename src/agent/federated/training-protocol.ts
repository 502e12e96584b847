import type { FederatedTask } from '../../contracts/federated.js';

/** One round of local training, asked of the worker thread. */
export interface TrainRequest {
  type: 'train';
  id: number;
  task: Pick<FederatedTask, 'jobId' | 'round' | 'datasetKind' | 'modelSpec' | 'params' | 'encoding'>;
  /** The round's global weights frame, as the control plane sent it. */
  weightsFrame: Uint8Array;
  dataPath: string;
}

export type TrainReply =
  | { type: 'trained'; id: number; frame: Uint8Array; examples: number; metrics: Record<string, number> }
  | { type: 'failed'; id: number; message: string };
