import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ApiClient } from '../../client/api-client.js';
import {
  FEDERATED_DATASET_KINDS,
  FEDERATED_JOB_STATUSES,
  FEDERATED_STRATEGIES,
  type FederatedJobView,
  type StartFederatedJobRequest,
  UPDATE_ENCODING_NAMES,
} from '../../contracts/federated.js';
import { labelSkewPartition } from '../../ml/federated/partition.js';
import { parseImageCsv } from '../../ml/image/image-csv.js';
import { parseLabelList } from '../../nodes/labels.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { formatTable, printJson, printRows } from '../output.js';
import { ProgressBar } from '../progress-bar.js';

const POLL_MS = 700;

function number(name: string, check: (n: number) => boolean, what: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || !check(value))
      throw new InvalidArgumentError(`${name} must be ${what}, got "${raw}"`);
    return value;
  };
}
const integer = (name: string, min: number) => number(name, (n) => Number.isInteger(n) && n >= min, `an integer ≥ ${min}`);
const positive = (name: string) => number(name, (n) => n > 0, 'a positive number');
const share = (name: string) => number(name, (n) => n >= 0 && n <= 1, 'a number from 0 to 1');

function selector(raw: string): Record<string, string> {
  try {
    return parseLabelList(raw);
  } catch (error) {
    throw new InvalidArgumentError(`--nodes: ${(error as Error).message}`);
  }
}

interface StartOptions {
  model: string;
  datasetKind: StartFederatedJobRequest['datasetKind'];
  nodes?: Record<string, string>;
  rounds: number;
  strategy: StartFederatedJobRequest['strategy'];
  fractionFit: number;
  minFitClients: number;
  quorum: number;
  roundTimeout: number;
  localEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  mu?: number;
  serverLr?: number;
  encoding?: StartFederatedJobRequest['encoding'];
  maxUpdateNorm?: number;
  clipNorm?: number;
  scaleMean?: number;
  scaleStd?: number;
  evalDataset?: string;
  wait: boolean;
}

