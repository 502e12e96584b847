import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { V2InferResponse, V2ModelMetadata } from '../../contracts/open-inference.js';
import { ApiClient } from '../../client/api-client.js';
import { ApiError } from '../../client/api-error.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { forecasterShape } from '../../inference/forecaster-shape.js';
import { forecastRequestFromCsv } from '../csv-forecast-request.js';
import { formatLoadSummary, LOAD_LIMITS, postInfer, runInferLoad } from '../infer-load.js';
import { printJson } from '../output.js';
import { parseCount, parseDuration } from '../parse-arguments.js';
import { ProgressBar } from '../progress-bar.js';

/** How long one request of a --repeat run may take before it counts as failed. */
const LOAD_TIMEOUT_MS = 10_000;

interface PredictOptions {
  model: string;
  input?: string;
  fromCsv?: string;
  timeColumn?: string;
  valueColumn?: string;
  at?: string;
  node?: string;
  cloud: boolean;
  inferenceToken?: string;
  repeat?: number;
  concurrency: number;
  duration: number;
}

const upTo = (max: number, parse: (text: string, name: string) => number, name: string) => (text: string) => {
  const value = parse(text, name);
  if (value > max) throw new InvalidArgumentError(`${name} must be at most ${max}, got "${text}"`);
  return value;
};

