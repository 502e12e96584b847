import { useEffect, useMemo, useState } from 'react';
import type { DeploymentView } from '../../../src/contracts/deployments.js';
import type { SeriesView } from '../../../src/contracts/live.js';
import type { ModelVersionView } from '../../../src/contracts/models.js';
import type { V2InferResponse } from '../../../src/contracts/open-inference.js';
import { api, describeError } from '../api.js';
import { Chart } from '../components/Chart.js';
import { num } from '../format.js';
import { useCluster } from '../store.js';

/** Days replayed, and the pause between two forecasts. */
const DAYS = 7;
const STEP_MS = 1500;

interface Forecast {
  day: number;
  version: string;
  values: number[];
  mape: number;
}

/**
 * Predictions beside actuals for the demo stream: the last days of the dataset the deployed model
 * was trained on, forecast one day at a time from the week before it, as `fogline up`'s demo does
 * on the edge agents. The browser can't call the agents (other origins, often unreachable from an
 * operator's laptop), so it asks the control plane's Open Inference endpoint for the same
 * registered version the deployment serves: the same signed bundle, the same answers.
 */
export function PredictionsPage() {
  const { deployments } = useCluster();
  const [chosen, setChosen] = useState<string | null>(null);
  const forecasters = deployments ?? [];
  const name = chosen ?? forecasters.find((d) => d.name === 'energy')?.name ?? forecasters[0]?.name ?? null;
  const deployment = forecasters.find((d) => d.name === name);

  if (!deployments) return <p className="muted">Loading…</p>;
  if (!deployment)
    return <p className="muted">No deployment to replay: `fogline up` creates the demo deployment energy, or create one on the CLI.</p>;
  return (
    <>
      <label className="inline-form">
        Deployment{' '}
        <select value={deployment.name} onChange={(e) => setChosen(e.target.value)}>
          {forecasters.map((d) => (
            <option key={d.name} value={d.name}>
              {d.name} ({d.model})
            </option>
          ))}
        </select>
      </label>
      {deployment.version === null ? (
        <p className="muted">{deployment.name} resolves to no version yet.</p>
      ) : (
        <Replay key={`${deployment.name}`} deployment={deployment} />
      )}
    </>
  );
}