export function flCommand(): Command {
  const fl = new Command('fl').description('Federated learning: agents train on their own data, the control plane aggregates');

  withClientOptions(
    fl
      .command('start')
      .description('Start a federated job and follow its rounds with a progress bar')
      .requiredOption('--model <name>', 'Register the final model under this name')
      .addOption(
        new Option('--dataset-kind <kind>', 'What the agents hold (--fl-data)').choices([...FEDERATED_DATASET_KINDS]).default('digits'),
      )
      .option('--nodes <k=v,...>', 'Label selector of the client nodes, e.g. site=plant-a (default: every node with --fl-data)', selector)
      .option('--rounds <n>', 'Rounds to run', integer('--rounds', 1), 20)
      .addOption(new Option('--strategy <name>', 'Aggregation').choices([...FEDERATED_STRATEGIES]).default('fedavg'))
      .option('--fraction-fit <share>', 'Share of the available clients sampled each round', share('--fraction-fit'), 1)
      .option('--min-fit-clients <n>', 'Fewest clients per round (a round waits for this many)', integer('--min-fit-clients', 1), 2)
      .option('--quorum <share>', 'Share of the sampled clients that must report before the deadline', share('--quorum'), 0.5)
      .option('--round-timeout <seconds>', 'Deadline of each round; late clients are dropped from it', positive('--round-timeout'), 60)
      .option('--local-epochs <n>', 'Passes over its data each client makes per round (default 1)', integer('--local-epochs', 1))
      .option('--batch-size <n>', 'Client batch size (default 16)', integer('--batch-size', 1))
      .option('--learning-rate <lr>', 'Client SGD learning rate (default 0.1)', positive('--learning-rate'))
      .option(
        '--mu <mu>',
        "FedProx's proximal weight (default 0.01 with fedprox)",
        number('--mu', (n) => n >= 0, 'a number ≥ 0'),
      )
      .option('--server-lr <lr>', 'Server learning rate (default 1; 0.03 with fedadam)', positive('--server-lr'))
      .addOption(new Option('--encoding <encoding>', 'How clients send updates (default float32)').choices([...UPDATE_ENCODING_NAMES]))
      .option('--max-update-norm <norm>', 'Reject updates with a larger L2 norm (default 1000)', positive('--max-update-norm'))
      .option('--clip-norm <norm>', 'Scale accepted updates down to this L2 norm', positive('--clip-norm'))
      .option(
        '--scale-mean <mw>',
        'forecast: the shared scaler mean',
        number('--scale-mean', () => true, 'a number'),
      )
      .option('--scale-std <mw>', 'forecast: the shared scaler standard deviation', positive('--scale-std'))
      .option(
        '--eval-dataset <name[@version]>',
        'A central test set the control plane scores every round on (digits: an image-csv dataset)',
      )
      .option('--no-wait', 'Return as soon as the job is created'),
  ).action(async (options: StartOptions, self: Command) => {
    const { client, json } = clientFor(self);
    const body: StartFederatedJobRequest = {
      model: options.model,
      datasetKind: options.datasetKind,
      rounds: options.rounds,
      strategy: options.strategy,
      fractionFit: options.fractionFit,
      minFitClients: options.minFitClients,
      quorum: options.quorum,
      roundTimeoutSeconds: options.roundTimeout,
      ...(options.nodes ? { nodeSelector: options.nodes } : {}),
      ...(options.localEpochs !== undefined ? { localEpochs: options.localEpochs } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
      ...(options.mu !== undefined ? { proximalMu: options.mu } : {}),
      ...(options.serverLr !== undefined ? { serverLearningRate: options.serverLr } : {}),
      ...(options.encoding ? { encoding: options.encoding } : {}),
      ...(options.maxUpdateNorm !== undefined ? { maxUpdateNorm: options.maxUpdateNorm } : {}),
      ...(options.clipNorm !== undefined ? { clipNorm: options.clipNorm } : {}),
      ...(options.scaleMean !== undefined ? { scaleMean: options.scaleMean } : {}),
      ...(options.scaleStd !== undefined ? { scaleStd: options.scaleStd } : {}),
      ...(options.evalDataset ? { evaluationDataset: options.evalDataset } : {}),
    };
    const started = await client.startFederatedJob(body);
    if (!options.wait) {
      if (json) return printJson(started);
      return console.log(`Federated job ${started.id} started. Follow it with: fogline fl get ${started.id} --watch`);
    }
    const job = await follow(client, started.id, json);
    if (json) printJson(job);
    else console.log(describeJob(job));
    if (job.status !== 'succeeded') process.exitCode = 1;
  });

  withClientOptions(
    fl
      .command('list')
      .description('List federated jobs, newest first')
      .addOption(new Option('--status <status>', 'Only jobs with this status').choices([...FEDERATED_JOB_STATUSES])),
  ).action(async (options: { status?: FederatedJobView['status'] }, self: Command) => {
    const { client, json } = clientFor(self);
    const { jobs } = await client.listFederatedJobs({ status: options.status });
    printRows(jobs, JOB_COLUMNS, json, 'No federated jobs yet: fogline fl start --model NAME --dataset-kind digits');
  });

  withClientOptions(
    fl
      .command('get')
      .description('Show a federated job: rounds, participants, dropped clients, metrics')
      .argument('<id>', 'Job id')
      .option('--watch', 'Follow the job with a progress bar until it ends', false),
  ).action(async (id: string, options: { watch: boolean }, self: Command) => {
    const { client, json } = clientFor(self);
    const job = options.watch ? await follow(client, id, json) : await client.getFederatedJob(id);
    if (json) return printJson(job);
    console.log(describeJob(job));
  });

  withClientOptions(fl.command('cancel').description('Cancel a running federated job').argument('<id>', 'Job id')).action(
    async (id: string, _options, self: Command) => {
      const { client, json } = clientFor(self);
      const job = await client.cancelFederatedJob(id);
      if (json) return printJson(job);
      console.log(`Federated job ${job.id} canceled after ${job.roundsCompleted} of ${job.config.rounds} rounds.`);
    },
  );

  fl.command('split')
    .description(
      'Split a digits CSV into one file per site (label-skewed like real sites, or at random) to try federated learning with local agents',
    )
    .argument('<csv>', 'Image CSV: 64 pixel columns and the label per row, e.g. data/optdigits/optdigits.csv')
    .option('--sites <n>', 'How many files', integer('--sites', 2), 3)
    .addOption(
      new Option('--split <how>', 'label-skew: each site holds a few classes; iid: rows at random')
        .choices(['label-skew', 'iid'])
        .default('label-skew'),
    )
    .option('--out <dir>', 'Folder for site-1.csv, site-2.csv, …', 'fl-sites')
    .action((file: string, options: { sites: number; split: 'label-skew' | 'iid'; out: string }) => {
      const lines = fs
        .readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '');
      const images = parseImageCsv(lines.join('\n'), { height: 8, width: 8 });
      const rows = lines.slice(images.report.headerSkipped ? 1 : 0);
      if (rows.length !== images.labels.length) throw new InvalidArgumentError(`${file} has rows that are not 64 pixels and a label`);
      const parts =
        options.split === 'iid'
          ? Array.from({ length: options.sites }, (_, k) => Int32Array.from(rows.keys()).filter((i) => i % options.sites === k))
          : labelSkewPartition(images.labels, options.sites, 2, 1);
      fs.mkdirSync(options.out, { recursive: true });
      parts.forEach((part, k) => {
        const target = path.join(options.out, `site-${k + 1}.csv`);
        fs.writeFileSync(target, `${Array.from(part, (i) => rows[i]).join('\n')}\n`);
        const classes = [...new Set(Array.from(part, (i) => images.labels[i]!))]
          .sort((a, b) => a - b)
          .map((c) => images.classNames[c])
          .join(',');
        console.log(`${target}: ${part.length} images, classes ${classes}`);
      });
      console.log(`\n${agentHint(options.out, parts.length)}`);
    });

  return fl;
}

