import type { DeviceBinding } from '../../contracts/devices.js';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import type { InferenceResult } from '../../inference/inference-call.js';
import { type DeviceReading, type DeviceResult, DeviceMessageError } from '../../devices/device-reading.js';
import { DeviceWindows } from '../../devices/device-windows.js';
import { decodeEdgexMessage, encodeEdgexResult } from '../../devices/edgex-codec.js';
import { decodeJsonMessage, encodeJsonResult } from '../../devices/json-codec.js';
import { type DeviceInputPlan, readingRequest, resultOutputs, windowRequest } from '../../devices/model-inputs.js';
import { renderOutputTopic } from '../../devices/topics.js';
import { DeviceLedger, type PendingResult } from './device-ledger.js';

/** What a binding needs from the agent: its model, the drift monitor's actuals, the broker, and who counts. */
export interface BindingPorts {
  infer(deployment: string, request: V2InferRequest): Promise<InferenceResult>;
  /** A forecaster's observed value for a slot: scores earlier forecasts (drift). Best effort. */
  recordActual(deployment: string, time: number, value: number): void;
  /** Resolves once the broker has acknowledged the message (QoS 1). */
  publish(topic: string, payload: Buffer): Promise<void>;
  observer: BindingObserver;
  warn(details: object, message: string): void;
}

export interface BindingObserver {
  message(deployment: string): void;
  result(deployment: string, latencyMs: number): void;
  deadLetter(deployment: string, reason: string): void;
}

/** Results that may wait for the broker before the binding stops taking readings (the broker then keeps them). */
export const MAX_BUFFERED_RESULTS = 100_000;
/** Tries of one prediction before its reading goes to the dead letters (the model may be loading). */
const INFER_TRIES = 5;

/** One deployment's MQTT binding on this node: readings in, windows, predictions, results out. */
export class DeviceBindingRuntime {
  readonly deployment: string;
  /** The registry model the deployment serves (its answers name the deployment). */
  readonly model: string;
  readonly binding: DeviceBinding;
  private readonly windows: DeviceWindows | undefined;
  private readonly ledger: DeviceLedger;
  private nextSeq: number;
  /** Results logged and handed to the broker, not yet acknowledged, by reading number. */
  private readonly unacked = new Map<number, PendingResult>();
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private stopped = false;
  counts = { messages: 0, predictions: 0, deadLetters: 0 };
  private readonly latencies: number[] = [];
  /** Settles when the predictions started so far have been answered (never rejects). */
  private predictions: Promise<void> = Promise.resolve();

  constructor(
    options: {
      deployment: string;
      model: string;
      binding: DeviceBinding;
      plan: DeviceInputPlan;
      intervalSeconds: number | undefined;
      dataDir: string;
    },
    private readonly ports: BindingPorts,
  ) {
    this.deployment = options.deployment;
    this.model = options.model;
    this.binding = options.binding;
    this.plan = options.plan;
    const windowOptions =
      options.plan.mode === 'per-reading'
        ? undefined
        : { intervalSeconds: options.intervalSeconds ?? 3600, history: options.plan.history, mode: options.plan.mode };
    const { ledger, replay } = DeviceLedger.open(options.dataDir, options.deployment);
    this.ledger = ledger;
    this.nextSeq = replay.nextSeq;
    this.windows =
      windowOptions && (replay.snapshot ? DeviceWindows.restore(windowOptions, replay.snapshot) : new DeviceWindows(windowOptions));
    // Resume: readings since the last compaction rebuild the windows; those that were due and have
    // no result yet are predicted now; results the broker never acknowledged go out again, in order.
    for (const { seq, reading } of replay.readings) {
      const due = this.step({ resource: '', ...reading });
      if (due && !replay.answered.has(seq)) this.predict(seq, due, performance.now());
    }
    for (const result of replay.unpublished) this.send(result, undefined);
  }

  private readonly plan: DeviceInputPlan;

  /** Results waiting for the broker (logged on disk). */
  get buffered(): number {
    return this.unacked.size;
  }

  /** p99 of reading-in to result-handed-to-the-broker over the last 1,000 results, ms. */
  latencyP99Ms(): number | null {
    if (this.latencies.length === 0) return null;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
  }

  /**
   * Takes one message: decodes it, logs each reading and starts its prediction; a message that
   * cannot be used goes to the dead letters. Returns once it is safe to acknowledge the message to
   * the broker (logged) and the buffer has room.
   */
  async accept(topic: string, payload: Buffer): Promise<void> {
    const arrived = performance.now();
    this.ports.observer.message(this.deployment);
    this.counts.messages += 1;
    let readings: DeviceReading[];
    try {
      readings =
        this.binding.format === 'edgex'
          ? decodeEdgexMessage(payload, this.binding.resource ? { resource: this.binding.resource } : {})
          : decodeJsonMessage(payload);
    } catch (error) {
      this.deadLetter(topic, payload, error);
      return this.room();
    }
    for (const reading of readings) {
      try {
        // A per-reading model checks the reading's shape before it is logged: a wrong one is a dead letter, not a retry.
        if (this.plan.mode === 'per-reading') readingRequest(reading, this.plan);
        else if (reading.value === undefined)
          throw new DeviceMessageError(
            'wrong-shape',
            `reading "${reading.resource}" of device "${reading.device}" holds ${reading.values?.length ?? 0} numbers: a ${this.plan.mode === 'forecast' ? 'forecaster' : 'anomaly detector'} takes one number per reading`,
          );
        const seq = this.nextSeq++;
        this.ledger.reading(seq, reading);
        const due = this.step(reading);
        if (due) this.predict(seq, due, arrived);
      } catch (error) {
        this.deadLetter(topic, payload, error);
      }
    }
    return this.room();
  }

