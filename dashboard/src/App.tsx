import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import type { RunList } from '../../src/contracts/runs.js';
import { ApiError, api, clearToken, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { DeploymentsPage } from './pages/Deployments.js';
import { ModelsPage } from './pages/Models.js';
import { NodesPage } from './pages/Nodes.js';
import { OverviewPage } from './pages/Overview.js';
import { PredictionsPage } from './pages/Predictions.js';
import { RunsPage } from './pages/Runs.js';
import { href, useRoute } from './router.js';
import { startLive, stopLive, useCluster } from './store.js';

const PAGES = [
  { id: 'overview', title: 'Overview' },
  { id: 'nodes', title: 'Nodes' },
  { id: 'models', title: 'Models' },
  { id: 'runs', title: 'Runs' },
  { id: 'deployments', title: 'Deployments' },
  { id: 'predictions', title: 'Predictions' },
] as const;

export function App() {
  const [token, setTokenState] = useState<string | null>(getToken);
  const [notice, setNotice] = useState<string | null>(null);

  const logout = useCallback((message: string | null) => {
    clearToken();
    stopLive();
    setTokenState(null);
    setNotice(message);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler((message) => logout(`Signed out: the control plane refused the token (${message}).`));
  }, [logout]);

  useEffect(() => {
    if (!token) return;
    startLive(token, (message) => logout(`Signed out: the control plane refused the token (${message}).`));
    return () => stopLive();
  }, [token, logout]);

  if (!token) {
    return (
      <Login
        notice={notice}
        onLogin={(accepted) => {
          setToken(accepted);
          setNotice(null);
          setTokenState(accepted);
        }}
      />
    );
  }
  return <Shell onLogout={() => logout('Signed out.')} />;
}

function Login({ notice, onLogin }: { notice: string | null; onLogin: (token: string) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const token = value.trim();
    if (!/^fgl\.[^.\s]+\.[^.\s]+$/.test(token)) {
      setError('That is not a Fogline token: tokens look like fgl.<id>.<secret> (see .fogline/admin.token).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Any viewer route tells whether the token is good; this one answers in a few bytes.
      await api<RunList>('GET', '/api/v1/runs?limit=1', undefined, token);
      onLogin(token);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) setError(`The control plane did not accept this token: ${caught.message}`);
      else if (caught instanceof ApiError && caught.status === 403)
        setError(`This token can't read the cluster (it needs the viewer, operator or admin role): ${caught.message}`);
      else setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <h1>Fogline</h1>
      <p>
        Sign in with an API token. The admin token of a local cluster is in <code>.fogline/admin.token</code>; create others with{' '}
        <code>fogline token create --role viewer</code>.
      </p>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label htmlFor="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="fgl.…"
          value={value}
          onChange={(event) => setValue(event.target.value)}
          aria-invalid={error ? true : undefined}
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error && (
          <p id="login-error" className="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p className="muted">The token stays in this browser tab only (session storage) and is sent to this control plane with every call.</p>
    </main>
  );
}

function Shell({ onLogout }: { onLogout: () => void }) {
  const route = useRoute();
  const cluster = useCluster();
  const [page = 'overview', ...rest] = route;
  const main = useRef<HTMLElement>(null);
  const title = PAGES.find((p) => p.id === page)?.title ?? 'Not found';

  useEffect(() => {
    document.title = `${title} · Fogline`;
  }, [title]);

  return (
    <div className="shell">
      <a
        className="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Fogline</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} aria-current={p.id === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className={`live live-${cluster.connection}`} role="status" aria-live="polite">
          {cluster.connection === 'live' ? 'Live' : cluster.connection === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
        <button type="button" className="link" onClick={onLogout}>
          Sign out
        </button>
      </header>
      {cluster.error && (
        <p className="error banner" role="alert">
          {cluster.error}
        </p>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        <h1>{title}</h1>
        {page === 'overview' && <OverviewPage />}
        {page === 'nodes' && <NodesPage selected={rest[0]} />}
        {page === 'models' && <ModelsPage selected={rest[0]} />}
        {page === 'runs' && <RunsPage selected={rest[0]} />}
        {page === 'deployments' && <DeploymentsPage />}
        {page === 'predictions' && <PredictionsPage />}
        {!PAGES.some((p) => p.id === page) && (
          <p>
            No such page. <a href={href('overview')}>Go to the overview</a>.
          </p>
        )}
      </main>
    </div>
  );
}
