import { useEffect, useState } from 'react';
import type { DriftEventView } from '../../../src/contracts/drift.js';
import { api, describeError } from '../api.js';
import { ago, num } from '../format.js';
import { useNow } from '../hooks.js';
import { Status } from './Status.js';

/** How often the panel asks for the deployment's drift events (they change at most every few seconds). */
const REFRESH_MS = 5000;

/**
 * A deployment's drift events, newest first (`GET /api/v1/drift/events`): what fired, what the
 * round did (challenger beside champion, promoted or kept), and the newest event's timeline.
 */
export function DriftPanel({ deployment }: { deployment: string }) {
  const now = useNow();
  const [events, setEvents] = useState<DriftEventView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const answer = await api<{ events: DriftEventView[] }>(
          'GET',
          `/api/v1/drift/events?deployment=${encodeURIComponent(deployment)}&limit=5`,
        );
        if (live) {
          setEvents(answer.events);
          setError(null);
        }
      } catch (failure) {
        if (live) setError(describeError(failure));
      }
    };
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [deployment]);

  if (error) return <p className="error">Drift events: {error}</p>;
  if (!events) return null;
  if (events.length === 0) {
    return (
      <p className="muted" data-testid={`drift-${deployment}`}>
        No drift events. <code>fogline drift policy set {deployment} --action retrain-and-promote</code> closes the loop.
      </p>
    );
  }
  const newest = events[0]!;
  return (
    <div data-testid={`drift-${deployment}`}>
      <h3>Drift</h3>
      <table>
        <caption className="visually-hidden">Drift events of {deployment}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Trigger</th>
            <th scope="col">Status</th>
            <th scope="col">Findings</th>
            <th scope="col">Champion / challenger MAPE</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{ago(e.createdAt, now)}</td>
              <td>
                {e.trigger}
                {e.nodeName ? ` on ${e.nodeName}` : ''} (v{e.version})
              </td>
              <td>
                <Status value={e.status} />
              </td>
              <td>{e.findings.map((f) => `${f.test} ${f.feature} ${num(f.value, 3)} > ${num(f.threshold, 3)}`).join('; ') || '–'}</td>
              <td>
                {e.evaluation
                  ? `v${e.evaluation.championVersion} ${num(e.evaluation.championMape, 2)}% / v${e.evaluation.challengerVersion} ${num(e.evaluation.challengerMape, 2)}%${e.evaluation.wins ? ' (wins)' : ' (loses)'}`
                  : '–'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ol className="history" aria-label={`Timeline of the newest drift event of ${deployment}`}>
        {newest.timeline.map((step, index) => (
          <li key={index}>
            <span className="muted">{new Date(step.at).toLocaleTimeString()}</span> <strong>{step.status}</strong> {step.message}
          </li>
        ))}
      </ol>
    </div>
  );
}
