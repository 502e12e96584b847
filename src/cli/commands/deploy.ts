import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_LATENCY_TARGET_MS,
  DEPLOYMENT_STRATEGIES,
  type DeploymentStrategy,
  type DeploymentView,
  JOINT_RULES,
  type JointRule,
  type JointSetting,
  OFFLOAD_POLICIES,
  type OffloadPolicy,
} from '../../contracts/deployments.js';
import type { ApiClient } from '../../client/api-client.js';
import { DEFAULT_DEAD_LETTER_TOPIC, DEVICE_FORMATS, type DeviceBindingRequest, type DeviceFormat } from '../../contracts/devices.js';
import { formatLabels, parseLabelList } from '../../nodes/labels.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { formatTable, printJson, printRows } from '../output.js';
import { parseCount, parseDuration, parsePercent, parseRate } from '../parse-arguments.js';
import { formatDuration, ProgressBar } from '../progress-bar.js';
import { servesAssigned } from '../../deployments/node-status.js';
import { rolloutProgress } from '../rollout-progress.js';

interface CreateOptions {
  name: string;
  model: string;
  to?: string;
  strategy: DeploymentStrategy;
  canaryPercent: number;
  soak: number;
  maxErrorRate: number;
  offload: OffloadPolicy;
  latencyTargetMs: number;
  jointCloudModel?: string;
  jointRule: JointRule;
  jointThreshold?: number;
  mqttIn?: string;
  mqttOut?: string;
  format: DeviceFormat;
  mqttResource?: string;
  mqttDeadLetter?: string;
  wait: boolean;
  timeout: number;
}

