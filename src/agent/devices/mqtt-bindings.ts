import fs from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import type * as Mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { DesiredDeployment, DesiredState } from '../../contracts/deployments.js';
import type { DeviceCounts } from '../../contracts/devices.js';
import type { V2InferRequest } from '../../contracts/open-inference.js';
import type { InferenceResult } from '../../inference/inference-call.js';
import { deviceInputPlan } from '../../devices/model-inputs.js';
import { topicMatches } from '../../devices/topics.js';
import { type BindingObserver, DeviceBindingRuntime } from './device-binding-runtime.js';

/** How the agent reaches its broker (agent flags --mqtt-*). */
export interface BrokerSettings {
  url: string;
  username?: string;
  password?: string;
  /** PEM file paths. */
  ca?: string;
  cert?: string;
  key?: string;
}

export interface MqttBindingsOptions {
  broker: BrokerSettings | undefined;
  /** The persistent session's client id: one per node, so the broker keeps its readings while the agent restarts. */
  clientId: string;
  dataDir: string;
  infer(deployment: string, request: V2InferRequest): Promise<InferenceResult>;
  /** Waits until the deployment serves; then its series interval (from the bundle), if it has one. */
  intervalSeconds(deployment: string, wanted: () => boolean): Promise<number | undefined>;
  recordActual(deployment: string, time: number, value: number): void;
  observer: BindingObserver & { connected(up: boolean): void; buffered(read: () => Map<string, number>): void };
  /** A binding's subscription was acknowledged: its counts join the status report (send it now). */
  onSubscribed?: () => void;
  log: { info(details: object, message: string): void; warn(details: object, message: string): void };
}

interface Entry {
  key: string;
  desired: DesiredDeployment;
  /** Settles once the binding's model serves and its log is replayed. */
  ready: Promise<DeviceBindingRuntime | undefined>;
  runtime?: DeviceBindingRuntime;
  /** The broker has acknowledged the subscription: readings published from now on reach the binding. */
  subscribed?: boolean;
}

/**
 * Every MQTT binding of the deployments this node serves, over one broker connection with a
 * persistent session (clean: false, QoS 1): the broker keeps readings while the agent is away. A
 * message is acknowledged only once each binding it matches has logged it (DeviceBindingRuntime),
 * so a killed agent gets it again. Bindings follow the desired state: added, changed, removed.
 */
export class MqttBindings {
  private readonly entries = new Map<string, Entry>();
  /** The broker connection, made with the first binding: mqtt.js (~9 MiB resident) loads only then. */
  private client: Promise<MqttClient> | undefined;
  private warnedNoBroker = new Set<string>();
  private connected = false;

  constructor(private readonly options: MqttBindingsOptions) {
    options.observer.buffered(() => new Map([...this.entries].map(([name, e]) => [name, e.runtime?.buffered ?? 0])));
  }

  /** Brings the bindings in line with the desired state. */
  update(state: DesiredState): void {
    const wanted = new Map(state.deployments.filter((d) => d.mqtt).map((d) => [d.name, d]));
    const removals = new Map<string, Promise<void>>();
    for (const [name, entry] of this.entries) {
      const desired = wanted.get(name);
      // Another binding, or a model with other inputs (another window): its log starts afresh.
      if (!desired || bindingKey(desired) !== entry.key) removals.set(name, this.remove(name, entry));
    }
    for (const [name, desired] of wanted) {
      if (this.entries.has(name)) continue;
      if (!this.options.broker) {
        if (!this.warnedNoBroker.has(name)) {
          this.warnedNoBroker.add(name);
          this.options.log.warn(
            { deployment: name, input: desired.mqtt!.input },
            'this deployment takes device data over MQTT, but this agent has no broker: start it with --mqtt-url mqtt://<broker>:1883',
          );
        }
        continue;
      }
      this.add(name, desired, removals.get(name));
    }
  }

  /**
   * Counts per binding, for the status report and the dashboard. A binding appears once the broker
   * has acknowledged its subscription: until then readings published to its topic are not kept for
   * it, so its counts showing up in `deploy get` is the sign that devices can start publishing.
   */
  counts(): Map<string, DeviceCounts> {
    const counts = new Map<string, DeviceCounts>();
    for (const [name, { runtime, subscribed }] of this.entries) {
      if (!runtime || !subscribed) continue;
      counts.set(name, { ...runtime.counts, buffered: runtime.buffered, latencyP99Ms: runtime.latencyP99Ms(), connected: this.connected });
    }
    return counts;
  }

  async stop(): Promise<void> {
    const runtimes = await Promise.all([...this.entries.values()].map((e) => e.ready));
    this.entries.clear();
    // Logged readings and unacknowledged results stay on disk: the next start resumes from them.
    await Promise.all(runtimes.map((r) => r?.stop()));
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    await client?.endAsync();
  }