function Replay({ deployment }: { deployment: DeploymentView }) {
  const modelName = deployment.model.split('@')[0] ?? deployment.model;
  const version = deployment.version as number;
  const [meta, setMeta] = useState<ModelVersionView | null>(null);
  const [series, setSeries] = useState<SeriesView | null>(null);
  const [forecasts, setForecasts] = useState<Forecast[]>([]);
  const [error, setError] = useState<string | null>(null);

  const history = meta?.ioSignature.inputs.find((i) => i.name === 'history');
  const windowSize = history?.shape.at(-1) ?? 168;
  const horizon = meta?.ioSignature.outputs[0]?.shape.at(-1) ?? 24;
  const usable = meta !== null && history !== undefined && meta.ioSignature.inputs.some((i) => i.name === 'start_time');

  useEffect(() => {
    let current = true;
    setError(null);
    api<ModelVersionView>('GET', `/api/v1/models/${encodeURIComponent(modelName)}/versions/${version}`)
      .then(async (view) => {
        if (!current) return;
        setMeta(view);
        const dataset = view.lineage.dataset;
        if (!dataset) throw new Error(`${modelName} v${version} records no training dataset to replay`);
        const points = (view.ioSignature.inputs.find((i) => i.name === 'history')?.shape.at(-1) ?? 168) + DAYS * 24;
        const tail = await api<SeriesView>('GET', `/api/v1/datasets/${encodeURIComponent(dataset.name)}/series?last=${points}`);
        if (current) setSeries(tail);
      })
      .catch((caught: unknown) => current && setError(describeError(caught)));
    return () => {
      current = false;
    };
  }, [modelName, version]);

  // A new version (an alias moved): forecasts start over, drawn by the new version.
  useEffect(() => setForecasts([]), [version]);

  useEffect(() => {
    if (!series || !usable) return;
    let current = true;
    let day = 0;
    const step = async () => {
      const start = windowSize + day * horizon;
      if (start + horizon > series.values.length) day = 0;
      const from = windowSize + day * horizon;
      const input = series.values.slice(from - windowSize, from);
      const startTime = series.start + from * series.intervalSeconds;
      try {
        const response = await api<V2InferResponse>('POST', `/v2/models/${encodeURIComponent(modelName)}/versions/${version}/infer`, {
          inputs: [
            { name: 'history', shape: [1, windowSize], datatype: 'FP32', data: input },
            { name: 'start_time', shape: [1], datatype: 'INT64', data: [startTime] },
          ],
        });
        const values = (response.outputs[0]?.data ?? []) as number[];
        const actual = series.values.slice(from, from + horizon);
        const mape = (100 / horizon) * actual.reduce((sum, a, i) => sum + Math.abs(a - (values[i] ?? 0)) / Math.abs(a || 1), 0);
        if (!current) return;
        const thisDay = day;
        setForecasts((prev) => [
          ...prev.filter((f) => f.day !== thisDay),
          { day: thisDay, version: response.model_version ?? String(version), values, mape },
        ]);
        setError(null);
        day = (day + 1) % DAYS;
      } catch (caught) {
        if (current) setError(describeError(caught));
      }
    };
    void step();
    const timer = setInterval(() => void step(), STEP_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [series, usable, windowSize, horizon, modelName, version]);

  const data = useMemo(() => {
    if (!series) return null;
    const t: number[] = [];
    const actual: number[] = [];
    const predicted: (number | null)[] = [];
    for (let i = windowSize; i < series.values.length; i++) {
      t.push(series.start + i * series.intervalSeconds);
      actual.push(series.values[i] ?? 0);
      const offset = i - windowSize;
      const f = forecasts.find((x) => x.day === Math.floor(offset / horizon));
      predicted.push(f?.values[offset % horizon] ?? null);
    }
    return [t, actual, predicted] as [number[], number[], (number | null)[]];
  }, [series, forecasts, windowSize, horizon]);

  if (error) return <p className="error">{error}</p>;
  if (meta && !usable)
    return (
      <p className="muted">
        {modelName} v{version} is a {meta.kind}: this view replays forecasters (inputs history and start_time).
      </p>
    );
  if (!data || !series) return <p className="muted">Loading the series…</p>;
  const mean = forecasts.length ? forecasts.reduce((s, f) => s + f.mape, 0) / forecasts.length : null;
  return (
    <section className="panel" aria-labelledby="replay-heading">
      <h2 id="replay-heading">
        {modelName} v{version} on {series.name}: forecasts beside actuals
      </h2>
      <p className="muted">
        The last {DAYS} days of {series.name} (to {series.timeEnd.slice(0, 10)}), each forecast from the {windowSize} hours before it, one
        day every {STEP_MS / 1000} s, by the version deployment {deployment.name} serves (through the control plane&apos;s Open Inference
        endpoint).
      </p>
      <Chart
        title="Load: actual and forecast (MW)"
        data={data}
        height={300}
        series={[
          { label: 'actual', color: '#1f2937', format: (v) => `${Math.round(v)}` },
          { label: `forecast v${version}`, color: '#c2410c', format: (v) => `${Math.round(v)}` },
        ]}
        yLabel="MW"
        summary={mean === null ? 'forecasting…' : `${forecasts.length} of ${DAYS} days forecast, mean MAPE ${num(mean, 1)}%`}
      />
      <table>
        <caption className="visually-hidden">Error per day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            <th scope="col">Version</th>
            <th scope="col">MAPE</th>
          </tr>
        </thead>
        <tbody>
          {[...forecasts]
            .sort((a, b) => a.day - b.day)
            .map((f) => (
              <tr key={f.day}>
                <th scope="row">
                  {new Date((series.start + (windowSize + f.day * horizon) * series.intervalSeconds) * 1000).toISOString().slice(0, 10)}
                </th>
                <td>v{f.version}</td>
                <td>{num(f.mape, 1)}%</td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}
