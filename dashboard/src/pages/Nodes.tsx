import { memo, useEffect, useMemo, useState } from 'react';
import type { ResourceHistoryView, ResourceSample } from '../../../src/contracts/live.js';
import type { NodeView } from '../../../src/contracts/nodes.js';
import { api, describeError } from '../api.js';
import { Chart } from '../components/Chart.js';
import { Status } from '../components/Status.js';
import { ago, bytes } from '../format.js';
import { useNow } from '../hooks.js';
import { href } from '../router.js';
import { onHeartbeats, refresh, useCluster } from '../store.js';

/** The last hour, as the control plane keeps it. */
const WINDOW_SECONDS = 3600;

export function NodesPage({ selected }: { selected?: string }) {
  const { nodes } = useCluster();
  const [filter, setFilter] = useState('');
  const now = useNow();
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (!nodes || !needle) return nodes ?? [];
    return nodes.filter(
      (n) => n.name.includes(needle) || n.status === needle || Object.entries(n.labels).some(([k, v]) => `${k}=${v}`.includes(needle)),
    );
  }, [nodes, filter]);
  const node = selected ? nodes?.find((n) => n.id === selected || n.name === selected) : undefined;

  return (
    <>
      {selected && node && <NodeDetail node={node} />}
      {selected && nodes && !node && <p className="error">No node named {selected}.</p>}
      <section aria-labelledby="node-table-heading">
        <div className="toolbar">
          <h2 id="node-table-heading">
            All nodes{' '}
            <span className="muted">
              ({nodes ? `${nodes.filter((n) => n.status === 'online').length} online of ${nodes.length}` : 'loading…'})
            </span>
          </h2>
          <label>
            Filter <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="name, label or status" />
          </label>
        </div>
        {nodes && nodes.length === 0 && (
          <p className="muted">
            No nodes yet: start an agent with <code>fogline agent --server … --join-token …</code>.
          </p>
        )}
        {shown.length > 0 && (
          <div className="table-scroll">
            <table className="nodes" data-testid="node-table">
              <colgroup>
                <col style={{ width: '13%' }} />
                <col style={{ width: '6%' }} />
                <col style={{ width: '10%' }} />
                <col style={{ width: '9%' }} />
                <col style={{ width: '12%' }} />
                <col style={{ width: '15%' }} />
                <col style={{ width: '19%' }} />
                <col style={{ width: '16%' }} />
              </colgroup>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Heartbeat</th>
                  <th scope="col">CPU load</th>
                  <th scope="col">Memory used</th>
                  <th scope="col">Labels</th>
                  <th scope="col">Agent</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((n) => (
                  <NodeRow key={n.id} node={n} now={now} selected={n === node} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

const NodeRow = memo(function NodeRow({ node, now, selected }: { node: NodeView; now: number; selected: boolean }) {
  const r = node.resources;
  return (
    <tr className={selected ? 'selected' : undefined}>
      <th scope="row">
        <a href={href('nodes', node.name)} aria-current={selected ? 'true' : undefined}>
          {node.name}
        </a>
      </th>
      <td>{node.role}</td>
      <td className={node.pending ? 'wraps' : undefined}>
        <Status value={node.status} />
        {node.cordoned && <Status value="cordoned" />}
        {node.pending && <ApproveButton node={node} />}
      </td>
      <td>{ago(node.lastHeartbeatAt, now)}</td>
      <td>{r ? `${(r.loadAverage[0] ?? 0).toFixed(2)} on ${r.cpuCount} CPU${r.cpuCount === 1 ? '' : 's'}` : '–'}</td>
      <td>{r ? `${bytes(r.memoryTotalBytes - r.memoryFreeBytes)} of ${bytes(r.memoryTotalBytes)}` : '–'}</td>
      <td>
        {Object.entries(node.labels).map(([k, v]) => (
          <span className="label" key={k}>
            {k}={v}
          </span>
        ))}
      </td>
      <td className="muted" title={node.agent ? `${node.agent.hostname}, ${node.inferenceUrl ?? 'no inference URL yet'}` : undefined}>
        {node.agent ? `${node.agent.version} ${node.agent.os}/${node.agent.arch}` : '–'}
      </td>
    </tr>
  );
});

/** A node enrolled with a --require-approval join token waits: an operator lets it take work (`fogline nodes approve`). */
function ApproveButton({ node }: { node: NodeView }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const approve = () => {
    setBusy(true);
    setError(null);
    api<NodeView>('POST', `/api/v1/nodes/${encodeURIComponent(node.id)}/approve`)
      .then(() => refresh.nodes())
      .catch((caught: unknown) => setError(describeError(caught)))
      .finally(() => setBusy(false));
  };
  return (
    <>
      <Status value="pending" />
      <button type="button" onClick={approve} disabled={busy} title={`Let ${node.name} take work (fogline nodes approve ${node.name})`}>
        Approve
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

function NodeDetail({ node }: { node: NodeView }) {
  const [samples, setSamples] = useState<ResourceSample[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setSamples([]);
    api<ResourceHistoryView>('GET', `/api/v1/nodes/${encodeURIComponent(node.id)}/resource-history`)
      .then((view) => current && setSamples(view.samples))
      .catch((caught: unknown) => current && setError(describeError(caught)));
    const off = onHeartbeats((batch) => {
      const mine = batch.find((s) => s.nodeId === node.id);
      if (!mine) return;
      setSamples((prev) => {
        const cutoff = mine.t - WINDOW_SECONDS;
        return [...prev.filter((s) => s.t >= cutoff && s.t < mine.t), mine];
      });
    });
    return () => {
      current = false;
      off();
    };
  }, [node.id]);

  const data = useMemo(() => {
    const t = samples.map((s) => s.t);
    return {
      cpu: [t, samples.map((s) => s.load1), samples.map((s) => s.cpuCount)] as [number[], number[], number[]],
      memory: [t, samples.map((s) => (s.memoryUsedBytes / Math.max(1, s.memoryTotalBytes)) * 100)] as [number[], number[]],
    };
  }, [samples]);
  const last = samples.at(-1);
  // The last hour, ending at the latest sample (or now).
  const end = Math.max(last?.t ?? 0, Date.now() / 1000);
  const xRange: [number, number] = [end - WINDOW_SECONDS, end];
  const count = `${samples.length} sample${samples.length === 1 ? '' : 's'}`;

  return (
    <section className="panel" aria-labelledby="node-detail-heading">
      <h2 id="node-detail-heading">
        {node.name} <Status value={node.status} />
      </h2>
      <dl className="facts">
        <dt>Id</dt>
        <dd>
          <code>{node.id}</code>
        </dd>
        <dt>Role</dt>
        <dd>{node.role}</dd>
        <dt>Enrolled</dt>
        <dd>{ago(node.enrolledAt)}</dd>
        <dt>Disk free</dt>
        <dd>{node.resources ? `${bytes(node.resources.diskFreeBytes)} of ${bytes(node.resources.diskTotalBytes)}` : '–'}</dd>
        <dt>GPUs</dt>
        <dd>{node.resources?.gpus.length ? node.resources.gpus.map((g) => g.name).join(', ') : 'none'}</dd>
        <dt>Inference</dt>
        <dd>{node.inferenceUrl ?? '–'}</dd>
      </dl>
      {error && <p className="error">{error}</p>}
      <div className="chart-grid">
        <Chart
          title="CPU load (1 min)"
          data={data.cpu}
          series={[
            { label: 'load', color: '#1f5fbf', format: (v) => v.toFixed(2) },
            { label: 'CPUs', color: '#8a8a8a', dash: [6, 4], format: (v) => v.toFixed(0) },
          ]}
          yLabel="load"
          xRange={xRange}
          yRange={[0, Math.max(1, ...samples.map((s) => Math.max(s.load1, s.cpuCount))) * 1.1]}
          summary={last ? `now ${last.load1.toFixed(2)} on ${last.cpuCount} CPUs; ${count} in the last hour` : 'no heartbeats seen yet'}
        />
        <Chart
          title="Memory used"
          data={data.memory}
          series={[{ label: 'used %', color: '#a3472b', format: (v) => `${v.toFixed(0)}%` }]}
          yLabel="%"
          yRange={[0, 100]}
          xRange={xRange}
          summary={last ? `now ${bytes(last.memoryUsedBytes)} of ${bytes(last.memoryTotalBytes)}` : 'no heartbeats seen yet'}
        />
      </div>
      <p className="muted">
        <a href={href('nodes')}>Close</a> · The control plane keeps the last hour of heartbeats in memory (one sample per 10 s at most).
      </p>
    </section>
  );
}
