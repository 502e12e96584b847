/**
 * What the dashboard knows about the cluster, kept fresh by the live events: one store for every
 * page, so that switching pages shows data at once and the event stream is read only once.
 */
import { useSyncExternalStore } from 'react';
import type { DeploymentList, DeploymentView } from '../../src/contracts/deployments.js';
import type { HeartbeatEventSample, LiveEventMap, LiveEventName } from '../../src/contracts/live.js';
import type { ModelList, ModelView } from '../../src/contracts/models.js';
import type { NodeList, NodeView } from '../../src/contracts/nodes.js';
import type { RunList, RunView, WorkQueueStats } from '../../src/contracts/runs.js';
import { api, describeError } from './api.js';
import { type ConnectionState, followEvents } from './events.js';
import { resetRates, trackRates } from './rates.js';

export interface ClusterState {
  nodes: NodeView[] | null;
  deployments: DeploymentView[] | null;
  runs: RunView[] | null;
  /** The work queue's counts with the time they were read (for the age of the oldest waiting run); null from a server without one. */
  queue: { stats: WorkQueueStats; at: number } | null;
  models: ModelView[] | null;
  connection: ConnectionState;
  error: string | null;
  /** Bumped by every change event, so that pages with their own data (versions) refetch. */
  changeGeneration: number;
}

type Listener = () => void;

/** Nothing loaded yet: the state at start and after sign-out. */
const EMPTY_STATE: ClusterState = {
  nodes: null,
  deployments: null,
  runs: null,
  queue: null,
  models: null,
  connection: 'connecting',
  error: null,
  changeGeneration: 0,
};

let state: ClusterState = EMPTY_STATE;
const listeners = new Set<Listener>();
const heartbeatListeners = new Set<(samples: HeartbeatEventSample[]) => void>();
const runListeners = new Set<(run: RunView) => void>();

function set(patch: Partial<ClusterState>): void {
  state = { ...state, ...patch };
  for (const listener of listeners) listener();
}

export function useCluster(): ClusterState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => state,
  );
}

export function onHeartbeats(listener: (samples: HeartbeatEventSample[]) => void): () => void {
  heartbeatListeners.add(listener);
  return () => heartbeatListeners.delete(listener);
}

export function onRun(listener: (run: RunView) => void): () => void {
  runListeners.add(listener);
  return () => runListeners.delete(listener);
}

async function load<K extends 'nodes' | 'deployments' | 'runs' | 'queue' | 'models'>(
  key: K,
  fetcher: () => Promise<ClusterState[K]>,
): Promise<void> {
  try {
    set({ [key]: await fetcher(), error: null } as Partial<ClusterState>);
  } catch (error) {
    set({ error: describeError(error) });
  }
}

export const refresh = {
  nodes: () => load('nodes', async () => (await api<NodeList>('GET', '/api/v1/nodes')).nodes),
  deployments: () =>
    load('deployments', async () => {
      const { deployments } = await api<DeploymentList>('GET', '/api/v1/deployments');
      trackRates(deployments);
      return deployments;
    }),
  runs: () =>
    load('runs', async () => {
      const { runs, queue } = await api<RunList>('GET', '/api/v1/runs?limit=50');
      set({ queue: queue ? { stats: queue, at: Date.now() } : null });
      return runs;
    }),
  /** The queue's counts alone: the run list comes with them, so ask for one run. */
  queue: () =>
    load('queue', async () => {
      const { queue } = await api<RunList>('GET', '/api/v1/runs?limit=1');
      return queue ? { stats: queue, at: Date.now() } : null;
    }),
  models: () => load('models', async () => (await api<ModelList>('GET', '/api/v1/models')).models),
  all: () => Promise.all([refresh.nodes(), refresh.deployments(), refresh.runs(), refresh.models()]),
};

function applyHeartbeats(samples: HeartbeatEventSample[]): void {
  if (!state.nodes) return;
  const byId = new Map(samples.map((sample) => [sample.nodeId, sample]));
  let unknown = false;
  const nodes = state.nodes.map((node) => {
    const sample = byId.get(node.id);
    if (!sample) return node;
    byId.delete(node.id);
    const resources = node.resources
      ? {
          ...node.resources,
          cpuCount: sample.cpuCount,
          loadAverage: [sample.load1, node.resources.loadAverage[1] ?? 0, node.resources.loadAverage[2] ?? 0],
          memoryTotalBytes: sample.memoryTotalBytes,
          memoryFreeBytes: Math.max(0, sample.memoryTotalBytes - sample.memoryUsedBytes),
        }
      : null;
    return {
      ...node,
      status: 'online' as const,
      lastHeartbeatAt: new Date(sample.t * 1000).toISOString(),
      heartbeatAgeSeconds: 0,
      resources,
    };
  });
  if (byId.size > 0) unknown = true;
  set({ nodes });
  // A node we have not seen yet (enrolled since the last fetch): fetch the list again.
  if (unknown || nodes.some((node) => !node.resources && samples.some((s) => s.nodeId === node.id))) void refresh.nodes();
}

function applyRun(run: RunView): void {
  const runs = state.runs ?? [];
  const index = runs.findIndex((r) => r.id === run.id);
  const previous = runs[index];
  const next = index >= 0 ? runs.map((r) => (r.id === run.id ? run : r)) : [run, ...runs];
  set({ runs: next });
  for (const listener of runListeners) listener(run);
  // A run queued, taken by a worker or finished changes the queue's counts: read them again, at most once a second.
  if (run.status !== previous?.status || run.attempt !== previous?.attempt) refreshQueueSoon();
  // A finished run may have registered a version.
  if (run.status === 'succeeded') void refresh.models();
}

let queueTimer: ReturnType<typeof setTimeout> | undefined;
function refreshQueueSoon(): void {
  if (queueTimer !== undefined) return;
  queueTimer = setTimeout(() => {
    queueTimer = undefined;
    void refresh.queue();
  }, 1000);
}

function handle<E extends LiveEventName>(event: E, data: LiveEventMap[E]): void {
  switch (event) {
    case 'hello':
      void refresh.all();
      break;
    case 'change':
      set({ changeGeneration: state.changeGeneration + 1 });
      void Promise.all([refresh.deployments(), refresh.models(), refresh.nodes()]);
      break;
    case 'deployments':
      void refresh.deployments();
      break;
    case 'heartbeats': {
      const { samples } = data as LiveEventMap['heartbeats'];
      applyHeartbeats(samples);
      for (const listener of heartbeatListeners) listener(samples);
      break;
    }
    case 'run':
      applyRun((data as LiveEventMap['run']).run);
      break;
  }
}

let stop: (() => void) | null = null;
let statusTimer: ReturnType<typeof setInterval> | undefined;

/** Starts following the cluster with this token; `onUnauthorized` brings the login form back. */
export function startLive(token: string, onUnauthorized: (message: string) => void): void {
  stopLive();
  stop = followEvents(token, handle, (connection) => set({ connection }), onUnauthorized);
  // Nodes go offline without an event (they just stop calling): look again now and then.
  statusTimer = setInterval(() => void refresh.nodes(), 30_000);
}

export function stopLive(): void {
  stop?.();
  stop = null;
  clearInterval(statusTimer);
  clearTimeout(queueTimer);
  queueTimer = undefined;
  resetRates();
  state = EMPTY_STATE;
  for (const listener of listeners) listener();
}
