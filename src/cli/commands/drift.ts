import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DRIFT_ACTIONS,
  DRIFT_POLICY_DEFAULTS,
  DRIFT_TESTS,
  type DriftEventView,
  type DriftPolicyView,
  type DriftReportView,
  type SetDriftPolicyRequest,
} from '../../contracts/drift.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { printJson, printRows } from '../output.js';
import { parseCount, parseDuration, parseOnOff, parseRate } from '../parse-arguments.js';

const d = DRIFT_POLICY_DEFAULTS;

function parseTests(text: string): SetDriftPolicyRequest['tests'] {
  const tests = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const test of tests) {
    if (!(DRIFT_TESTS as readonly string[]).includes(test)) {
      throw new InvalidArgumentError(`--tests takes ${DRIFT_TESTS.join(', ')} (comma-separated), got "${test}"`);
    }
  }
  if (tests.length === 0) throw new InvalidArgumentError('--tests needs at least one test');
  return [...new Set(tests)] as SetDriftPolicyRequest['tests'];
}

function parseFactor(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number of at least 0, got ${text}`);
  return value;
}

function parsePositive(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a number above 0, got "${text}"`);
  return value;
}

interface SetOptions {
  tests?: SetDriftPolicyRequest['tests'];
  action?: SetDriftPolicyRequest['action'];
  psiThreshold?: number;
  wassersteinThreshold?: number;
  ksPValue?: number;
  errorFactor?: number;
  errorBaselineFactor?: number;
  sampleUpload?: boolean;
  warmStart?: boolean;
  retrainEvery?: number;
  errorWindow?: number;
  window?: number;
  minSamples?: number;
  cooldown?: number;
  margin?: number;
  reportInterval?: number;
  dataset?: string;
}