/**
 * What to run next with the files `fl split` wrote: one agent per site (its credentials under
 * .fogline/fl/, which git ignores), then a job over the agents' label. The README shows the same
 * commands for `--out fl-sites --sites 3`.
 */
function agentHint(out: string, sites: number): string {
  const agents = Array.from(
    { length: sites },
    (_, k) =>
      `  fogline agent --server http://127.0.0.1:7070 --join-token "$JOIN" --name site-${k + 1} --labels fl=demo --data-dir .fogline/fl/site-${k + 1} --port 0 --fl-data ${path.join(out, `site-${k + 1}.csv`)}`,
  );
  return [
    `Start one agent per file (each runs until stopped: a terminal each, or & at the end of the line), with a join token in JOIN first: JOIN=$(fogline token create --role join --max-uses ${sites})`,
    ...agents,
    'then run a federated job on them:',
    '  fogline fl start --model digits-fl --dataset-kind digits --nodes fl=demo --rounds 20 --strategy fedadam --fraction-fit 1 --min-fit-clients 2 --round-timeout 30',
  ].join('\n');
}

const JOB_COLUMNS = [
  { header: 'ID', value: (j: FederatedJobView) => j.id },
  { header: 'MODEL', value: (j: FederatedJobView) => j.model + (j.registeredVersion ? `@${j.registeredVersion}` : '') },
  { header: 'KIND', value: (j: FederatedJobView) => j.datasetKind },
  { header: 'STRATEGY', value: (j: FederatedJobView) => j.config.strategy },
  { header: 'STATUS', value: (j: FederatedJobView) => j.status },
  { header: 'ROUNDS', value: (j: FederatedJobView) => `${j.roundsCompleted}/${j.config.rounds}` },
  { header: 'PHASE', value: (j: FederatedJobView) => j.phase },
  { header: 'CREATED', value: (j: FederatedJobView) => j.createdAt },
];

