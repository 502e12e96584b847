import { FoglineError } from '../errors/fogline-error.js';
import { DeviceMessageError } from './device-reading.js';

export interface DeviceWindowsOptions {
  /** The model's grid step: a reading at time t lands in slot Math.round(t / intervalSeconds). */
  intervalSeconds: number;
  /** Slot values the model takes (the forecaster's window; the anomaly detector's served history). */
  history: number;
  /** forecast: predict from the newest `history` slots; score: score the newest slot against the `history` before it. */
  mode: 'forecast' | 'score';
  /** Longest run of missing slots filled by linear interpolation (training's default, 24); a longer gap starts the window again. */
  maxInterpolatedGap?: number;
  /** Devices tracked at most; readings of further devices are refused ('too-many-devices'). */
  maxDevices?: number;
}

export type WindowStep =
  | { kind: 'due'; device: string; slotTime: number; history: number[]; value?: number; startTime?: number }
  | { kind: 'filling'; device: string; have: number; need: number }
  | { kind: 'merged'; device: string }
  | { kind: 'late'; device: string }
  | { kind: 'reset'; device: string; gapSlots: number };

/** One device's window, plain data so that it survives JSON. */
interface DeviceWindow {
  /** The newest slot; `values` ends with its value. */
  slot: number;
  /** Slot values, oldest first, at most `keep` of them. */
  values: number[];
  /** Sum and count of the newest slot's readings: its value is their mean (training: duplicates → mean). */
  sum: number;
  count: number;
  /** Slots interpolated just before the newest one, and the measured value before them: re-drawn when the newest slot's mean moves. */
  gap: number;
  before: number;
}

export interface DeviceWindowsSnapshot {
  version: 1;
  intervalSeconds: number;
  history: number;
  mode: 'forecast' | 'score';
  devices: Array<{ device: string } & DeviceWindow>;
}

/**
 * Per device, a regular series at the model's interval, built from readings as training builds one
 * from a CSV (`regularize`): slot = nearest multiple of the interval, readings sharing a slot →
 * their mean, gaps up to maxInterpolatedGap slots → linear interpolation.
 *
 * A prediction is due on the first reading of each new slot, with what is known then: waiting for
 * the slot to close would hold every prediction back one interval when devices report once per
 * interval, which is the usual case. Later readings of that slot are averaged into it ('merged')
 * and count for the predictions after it. Readings older than the newest slot are 'late' and
 * ignored: the prediction that needed them has been made.
 */
export class DeviceWindows {
  private readonly windows = new Map<string, DeviceWindow>();
  private readonly interval: number;
  private readonly history: number;
  private readonly mode: 'forecast' | 'score';
  private readonly maxGap: number;
  private readonly maxDevices: number;
  /** Slots kept per device: score mode also keeps the slot being scored. */
  private readonly keep: number;

  constructor(options: DeviceWindowsOptions) {
    const { intervalSeconds, history, mode } = options;
    this.maxGap = options.maxInterpolatedGap ?? 24;
    this.maxDevices = options.maxDevices ?? 100_000;
    if (!(Number.isFinite(intervalSeconds) && intervalSeconds > 0)) {
      throw invalid(`intervalSeconds is ${intervalSeconds}: expected a positive number of seconds`);
    }
    if (!(Number.isInteger(history) && history >= 1)) throw invalid(`history is ${history}: expected a whole number of slots, at least 1`);
    if (mode !== 'forecast' && mode !== 'score') throw invalid(`mode is ${String(mode)}: expected 'forecast' or 'score'`);
    if (!(Number.isInteger(this.maxGap) && this.maxGap >= 0)) {
      throw invalid(`maxInterpolatedGap is ${this.maxGap}: expected a whole number of slots`);
    }
    if (!(Number.isInteger(this.maxDevices) && this.maxDevices >= 1)) {
      throw invalid(`maxDevices is ${this.maxDevices}: expected a whole number, at least 1`);
    }
    this.interval = intervalSeconds;
    this.history = history;
    this.mode = mode;
    this.keep = history + (mode === 'score' ? 1 : 0);
  }

  /** Devices with a window. */
  devices(): number {
    return this.windows.size;
  }