function policySetCommand(): Command {
  return withClientOptions(
    new Command('set')
      .description(
        "Create or change a deployment's drift policy: what the agents' statistics are tested for, and what happens on drift. Options left out keep their current value (or the default).",
      )
      .argument('<deployment>', 'The deployment to watch')
      .option(
        '--tests <list>',
        `Comma-separated: auto (forecast error for forecasters; KS or Wasserstein on inputs for other models), psi, wasserstein, ks, error (default ${d.tests.join(',')})`,
        parseTests,
      )
      .addOption(new Option('--action <action>', `What a drift event does (default ${d.action})`).choices([...DRIFT_ACTIONS]))
      .option('--psi-threshold <x>', `PSI above this is drift (default ${d.psiThreshold})`, (v) => parsePositive(v, '--psi-threshold'))
      .option('--wasserstein-threshold <x>', `Wasserstein / reference std above this is drift (default ${d.wassersteinThreshold})`, (v) =>
        parsePositive(v, '--wasserstein-threshold'),
      )
      .option('--ks-p-value <p>', `KS p-value below this is drift (default ${d.ksPValue})`, (v) => parseRate(v, '--ks-p-value'))
      .option('--error-factor <k>', `Rolling MAPE above k x the validation MAPE is drift (default ${d.errorFactor})`, (v) =>
        parsePositive(v, '--error-factor'),
      )
      .option(
        '--error-baseline-factor <k>',
        `...and above k x the seasonal-naive (same time yesterday) MAPE on the same hours; 0: off (default ${d.errorBaselineFactor})`,
        (v) => parseFactor(v, '--error-baseline-factor'),
      )
      .option('--error-window <duration>', `Data time in the rolling MAPE, e.g. 72h (default ${d.errorWindowHours}h)`, (v) =>
        Math.max(1, Math.round(parseDuration(v, '--error-window') / 3600)),
      )
      .option('--window <duration>', `Data time in the input window, e.g. 7d (default ${d.windowHours}h)`, (v) =>
        Math.max(1, Math.round(parseDuration(v, '--window') / 3600)),
      )
      .option('--min-samples <n>', `No verdict on fewer values or scored forecasts (default ${d.minSamples})`, (v) =>
        parseCount(v, '--min-samples'),
      )
      .option('--cooldown <duration>', `No new event this long after one, e.g. 6h (default ${d.cooldownSeconds / 3600}h)`, (v) =>
        parseDuration(v, '--cooldown'),
      )
      .option(
        '--margin <share>',
        `retrain-and-promote: the challenger's MAPE must be this much lower, e.g. 5% (default ${d.promotionMargin})`,
        (v) => parseRate(v, '--margin'),
      )
      .option('--report-interval <duration>', `How often agents report, e.g. 30s (default ${d.reportIntervalSeconds}s)`, (v) =>
        parseDuration(v, '--report-interval'),
      )
      .option('--dataset <name>', "Dataset to retrain on, latest version (default: the champion's own)")
      .option(
        '--sample-upload <on|off>',
        'on: nodes upload the actual values posted to them (newer than the dataset) as its next version; off: no raw value leaves a node (default off)',
        (v) => parseOnOff(v, '--sample-upload'),
      )
      .option(
        '--warm-start <on|off>',
        "on: retraining starts from the champion's weights (fewer epochs); off: from a random initialisation (default on)",
        (v) => parseOnOff(v, '--warm-start'),
      )
      .option(
        '--retrain-every <duration|off>',
        "Also retrain on a schedule: a round when none has started for this long, e.g. 7d, with the policy's action; off: only on drift or by hand (default off)",
        (v) => (v === 'off' ? 0 : parseDuration(v, '--retrain-every')),
      ),
  ).action(async (deployment: string, options: SetOptions, self: Command) => {
    const { client, json } = clientFor(self);
    const body: SetDriftPolicyRequest = {
      ...(options.tests ? { tests: options.tests } : {}),
      ...(options.action ? { action: options.action } : {}),
      ...(options.psiThreshold !== undefined ? { psiThreshold: options.psiThreshold } : {}),
      ...(options.wassersteinThreshold !== undefined ? { wassersteinThreshold: options.wassersteinThreshold } : {}),
      ...(options.ksPValue !== undefined ? { ksPValue: options.ksPValue } : {}),
      ...(options.errorFactor !== undefined ? { errorFactor: options.errorFactor } : {}),
      ...(options.errorBaselineFactor !== undefined ? { errorBaselineFactor: options.errorBaselineFactor } : {}),
      ...(options.errorWindow !== undefined ? { errorWindowHours: options.errorWindow } : {}),
      ...(options.window !== undefined ? { windowHours: options.window } : {}),
      ...(options.minSamples !== undefined ? { minSamples: options.minSamples } : {}),
      ...(options.cooldown !== undefined ? { cooldownSeconds: options.cooldown } : {}),
      ...(options.margin !== undefined ? { promotionMargin: options.margin } : {}),
      ...(options.reportInterval !== undefined ? { reportIntervalSeconds: options.reportInterval } : {}),
      ...(options.dataset !== undefined ? { dataset: options.dataset } : {}),
      ...(options.sampleUpload !== undefined ? { sampleUpload: options.sampleUpload } : {}),
      ...(options.warmStart !== undefined ? { warmStart: options.warmStart } : {}),
      ...(options.retrainEvery !== undefined ? { retrainEverySeconds: options.retrainEvery } : {}),
    };
    const policy = await client.request<DriftPolicyView>('PUT', `/api/v1/drift/policies/${encodeURIComponent(deployment)}`, { body });
    if (json) printJson(policy);
    else printPolicy(policy);
  });
}

