import { Status } from '../components/Status.js';
import { ago, duration } from '../format.js';
import { deploymentHealth, servingTarget } from '../health.js';
import { href } from '../router.js';
import { useCluster } from '../store.js';

export function OverviewPage() {
  const { nodes, deployments, runs } = useCluster();
  const online = nodes?.filter((n) => n.status === 'online').length ?? 0;
  const offline = (nodes?.length ?? 0) - online;
  const healths = (deployments ?? []).map(deploymentHealth);
  const count = (h: string) => healths.filter((x) => x === h).length;

  return (
    <>
      <section className="cards" aria-label="Summary">
        <a className="card" href={href('nodes')}>
          <span className="card-value" data-testid="nodes-online">
            {nodes ? online : '…'}
          </span>
          <span>nodes online</span>
          <span className={offline > 0 ? 'warn' : 'muted'}>{nodes ? `${offline} offline` : ''}</span>
        </a>
        <a className="card" href={href('deployments')}>
          <span className="card-value">{deployments ? deployments.length : '…'}</span>
          <span>deployments</span>
          <span className="muted">
            {count('healthy')} healthy · {count('rolling')} rolling · {count('failed')} failed
          </span>
        </a>
        <a className="card" href={href('runs')}>
          <span className="card-value">{runs ? runs.filter((r) => r.status === 'running' || r.status === 'queued').length : '…'}</span>
          <span>runs active</span>
          <span className="muted">{runs ? `${runs.filter((r) => r.status === 'succeeded').length} succeeded recently` : ''}</span>
        </a>
      </section>

      <section aria-labelledby="deployments-heading">
        <h2 id="deployments-heading">Deployment health</h2>
        {deployments && deployments.length === 0 && <p className="muted">No deployments yet.</p>}
        {deployments && deployments.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Model</th>
                <th scope="col">Version</th>
                <th scope="col">Serving it</th>
                <th scope="col">Health</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => (
                <tr key={d.name}>
                  <th scope="row">
                    <a href={href('deployments')}>{d.name}</a>
                  </th>
                  <td>{d.model}</td>
                  <td>{d.version ?? '–'}</td>
                  <td>
                    {servingTarget(d)}/{d.nodes.length} nodes
                  </td>
                  <td>
                    <Status value={deploymentHealth(d)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Recent runs</h2>
        {runs && runs.length === 0 && <p className="muted">No runs yet. Start one on the Runs page.</p>}
        {runs && runs.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {runs.slice(0, 8).map((run) => (
                <tr key={run.id}>
                  <th scope="row">
                    <a href={href('runs', run.id)}>{run.id}</a>
                  </th>
                  <td>
                    {run.pipeline} on {run.dataset.name}@{run.dataset.version}
                  </td>
                  <td>
                    {run.model}
                    {run.registeredVersion !== null ? ` v${run.registeredVersion}` : ''}
                  </td>
                  <td>
                    <Status value={run.status} />
                  </td>
                  <td>{ago(run.startedAt ?? run.createdAt)}</td>
                  <td>{run.startedAt && run.finishedAt ? duration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
