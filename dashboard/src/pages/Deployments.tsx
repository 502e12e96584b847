import { useMemo } from 'react';
import type { DeploymentView } from '../../../src/contracts/deployments.js';
import { Chart } from '../components/Chart.js';
import { DriftPanel } from '../components/DriftPanel.js';
import { Progress, Status } from '../components/Status.js';
import { ago, num } from '../format.js';
import { deploymentHealth, servingTarget } from '../health.js';
import { useNow } from '../hooks.js';
import { nodeRate, ratePoints } from '../rates.js';
import { href } from '../router.js';
import { useCluster } from '../store.js';

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
  const [modelName] = view.model.split('@');
  const selector = Object.entries(view.nodeSelector);
  const rollout = view.rollout;
  const moving = rollout.phase !== 'stable' && rollout.phase !== 'rolled-back';
  const points = useMemo(() => ratePoints(view.name, now), [view, now]);
  const rates = useMemo(
    () => [points.map((p) => p.t), points.map((p) => p.rps), points.map((p) => p.eps)] as [number[], number[], number[]],
    [points],
  );
  const latest = points.at(-1);
  const slowest = view.nodes
    .filter((n) => n.latencyP99Ms !== null)
    .reduce<DeploymentView['nodes'][number] | undefined>(
      (worst, n) => (!worst || (n.latencyP99Ms ?? 0) > (worst.latencyP99Ms ?? 0) ? n : worst),
      undefined,
    );

  return (
    <section className="panel" aria-labelledby={`deployment-${view.name}`} data-testid={`deployment-${view.name}`}>
      <h2 id={`deployment-${view.name}`}>
        {view.name} <Status value={deploymentHealth(view)} /> {moving && <Status value={rollout.phase} />}
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
        <dd>
          {view.strategy}
          {view.strategy === 'canary' &&
            ` (${view.canaryPercent}% of nodes first, ${view.soakSeconds} s soak, rolls back above ${num(view.maxErrorRate * 100, 1)}% errors)`}
        </dd>
        {view.joint && (
          <>
            <dt>Joint inference</dt>
            <dd data-testid="joint-setting">
              rows scoring {view.joint.rule} &gt; {view.joint.threshold} go to{' '}
              <a href={href('models', view.joint.cloudModel.split('@')[0]!)}>{view.joint.cloudModel}</a> (v{view.joint.cloudVersion ?? '–'})
            </dd>
          </>
        )}
        {view.mqtt && (
          <>
            <dt>Device data (MQTT)</dt>
            <dd data-testid="mqtt-binding">
              <code>{view.mqtt.input}</code> ({view.mqtt.format}
              {view.mqtt.resource !== null && <>, resource {view.mqtt.resource}</>}) → <code>{view.mqtt.output}</code> · dead letters to{' '}
              <code>{view.mqtt.deadLetter}</code>
            </dd>
          </>
        )}
        <dt>Rollout</dt>
        <dd>
          <Progress value={servingTarget(view)} max={view.nodes.length} label={`Nodes serving v${view.version ?? '?'}`} /> nodes serve v
          {view.version ?? '–'} · phase <strong>{rollout.phase}</strong> since {ago(rollout.phaseSince, now)}
          {rollout.stableVersion !== null && <> · last good v{rollout.stableVersion}</>}
          {rollout.blockedVersions.length > 0 && <> · rolled back: {rollout.blockedVersions.map((v) => `v${v}`).join(', ')}</>}
        </dd>
        {rollout.history.length > 0 && (
          <>
            <dt>History</dt>
            <dd>
              <ol className="history">
                {rollout.history.slice(-5).map((event, index) => (
                  <li key={index}>
                    <span className="muted">{new Date(event.at).toLocaleTimeString()}</span> {event.message}
                  </li>
                ))}
              </ol>
            </dd>
          </>
        )}
      </dl>
      <table>
        <caption className="visually-hidden">Per-node state of {view.name}</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Target version</th>
            <th scope="col">Serving version</th>
            <th scope="col">Requests</th>
            <th scope="col">Rate</th>
            <th scope="col">Latency p50 / p99</th>
            <th scope="col" title="Answered requests since the node's agent started: run on the node, or offloaded to the cloud">
              Ran local / offloaded
            </th>
            <th scope="col">Reason</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {view.nodes.map((n) => {
            const rate = nodeRate(view.name, n.nodeId, now);
            return (
              <tr key={n.nodeId} data-testid={`deployment-node-${n.nodeName}`}>
                <th scope="row">
                  <a href={href('nodes', n.nodeName)}>{n.nodeName}</a>
                </th>
                <td>
                  <Status value={n.state} />
                </td>
                <td>{n.version !== null ? `v${n.version}` : '–'}</td>
                <td>{n.servingVersion !== null ? `v${n.servingVersion}` : '–'}</td>
                <td>
                  {n.requests}
                  {n.errors > 0 && <span className="error"> ({n.errors} failed)</span>}
                </td>
                <td>{rate ? `${num(rate.rps, 1)}/s` : '–'}</td>
                <td data-testid={`latency-${n.nodeName}`}>
                  {n.latencyP50Ms !== null && n.latencyP99Ms !== null ? `${num(n.latencyP50Ms, 2)} / ${num(n.latencyP99Ms, 2)} ms` : '–'}
                </td>
                <td>
                  <span data-testid={`ran-${n.nodeName}`}>
                    {n.localRequests} local / {n.offloadedRequests} offloaded
                  </span>
                  {n.joint && (
                    <div
                      className="muted"
                      data-testid={`joint-${n.nodeName}`}
                      title="Joint inference since the agent started: rows the hard-example rule sent to the cloud model, and accuracy on labelled rows (edge model alone → answer returned)"
                    >
                      joint: {num(n.joint.offloadRate * 100, 1)}% of {n.joint.easy + n.joint.hard + n.joint.fallback} rows to the cloud
                      {n.joint.fallback > 0 && `, ${n.joint.fallback} fallback`}
                      {n.joint.edgeAccuracy !== null &&
                        n.joint.finalAccuracy !== null &&
                        ` · accuracy ${num(n.joint.edgeAccuracy * 100, 1)}% → ${num(n.joint.finalAccuracy * 100, 1)}%`}
                    </div>
                  )}
                  {n.mqtt && (
                    <div
                      className={n.mqtt.connected ? 'muted' : 'error'}
                      data-testid={`mqtt-${n.nodeName}`}
                      title="MQTT binding since the agent started: messages taken from the input topic, predictions published, dead letters, results waiting on the node for the broker, and reading-to-result p99"
                    >
                      mqtt: {n.mqtt.messages} in / {n.mqtt.predictions} out
                      {n.mqtt.deadLetters > 0 && `, ${n.mqtt.deadLetters} dead letters`}
                      {n.mqtt.buffered > 0 && `, ${n.mqtt.buffered} buffered`}
                      {n.mqtt.latencyP99Ms !== null && ` · p99 ${num(n.mqtt.latencyP99Ms, 1)} ms`}
                      {!n.mqtt.connected && ' · broker unreachable'}
                    </div>
                  )}
                </td>
                <td className="muted">{n.reason ?? ''}</td>
                <td>{ago(n.updatedAt, now)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Chart
        title="Requests per second (all nodes)"
        data={rates}
        height={160}
        series={[
          { label: 'requests/s', color: '#1f5fbf', format: (v) => v.toFixed(1) },
          { label: 'errors/s', color: '#b91c1c', dash: [6, 4], format: (v) => v.toFixed(2) },
        ]}
        yLabel="req/s"
        xRange={latest ? [latest.t - 600, latest.t] : undefined}
        summary={
          latest
            ? `now ${num(latest.rps, 1)} requests/s, ${num(latest.eps, 2)} errors/s (from the counters nodes report every ~10 s)`
            : 'waiting for two reports from a serving node (about 10 s apart)'
        }
      />
      <p className="muted" data-testid="latency-summary">
        {slowest
          ? `Latency (queue + compute, last 512 requests per node, reported every ~10 s): slowest node p99 ${num(slowest.latencyP99Ms ?? 0, 2)} ms on ${slowest.nodeName}. Histograms over time: /metrics on each agent (Prometheus, Grafana).`
          : 'Latency appears once a node has answered requests (reported every ~10 s).'}
      </p>
      <DriftPanel deployment={view.name} />
    </section>
  );
}