function printPolicy(p: DriftPolicyView): void {
  const lines = [
    ['Deployment', p.deployment],
    ['Tests', p.tests.join(', ')],
    [
      'Thresholds',
      `PSI > ${p.psiThreshold}, Wasserstein > ${p.wassersteinThreshold}, KS p < ${p.ksPValue}, error MAPE > ${p.errorFactor}x validation${p.errorBaselineFactor > 0 ? ` and > ${p.errorBaselineFactor}x seasonal-naive` : ''}`,
    ],
    ['Windows', `inputs ${p.windowHours}h, error ${p.errorWindowHours}h (data time)`],
    ['Min samples', String(p.minSamples)],
    ['Cooldown', `${p.cooldownSeconds}s`],
    ['Action', p.action + (p.action === 'retrain-and-promote' ? ` (margin ${(p.promotionMargin * 100).toFixed(1)}%)` : '')],
    ['Retrain on', p.dataset ?? "the champion's dataset"],
    ['Sample upload', p.sampleUpload ? 'on (nodes upload the actuals posted to them)' : 'off (no raw value leaves a node)'],
    ['Warm start', p.warmStart ? "on (retraining starts from the champion's weights)" : 'off (retraining starts from scratch)'],
    [
      'Schedule',
      p.retrainEverySeconds > 0 ? `a round when none has started for ${p.retrainEverySeconds}s` : 'off (rounds on drift or by hand)',
    ],
    ['Reports every', `${p.reportIntervalSeconds}s`],
    ['Updated', p.updatedAt],
  ];
  for (const [label, value] of lines) console.log(`${`${label}:`.padEnd(15)}${value}`);
}

const NO_EVENTS = 'No drift events yet: they fire where a deployment has a drift policy (fogline drift policy set DEPLOYMENT …).';

const EVENT_COLUMNS = [
  { header: 'ID', value: (e: DriftEventView) => e.id },
  { header: 'TIME', value: (e: DriftEventView) => e.createdAt },
  { header: 'DEPLOYMENT', value: (e: DriftEventView) => e.deployment },
  { header: 'NODE', value: (e: DriftEventView) => e.nodeName ?? (e.trigger === 'drift' ? '-' : `(${e.trigger})`) },
  { header: 'VERSION', value: (e: DriftEventView) => `v${e.version}` },
  { header: 'FINDINGS', value: (e: DriftEventView) => e.findings.map((f) => `${f.test} ${f.value.toPrecision(3)}`).join(', ') || '-' },
  { header: 'ACTION', value: (e: DriftEventView) => e.action },
  { header: 'STATUS', value: (e: DriftEventView) => e.status },
  {
    header: 'RESULT',
    value: (e: DriftEventView) =>
      e.evaluation
        ? `v${e.evaluation.challengerVersion} ${e.evaluation.challengerMape.toFixed(2)}% vs v${e.evaluation.championVersion} ${e.evaluation.championMape.toFixed(2)}%`
        : (e.runId ?? '-'),
  },
];

const REPORT_COLUMNS = [
  { header: 'DEPLOYMENT', value: (r: DriftReportView) => r.deployment },
  { header: 'NODE', value: (r: DriftReportView) => r.nodeName ?? r.nodeId },
  { header: 'VERSION', value: (r: DriftReportView) => `v${r.version}` },
  { header: 'ROWS', value: (r: DriftReportView) => String(r.summary.rows) },
  {
    header: 'INPUTS',
    value: (r: DriftReportView) =>
      r.summary.hasReference
        ? r.summary.features
            .filter((f) => f.source === 'input')
            .map((f) => `${f.name}: n=${f.count} psi=${f.psi?.toFixed(3) ?? '-'} wass=${f.wasserstein?.toFixed(3) ?? '-'}`)
            .join('; ')
        : 'no reference',
  },
  {
    header: 'ERROR',
    value: (r: DriftReportView) =>
      r.summary.error && r.summary.error.count > 0
        ? `MAPE ${r.summary.error.mape.toFixed(2)}% (validation ${r.summary.error.validationMape?.toFixed(2) ?? '-'}%, n=${r.summary.error.count})`
        : '-',
  },
  { header: 'RECEIVED', value: (r: DriftReportView) => r.receivedAt },
];

