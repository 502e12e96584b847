import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReplicaObserver, ReplicaState } from '../../inference/replica-balancer.js';

/**
 * The control plane's /v2 endpoint by who answered: each cloud replica (by node name) or the
 * control plane itself, with each replica's health and requests in flight at scrape time.
 */
export class ReplicaMetrics implements ReplicaObserver {
  private readonly requests: Counter<'replica' | 'outcome'>;
  private states: () => ReplicaState[] = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'fogline_cloud_inference_requests_total',
      help: 'Inference requests to the control plane by who took them: a cloud replica (its node name) or control-plane (in-process); failed: the replica failed and the request moved on',
      labelNames: ['replica', 'outcome'],
      registers,
    });
    const states = () => this.states();
    new Gauge({
      name: 'fogline_cloud_replica_healthy',
      help: '1 while a cloud replica passes its health checks and takes requests, 0 while it is out of the rotation',
      labelNames: ['replica', 'deployment', 'version'],
      registers,
      collect() {
        this.reset();
        for (const s of states())
          this.set({ replica: s.nodeName, deployment: s.deployment, version: String(s.version) }, s.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'fogline_cloud_replica_outstanding',
      help: 'Requests in flight on a cloud replica (the balancer sends the next one to the replica with the fewest)',
      labelNames: ['replica', 'deployment', 'version'],
      registers,
      collect() {
        this.reset();
        for (const s of states()) this.set({ replica: s.nodeName, deployment: s.deployment, version: String(s.version) }, s.outstanding);
      },
    });
  }

  answered(replica: string, outcome: 'ok' | 'failed'): void {
    this.requests.inc({ replica, outcome });
  }

  /** How to read the replicas' states at scrape time. */
  watch(states: () => ReplicaState[]): void {
    this.states = states;
  }
}