  private add(name: string, desired: DesiredDeployment, previous: Promise<void> | undefined): void {
    const binding = desired.mqtt!;
    const entry: Entry = { key: bindingKey(desired), desired, ready: Promise.resolve(undefined) };
    entry.ready = (async () => {
      try {
        await previous;
        const plan = deviceInputPlan(desired.ioSignature, desired.model);
        const intervalSeconds =
          plan.mode === 'per-reading' ? undefined : await this.options.intervalSeconds(name, () => this.entries.get(name) === entry);
        if (this.entries.get(name) !== entry) return undefined;
        const runtime = new DeviceBindingRuntime(
          { deployment: name, model: desired.model, binding, plan, intervalSeconds, dataDir: path.join(this.options.dataDir, 'devices') },
          {
            infer: this.options.infer,
            recordActual: this.options.recordActual,
            publish: (topic, payload) => this.publish(topic, payload),
            observer: this.options.observer,
            warn: (details, message) => this.options.log.warn(details, message),
          },
        );
        entry.runtime = runtime;
        // Not awaited: with a kept session the broker sends queued readings at once, and the client
        // reads no SUBACK while a message waits for this very binding to be ready.
        this.connect()
          .then((client) => client.subscribeAsync(binding.input, { qos: 1 }))
          .then(() => {
            entry.subscribed = true;
            this.options.onSubscribed?.();
            this.options.log.info({ deployment: name, input: binding.input, output: binding.output }, 'subscribed to device data');
          })
          .catch((error: Error) =>
            this.options.log.warn({ deployment: name, err: error.message }, 'could not subscribe; retried when the broker reconnects'),
          );
        return runtime;
      } catch (error) {
        this.options.log.warn({ deployment: name, err: (error as Error).message }, 'could not start the MQTT binding');
        return undefined;
      }
    })();
    this.entries.set(name, entry);
  }

  private async remove(name: string, entry: Entry): Promise<void> {
    this.entries.delete(name);
    const runtime = await entry.ready;
    const filter = entry.desired.mqtt!.input;
    const stillUsed = [...this.entries.values()].some((e) => e.desired.mqtt!.input === filter);
    if (!stillUsed && this.client) await this.client.then((client) => client.unsubscribeAsync(filter)).catch(() => undefined);
    // A new version of the same model keeps its binding (and windows): only a removed or changed binding gets here.
    await runtime?.stop({ remove: true });
    this.options.log.info({ deployment: name }, 'stopped taking device data for this deployment');
  }

  private connect(): Promise<MqttClient> {
    this.client ??= import('mqtt').then(({ connect }) => this.open(connect));
    return this.client;
  }

  private open(connect: typeof Mqtt.connect): MqttClient {
    const broker = this.options.broker!;
    const options: IClientOptions = {
      clientId: this.options.clientId,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(broker.username !== undefined ? { username: broker.username } : {}),
      ...(broker.password !== undefined ? { password: broker.password } : {}),
      ...(broker.ca ? { ca: fs.readFileSync(broker.ca), rejectUnauthorized: true } : {}),
      ...(broker.cert ? { cert: fs.readFileSync(broker.cert) } : {}),
      ...(broker.key ? { key: fs.readFileSync(broker.key) } : {}),
    };
    const client = connect(broker.url, options);
    // One message at a time (mqtt.js waits for the callback before the next, and acknowledges after it).
    client.handleMessage = (packet, done) => {
      void this.route(packet.topic, Buffer.from(packet.payload as Uint8Array)).finally(() => done());
    };
    client.on('connect', () => {
      // Nagle's algorithm held the small QoS 1 packets (acknowledgements, results) back by up to
      // 40 ms each (bench/mqtt); EdgeX's Go clients turn it off too. Each reconnect has a new socket.
      (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
      this.setConnected(true);
      this.options.log.info({ broker: broker.url }, 'connected to the MQTT broker');
    });
    client.on('close', () => this.setConnected(false));
    client.on('error', (error) => {
      // Secrets never reach the log: the URL holds none (the flag refuses them), the error names no password.
      this.options.log.warn({ broker: broker.url, err: error.message }, 'MQTT broker error; retrying every second');
    });
    return client;
  }

  private setConnected(up: boolean): void {
    if (this.connected === up) return;
    this.connected = up;
    this.options.observer.connected(up);
  }

  /** One message to every binding whose filter matches its topic; resolves when each has logged it. */
  private async route(topic: string, payload: Buffer): Promise<void> {
    const matching = [...this.entries.values()].filter((e) => topicMatches(e.desired.mqtt!.input, topic));
    for (const entry of matching) {
      // A binding still starting (its model loading) holds the stream: the broker keeps what follows.
      const runtime = await entry.ready;
      await runtime?.accept(topic, payload);
    }
  }

  /** QoS 1; while the broker is away the client keeps the message and sends it, in order, once it is back. */
  private async publish(topic: string, payload: Buffer): Promise<void> {
    const client = await this.connect();
    return new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve())));
  }
}

/** Restart a binding when what it feeds changes shape (another model's inputs) or the binding itself changes. */
function bindingKey(desired: DesiredDeployment): string {
  return JSON.stringify([desired.mqtt, desired.ioSignature.inputs]);
}
