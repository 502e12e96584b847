import type { LeaderLease } from './leader-lease.js';

export const SQLITE_ONE_CONTROL_PLANE = 'SQLite supports one control plane; use PostgreSQL or MariaDB for replicas (FOGLINE_DB)';

/** Whether a process with this id runs on this machine (one of another user counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * On SQLite this replica must hold the lease: another live control plane on the same database is
 * refused with a clear message. A lease left by a killed process on this machine (its pid gone) is
 * taken over at once, and any other stale one once it expires, so a crash never blocks a restart.
 */
export async function claimSingleReplica(lease: LeaderLease, isAlive: (pid: number) => boolean = processAlive): Promise<void> {
  if (lease.isLeader) return;
  const holder = await lease.holder();
  if (!holder) {
    await lease.tryNow();
    if (lease.isLeader) return;
    throw new Error(`Could not take the control-plane lease on the SQLite database. ${SQLITE_ONE_CONTROL_PLANE}`);
  }
  const here = holder.host === lease.claimant.host;
  if (here && holder.pid !== lease.claimant.pid && !isAlive(holder.pid) && (await lease.takeOver(holder.holder))) return;
  const who = here ? `process ${holder.pid} on this machine` : `process ${holder.pid} on ${holder.host}`;
  const wait = here ? '' : ` (if it has stopped, its lease expires in ${Math.max(1, Math.ceil(holder.expiresInMs / 1000))} s)`;
  throw new Error(`Another control plane (${who}) uses this SQLite database${wait}. ${SQLITE_ONE_CONTROL_PLANE}`);
}
