import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import type { ApiClient } from '../../client/api-client.js';
import { PIPELINE_NAMES, type PipelineName, RUN_STATUSES, type RunView, type WorkQueueStats } from '../../contracts/runs.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { formatTable, printJson, printRows } from '../output.js';
import { formatDuration, ProgressBar } from '../progress-bar.js';

const POLL_MS = 500;
const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

export function runsCommand(): Command {
  const runs = new Command('runs').description('Pipeline runs: train, evaluate and register models');

  withClientOptions(
    runs
      .command('start')
      .description('Start a pipeline run and follow it with a progress bar')
      .addArgument(new Argument('<pipeline>', 'forecast, anomaly or image-classifier').choices([...PIPELINE_NAMES]))
      .requiredOption('--dataset <name[@version]>', 'Dataset to train on (default version: the latest)')
      .option(
        '--param <key=value>',
        'A pipeline parameter, e.g. epochs=20 or hidden=128,64 (repeatable; see fogline runs pipelines)',
        collectParam,
        {},
      )
      .option('--model <name>', 'Register the model under this name (default: <dataset>-forecaster, …)')
      .addOption(
        new Option('--gate <gate>', 'beat-baseline: register only a model that beats the baseline; none: register it anyway')
          .choices(['beat-baseline', 'none'])
          .default('beat-baseline'),
      )
      .option('--no-wait', 'Return as soon as the run is queued'),
  ).action(
    async (
      pipeline: PipelineName,
      options: { dataset: string; param: Record<string, unknown>; model?: string; gate: 'beat-baseline' | 'none'; wait: boolean },
      self: Command,
    ) => {
      const { client, json } = clientFor(self);
      const started = await client.startRun({
        pipeline,
        dataset: options.dataset,
        params: options.param,
        model: options.model,
        gate: options.gate,
      });
      if (!options.wait) {
        if (json) return printJson(started);
        return console.log(`Run ${started.id} queued. Follow it with: fogline runs logs ${started.id} --follow`);
      }
      const run = await follow(client, started.id);
      if (json) printJson(run);
      else console.log(describeRun(run));
      if (run.status !== 'succeeded') process.exitCode = 1;
    },
  );

  withClientOptions(
    runs
      .command('list')
      .description('List runs, newest first')
      .addOption(new Option('--status <status>', 'Only runs with this status').choices([...RUN_STATUSES])),
  ).action(async (options: { status?: RunView['status'] }, self: Command) => {
    const { client, json } = clientFor(self);
    const { runs: list, queue } = await client.listRuns({ status: options.status });
    // --json stays the array of runs that scripts already read.
    if (!json && queue) console.log(`${describeQueue(queue)}\n`);
    printRows(list, RUN_COLUMNS, json, 'No runs yet: fogline runs start forecast --dataset NAME');
  });

  withClientOptions(runs.command('get').description('Show a run: steps, progress, metrics').argument('<id>', 'Run id')).action(
    async (id: string, _options, self: Command) => {
      const { client, json } = clientFor(self);
      const run = await client.getRun(id);
      if (json) return printJson(run);
      console.log(describeRun(run));
    },
  );

  withClientOptions(
    runs
      .command('logs')
      .description("Print a run's log and per-epoch losses")
      .argument('<id>', 'Run id')
      .option('--follow', 'Keep printing until the run ends', false),
  ).action(async (id: string, options: { follow: boolean }, self: Command) => {
    const { client, json } = clientFor(self);
    let after = 0;
    for (;;) {
      const { events } = await client.runEvents(id, after);
      for (const event of events) {
        after = event.id;
        if (json) console.log(JSON.stringify(event));
        else console.log(`${event.at}  ${event.step.padEnd(8)}  ${formatEvent(event.payload)}`);
      }
      if (!options.follow || (events.length === 0 && FINISHED.has((await client.getRun(id)).status))) return;
      await sleep(POLL_MS);
    }
  });

  withClientOptions(runs.command('cancel').description('Cancel a queued or running run').argument('<id>', 'Run id')).action(
    async (id: string, _options, self: Command) => {
      const { client, json } = clientFor(self);
      const run = await client.cancelRun(id);
      if (json) return printJson(run);
      console.log(`Cancelling run ${run.id}.`);
    },
  );

  withClientOptions(runs.command('pipelines').description('List the pipelines and their parameters')).action(
    async (_options, self: Command) => {
      const { client, json } = clientFor(self);
      const { pipelines } = await client.listPipelines();
      if (json) return printJson(pipelines);
      for (const pipeline of pipelines) {
        console.log(`\n${pipeline.name} (${pipeline.datasetKind} dataset -> ${pipeline.modelKind}): ${pipeline.description}`);
        console.log(
          formatTable(pipeline.params, [
            { header: '  PARAM', value: (p) => `  ${p.name}` },
            { header: 'DEFAULT', value: (p) => JSON.stringify(p.default) ?? '-' },
            { header: 'RANGE', value: (p) => (p.values ? p.values.join('|') : p.min !== undefined ? `${p.min}..${p.max}` : p.type) },
            { header: 'MEANING', value: (p) => p.description },
          ]),
        );
      }
    },
  );

  return runs;
}