export function deployCommand(): Command {
  const deploy = new Command('deploy').description('Deploy models to edge nodes: a model selector + a node selector');

  withClientOptions(
    deploy
      .command('create')
      .description('Create a deployment; it follows its model selector (moving an alias rolls it forward with the chosen strategy)')
      .requiredOption('--name <name>', 'Deployment name: the model name agents serve it under on /v2')
      .requiredOption('--model <selector>', 'name, name@version or name@alias, e.g. energy-forecaster@champion')
      .option('--to <k=v,...>', 'Node selector: labels the nodes must have (default: every node)')
      .addOption(
        new Option('--strategy <strategy>', 'How new versions roll out: all nodes at once, rolling (one node at a time) or canary')
          .choices([...DEPLOYMENT_STRATEGIES])
          .default('all'),
      )
      .option(
        '--canary-percent <n>',
        'canary: share of the nodes that get a new version first',
        (v) => parsePercent(v, '--canary-percent'),
        20,
      )
      .addOption(
        new Option('--soak <duration>', 'canary: how long the canary must stay healthy before every node gets it (e.g. 60s, 10m)')
          .argParser((v) => parseDuration(v, '--soak'))
          .default(60, '60s'),
      )
      .option(
        '--max-error-rate <share>',
        'canary: highest share of failed requests during the soak before it rolls back (e.g. 1% or 0.01)',
        (v) => parseRate(v, '--max-error-rate'),
        0.01,
      )
      .addOption(
        new Option(
          '--offload <policy>',
          'Where requests run: edge-only (always on the node), cloud-only (on the control plane; on the node when the cloud is away) or auto (the node decides per request from its queue, CPU, memory and model health)',
        )
          .choices([...OFFLOAD_POLICIES])
          .default('edge-only'),
      )
      .option(
        '--latency-target-ms <ms>',
        'auto: a request whose expected wait on the node is longer than this goes to the cloud',
        (v) => parseCount(v, '--latency-target-ms'),
        DEFAULT_LATENCY_TARGET_MS,
      )
      .option(
        '--joint-cloud-model <selector>',
        'Joint inference: the larger cloud model (name, name@version or name@alias) that answers the rows the hard-example rule finds hard; the deployed model answers the rest',
      )
      .addOption(
        new Option(
          '--joint-rule <rule>',
          'Joint inference: confidence (1 − top probability), entropy (normalised) or interval-width ((upper − lower) / |median|)',
        )
          .choices([...JOINT_RULES])
          .default('confidence'),
      )
      .option(
        '--joint-threshold <score>',
        'Joint inference: a row scoring above this goes to the cloud model (confidence, entropy: 0–1)',
        (v) => parseThreshold(v),
      )
      .option(
        '--mqtt-in <topic-filter>',
        "Device data: every agent serving this deployment subscribes to this MQTT topic filter on its broker (agent --mqtt-url), e.g. 'edgex/events/device/+/+/+/load'",
      )
      .option(
        '--mqtt-out <topic>',
        "Device data: where each prediction is published; {deployment} and {device} are filled in (default with --mqtt-in: 'fogline/predictions/{deployment}/{device}')",
      )
      .addOption(
        new Option('--format <format>', 'Device data: edgex (EdgeX v3 events in and out) or json ({device, time, value} in)')
          .choices([...DEVICE_FORMATS])
          .default('edgex'),
      )
      .option('--mqtt-resource <name>', 'Device data, EdgeX: only readings of this resourceName feed the model (default: every reading)')
      .option(
        '--mqtt-dead-letter <topic>',
        `Device data: where messages that cannot be used go, with the reason ({deployment} is filled in; default '${DEFAULT_DEAD_LETTER_TOPIC}')`,
      )
      .option(
        '--wait',
        'Follow the first rollout with a progress bar until every node serves it (with --mqtt-in: and has subscribed to the topic)',
        false,
      )
      .addOption(timeoutOption()),
  ).action(async (options: CreateOptions, self: Command) => {
    const joint = jointSetting(options, self);
    const mqtt = deviceBinding(options, self);
    const { client, json } = clientFor(self);
    let view = await client.createDeployment({
      name: options.name,
      model: options.model,
      nodeSelector: parseLabelList(options.to ?? ''),
      strategy: options.strategy,
      canaryPercent: options.canaryPercent,
      soakSeconds: options.soak,
      maxErrorRate: options.maxErrorRate,
      offload: options.offload,
      latencyTargetMs: options.latencyTargetMs,
      ...(joint ? { joint } : {}),
      ...(mqtt ? { mqtt } : {}),
    });
    if (options.wait) view = await followRollout(client, view.name, options.timeout * 1000);
    if (options.wait && view.mqtt) view = await waitForSubscriptions(client, view, json);
    if (json) return printJson(view);
    console.log(describeDeployment(view));
  });

  withClientOptions(deploy.command('list').description('List deployments')).action(async (_options, self: Command) => {
    const { client, json } = clientFor(self);
    const { deployments } = await client.listDeployments();
    printRows(
      deployments,
      DEPLOYMENT_COLUMNS,
      json,
      'No deployments yet: fogline deploy create --name NAME --model MODEL@champion --to site=…',
    );
  });

  withClientOptions(
    deploy
      .command('get')
      .description('Show a deployment: its rollout, the state on each node and the rollout history')
      .argument('<name>', 'Deployment name')
      .option('--wait', 'Follow the rollout in progress with a progress bar until it ends', false)
      .addOption(timeoutOption()),
  ).action(async (name: string, options: { wait: boolean; timeout: number }, self: Command) => {
    const { client, json } = clientFor(self);
    const view = options.wait ? await followRollout(client, name, options.timeout * 1000) : await client.getDeployment(name);
    if (json) return printJson(view);
    console.log(describeDeployment(view));
  });

  withClientOptions(
    deploy
      .command('rollback')
      .description(
        'Roll back: a rollout in progress returns to the stable version, a finished one to the good version before it; the version left is not rolled out again until the model selector moves on',
      )
      .argument('<name>', 'Deployment name')
      .option('--wait', 'Follow the rollback until every node serves the version it returns to', false)
      .addOption(timeoutOption()),
  ).action(async (name: string, options: { wait: boolean; timeout: number }, self: Command) => {
    const { client, json } = clientFor(self);
    let view = await client.rollbackDeployment(name);
    if (options.wait) view = await followRollout(client, name, options.timeout * 1000);
    if (json) return printJson(view);
    console.log(describeDeployment(view));
  });

  withClientOptions(
    deploy.command('delete').description('Delete a deployment: every node unloads it').argument('<name>', 'Deployment name'),
  ).action(async (name: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    await client.deleteDeployment(name);
    if (json) return printJson({ deleted: name });
    console.log(`Deleted deployment ${name}; nodes unload it on their next sync.`);
  });

  return deploy;
}

/**
 * Polls a deployment and draws its rollout step by step (nodes loading, a canary's soak) until
 * no rollout is in progress and every node serves what it is assigned (or the rollout rolled back).
 */
