/**
 * Request rates from the counters agents report with their deployment status (requests and
 * errors the serving version answered since it started serving, every ~10 s). Each new report
 * (a newer updatedAt) gives a rate over the time since the one before; a new serving version or a
 * restarted agent (counters going down) starts over. Bounded: the last 60 points per deployment.
 */
import type { DeploymentView } from '../../src/contracts/deployments.js';

interface Last {
  at: number;
  requests: number;
  errors: number;
  version: number | null;
}

export interface RatePoint {
  /** Unix seconds. */
  t: number;
  /** Requests per second over all nodes of the deployment. */
  rps: number;
  /** Server-side errors per second. */
  eps: number;
}

export interface NodeRate {
  rps: number;
  eps: number;
}

const MAX_POINTS = 60;
const last = new Map<string, Last>();
const nodeRates = new Map<string, NodeRate>();
const points = new Map<string, RatePoint[]>();

/** Feeds one fetch of the deployments; returns whether any rate changed. */
export function trackRates(deployments: DeploymentView[]): boolean {
  let changed = false;
  for (const view of deployments) {
    let total: RatePoint | null = null;
    for (const node of view.nodes) {
      const key = `${view.name}/${node.nodeId}`;
      if (!node.updatedAt) continue;
      const at = Date.parse(node.updatedAt) / 1000;
      const previous = last.get(key);
      if (previous && previous.at === at) continue;
      last.set(key, { at, requests: node.requests, errors: node.errors, version: node.servingVersion });
      if (!previous || previous.version !== node.servingVersion || node.requests < previous.requests || at <= previous.at) continue;
      const seconds = at - previous.at;
      const rate = { rps: (node.requests - previous.requests) / seconds, eps: (node.errors - previous.errors) / seconds };
      nodeRates.set(key, rate);
      total ??= { t: at, rps: 0, eps: 0 };
      changed = true;
    }
    if (total) {
      // The deployment's rate: the sum of each node's latest rate.
      for (const node of view.nodes) {
        const rate = nodeRates.get(`${view.name}/${node.nodeId}`);
        if (rate) {
          total.rps += rate.rps;
          total.eps += rate.eps;
        }
      }
      const series = [...(points.get(view.name) ?? []), total].slice(-MAX_POINTS);
      points.set(view.name, series);
    }
  }
  return changed;
}

/**
 * Agents report only when their counters changed (checked every ~10 s): no report for longer than
 * this means no requests since, so the rate is 0, not the last one seen.
 */
export const IDLE_AFTER_SECONDS = 25;

export function nodeRate(deployment: string, nodeId: string, nowMs = Date.now()): NodeRate | undefined {
  const key = `${deployment}/${nodeId}`;
  const rate = nodeRates.get(key);
  const seen = last.get(key);
  if (rate && seen && nowMs / 1000 - seen.at > IDLE_AFTER_SECONDS) return { rps: 0, eps: 0 };
  return rate;
}

/** The deployment's rate over time, with a 0 now when nodes have been idle since the last point. */
export function ratePoints(deployment: string, nowMs = Date.now()): RatePoint[] {
  const series = points.get(deployment) ?? [];
  const latest = series.at(-1);
  const now = nowMs / 1000;
  if (latest && now - latest.t > IDLE_AFTER_SECONDS)
    return [...series, { t: latest.t + IDLE_AFTER_SECONDS, rps: 0, eps: 0 }, { t: now, rps: 0, eps: 0 }];
  return series;
}

export function resetRates(): void {
  last.clear();
  nodeRates.clear();
  points.clear();
}