/** `--param k=v`: numbers, true/false and comma lists of numbers become JSON values; the server checks them. */
export function collectParam(text: string, params: Record<string, unknown>): Record<string, unknown> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--param must be key=value (for example epochs=20), got "${text}"`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
  else if (/^-?\d+(\.\d+)?(,-?\d+(\.\d+)?)+$/.test(raw)) value = raw.split(',').map(Number);
  return { ...params, [key]: value };
}

/** Polls the run and draws its progress until it ends. */
async function follow(client: ApiClient, id: string): Promise<RunView> {
  const bar = new ProgressBar();
  for (;;) {
    const run = await client.getRun(id);
    if (FINISHED.has(run.status)) {
      bar.done();
      return run;
    }
    const current = run.steps.find((step) => step.status === 'running');
    const progress = run.progress;
    if (progress?.epoch !== undefined && progress.epochs) {
      const eta = progress.etaMs !== undefined ? `  ETA ${formatDuration(progress.etaMs)}` : '';
      bar.update(
        progress.epoch / progress.epochs,
        `train epoch ${progress.epoch}/${progress.epochs}  loss ${fmt(progress.loss)}  val ${fmt(progress.valLoss)}${eta}`,
      );
    } else {
      bar.update(undefined, `${run.status}: ${current?.name ?? 'waiting'}${progress?.message ? ` - ${progress.message}` : ''}`);
    }
    await sleep(POLL_MS);
  }
}

function fmt(value: number | undefined): string {
  return value === undefined ? '-' : value.toPrecision(4);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function formatEvent(payload: Record<string, unknown>): string {
  if (typeof payload.epoch === 'number') {
    return `epoch ${payload.epoch}/${payload.epochs}  loss ${fmt(payload.loss as number)}  val ${fmt(payload.valLoss as number)}`;
  }
  const { message, ...rest } = payload;
  const extra = Object.keys(rest).length > 0 ? `  ${JSON.stringify(rest)}` : '';
  return `${String(message ?? '')}${extra}`;
}

const RUN_COLUMNS = [
  { header: 'ID', value: (r: RunView) => r.id },
  { header: 'PIPELINE', value: (r: RunView) => r.pipeline },
  { header: 'DATASET', value: (r: RunView) => `${r.dataset.name}@${r.dataset.version}` },
  { header: 'STATUS', value: (r: RunView) => r.status },
  { header: 'STEP', value: (r: RunView) => r.steps.find((s) => s.status === 'running')?.name ?? '-' },
  { header: 'MODEL', value: (r: RunView) => (r.registeredVersion === null ? r.model : `${r.model}@${r.registeredVersion}`) },
  { header: 'WORKER', value: describeWorker },
  { header: 'CREATED', value: (r: RunView) => r.createdAt },
];

/** "Queue (redis): 2 waiting (oldest 35s), 1 running, 0 delayed": what the dashboard's runs page shows. */
export function describeQueue(queue: WorkQueueStats): string {
  const oldest = queue.waiting > 0 ? ` (oldest ${formatDuration(queue.oldestWaitingSeconds * 1000)})` : '';
  return `Queue (${queue.kind}): ${queue.waiting} waiting${oldest}, ${queue.active} running, ${queue.delayed} delayed`;
}

/** "w2", "w2 (attempt 2)" after another worker took the run over, "-" before a worker took it. */
function describeWorker(run: RunView): string {
  if (run.worker === null) return '-';
  return run.attempt > 1 ? `${run.worker} (attempt ${run.attempt})` : run.worker;
}

/** Steps, then the metrics beside the baselines, then what was registered. */
export function describeRun(run: RunView): string {
  const lines = [`Run ${run.id}: ${run.pipeline} on ${run.dataset.name}@${run.dataset.version} - ${run.status}`];
  if (run.error) lines.push(`Error: ${run.error}`);
  if (run.worker !== null) lines.push(`Worker: ${run.worker} (attempt ${run.attempt})`);
  else lines.push(`Worker: ${run.status === 'queued' ? 'none yet' : 'none'}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ''}`);
  lines.push(
    formatTable(run.steps, [
      { header: '  STEP', value: (s) => `  ${s.name}` },
      { header: 'STATUS', value: (s) => s.status },
      { header: 'TIME', value: (s) => (s.durationMs === null ? '-' : formatDuration(s.durationMs)) },
      { header: 'DETAILS', value: (s) => s.error ?? (s.summary ? compact(s.summary) : '') },
    ]),
  );
  const comparison = (run.result?.metrics as { test?: Comparison } | undefined)?.test;
  if (comparison?.model && comparison.baselines) {
    const rows = [
      { name: 'model', ...comparison.model },
      ...Object.entries(comparison.baselines).map(([name, metrics]) => ({ name, ...metrics })),
    ];
    lines.push('', `Test split (${comparison.windows} windows):`);
    lines.push(
      formatTable(rows, [
        { header: '  ', value: (r) => `  ${r.name}` },
        { header: 'MAE', value: (r) => r.mae.toFixed(1) },
        { header: 'RMSE', value: (r) => r.rmse.toFixed(1) },
        { header: 'MAPE %', value: (r) => r.mape.toFixed(2) },
        { header: 'sMAPE %', value: (r) => r.smape.toFixed(2) },
      ]),
    );
  }
  const accuracy = run.result?.metrics as { accuracy?: number; macroF1?: number; baselineAccuracy?: number } | undefined;
  if (accuracy?.accuracy !== undefined) {
    lines.push(
      '',
      `Test split: accuracy ${(accuracy.accuracy * 100).toFixed(1)}% (majority class ${((accuracy.baselineAccuracy ?? 0) * 100).toFixed(1)}%), macro F1 ${accuracy.macroF1?.toFixed(3)}`,
    );
  }
  const registered = run.result?.registered as { model: string; version: number } | null | undefined;
  const gate = run.result?.gate as { passed: boolean; rule: string } | undefined;
  if (registered)
    lines.push(
      '',
      `Registered ${registered.model} version ${registered.version}. Make it the champion: fogline models alias set ${registered.model} champion ${registered.version}`,
    );
  else if (gate && !gate.passed) lines.push('', `Not registered: the model did not pass the gate (${gate.rule}).`);
  return lines.join('\n');
}

interface Comparison {
  windows: number;
  model: { mae: number; rmse: number; mape: number; smape: number };
  baselines: Record<string, { mae: number; rmse: number; mape: number; smape: number }>;
}

function compact(summary: Record<string, unknown>): string {
  return Object.entries(summary)
    .filter(([, value]) => value !== undefined && typeof value !== 'object')
    .map(([key, value]) => `${key}=${typeof value === 'number' && !Number.isInteger(value) ? value.toPrecision(4) : value}`)
    .join(' ');
}