  /** Stops taking readings; waits for predictions under way to be logged. Results not yet acknowledged stay in the log. */
  async stop(options: { remove?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await this.idle();
    if (options.remove) this.ledger.remove();
    else this.ledger.close();
  }

  /** The window step of a reading: a request when a prediction is due, undefined otherwise. */
  private step(reading: DeviceReading): { request: V2InferRequest; device: string; time: number; startTime?: number } | undefined {
    if (!this.windows) {
      if (this.plan.mode !== 'per-reading') return undefined;
      return { request: readingRequest(reading, this.plan), device: reading.device, time: reading.time };
    }
    const step = this.windows.push({ device: reading.device, time: reading.time, value: reading.value ?? Number.NaN });
    if (step.kind !== 'due') return undefined;
    if (this.plan.mode === 'forecast') {
      const { slotTime } = step;
      const value = step.history.at(-1)!;
      // After the predictions under way: in a burst (a broker's queue after a restart) the actual
      // would otherwise arrive before the forecasts it scores, and score none of them.
      void this.predictions.then(() => this.ports.recordActual(this.deployment, slotTime, value));
    }
    return {
      request: windowRequest(step),
      device: step.device,
      time: step.slotTime,
      ...(step.startTime !== undefined ? { startTime: step.startTime } : {}),
    };
  }

  private predict(seq: number, due: { request: V2InferRequest; device: string; time: number; startTime?: number }, arrived: number): void {
    this.inFlight += 1;
    const answered = this.inferWithRetries(due.request)
      .then((response) => {
        const result: DeviceResult = {
          deployment: this.deployment,
          model: this.model,
          version: Number(response.modelVersion),
          device: due.device,
          time: due.time,
          outputs: resultOutputs(response),
          ranOn: response.ranOn ?? 'edge',
          ...(due.startTime !== undefined ? { startTime: due.startTime } : {}),
        };
        const payload = Buffer.from(this.binding.format === 'edgex' ? encodeEdgexResult(result) : encodeJsonResult(result));
        const topic = renderOutputTopic(this.binding.output, { deployment: this.deployment, device: due.device });
        this.counts.predictions += 1;
        this.send({ seq, topic, payload }, arrived);
      })
      .catch((error: unknown) => {
        this.ports.warn(
          { deployment: this.deployment, device: due.device, err: (error as Error).message },
          'a device prediction failed: sent to the dead letters',
        );
        this.sendDeadLetter(seq, { reason: 'inference-failed', message: (error as Error).message, device: due.device, time: due.time });
      })
      .finally(() => {
        this.inFlight -= 1;
        if (this.inFlight === 0) this.afterIdle();
      });
    this.predictions = Promise.all([this.predictions, answered]).then(() => undefined);
  }

  private async inferWithRetries(request: V2InferRequest): Promise<InferenceResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ports.infer(this.deployment, request);
      } catch (error) {
        // A model that is loading (first start, a restart) answers 503 for a moment, and an
        // overloaded node sheds with 429 for a moment; a bad input never gets better.
        const { status, statusCode } = error as { status?: number; statusCode?: number };
        const code = status ?? statusCode;
        if (attempt >= INFER_TRIES || this.stopped || (code !== undefined && code < 500 && code !== 429)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  /** Logs the result, then hands it to the broker; acknowledged, it is marked published. */
  private send(result: PendingResult, arrived: number | undefined): void {
    if (arrived !== undefined) {
      this.ledger.result(result);
      const latency = performance.now() - arrived;
      this.latencies.push(latency);
      if (this.latencies.length > 1000) this.latencies.shift();
      this.ports.observer.result(this.deployment, latency);
    }
    this.unacked.set(result.seq, result);
    this.ports
      .publish(result.topic, result.payload)
      .then(() => {
        this.unacked.delete(result.seq);
        if (!this.stopped) this.ledger.published(result.seq);
        this.wake();
      })
      .catch(() => undefined); // the client publishes it again when it reconnects; the log keeps it across a restart
  }

  private deadLetter(topic: string, payload: Buffer, error: unknown): void {
    const reason = error instanceof DeviceMessageError ? error.reason : 'bad-value';
    const seq = this.nextSeq++;
    this.sendDeadLetter(seq, {
      reason,
      message: (error as Error).message,
      topic,
      payload: payload.subarray(0, 64 * 1024).toString('base64'),
    });
  }

  private sendDeadLetter(seq: number, body: { reason: string; message: string } & Record<string, unknown>): void {
    this.counts.deadLetters += 1;
    this.ports.observer.deadLetter(this.deployment, body.reason);
    const topic = renderOutputTopic(this.binding.deadLetter, { deployment: this.deployment, device: '' });
    const payload = Buffer.from(JSON.stringify({ deployment: this.deployment, at: new Date().toISOString(), ...body }));
    this.ledger.result({ seq, topic, payload });
    this.send({ seq, topic, payload }, undefined);
  }

  /** Waits while the buffer is full: the broker keeps the readings meanwhile. */
  private async room(): Promise<void> {
    while (this.unacked.size + this.inFlight >= MAX_BUFFERED_RESULTS && !this.stopped) {
      await new Promise<void>((resolve) => this.drained.push(resolve));
    }
    if (this.ledger.needsCompaction) {
      await this.idle();
      this.ledger.compact(
        this.windows?.snapshot(),
        this.nextSeq,
        [...this.unacked.values()].sort((a, b) => a.seq - b.seq),
      );
    }
  }

  private async idle(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  private afterIdle(): void {
    this.wake();
  }

  private wake(): void {
    const waiting = this.drained;
    this.drained = [];
    for (const resolve of waiting) resolve();
  }
}
