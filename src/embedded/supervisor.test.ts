import { describe, expect, it } from 'vitest';
import { describeExit, nextRestartDelay } from './supervisor.js';

describe('restart back-off', () => {
  it('waits 1 s, then doubles up to 30 s', () => {
    const delays: number[] = [];
    let delay: number | undefined;
    for (let i = 0; i < 8; i++) delays.push((delay = nextRestartDelay(delay)));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('names the exit code, or the signal', () => {
    expect(describeExit(3, null)).toBe('exit code 3');
    expect(describeExit(null, 'SIGKILL')).toBe('signal SIGKILL');
  });
});