async function followRollout(client: ApiClient, name: string, timeoutMs: number): Promise<DeploymentView> {
  const bar = new ProgressBar();
  const started = Date.now();
  for (;;) {
    const view = await client.getDeployment(name);
    const { fraction, label, done, failed } = rolloutProgress(view, Date.now());
    bar.update(fraction, `${label}  ${formatDuration(Date.now() - started)}`);
    if (done || failed) {
      bar.done(view.rollout.phase === 'rolled-back' ? `Rolled back: ${view.rollout.history.at(-1)?.message ?? ''}` : undefined);
      return view;
    }
    if (Date.now() - started > timeoutMs) {
      bar.done(`Still ${view.rollout.phase} after ${formatDuration(timeoutMs)}: see fogline deploy get ${name}`);
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** How long `deploy create --wait` waits for serving nodes to subscribe to a new MQTT binding (nodes report every 10 s). */
const SUBSCRIBE_WAIT_MS = 25_000;

/**
 * After the rollout, until each serving node reports its MQTT binding's counts: an agent reports
 * them once the broker has acknowledged the subscription, and readings published before that are
 * not kept for it. A node that never does (started without --mqtt-url) is named, not waited for.
 */
async function waitForSubscriptions(client: ApiClient, first: DeploymentView, json: boolean): Promise<DeploymentView> {
  const started = Date.now();
  let view = first;
  for (;;) {
    const waiting = view.nodes.filter((n) => n.state === 'serving' && !n.mqtt).map((n) => n.nodeName);
    if (waiting.length === 0) return view;
    if (Date.now() - started > SUBSCRIBE_WAIT_MS) {
      if (!json) {
        console.error(
          `Not subscribed to ${view.mqtt!.input} after ${formatDuration(SUBSCRIBE_WAIT_MS)}: ${waiting.join(', ')} (an agent needs --mqtt-url and a broker it can reach; see its log)`,
        );
      }
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = await client.getDeployment(first.name);
  }
}

const DEPLOYMENT_COLUMNS = [
  { header: 'NAME', value: (d: DeploymentView) => d.name },
  { header: 'MODEL', value: (d: DeploymentView) => d.model },
  { header: 'VERSION', value: (d: DeploymentView) => (d.version === null ? '-' : String(d.version)) },
  { header: 'STRATEGY', value: (d: DeploymentView) => d.strategy },
  { header: 'ROLLOUT', value: (d: DeploymentView) => describePhase(d) },
  { header: 'NODES', value: (d: DeploymentView) => formatLabels(d.nodeSelector) || '(all)' },
  {
    header: 'SERVING',
    value: (d: DeploymentView) => `${d.nodes.filter(servesAssigned).length}/${d.nodes.filter((n) => n.assignedVersion !== null).length}`,
  },
];

function describePhase(view: DeploymentView): string {
  const { phase, stableVersion, targetVersion } = view.rollout;
  if (phase === 'stable') return stableVersion === null ? 'waiting' : `stable v${stableVersion}`;
  if (phase === 'rolled-back') return `rolled back to v${stableVersion ?? '-'}`;
  return `${phase} v${stableVersion ?? '-'} → v${targetVersion ?? '-'}`;
}

function describeDeployment(view: DeploymentView): string {
  const strategy =
    view.strategy === 'canary'
      ? `canary (${view.canaryPercent}% first, soak ${view.soakSeconds}s, max error rate ${(view.maxErrorRate * 100).toFixed(1)}%)`
      : view.strategy;
  const lines = [
    `Deployment:  ${view.name}`,
    `Model:       ${view.model} (now version ${view.version ?? '-'})`,
    `Nodes:       ${formatLabels(view.nodeSelector) || '(all)'}`,
    `Strategy:    ${strategy}`,
    `Offload:     ${view.offload === 'auto' ? `auto (latency target ${view.latencyTargetMs} ms)` : view.offload}`,
    ...(view.joint
      ? [
          `Joint:       hard rows (${view.joint.rule} > ${view.joint.threshold}) to ${view.joint.cloudModel} (now version ${view.joint.cloudVersion ?? '-'})`,
        ]
      : []),
    ...(view.mqtt
      ? [
          `MQTT in:     ${view.mqtt.input} (${view.mqtt.format}${view.mqtt.resource ? `, resource ${view.mqtt.resource}` : ''})`,
          `MQTT out:    ${view.mqtt.output} (dead letters: ${view.mqtt.deadLetter})`,
        ]
      : []),
    `Rollout:     ${describePhase(view)}`,
  ];
  if (view.nodes.length === 0) lines.push('', 'No node fits yet (online, not cordoned, labels matching, enough memory).');
  else
    lines.push(
      '',
      formatTable(view.nodes, [
        { header: '  NODE', value: (n) => `  ${n.nodeName}` },
        { header: 'STATE', value: (n) => n.state },
        { header: 'ASSIGNED', value: (n) => (n.assignedVersion === null ? '-' : String(n.assignedVersion)) },
        { header: 'VERSION', value: (n) => (n.version === null ? '-' : String(n.version)) },
        { header: 'SERVING', value: (n) => (n.servingVersion === null ? '-' : String(n.servingVersion)) },
        { header: 'REQUESTS', value: (n) => `${n.requests}${n.errors > 0 ? ` (${n.errors} failed)` : ''}` },
        {
          header: 'P50/P99 MS',
          value: (n) => (n.latencyP50Ms === null ? '-' : `${n.latencyP50Ms.toFixed(1)}/${(n.latencyP99Ms ?? 0).toFixed(1)}`),
        },
        ...(view.joint ? [{ header: 'JOINT', value: (n: DeploymentView['nodes'][number]) => describeJoint(n.joint) }] : []),
        ...(view.mqtt ? [{ header: 'MQTT', value: (n: DeploymentView['nodes'][number]) => describeDeviceCounts(n.mqtt) }] : []),
        { header: 'REASON', value: (n) => n.reason ?? '' },
      ]),
    );
  const history = view.rollout.history.slice(-8);
  if (history.length > 0) {
    lines.push('', 'History:');
    for (const event of history) lines.push(`  ${event.at}  ${event.event.padEnd(18)} ${event.message}`);
  }
  return lines.join('\n');
}

/** --timeout of the --wait options: a duration, 5 minutes unless given. */
function timeoutOption(): Option {
  return new Option('--timeout <duration>', 'With --wait: give up after this long (e.g. 10m)')
    .argParser((v) => parseDuration(v, '--timeout'))
    .default(300, '5m');
}

function parseThreshold(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError(`--joint-threshold must be a number of at least 0, got "${text}"`);
  return value;
}

/** The joint setting the flags ask for; none without --joint-cloud-model. */
function jointSetting(options: CreateOptions, self: Command): JointSetting | undefined {
  if (options.jointCloudModel === undefined) {
    if (options.jointThreshold !== undefined || self.getOptionValueSource('jointRule') === 'cli')
      self.error('error: --joint-rule and --joint-threshold need --joint-cloud-model');
    return undefined;
  }
  if (options.jointThreshold === undefined) self.error('error: --joint-cloud-model needs --joint-threshold (e.g. 0.2)');
  return { cloudModel: options.jointCloudModel, rule: options.jointRule, threshold: options.jointThreshold as number };
}

/** The MQTT binding the flags ask for; none without --mqtt-in. */
function deviceBinding(options: CreateOptions, self: Command): DeviceBindingRequest | undefined {
  const source = (name: string) => self.getOptionValueSource(name) === 'cli';
  if (options.mqttIn === undefined) {
    const stray = ['mqttOut', 'format', 'mqttResource', 'mqttDeadLetter'].filter(source);
    if (stray.length > 0) self.error('error: --mqtt-out, --format, --mqtt-resource and --mqtt-dead-letter need --mqtt-in <topic-filter>');
    return undefined;
  }
  return {
    input: options.mqttIn,
    output: options.mqttOut ?? 'fogline/predictions/{deployment}/{device}',
    format: options.format,
    ...(options.mqttResource !== undefined ? { resource: options.mqttResource } : {}),
    ...(options.mqttDeadLetter !== undefined ? { deadLetter: options.mqttDeadLetter } : {}),
  };
}

/** A node's MQTT counts: messages in, predictions out, dead letters, buffered results, p99, and whether its broker is connected. */
function describeDeviceCounts(counts: DeploymentView['nodes'][number]['mqtt']): string {
  if (!counts) return '-';
  const parts = [`${counts.messages} in`, `${counts.predictions} out`];
  if (counts.deadLetters > 0) parts.push(`${counts.deadLetters} dead`);
  if (counts.buffered > 0) parts.push(`${counts.buffered} buffered`);
  if (counts.latencyP99Ms !== null) parts.push(`p99 ${counts.latencyP99Ms.toFixed(1)} ms`);
  if (!counts.connected) parts.push('broker down');
  return parts.join(', ');
}

/** A node's joint counts: the share of rows the cloud answered, and the accuracy on labelled rows, edge → final. */
function describeJoint(joint: DeploymentView['nodes'][number]['joint']): string {
  if (!joint) return '-';
  const rows = joint.easy + joint.hard + joint.fallback;
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  const parts = [`${percent(joint.offloadRate)} of ${rows} to cloud`];
  if (joint.fallback > 0) parts.push(`${joint.fallback} fallback`);
  if (joint.edgeAccuracy !== null && joint.finalAccuracy !== null)
    parts.push(`accuracy ${percent(joint.edgeAccuracy)} → ${percent(joint.finalAccuracy)} (${joint.labelled} labelled)`);
  return parts.join(', ');
}
