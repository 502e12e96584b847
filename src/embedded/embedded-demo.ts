import fs from 'node:fs';
import type { ApiClient } from '../client/api-client.js';
import { ApiError } from '../client/api-error.js';
import { servesAssigned } from '../deployments/node-status.js';
import { type ForecasterShape, forecasterShape } from '../inference/forecaster-shape.js';
import type { DeploymentView, NodeDeploymentStatus } from '../contracts/deployments.js';
import type { V2ModelMetadata } from '../contracts/open-inference.js';
import type { RunView } from '../contracts/runs.js';
import { forecastRequestAt } from '../ml/forecast/forecast-request.js';
import { parseTimeSeriesCsv } from '../ml/timeseries/ingest.js';
import { parseModelSelector } from '../registry/model-selector.js';
import { DEMO_DATASET, type EmbeddedAgent } from './embedded-cluster.js';

export const DEMO_MODEL = 'pjme-forecaster';
export const DEMO_DEPLOYMENT = 'energy';
/** Brief on purpose: the demo shows the path, `fogline runs start` trains for quality. */
const DEMO_EPOCHS = 6;
const REPLAY_DAYS = 3;
/** A first load downloads the bundle; a restart only reloads it from the agent's cache. */
const SERVE_TIMEOUT_MS = 120_000;
/** Placement is decided as soon as the agents are online; this leaves room for a late heartbeat. */
const PLACEMENT_GRACE_MS = 5_000;

export interface DemoContext {
  client: ApiClient;
  /** This machine's agents: the demo replays through these. */
  agents: readonly EmbeddedAgent[];
  write: (line: string) => void;
  /** `npx fogline <args>` as the user should paste it (with --data-dir where needed). */
  cli: (args: string) => string;
  signal: AbortSignal;
}

/** Something the user changed (or a node's trouble) keeps the demo from going on: said in plain words. */
export class DemoStopped extends Error {}

/**
 * What `fogline up` shows after the cluster is up: train a forecaster briefly on the vendored PJM
 * series, make it the champion, deploy it to both edge agents, then replay the last days of real
 * load through each agent's Open Inference Protocol endpoint, forecasts beside actuals.
 *
 * A later start finds the deployment there and only replays, through the agents the deployment
 * is placed on now, whatever the user did to it since (another node selector, another version,
 * a rollout): it waits for those nodes only and says in words what keeps any from serving. A
 * deleted deployment is set up again.
 */
export async function runDemo(context: DemoContext): Promise<void> {
  const { client, write, cli } = context;
  const existing = await findDeployment(client);
  if (existing) {
    write(
      `[demo] deployment ${existing.name} is there from an earlier start (it follows ${existing.model}); replaying through the agents that serve it …`,
    );
    if (parseModelSelector(existing.model).model !== DEMO_MODEL) {
      write(
        `[demo] ${DEMO_DEPLOYMENT} follows ${existing.model} now, not the demo's ${DEMO_MODEL}: nothing to replay. To set the demo up again: ${cli(`deploy delete ${DEMO_DEPLOYMENT}`)}, then start again.`,
      );
      return;
    }
  } else {
    const created = await setUp(context);
    write(`[demo] deployment ${created.name} follows ${created.model}; waiting for the edge agents to serve it …`);
  }
  const serving = await waitForAgents(context);
  await replay(context, serving);
  write(`[demo] done. Try: ${cli(`deploy get ${DEMO_DEPLOYMENT}`)}; move the champion alias and watch the nodes switch.`);
}

async function findDeployment(client: ApiClient): Promise<DeploymentView | undefined> {
  return client.getDeployment(DEMO_DEPLOYMENT).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  });
}

/** Trains a first version when there is none, makes it the champion, deploys it to every node. */
async function setUp(context: DemoContext): Promise<DeploymentView> {
  const { client, write } = context;
  const model = await client.getModel(DEMO_MODEL).catch(() => undefined);
  let version = model?.aliases.champion ?? model?.latestVersion ?? null;
  if (version === null) {
    write(`[demo] training a day-ahead forecaster on ${DEMO_DATASET.name} (${DEMO_EPOCHS} epochs; fogline runs start trains longer)`);
    const started = await client.startRun({
      pipeline: 'forecast',
      dataset: DEMO_DATASET.name,
      model: DEMO_MODEL,
      gate: 'none',
      params: { epochs: DEMO_EPOCHS },
    });
    const run = await followRun(context, started);
    if (run.status !== 'succeeded' || run.registeredVersion === null)
      throw new DemoStopped(`the demo's training run ${run.id} ${run.status}: ${run.error ?? ''}`);
    version = run.registeredVersion;
    const test = (run.result?.metrics as { mape?: number; baselineMape?: number } | undefined) ?? {};
    write(
      `[demo] registered ${DEMO_MODEL} version ${version}: test MAPE ${test.mape?.toFixed(2)}% vs seasonal naive ${test.baselineMape?.toFixed(2)}%`,
    );
  }
  if (model?.aliases.champion === undefined) await client.setAlias(DEMO_MODEL, 'champion', version);
  return client.createDeployment({ name: DEMO_DEPLOYMENT, model: `${DEMO_MODEL}@champion`, nodeSelector: {} });
}

