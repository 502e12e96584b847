// Entry file of a pipeline run's worker thread; the work is in pipeline-runner.ts.
import { parentPort } from 'node:worker_threads';
import { servePipelineRun } from './pipeline-runner.js';

if (!parentPort) throw new Error('run-worker.js runs only as a worker thread');
servePipelineRun(parentPort);
