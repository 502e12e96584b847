import { Gauge, type Registry } from 'prom-client';
import type { LeaderLease } from './leader-lease.js';

/** fogline_control_plane_leader: 1 on the replica that runs the background controllers, 0 on the others. */
export function registerLeaderGauge(registry: Registry, lease: LeaderLease): void {
  new Gauge({
    name: 'fogline_control_plane_leader',
    help: 'Whether this control-plane replica holds the leader lease and runs the background controllers (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(lease.isLeader ? 1 : 0);
    },
  });
}
