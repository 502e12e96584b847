import type { ApiClient } from '../client/api-client.js';
import type { DeploymentView } from '../contracts/deployments.js';
import type { RunView } from '../contracts/runs.js';
import { forecastRequestAt } from '../ml/forecast/forecast-request.js';
import { parseTimeSeriesCsv } from '../ml/timeseries/ingest.js';
import { DEMO_DATASET } from './embedded-cluster.js';
import fs from 'node:fs';

export const DEMO_MODEL = 'pjme-forecaster';
export const DEMO_DEPLOYMENT = 'energy';
/** Brief on purpose: the demo shows the path, `fogline runs start` trains for quality. */
const DEMO_EPOCHS = 6;
const WINDOW = 168;
const HORIZON = 24;
const REPLAY_DAYS = 3;

/**
 * What `fogline up` shows after the cluster is up: train a forecaster briefly on the vendored PJM
 * series, make it the champion, deploy it to both edge agents, then replay the last days of real
 * load through each agent's Open Inference Protocol endpoint, forecasts beside actuals. Every
 * step is skipped when a previous run of `up` already did it.
 */
export async function runDemo(
  client: ApiClient,
  agents: { name: string; url: string }[],
  write: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const model = await client.getModel(DEMO_MODEL).catch(() => undefined);
  let version = model?.aliases.champion ?? model?.latestVersion ?? null;
  if (version === null) {
    write(`[demo] training a day-ahead forecaster on ${DEMO_DATASET.name} (${DEMO_EPOCHS} epochs; fogline runs start trains longer)`);
    const run = await followRun(
      client,
      await client.startRun({
        pipeline: 'forecast',
        dataset: DEMO_DATASET.name,
        model: DEMO_MODEL,
        gate: 'none',
        params: { epochs: DEMO_EPOCHS },
      }),
      write,
      signal,
    );
    if (run.status !== 'succeeded' || run.registeredVersion === null)
      throw new Error(`the demo training run ${run.id} ${run.status}: ${run.error ?? ''}`);
    version = run.registeredVersion;
    const test = (run.result?.metrics as { mape?: number; baselineMape?: number } | undefined) ?? {};
    write(
      `[demo] registered ${DEMO_MODEL} version ${version}: test MAPE ${test.mape?.toFixed(2)}% vs seasonal naive ${test.baselineMape?.toFixed(2)}%`,
    );
  }
  if (model?.aliases.champion === undefined) await client.setAlias(DEMO_MODEL, 'champion', version);
  const deployment = await client
    .getDeployment(DEMO_DEPLOYMENT)
    .catch(() => client.createDeployment({ name: DEMO_DEPLOYMENT, model: `${DEMO_MODEL}@champion`, nodeSelector: {} }));
  write(`[demo] deployment ${deployment.name} follows ${deployment.model}; waiting for the edge agents to serve it …`);
  await waitServing(client, agents.length, signal);
  await replay(agents, write, signal);
  write(`[demo] done. Try: npx fogline deploy get ${DEMO_DEPLOYMENT}; move the champion alias and watch both nodes switch.`);
}

async function followRun(client: ApiClient, started: RunView, write: (line: string) => void, signal: AbortSignal): Promise<RunView> {
  let lastEpoch = 0;
  for (;;) {
    signal.throwIfAborted();
    const run = await client.getRun(started.id);
    const progress = run.progress;
    if (progress?.epoch && progress.epoch !== lastEpoch) {
      lastEpoch = progress.epoch;
      write(`[demo]   epoch ${progress.epoch}/${progress.epochs}  loss ${progress.loss?.toFixed(4)}  val ${progress.valLoss?.toFixed(4)}`);
    }
    if (run.status !== 'queued' && run.status !== 'running') return run;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function waitServing(client: ApiClient, nodes: number, signal: AbortSignal): Promise<DeploymentView> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    signal.throwIfAborted();
    const view = await client.getDeployment(DEMO_DEPLOYMENT);
    if (view.nodes.filter((n) => n.state === 'serving' && n.version === view.version).length >= nodes) return view;
    if (Date.now() > deadline)
      throw new Error(`the agents did not serve ${DEMO_DEPLOYMENT} within 2 minutes: ${JSON.stringify(view.nodes)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Forecasts each of the last days from the week before it, on every agent, beside what happened. */
async function replay(agents: { name: string; url: string }[], write: (line: string) => void, signal: AbortSignal): Promise<void> {
  const series = parseTimeSeriesCsv(fs.readFileSync(DEMO_DATASET.file, 'utf8'), {
    timeColumn: DEMO_DATASET.timeColumn,
    valueColumn: DEMO_DATASET.valueColumn,
  });
  for (let day = REPLAY_DAYS; day >= 1; day--) {
    const { inputs, actual, startTime } = forecastRequestAt(series, series.values.length - day * HORIZON, {
      window: WINDOW,
      horizon: HORIZON,
    });
    for (const agent of agents) {
      signal.throwIfAborted();
      const response = await fetch(`${agent.url}/v2/models/${DEMO_DEPLOYMENT}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs }),
      });
      const body = (await response.json()) as { model_version?: string; outputs?: { data: number[] }[]; error?: string };
      if (!response.ok || !body.outputs?.[0]) throw new Error(`${agent.name} answered ${response.status}: ${body.error ?? ''}`);
      const forecast = body.outputs[0].data;
      const mape = (100 / HORIZON) * actual.reduce((sum, value, i) => sum + Math.abs(value - (forecast[i] ?? 0)) / Math.abs(value), 0);
      const peak = actual.indexOf(Math.max(...actual));
      write(
        `[demo] ${new Date(startTime * 1000).toISOString().slice(0, 10)} on ${agent.name} (v${body.model_version}): MAPE ${mape.toFixed(1)}%; peak hour ${peak}:00 forecast ${Math.round(forecast[peak] ?? 0)} MW, actual ${Math.round(actual[peak] ?? 0)} MW`,
      );
    }
  }
}