export function driftCommand(): Command {
  const policy = new Command('policy')
    .description('Drift policies: one per deployment')
    .addCommand(policySetCommand())
    .addCommand(
      withClientOptions(
        new Command('get').description("Show a deployment's drift policy").argument('<deployment>', 'The deployment'),
      ).action(async (deployment: string, _options: unknown, self: Command) => {
        const { client, json } = clientFor(self);
        const p = await client.request<DriftPolicyView>('GET', `/api/v1/drift/policies/${encodeURIComponent(deployment)}`);
        if (json) printJson(p);
        else printPolicy(p);
      }),
    )
    .addCommand(
      withClientOptions(
        new Command('delete')
          .description("Remove a deployment's drift policy (no more events for it)")
          .argument('<deployment>', 'The deployment'),
      ).action(async (deployment: string, _options: unknown, self: Command) => {
        const { client } = clientFor(self);
        await client.request('DELETE', `/api/v1/drift/policies/${encodeURIComponent(deployment)}`);
        console.log(`Drift policy of ${deployment} removed.`);
      }),
    );

  return new Command('drift')
    .description('Drift at the edge: policies, events (with their retraining rounds) and what the agents report')
    .addCommand(policy)
    .addCommand(
      withClientOptions(
        new Command('events')
          .description('Drift events, newest first: what fired, on which node, and how its retraining round went')
          .option('--deployment <name>', 'Only this deployment')
          .option('--limit <n>', 'How many events', (v) => parseCount(v, '--limit'), 50)
          .option('--timeline', "Print each event's timeline under it"),
      ).action(async (options: { deployment?: string; limit: number; timeline?: boolean }, self: Command) => {
        const { client, json } = clientFor(self);
        const query = new URLSearchParams({ limit: String(options.limit) });
        if (options.deployment) query.set('deployment', options.deployment);
        const { events } = await client.request<{ events: DriftEventView[] }>('GET', `/api/v1/drift/events?${query}`);
        if (json || !options.timeline || events.length === 0) {
          printRows(events, EVENT_COLUMNS, json, NO_EVENTS);
          return;
        }
        for (const event of events) {
          printRows([event], EVENT_COLUMNS, false, '');
          for (const line of event.timeline) console.log(`  ${line.at}  ${line.status.padEnd(12)} ${line.message}`);
          console.log('');
        }
      }),
    )
    .addCommand(
      withClientOptions(
        new Command('status')
          .description('The newest drift summary of each node the deployment is placed on now (aggregates only)')
          .option('--deployment <name>', 'Only this deployment'),
      ).action(async (options: { deployment?: string }, self: Command) => {
        const { client, json } = clientFor(self);
        const query = options.deployment ? `?deployment=${encodeURIComponent(options.deployment)}` : '';
        const { reports } = await client.request<{ reports: DriftReportView[] }>('GET', `/api/v1/drift/reports${query}`);
        printRows(reports, REPORT_COLUMNS, json, 'No drift reports yet: agents report once their deployment has answered requests.');
      }),
    )
    .addCommand(
      withClientOptions(
        new Command('retrain')
          .description('Start a retraining round now: retrain, score the challenger beside the champion, promote per the action')
          .argument('<deployment>', 'The deployment')
          .addOption(
            new Option('--action <action>', "retrain or retrain-and-promote (default: the policy's)").choices([
              'retrain',
              'retrain-and-promote',
            ]),
          ),
      ).action(async (deployment: string, options: { action?: 'retrain' | 'retrain-and-promote' }, self: Command) => {
        const { client, json } = clientFor(self);
        const event = await client.request<DriftEventView>('POST', `/api/v1/drift/policies/${encodeURIComponent(deployment)}/retrain`, {
          body: options.action ? { action: options.action } : {},
        });
        if (json) printJson(event);
        else
          console.log(
            `Drift event ${event.id}: ${event.status}; ${event.timeline.at(-1)?.message ?? ''}\nFollow it with: fogline drift events --deployment ${deployment} --timeline`,
          );
      }),
    );
}
