import type { DeploymentView } from '../../../src/contracts/deployments.js';
import { Progress, Status } from '../components/Status.js';
import { ago } from '../format.js';
import { deploymentHealth, servingTarget } from '../health.js';
import { useNow } from '../hooks.js';
import { href } from '../router.js';
import { useCluster } from '../store.js';

/** Fields of DeploymentView this page shows itself; anything else the API adds is listed as-is. */
const KNOWN = new Set(['name', 'model', 'nodeSelector', 'strategy', 'version', 'nodes', 'createdAt', 'updatedAt']);

export function DeploymentsPage() {
  const { deployments } = useCluster();
  if (!deployments) return <p className="muted">Loading…</p>;
  if (deployments.length === 0)
    return (
      <p className="muted">
        No deployments yet: <code>fogline deploy create energy --model pjme-forecaster@champion</code>.
      </p>
    );
  return (
    <>
      {deployments.map((d) => (
        <Deployment key={d.name} view={d} />
      ))}
    </>
  );
}

function Deployment({ view }: { view: DeploymentView }) {
  const now = useNow();
  const extra = Object.entries(view).filter(([key]) => !KNOWN.has(key));
  const [modelName] = view.model.split('@');
  const selector = Object.entries(view.nodeSelector);
  return (
    <section className="panel" aria-labelledby={`deployment-${view.name}`} data-testid={`deployment-${view.name}`}>
      <h2 id={`deployment-${view.name}`}>
        {view.name} <Status value={deploymentHealth(view)} />
      </h2>
      <dl className="facts">
        <dt>Model</dt>
        <dd>
          <a href={href('models', modelName ?? view.model)}>{view.model}</a> →{' '}
          <strong data-testid="target-version">v{view.version ?? '–'}</strong>
        </dd>
        <dt>Nodes</dt>
        <dd>{selector.length ? selector.map(([k, v]) => `${k}=${v}`).join(', ') : 'every node'}</dd>
        <dt>Strategy</dt>
        <dd>{view.strategy}</dd>
        <dt>Rollout</dt>
        <dd>
          <Progress value={servingTarget(view)} max={view.nodes.length} label={`Nodes serving v${view.version ?? '?'}`} /> nodes serve v
          {view.version ?? '–'}
        </dd>
        {extra.map(([key, value]) => (
          <FragmentFact key={key} name={key} value={value} />
        ))}
      </dl>
      <table>
        <caption className="visually-hidden">Per-node state of {view.name}</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Target version</th>
            <th scope="col">Serving version</th>
            <th scope="col">Reason</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {view.nodes.map((n) => (
            <tr key={n.nodeId} data-testid={`deployment-node-${n.nodeName}`}>
              <th scope="row">
                <a href={href('nodes', n.nodeName)}>{n.nodeName}</a>
              </th>
              <td>
                <Status value={n.state} />
              </td>
              <td>{n.version !== null ? `v${n.version}` : '–'}</td>
              <td>{n.servingVersion !== null ? `v${n.servingVersion}` : '–'}</td>
              <td className="muted">{n.reason ?? ''}</td>
              <td>{ago(n.updatedAt, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {/* METRICS-SLOT: live request rate and latency per node. The control plane's deployment API
          does not report them yet (Prometheus metrics are being added on the agents); when it
          does, draw them here from the deployment view or a metrics route. */}
      <div className="placeholder" data-testid="rates-placeholder">
        <strong>Request rate and latency</strong>
        <p className="muted">
          Not reported by the deployments API yet. Each agent will expose them on <code>/metrics</code> (Prometheus); this panel will chart
          them per node when the control plane serves them.
        </p>
      </div>
    </section>
  );
}

function FragmentFact({ name, value }: { name: string; value: unknown }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>
        <Value value={value} />
      </dd>
    </>
  );
}

/** Shows a field the deployments API added beyond what this page knows (rollout state, canary settings…) readably. */
function Value({ value }: { value: unknown }) {
  if (value === null || typeof value !== 'object') return <span>{String(value)}</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="muted">none</span>;
    if (value.every((item) => item && typeof item === 'object' && 'message' in item)) {
      return (
        <ol className="history">
          {value.slice(-6).map((item: { at?: string; message?: string }, index) => (
            <li key={index}>
              {item.at && <span className="muted">{new Date(item.at).toLocaleTimeString()} </span>}
              {item.message}
            </li>
          ))}
        </ol>
      );
    }
    return <span>{value.map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item))).join(', ')}</span>;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return (
    <dl className="facts nested">
      {entries.map(([key, inner]) => (
        <FragmentFact key={key} name={key} value={inner} />
      ))}
    </dl>
  );
}