  /** Adds one reading; says whether a prediction is due and with which inputs. */
  push(reading: { device: string; time: number; value: number }): WindowStep {
    const { device, time, value } = reading;
    if (!Number.isFinite(time)) {
      throw new DeviceMessageError('bad-time', `the reading of device "${device}" has time ${time}: expected Unix seconds`);
    }
    if (!Number.isFinite(value)) {
      throw new DeviceMessageError('not-finite', `the reading of device "${device}" is ${value}: a model input needs finite numbers`);
    }
    const slot = Math.round(time / this.interval);
    const w = this.windows.get(device);
    if (w === undefined) {
      if (this.windows.size >= this.maxDevices) {
        throw new DeviceMessageError(
          'too-many-devices',
          `device "${device}" would be window number ${this.maxDevices + 1}: at most ${this.maxDevices} devices are tracked (maxDevices); check that device names do not change with every message`,
        );
      }
      this.windows.set(device, { slot, values: [value], sum: value, count: 1, gap: 0, before: 0 });
      return this.step(device, this.windows.get(device)!);
    }
    if (slot < w.slot) return { kind: 'late', device };
    if (slot === w.slot) {
      w.sum += value;
      w.count += 1;
      this.setNewest(w, w.sum / w.count);
      return { kind: 'merged', device };
    }
    const gap = slot - w.slot - 1;
    if (gap > this.maxGap) {
      this.windows.set(device, { slot, values: [value], sum: value, count: 1, gap: 0, before: 0 });
      return { kind: 'reset', device, gapSlots: gap };
    }
    const before = w.values[w.values.length - 1]!;
    // The same formula as regularize, so that the windows and training agree to the last bit.
    for (let g = 1; g <= gap; g++) w.values.push(before + ((value - before) * g) / (gap + 1));
    w.values.push(value);
    if (w.values.length > this.keep) w.values.splice(0, w.values.length - this.keep);
    Object.assign(w, { slot, sum: value, count: 1, gap, before });
    return this.step(device, w);
  }

  /** Sets the newest slot's value and re-draws the interpolated slots before it. */
  private setNewest(w: DeviceWindow, value: number): void {
    const n = w.values.length;
    w.values[n - 1] = value;
    for (let g = 1; g <= w.gap; g++) {
      const at = n - 1 - (w.gap + 1 - g);
      if (at >= 0) w.values[at] = w.before + ((value - w.before) * g) / (w.gap + 1);
    }
  }

  private step(device: string, w: DeviceWindow): WindowStep {
    const have = w.values.length;
    if (have < this.keep) return { kind: 'filling', device, have, need: this.keep };
    const slotTime = w.slot * this.interval;
    if (this.mode === 'forecast') {
      return { kind: 'due', device, slotTime, history: w.values.slice(-this.history), startTime: slotTime + this.interval };
    }
    return { kind: 'due', device, slotTime, history: w.values.slice(-this.history - 1, -1), value: w.values[have - 1]! };
  }

  /** Plain JSON of every window, for the runtime to save and give to `restore`. */
  snapshot(): DeviceWindowsSnapshot {
    return {
      version: 1,
      intervalSeconds: this.interval,
      history: this.history,
      mode: this.mode,
      devices: Array.from(this.windows, ([device, w]) => ({ device, ...w, values: [...w.values] })),
    };
  }

  /**
   * Rebuilds windows from a snapshot. With another interval the saved slots mean nothing and the
   * windows start empty; with another history they are cut to the new length (or fill up again).
   */
  static restore(options: DeviceWindowsOptions, snapshot: DeviceWindowsSnapshot): DeviceWindows {
    const windows = new DeviceWindows(options);
    if (!isObject(snapshot) || snapshot.version !== 1 || !Array.isArray(snapshot.devices)) {
      throw invalid(
        'the device windows snapshot is not one DeviceWindows.snapshot() wrote (version 1): start without it; the windows fill again from new readings',
      );
    }
    if (snapshot.intervalSeconds !== windows.interval) return windows;
    for (const saved of snapshot.devices as unknown[]) {
      if (!validWindow(saved)) {
        throw invalid(
          `the device windows snapshot has a damaged window${isObject(saved) && typeof saved.device === 'string' ? ` for device "${saved.device}"` : ''}: start without it`,
        );
      }
      if (windows.windows.size >= windows.maxDevices) break;
      const { device, slot, values, sum, count, gap, before } = saved;
      windows.windows.set(device, { slot, values: values.slice(-windows.keep), sum, count, gap, before });
    }
    return windows;
  }
}

function invalid(message: string): FoglineError {
  return new FoglineError('FOGLINE_ERR_REQUEST_INVALID', message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validWindow(v: unknown): v is { device: string } & DeviceWindow {
  if (!isObject(v)) return false;
  const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  return (
    typeof v.device === 'string' &&
    Number.isInteger(v.slot) &&
    Array.isArray(v.values) &&
    v.values.length > 0 &&
    v.values.every(finite) &&
    finite(v.sum) &&
    Number.isInteger(v.count) &&
    (v.count as number) >= 1 &&
    Number.isInteger(v.gap) &&
    (v.gap as number) >= 0 &&
    finite(v.before)
  );
}
