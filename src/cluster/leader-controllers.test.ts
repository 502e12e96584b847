import { describe, expect, it } from 'vitest';
import { type Controller, LeaderControllers } from './leader-controllers.js';

function recorder(log: string[], name: string, startDelayMs = 0): Controller {
  return {
    name,
    start: async () => {
      log.push(`start ${name}`);
      if (startDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, startDelayMs));
    },
    stop: () => {
      log.push(`stop ${name}`);
    },
  };
}

describe('controllers that run on the leader only', () => {
  it('start in order, stop in reverse, and start again on the next leadership', async () => {
    const log: string[] = [];
    const controllers = new LeaderControllers([recorder(log, 'a'), recorder(log, 'b')]);
    await controllers.startAll();
    expect(controllers.running()).toEqual(['a', 'b']);
    await controllers.stopAll();
    expect(controllers.running()).toEqual([]);
    await controllers.startAll();
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a', 'start a', 'start b']);
  });

  it('stop at once when leadership ends during a slow start: what had not started yet never starts', async () => {
    const log: string[] = [];
    const controllers = new LeaderControllers([recorder(log, 'slow', 200), recorder(log, 'later')]);
    const starting = controllers.startAll();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopping = controllers.stopAll();
    // The stop did not wait for the slow start to finish.
    expect(log).toEqual(['start slow', 'stop slow']);
    await Promise.all([starting, stopping]);
    expect(log).toEqual(['start slow', 'stop slow']);
    expect(controllers.running()).toEqual([]);
  });

  it('log a controller that fails to start or stop and carry on with the others', async () => {
    const errors: string[] = [];
    const log: string[] = [];
    const broken: Controller = {
      name: 'broken',
      start: () => Promise.reject(new Error('database away')),
      stop: () => {
        throw new Error('stuck');
      },
    };
    const controllers = new LeaderControllers([broken, recorder(log, 'fine')], { info: () => undefined, error: (m) => errors.push(m) });
    await controllers.startAll();
    expect(controllers.running()).toEqual(['broken', 'fine']);
    await controllers.stopAll();
    expect(log).toEqual(['start fine', 'stop fine']);
    expect(errors).toEqual(['broken could not start: database away', 'broken did not stop cleanly: stuck']);
  });
});