export function predictCommand(): Command {
  return withClientOptions(
    new Command('predict')
      .description(
        'Send an Open Inference Protocol request to a node (or the cloud) and print the outputs; with --repeat, send it many times and summarise',
      )
      .requiredOption('--model <name>', 'On a node: the deployment name; in the cloud: a registered model (name or name@version)')
      .option('--input <file>', 'A V2 request body: {"inputs": [{"name", "shape", "datatype", "data"}]} ("-" reads stdin)')
      .option('--from-csv <file>', "Build a forecaster's request from a time-series CSV instead: the history before --at")
      .option('--time-column <name>', '--from-csv: the time column (default: the first)')
      .option('--value-column <name>', '--from-csv: the value column (default: the second)')
      .option(
        '--at <time>',
        "--from-csv: the first time to forecast, e.g. 2018-08-02T01:00:00Z (default: the file's last horizon, e.g. its last 24 hours, from the history before them)",
      )
      .option('--node <node>', 'Node id or name: its agent serves the request')
      .option('--cloud', 'Use the control plane’s inference endpoint instead of a node', false)
      .addOption(
        new Option(
          '--inference-token <token>',
          '--node: an inference token for the deployment, for an agent that runs --edge-auth token (fogline token create --role inference --deployment <name>)',
        ).env('FOGLINE_INFERENCE_TOKEN'),
      )
      .addOption(
        new Option(
          '--repeat <n>',
          `Send the request n times (at most ${LOAD_LIMITS.repeat}) and print a summary instead of the outputs`,
        ).argParser(upTo(LOAD_LIMITS.repeat, parseCount, '--repeat')),
      )
      .addOption(
        new Option('--concurrency <n>', `--repeat: requests in flight at once (at most ${LOAD_LIMITS.concurrency})`)
          .default(16)
          .argParser(upTo(LOAD_LIMITS.concurrency, parseCount, '--concurrency')),
      )
      .addOption(
        new Option(
          '--duration <time>',
          `--repeat: stop sending after this long, e.g. 30s or 2m (at most ${LOAD_LIMITS.durationSeconds / 60}m)`,
        )
          .default(60, '60s')
          .argParser(upTo(LOAD_LIMITS.durationSeconds, parseDuration, '--duration')),
      ),
  ).action(async (options: PredictOptions, self: Command) => {
    const { client, json } = clientFor(self);
    if (!options.node === !options.cloud) throw new Error('Say where to predict: --node <node> or --cloud');
    if (options.cloud && self.getOptionValueSource('inferenceToken') === 'cli')
      throw new Error('--inference-token goes with --node (the cloud takes --token)');
    if ((options.input === undefined) === (options.fromCsv === undefined))
      throw new Error('Say what to send: --input <file> or --from-csv <file>');
    for (const flag of ['timeColumn', 'valueColumn', 'at'] as const) {
      if (options[flag] !== undefined && options.fromCsv === undefined)
        throw new Error(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --from-csv`);
    }
    if (options.repeat === undefined && self.getOptionValueSource('concurrency') === 'cli')
      throw new Error('--concurrency goes with --repeat');
    if (options.repeat === undefined && self.getOptionValueSource('duration') === 'cli') throw new Error('--duration goes with --repeat');

    const [model, version] = options.model.split('@');
    const modelPath = `/v2/models/${encodeURIComponent(model ?? '')}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
    let target = client;
    let agentUrl: string | undefined;
    let where = 'the cloud';
    if (!options.cloud) {
      const node = await client.getNode(options.node as string);
      if (!node.inferenceUrl) throw new Error(`Node ${node.name} has no inference URL yet (no heartbeat)`);
      agentUrl = node.inferenceUrl.replace(/\/+$/, '');
      target = new ApiClient({ server: agentUrl, ...(options.inferenceToken ? { token: options.inferenceToken } : {}) });
      where = node.name;
    }

    let request: unknown;
    if (options.fromCsv !== undefined) {
      const metadata = await target.request<V2ModelMetadata>('GET', modelPath);
      const built = forecastRequestFromCsv(readText(options.fromCsv), forecasterShape(metadata), {
        file: options.fromCsv,
        ...(options.timeColumn === undefined ? {} : { timeColumn: options.timeColumn }),
        ...(options.valueColumn === undefined ? {} : { valueColumn: options.valueColumn }),
        ...(options.at === undefined ? {} : { at: options.at }),
      });
      console.error(built.description);
      request = built.request;
    } else {
      const input = options.input as string;
      try {
        request = JSON.parse(readText(input));
      } catch (error) {
        throw new Error(`${input} is not JSON: ${(error as Error).message}`);
      }
    }

    if (options.repeat !== undefined) {
      const body = JSON.stringify(request);
      const send = agentUrl
        ? () => postInfer(`${agentUrl}${modelPath}/infer`, body, LOAD_TIMEOUT_MS, options.inferenceToken)
        : () =>
            client
              .request<V2InferResponse>('POST', `${modelPath}/infer`, { body: request, timeoutMs: LOAD_TIMEOUT_MS })
              // The control plane's own model does not say where it ran: in the cloud.
              .then((answer) => ({ ...answer, parameters: { 'fogline.ran_on': 'cloud', ...answer.parameters } }))
              .catch((error: unknown) => {
                throw error instanceof ApiError && error.status > 0 ? new Error(`HTTP ${error.status}: ${error.message}`) : error;
              });
      const interrupt = new AbortController();
      const onSigint = () => interrupt.abort();
      process.once('SIGINT', onSigint);
      const bar = process.stderr.isTTY ? new ProgressBar() : undefined;
      let drawnAt = 0;
      const summary = await runInferLoad({
        send,
        repeat: options.repeat,
        concurrency: options.concurrency,
        durationMs: options.duration * 1000,
        signal: interrupt.signal,
        onProgress: (s) => {
          if (!bar || Date.now() - drawnAt < 100) return;
          drawnAt = Date.now();
          const cloud = s.ranOn.cloud ?? 0;
          bar.update(
            (s.answered + s.shed + s.failed) / s.repeat,
            `${s.answered} ok, ${s.shed} shed, ${s.failed} failed, ${cloud} in cloud`,
          );
        },
      }).finally(() => {
        process.off('SIGINT', onSigint);
        bar?.done();
      });
      if (json) printJson(summary);
      else for (const line of formatLoadSummary(summary, `${options.model} on ${where}`)) console.log(line);
      if (summary.failed > 0 || summary.answered === 0) process.exitCode = 1;
      return;
    }

    const response = await target.request<V2InferResponse>('POST', `${modelPath}/infer`, { body: request });
    if (json) return printJson(response);
    console.log(`${response.model_name} version ${response.model_version ?? '-'}`);
    for (const output of response.outputs) {
      const values = output.data.map((value) => (typeof value === 'number' ? Number(value.toPrecision(6)) : value));
      console.log(`${output.name} ${output.datatype} [${output.shape.join(', ')}]: ${values.join(' ')}`);
    }
  });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