/** Polls the job and draws its rounds until it ends. */
async function follow(client: ApiClient, id: string, quiet: boolean): Promise<FederatedJobView> {
  const bar = new ProgressBar();
  let printed = 0;
  for (;;) {
    const job = await client.getFederatedJob(id);
    if (!quiet) {
      // One line per finished round, then the bar for the one in progress.
      const closed = (job.rounds ?? []).filter((r) => r.status !== 'open');
      for (const round of closed.slice(printed)) {
        bar.done();
        console.error(roundLine(round));
      }
      printed = closed.length;
    }
    if (job.status !== 'running') {
      bar.done();
      return job;
    }
    if (!quiet)
      bar.update(
        job.roundsCompleted / job.config.rounds,
        `round ${Math.min(job.roundsCompleted + 1, job.config.rounds)}/${job.config.rounds}  ${job.phase}`,
      );
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)}%`;
}

function roundLine(round: NonNullable<FederatedJobView['rounds']>[number]): string {
  const m = round.metrics;
  const rejected = round.reports.filter((r) => r.status === 'rejected').map((r) => r.nodeName);
  const dropped = round.dropped.filter((c) => !rejected.includes(c.nodeName)).map((c) => c.nodeName);
  return [
    `round ${round.round}${round.attempt > 1 ? ` (attempt ${round.attempt})` : ''}: ${round.status}`,
    m
      ? `${m.participants}/${round.sampled.length} clients, ${m.examples} examples, clients' accuracy ${pct(m.evalAccuracy)}${
          m.serverAccuracy != null ? `, test set ${pct(m.serverAccuracy)}` : ''
        }`
      : (round.reason ?? ''),
    dropped.length ? `dropped ${dropped.join(',')}` : '',
    rejected.length ? `rejected ${rejected.join(',')}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

export function describeJob(job: FederatedJobView): string {
  const lines = [
    `Federated job ${job.id}: ${job.status}  (${job.roundsCompleted}/${job.config.rounds} rounds, ${job.config.strategy}, ${job.datasetKind})`,
    `  phase: ${job.phase}`,
  ];
  if (job.registeredVersion)
    lines.push(
      `  model: ${job.model}@${job.registeredVersion}  (deploy it: fogline deploy create --name ${job.model} --model ${job.model}@${job.registeredVersion})`,
    );
  if (job.error) lines.push(`  error: ${job.error}`);
  if (job.rounds?.length) {
    lines.push(
      formatTable(job.rounds, [
        { header: '  ROUND', value: (r) => `  ${r.round}${r.attempt > 1 ? `.${r.attempt}` : ''}` },
        { header: 'STATUS', value: (r) => r.status },
        {
          header: 'CLIENTS',
          value: (r) => `${r.metrics?.participants ?? r.reports.filter((x) => x.status === 'accepted').length}/${r.sampled.length}`,
        },
        { header: 'EXAMPLES', value: (r) => String(r.metrics?.examples ?? '-') },
        { header: 'ACCURACY', value: (r) => pct(r.metrics?.evalAccuracy) },
        { header: 'LOSS', value: (r) => (r.metrics?.evalLoss == null ? '-' : r.metrics.evalLoss.toPrecision(4)) },
        { header: 'TEST SET', value: (r) => pct(r.metrics?.serverAccuracy) },
        { header: 'KIB', value: (r) => (r.reports.reduce((n, x) => n + x.bytes, 0) / 1024).toFixed(1) },
        { header: 'DROPPED', value: (r) => r.dropped.map((c) => c.nodeName).join(',') || '-' },
      ]),
    );
    lines.push(
      "  (accuracy and loss: the round's starting global model on the clients' held-out data; test set: the round's new model on --eval-dataset)",
    );
  }
  return lines.join('\n');
}
