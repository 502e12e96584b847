import type { ChildProcess } from 'node:child_process';
import { stopChild } from './child-process.js';

/** The first restart waits this long; each further one twice as long, up to {@link RESTART_MAX_DELAY_MS}. */
export const RESTART_FIRST_DELAY_MS = 1_000;
export const RESTART_MAX_DELAY_MS = 30_000;
/** A child that stayed up this long counts as healthy again: its next crash restarts it after 1 s. */
export const RESTART_RESET_AFTER_MS = 60_000;

/** The delay before the next restart, given the one before (undefined: none yet or reset). */
export function nextRestartDelay(previousMs: number | undefined): number {
  return previousMs === undefined ? RESTART_FIRST_DELAY_MS : Math.min(previousMs * 2, RESTART_MAX_DELAY_MS);
}

/** Exit codes (README, "Exit codes") that a restart would only repeat: stop instead. */
const HOPELESS_EXITS = new Map([
  [2, 'bad configuration'],
  [4, 'port already in use'],
]);

/** How a child ended, as the restart line shows it. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}

/**
 * One part of `fogline up` (the control plane or an agent) kept running: when its process exits
 * without being asked to, it is started again after 1 s, then 2, 4 … up to 30 s between tries;
 * a run that lasted 60 s resets the delay to 1 s. `stop()` ends it for good.
 */
export class SupervisedChild {
  private current: ChildProcess;
  private startedAt = Date.now();
  private delayMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private armed = false;
  private restarting: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly spawnChild: () => Promise<ChildProcess>,
    first: ChildProcess,
    private readonly write: (line: string) => void,
    /** Called when the child ended in a way a restart cannot mend. */
    private readonly giveUp: (name: string) => void = () => undefined,
  ) {
    this.current = first;
    this.watch(first);
  }

  /** From now on an unexpected exit restarts it (before, while `up` starts, an exit fails the start). */
  arm(): void {
    this.armed = true;
    this.startedAt = Date.now();
    if (this.current.exitCode !== null || this.current.signalCode !== null) this.onExit(this.current.exitCode, this.current.signalCode);
  }

  /** The process running now (a restart replaces it). */
  get child(): ChildProcess {
    return this.current;
  }

  private watch(child: ChildProcess): void {
    child.once('exit', (code, signal) => {
      if (child === this.current && this.armed) this.onExit(code, signal);
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.timer) return;
    const hopeless = code === null ? undefined : HOPELESS_EXITS.get(code);
    if (hopeless) {
      this.write(
        `[up] ${this.name} exited with exit code ${code} (${hopeless}): a restart would fail the same way, so it is not restarted`,
      );
      this.giveUp(this.name);
      return;
    }
    if (Date.now() - this.startedAt >= RESTART_RESET_AFTER_MS) this.delayMs = undefined;
    const delay = nextRestartDelay(this.delayMs);
    this.delayMs = delay;
    this.write(`[up] ${this.name} exited unexpectedly (${describeExit(code, signal)}); restarting it in ${delay / 1000}s`);
    this.timer = setTimeout(() => {
      this.restarting = this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    this.timer = undefined;
    if (this.stopping) return;
    let child: ChildProcess;
    try {
      child = await this.spawnChild();
    } catch (error) {
      // Could not even prepare the start (the control plane is away, say): try again later.
      const delay = nextRestartDelay(this.delayMs);
      this.delayMs = delay;
      this.write(`[up] could not restart ${this.name}: ${(error as Error).message}; trying again in ${delay / 1000}s`);
      this.timer = setTimeout(() => {
        this.restarting = this.restart();
      }, delay);
      return;
    }
    if (this.stopping) {
      await stopChild(child);
      return;
    }
    this.current = child;
    this.startedAt = Date.now();
    this.write(`[up] restarted ${this.name} (pid ${child.pid ?? '?'})`);
    this.watch(child);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.restarting;
    await stopChild(this.current);
  }
}