/**
 * Prints every epoch from the run's event log. (Polling the run's live progress missed the last
 * epoch: the next phase replaces it within the same millisecond.)
 */
async function followRun(context: DemoContext, started: RunView): Promise<RunView> {
  const { client, write, signal } = context;
  let after = 0;
  for (;;) {
    signal.throwIfAborted();
    // The run first, then its events: every event of a finished run is in by then.
    const run = await client.getRun(started.id);
    const { events } = await client.runEvents(started.id, after);
    for (const event of events) {
      after = event.id;
      const p = event.payload as {
        epoch?: number;
        epochs?: number;
        loss?: number;
        valLoss?: number;
        stoppedEarly?: boolean;
        bestEpoch?: number;
      };
      if (event.kind === 'epoch') write(`[demo]   epoch ${p.epoch}/${p.epochs}  loss ${p.loss?.toFixed(4)}  val ${p.valLoss?.toFixed(4)}`);
      else if (p.stoppedEarly === true)
        write(`[demo]   stopped early: validation loss last improved at epoch ${p.bestEpoch}, whose weights are kept`);
    }
    if (run.status !== 'queued' && run.status !== 'running') return run;
    await delay(500);
  }
}

/** The version a node answers with now, if any: the assigned one, or the old one a failed swap left. */
function servedVersion(node: NodeDeploymentStatus): number | null {
  if (servesAssigned(node)) return node.version;
  return node.state === 'failed' ? node.servingVersion : null;
}

function describeNode(node: NodeDeploymentStatus): string {
  const name = node.nodeName;
  const version = node.version ?? node.assignedVersion;
  switch (node.state) {
    case 'pending':
      return `${name} has not started on version ${node.assignedVersion} yet (pending)`;
    case 'downloading':
    case 'loading':
      return `${name} is still ${node.state} version ${version}`;
    case 'failed':
      return `${name} failed on version ${version}: ${node.reason ?? 'no reason given'}${node.servingVersion !== null ? `; it still serves version ${node.servingVersion}` : ''}`;
    case 'serving':
      return `${name} serves version ${node.version}, not version ${node.assignedVersion} that the rollout gave it`;
    case 'refused':
      return `${name} cannot take the model: ${node.reason ?? 'no reason given'}`;
  }
}

function labelText(labels: Record<string, string>): string {
  const text = Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return text || '(every node)';
}

/** Why no agent of this machine was given the deployment, and what to do. */
function notPlacedHere(view: DeploymentView, context: DemoContext): string {
  const { cli } = context;
  const elsewhere = view.nodes.filter((node) => node.assignedVersion !== null).map((node) => node.nodeName);
  const model = parseModelSelector(view.model).model;
  const reason =
    view.version === null && elsewhere.length === 0
      ? `${view.model} names no version now (an alias that was removed?), so no node was given ${DEMO_DEPLOYMENT}. Point it at one: ${cli(`models alias set ${model} champion <version>`)} (${cli(`models versions ${model}`)} lists them).`
      : elsewhere.length > 0
        ? `${DEMO_DEPLOYMENT} runs on ${elsewhere.join(', ')} only, none of this machine's agents.`
        : `${DEMO_DEPLOYMENT} is placed on no node: its node selector is ${labelText(view.nodeSelector)} (${context.agents.map((agent) => `${agent.name} has ${agent.labels}`).join(', ')}), and a node must also be online, not cordoned, with memory for the model.`;
  return `${reason}\nNothing to replay. To set the demo's deployment up again: ${cli(`deploy delete ${DEMO_DEPLOYMENT}`)}, then start again.`;
}

interface ServingAgent {
  agent: EmbeddedAgent;
  version: number;
}

/**
 * Waits for this machine's agents that the deployment is placed on (not for a fixed number of
 * nodes) until each serves its version or failed it, and returns those that serve.
 */
