// Readers for Linux /proc: per-process CPU time and resident memory, machine-wide CPU time.
// Everything here is a plain synchronous file read; callers sample before/after a window.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second for utime/stime in /proc/<pid>/stat (almost always 100). */
export const CLK_TCK = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces or parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The process's command name (comm), or undefined. */
export function processName(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes (VmRSS), or undefined once the process is gone. */
export function processRssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of every running process whose comm is one of `names` (e.g. postgres backends). */
export function pidsNamed(names) {
  const wanted = new Set(names);
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const name = processName(entry);
    if (name !== undefined && wanted.has(name)) pids.push(Number(entry));
  }
  return pids;
}

/** CPU seconds per pid for a group of processes, for a before/after delta. */
export function groupCpuSeconds(pids) {
  const result = new Map();
  for (const pid of pids) {
    const seconds = processCpuSeconds(pid);
    if (seconds !== undefined) result.set(pid, seconds);
  }
  return result;
}

/** CPU seconds a process group used between two groupCpuSeconds snapshots (new pids count from 0). */
export function groupCpuDelta(before, after) {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Machine-wide busy and total CPU seconds (all cores) from /proc/stat. */
export function machineCpuSeconds() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is already in user.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLK_TCK, total: (busy + idle + iowait) / CLK_TCK };
}

/** Voluntary / involuntary context switches of a process so far (from /proc/<pid>/status). */
export function processContextSwitches(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const voluntary = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(text);
    const involuntary = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text);
    return { voluntary: Number(voluntary?.[1] ?? 0), involuntary: Number(involuntary?.[1] ?? 0) };
  } catch {
    return { voluntary: 0, involuntary: 0 };
  }
}
