import { backoffDelay } from '../backoff.js';

export interface SessionReportTarget {
  server: string;
  nodeId: string;
  credential: string;
}

/** How long an agent keeps trying to deliver one session report (a control plane restarting, a database outage). */
export const SESSION_REPORT_RETRY_MS = 5 * 60_000;

/**
 * An agent's session reports (`connected`, `closed`) to the control plane, retried with backoff
 * while the control plane cannot take them (unreachable, 5xx, 429) for up to `retryMs`: sessions
 * are kept in the store, so a report that arrives after a control-plane restart still frees the
 * node's place; one that never arrived would count against the per-node limit until the node
 * goes offline. A 4xx other than 429 is final (the session is unknown or not this node's).
 */
export function sessionReporter(options: {
  target: () => SessionReportTarget | undefined;
  warn: (details: object, message: string) => void;
  retryMs?: number;
  baseDelayMs?: number;
}): (id: string, event: 'connected' | 'closed', reason?: string) => void {
  const retryMs = options.retryMs ?? SESSION_REPORT_RETRY_MS;
  return (id, event, reason) => {
    const giveUpAt = Date.now() + retryMs;
    const attempt = (failures: number): void => {
      // Read for each try: a retry may outlast the credential it started with (rotation).
      const target = options.target();
      if (!target) return;
      const url = `${target.server}/api/v1/nodes/${encodeURIComponent(target.nodeId)}/sessions/${encodeURIComponent(id)}/events`;
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${target.credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event, ...(reason ? { reason } : {}) }),
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (response) => {
          await response.body?.cancel();
          if (response.ok) return;
          if (response.status < 500 && response.status !== 429) {
            options.warn({ session: id, event, status: response.status }, 'the control plane refused a session report');
            return;
          }
          retry(failures + 1, `status ${response.status}`);
        })
        .catch((error: unknown) => retry(failures + 1, (error as Error).message));
    };
    const retry = (failures: number, why: string): void => {
      const delay = backoffDelay(failures, options.baseDelayMs ?? 1000, 30_000);
      if (Date.now() + delay > giveUpAt) {
        options.warn({ session: id, event, why }, 'could not report a session event; giving up');
        return;
      }
      setTimeout(() => attempt(failures), delay).unref();
    };
    attempt(0);
  };
}
