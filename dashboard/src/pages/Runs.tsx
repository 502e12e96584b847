import { type FormEvent, useEffect, useMemo, useState } from 'react';
import type { DatasetList, DatasetSummary } from '../../../src/contracts/datasets.js';
import type { PipelineList, PipelineView, RunEvent, RunEventList, RunView, WorkQueueStats } from '../../../src/contracts/runs.js';
import { api, describeError } from '../api.js';
import { Chart } from '../components/Chart.js';
import { Progress, Status } from '../components/Status.js';
import { ago, duration, num, queueSummary, workerText } from '../format.js';
import { useNow } from '../hooks.js';
import { href } from '../router.js';
import { onRun, useCluster } from '../store.js';

export function RunsPage({ selected }: { selected?: string }) {
  const { runs, queue } = useCluster();
  return (
    <>
      <StartRun />
      {selected && <RunDetail id={selected} />}
      <section aria-labelledby="run-list-heading">
        <h2 id="run-list-heading">Runs</h2>
        {queue && <QueueLine stats={queue.stats} at={queue.at} />}
        {runs && runs.length === 0 && <p className="muted">No runs yet.</p>}
        {runs && runs.length > 0 && (
          <table data-testid="run-table">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Dataset</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Worker</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id} className={run.id === selected ? 'selected' : undefined}>
                  <th scope="row">
                    <a href={href('runs', run.id)}>{run.id}</a>
                  </th>
                  <td>{run.pipeline}</td>
                  <td>
                    {run.dataset.name}@{run.dataset.version}
                  </td>
                  <td>
                    {run.model}
                    {run.registeredVersion !== null && <a href={href('models', run.model)}> v{run.registeredVersion}</a>}
                  </td>
                  <td>
                    <Status value={run.status} />
                  </td>
                  <td>{run.progress ? progressText(run) : ''}</td>
                  <td className={run.worker === null ? 'muted' : undefined}>{workerText(run)}</td>
                  <td>{ago(run.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** The work queue's counts; the oldest waiting run ages by the second between two reads. */
function QueueLine({ stats, at }: { stats: WorkQueueStats; at: number }) {
  const now = useNow(stats.waiting > 0 ? 1000 : 60_000);
  const oldest = stats.oldestWaitingSeconds + Math.max(0, now - at) / 1000;
  return (
    <p className="muted" data-testid="run-queue">
      {queueSummary(stats, oldest)}
    </p>
  );
}

function progressText(run: RunView): string {
  const p = run.progress;
  if (!p) return '';
  if (p.epoch !== undefined) return `${p.step}: epoch ${p.epoch}/${p.epochs ?? '?'} loss ${num(p.loss, 4)}`;
  return `${p.step}: ${p.message ?? ''}`;
}

const EPOCHS = { name: 'epochs', type: 'integer', default: 'the pipeline default', description: 'training epochs', min: 1 };
const FALLBACK_PIPELINES: PipelineView[] = [
  { name: 'forecast', description: 'Day-ahead forecaster', datasetKind: 'timeseries', modelKind: 'forecaster', params: [EPOCHS] },
  { name: 'anomaly', description: 'Anomaly detector', datasetKind: 'timeseries', modelKind: 'anomaly-detector', params: [EPOCHS] },
  { name: 'image-classifier', description: 'Image classifier', datasetKind: 'image-csv', modelKind: 'image-classifier', params: [EPOCHS] },
];

function StartRun() {
  const [pipelines, setPipelines] = useState<PipelineView[]>([]);
  const [datasets, setDatasets] = useState<DatasetSummary[]>([]);
  const [pipeline, setPipeline] = useState('forecast');
  const [dataset, setDataset] = useState('');
  const [model, setModel] = useState('');
  const [epochs, setEpochs] = useState('');
  const [gate, setGate] = useState<'beat-baseline' | 'none'>('beat-baseline');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // The built-in pipelines, should the server's catalogue fail to answer (it still lists them by name).
    api<PipelineList>('GET', '/api/v1/pipelines')
      .then((p) => setPipelines(p.pipelines))
      .catch(() => setPipelines(FALLBACK_PIPELINES));
    api<DatasetList>('GET', '/api/v1/datasets')
      .then((d) => setDatasets(d.datasets))
      .catch((caught: unknown) => setMessage({ ok: false, text: describeError(caught) }));
  }, []);

  const definition = pipelines.find((p) => p.name === pipeline);
  const usable = datasets.filter((d) => !definition || d.kind === definition.datasetKind);
  const epochsParam = definition?.params.find((p) => p.name === 'epochs');
  useEffect(() => {
    if (!usable.some((d) => d.name === dataset)) setDataset(usable[0]?.name ?? '');
  }, [usable, dataset]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const params: Record<string, unknown> = {};
      if (epochs !== '') params.epochs = Number(epochs);
      const run = await api<RunView>('POST', '/api/v1/runs', {
        pipeline,
        dataset,
        ...(model.trim() ? { model: model.trim() } : {}),
        gate,
        params,
      });
      setMessage({ ok: true, text: `Run ${run.id} queued.` });
      window.location.hash = href('runs', run.id);
    } catch (caught) {
      setMessage({ ok: false, text: describeError(caught) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <details className="panel" open>
      <summary>
        <h2>Start a run</h2>
      </summary>
      <form className="inline-form" onSubmit={submit} aria-label="Start a run">
        <label>
          Pipeline
          <select value={pipeline} onChange={(e) => setPipeline(e.target.value)}>
            {pipelines.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Dataset
          <select value={dataset} onChange={(e) => setDataset(e.target.value)} required>
            {usable.length === 0 && <option value="">no {definition?.datasetKind ?? ''} dataset</option>}
            {usable.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name} (v{d.latestVersion}, {d.rowCount} rows)
              </option>
            ))}
          </select>
        </label>
        <label>
          Model name
          <input
            value={model}
            onChange={(e) => setModel(e.target.value)}
            placeholder="default from the dataset"
            pattern="[a-z0-9][a-z0-9-]*"
          />
        </label>
        {epochsParam && (
          <label>
            Epochs
            <input
              type="number"
              inputMode="numeric"
              min={epochsParam.min ?? 1}
              max={epochsParam.max}
              value={epochs}
              placeholder={String(epochsParam.default)}
              onChange={(e) => setEpochs(e.target.value)}
            />
          </label>
        )}
        <label>
          Register
          <select value={gate} onChange={(e) => setGate(e.target.value as 'beat-baseline' | 'none')}>
            <option value="beat-baseline">only if it beats the baseline</option>
            <option value="none">whatever the metrics</option>
          </select>
        </label>
        <button type="submit" disabled={busy || !dataset}>
          Start run
        </button>
      </form>
      {definition && <p className="muted">{definition.description}</p>}
      {message && (
        <p className={message.ok ? 'ok' : 'error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
    </details>
  );
}

function RunDetail({ id }: { id: string }) {
  const [run, setRun] = useState<RunView | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    let lastId = 0;
    let fetching = false;
    setRun(null);
    setEvents([]);
    const fetchEvents = async () => {
      if (fetching) return;
      fetching = true;
      try {
        const list = await api<RunEventList>('GET', `/api/v1/runs/${encodeURIComponent(id)}/events?after=${lastId}`);
        if (!current || list.events.length === 0) return;
        lastId = list.events.at(-1)!.id;
        setEvents((prev) => [...prev, ...list.events]);
      } finally {
        fetching = false;
      }
    };
    api<RunView>('GET', `/api/v1/runs/${encodeURIComponent(id)}`)
      .then((view) => current && setRun(view))
      .then(fetchEvents)
      .catch((caught: unknown) => current && setError(describeError(caught)));
    const off = onRun((view) => {
      if (view.id !== id || !current) return;
      setRun(view);
      void fetchEvents().catch(() => undefined);
    });
    return () => {
      current = false;
      off();
    };
  }, [id]);

  const losses = useMemo(() => {
    const epochs = events.filter((e) => e.kind === 'epoch');
    return [
      epochs.map((e) => Number(e.payload.epoch)),
      epochs.map((e) => (typeof e.payload.loss === 'number' ? e.payload.loss : null)),
      epochs.map((e) => (typeof e.payload.valLoss === 'number' ? e.payload.valLoss : null)),
    ] as [number[], (number | null)[], (number | null)[]];
  }, [events]);
  const logs = events.filter((e) => e.kind === 'log').slice(-8);

  if (error) return <p className="error">{error}</p>;
  if (!run) return <p className="muted">Loading run {id}…</p>;
  const p = run.progress;
  const lastLoss = losses[1].at(-1);
  return (
    <section className="panel" aria-labelledby="run-heading" data-testid="run-detail">
      <h2 id="run-heading">
        Run {run.id} <Status value={run.status} />
      </h2>
      <p>
        {run.pipeline} on {run.dataset.name}@{run.dataset.version} → {run.model}
        {run.registeredVersion !== null && (
          <>
            {' '}
            registered <a href={href('models', run.model)}>v{run.registeredVersion}</a>
          </>
        )}
        {run.error && <span className="error"> — {run.error}</span>}
      </p>
      <p className="muted" data-testid="run-worker">
        Worker: {run.worker !== null ? workerText(run) : run.status === 'queued' ? 'none yet' : 'none'}
      </p>
      <ol className="steps" aria-label="Steps">
        {run.steps.map((step) => (
          <li key={step.name} className={`step step-${step.status}`}>
            <span className="step-name">{step.name}</span> <Status value={step.status} />{' '}
            <span className="muted">{duration(step.durationMs)}</span>
          </li>
        ))}
      </ol>
      {p?.epoch !== undefined && (
        <p>
          {p.step}: <Progress value={p.epoch} max={p.epochs ?? p.epoch} label="Epochs done" /> loss {num(p.loss, 4)}, validation{' '}
          {num(p.valLoss, 4)}
          {p.etaMs !== undefined && <span className="muted"> · about {duration(p.etaMs)} left</span>}
        </p>
      )}
      {p && p.epoch === undefined && p.message && (
        <p>
          {p.step}: {p.message}
        </p>
      )}
      <Chart
        title="Loss per epoch"
        time={false}
        xLabel="epoch"
        data={losses}
        series={[
          { label: 'training loss', color: '#1f5fbf', format: (v) => v.toFixed(4) },
          { label: 'validation loss', color: '#c2410c', dash: [6, 4], format: (v) => v.toFixed(4) },
        ]}
        summary={losses[0].length ? `${losses[0].length} epochs; last training loss ${num(lastLoss ?? undefined, 4)}` : 'no epochs yet'}
      />
      {logs.length > 0 && (
        <details>
          <summary>Log</summary>
          <ul className="log">
            {logs.map((e) => (
              <li key={e.id}>
                <span className="muted">{new Date(e.at).toLocaleTimeString()}</span> {e.step}: {String(e.payload.message ?? '')}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
