import { type FormEvent, useEffect, useState } from 'react';
import type { ModelVersionList, ModelVersionView } from '../../../src/contracts/models.js';
import { api, describeError } from '../api.js';
import { ago, num } from '../format.js';
import { href } from '../router.js';
import { useCluster } from '../store.js';

/** Scalar metrics, with each one's baseline beside it when the pipeline reported one (mape / baselineMape). */
function metricRows(metrics: Record<string, unknown>): { name: string; value: number; baseline?: number }[] {
  const rows: { name: string; value: number; baseline?: number }[] = [];
  for (const [name, value] of Object.entries(metrics)) {
    if (typeof value !== 'number' || name.startsWith('baseline')) continue;
    const baselineKey = `baseline${name[0]?.toUpperCase()}${name.slice(1)}`;
    const baseline = metrics[baselineKey];
    rows.push({ name, value, baseline: typeof baseline === 'number' ? baseline : undefined });
  }
  // Anomaly detectors: residualMae against persistenceMae.
  if (typeof metrics.residualMae === 'number' && typeof metrics.persistenceMae === 'number') {
    const row = rows.find((r) => r.name === 'residualMae');
    if (row) row.baseline = metrics.persistenceMae;
  }
  return rows.filter((r) => r.name !== 'persistenceMae');
}

export function ModelsPage({ selected }: { selected?: string }) {
  const { models } = useCluster();
  const name = selected ?? models?.[0]?.name;
  return (
    <>
      {models && models.length === 0 && <p className="muted">No models yet: a run that succeeds registers one.</p>}
      {models && models.length > 0 && (
        <nav aria-label="Models" className="tabs">
          <ul>
            {models.map((m) => (
              <li key={m.name}>
                <a href={href('models', m.name)} aria-current={m.name === name ? 'page' : undefined}>
                  {m.name} <span className="muted">({m.versionCount})</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      {name && <ModelDetail name={name} />}
    </>
  );
}

function ModelDetail({ name }: { name: string }) {
  const { models, changeGeneration } = useCluster();
  const model = models?.find((m) => m.name === name);
  const [versions, setVersions] = useState<ModelVersionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api<ModelVersionList>('GET', `/api/v1/models/${encodeURIComponent(name)}/versions`)
      .then((list) => current && (setVersions(list.versions), setError(null)))
      .catch((caught: unknown) => current && setError(describeError(caught)));
    return () => {
      current = false;
    };
    // Refetched on every change event (a new version, a moved alias) and when the model's summary changes.
  }, [name, changeGeneration, model?.latestVersion, JSON.stringify(model?.aliases)]);

  if (error) return <p className="error">{error}</p>;
  if (!versions || !model) return <p className="muted">Loading…</p>;
  return (
    <>
      <section className="panel" aria-labelledby="aliases-heading">
        <h2 id="aliases-heading">Aliases of {name}</h2>
        {Object.keys(model.aliases).length === 0 ? (
          <p className="muted">No aliases yet.</p>
        ) : (
          <ul className="inline-list" data-testid="aliases">
            {Object.entries(model.aliases).map(([alias, version]) => (
              <li key={alias}>
                <span className="label">{alias}</span> → v{version}
              </li>
            ))}
          </ul>
        )}
        <MoveAlias name={name} versions={versions} aliases={model.aliases} />
      </section>
      <section aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Aliases</th>
                <th scope="col">Metrics (model vs baseline)</th>
                <th scope="col">Lineage</th>
                <th scope="col">Artifact</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version}>
                  <th scope="row">v{v.version}</th>
                  <td>
                    {v.aliases.map((a) => (
                      <span className="label" key={a}>
                        {a}
                      </span>
                    ))}
                  </td>
                  <td>
                    <table className="metrics">
                      <tbody>
                        {metricRows(v.metrics).map((m) => (
                          <tr key={m.name}>
                            <th scope="row">{m.name}</th>
                            <td>{num(m.value, 3)}</td>
                            <td className={m.baseline !== undefined ? (m.value < m.baseline ? 'good' : 'warn') : 'muted'}>
                              {m.baseline !== undefined ? `baseline ${num(m.baseline, 3)} (${num(m.value / m.baseline, 2)}×)` : ''}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </td>
                  <td>
                    {v.lineage.imported ? (
                      <>
                        imported {v.lineage.imported.fileName ?? 'file'}
                        <br />
                        <span className="muted" title={v.lineage.imported.fileSha256}>
                          {v.lineage.imported.producerName || 'unknown exporter'} {v.lineage.imported.producerVersion} · opset{' '}
                          {v.lineage.imported.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}
                        </span>
                      </>
                    ) : (
                      <>
                        {v.lineage.runId ? <a href={href('runs', v.lineage.runId)}>run {v.lineage.runId}</a> : 'no run'}
                        <br />
                        <span className="muted">
                          {v.lineage.dataset ? `${v.lineage.dataset.name}@${v.lineage.dataset.version}` : 'no dataset'} · code{' '}
                          {v.lineage.codeVersion}
                        </span>
                      </>
                    )}
                  </td>
                  <td className="muted">
                    {v.kind} · {v.framework} · <code title={v.artifact.sha256}>{v.artifact.sha256.slice(0, 12)}</code>
                  </td>
                  <td>{ago(v.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function MoveAlias({ name, versions, aliases }: { name: string; versions: ModelVersionView[]; aliases: Record<string, number> }) {
  const [alias, setAlias] = useState(Object.keys(aliases)[0] ?? 'champion');
  const [version, setVersion] = useState(String(versions[0]?.version ?? ''));
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await api('PUT', `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { version: Number(version) });
      setMessage({ ok: true, text: `${alias} now points at v${version}. Deployments that follow ${name}@${alias} roll to it.` });
    } catch (caught) {
      setMessage({ ok: false, text: describeError(caught) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="inline-form" onSubmit={submit} aria-label="Move an alias">
      <label>
        Alias
        <input value={alias} onChange={(e) => setAlias(e.target.value)} list="alias-names" pattern="[a-z][a-z0-9-]*" required />
        <datalist id="alias-names">
          {Object.keys(aliases).map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </label>
      <label>
        Version
        <select value={version} onChange={(e) => setVersion(e.target.value)}>
          {versions.map((v) => (
            <option key={v.version} value={v.version}>
              v{v.version}
              {v.aliases.length ? ` (${v.aliases.join(', ')})` : ''}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        Move alias
      </button>
      {message && (
        <p className={message.ok ? 'ok' : 'error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
    </form>
  );
}