async function waitForAgents(context: DemoContext): Promise<ServingAgent[]> {
  const { client, agents, write, cli, signal } = context;
  const local = new Map(agents.map((agent) => [agent.nodeId, agent]));
  const started = Date.now();
  for (;;) {
    signal.throwIfAborted();
    const view = await findDeployment(client);
    if (!view) throw new DemoStopped(`${DEMO_DEPLOYMENT} was deleted meanwhile; start again to set it up anew.`);
    const placed = view.nodes.filter((node) => node.assignedVersion !== null && local.has(node.nodeId));
    const waited = Date.now() - started;
    if (placed.length === 0) {
      if (waited > PLACEMENT_GRACE_MS) throw new DemoStopped(notPlacedHere(view, context));
    } else if (placed.every((node) => servesAssigned(node) || node.state === 'failed') || waited > SERVE_TIMEOUT_MS) {
      const serving = placed.flatMap((node) => {
        const version = servedVersion(node);
        return version === null ? [] : [{ agent: local.get(node.nodeId) as EmbeddedAgent, version }];
      });
      const troubled = placed.filter((node) => !servesAssigned(node));
      for (const node of troubled)
        write(`[demo] ${describeNode(node)}${node.state === 'failed' ? '' : ` after ${Math.round(waited / 1000)} s`}.`);
      const hint = `See ${cli(`deploy get ${DEMO_DEPLOYMENT}`)}; to set the demo's deployment up again: ${cli(`deploy delete ${DEMO_DEPLOYMENT}`)}, then start again.`;
      if (serving.length === 0) throw new DemoStopped(`no agent here serves ${DEMO_DEPLOYMENT}. ${hint}`);
      if (troubled.length > 0) write(`[demo] replaying on ${serving.map((s) => s.agent.name).join(', ')} only. ${hint}`);
      const skipped = agents.filter((agent) => !placed.some((node) => node.nodeId === agent.nodeId));
      if (skipped.length > 0)
        write(
          `[demo] ${DEMO_DEPLOYMENT} is not placed on ${skipped.map((agent) => `${agent.name} (${agent.labels})`).join(', ')}: its node selector is ${labelText(view.nodeSelector)}.`,
        );
      return serving;
    }
    await delay(500);
  }
}

/**
 * The agent's own word that it serves the deployment (its metadata): after a restart the
 * database may still show the last run's state while the agent reloads the bundle.
 */
async function agentMetadata(agent: EmbeddedAgent, signal: AbortSignal): Promise<V2ModelMetadata> {
  const deadline = Date.now() + SERVE_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    try {
      const response = await fetch(`${agent.url}/v2/models/${DEMO_DEPLOYMENT}`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) return (await response.json()) as V2ModelMetadata;
      last = `it answers ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await delay(250);
  }
  throw new DemoStopped(`${agent.name} does not serve ${DEMO_DEPLOYMENT} although the control plane says it does (${last}).`);
}

/** Forecasts each of the last days from the window before it, on every serving agent, beside what happened. */
async function replay(context: DemoContext, serving: ServingAgent[]): Promise<void> {
  const { write, signal } = context;
  const series = parseTimeSeriesCsv(fs.readFileSync(DEMO_DATASET.file, 'utf8'), {
    timeColumn: DEMO_DATASET.timeColumn,
    valueColumn: DEMO_DATASET.valueColumn,
  });
  const targets: { agent: EmbeddedAgent; shape: ForecasterShape }[] = [];
  for (const { agent } of serving) {
    // The window and horizon are the served version's own: a user may train another one.
    const metadata = await agentMetadata(agent, signal);
    try {
      targets.push({ agent, shape: forecasterShape(metadata) });
    } catch {
      write(`[demo] ${agent.name} serves ${DEMO_DEPLOYMENT} with inputs a forecaster does not have; not replaying there.`);
    }
  }
  for (let day = REPLAY_DAYS; day >= 1; day--) {
    for (const { agent, shape } of targets) {
      signal.throwIfAborted();
      const { inputs, actual, startTime } = forecastRequestAt(series, series.values.length - day * shape.horizon, shape);
      const response = await fetch(`${agent.url}/v2/models/${DEMO_DEPLOYMENT}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs }),
      });
      const body = (await response.json()) as { model_version?: string; outputs?: { data: number[] }[]; error?: string };
      if (!response.ok || !body.outputs?.[0])
        throw new DemoStopped(`${agent.name} could not forecast (HTTP ${response.status}: ${body.error ?? 'no output'}).`);
      const forecast = body.outputs[0].data;
      const mape =
        (100 / actual.length) * actual.reduce((sum, value, i) => sum + Math.abs(value - (forecast[i] ?? 0)) / Math.abs(value), 0);
      const peak = actual.indexOf(Math.max(...actual));
      write(
        `[demo] ${new Date(startTime * 1000).toISOString().slice(0, 10)} on ${agent.name} (v${body.model_version}): MAPE ${mape.toFixed(1)}%; peak hour ${peak}:00 forecast ${Math.round(forecast[peak] ?? 0)} MW, actual ${Math.round(actual[peak] ?? 0)} MW`,
      );
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
