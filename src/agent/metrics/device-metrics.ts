import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BindingObserver } from '../devices/device-binding-runtime.js';

/**
 * Prometheus metrics of the node's MQTT bindings (src/agent/devices): messages in, results out,
 * dead letters by reason, results waiting for the broker, reading-to-result latency, and whether
 * the broker is connected. One label, the deployment (a bounded set: what the node serves).
 */
export class DeviceMetrics implements BindingObserver {
  private readonly messages: Counter<'deployment'>;
  private readonly results: Counter<'deployment'>;
  private readonly deadLetters: Counter<'deployment' | 'reason'>;
  private readonly latency: Histogram<'deployment'>;
  private readonly brokerUp: Gauge;
  private readBuffered: () => Map<string, number> = () => new Map();

  constructor(registry: Registry) {
    this.messages = new Counter({
      name: 'fogline_mqtt_messages_total',
      help: "Messages taken from a deployment's MQTT input topic",
      labelNames: ['deployment'],
      registers: [registry],
    });
    this.results = new Counter({
      name: 'fogline_mqtt_predictions_total',
      help: 'Predictions made from device readings and handed to the broker (or its buffer)',
      labelNames: ['deployment'],
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'fogline_mqtt_dead_letters_total',
      help: 'Messages or readings sent to the dead-letter topic, by reason (malformed-json, wrong-value-type, not-finite, inference-failed…)',
      labelNames: ['deployment', 'reason'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'fogline_mqtt_result_latency_seconds',
      help: 'From a reading taken off the broker to its result handed to the broker',
      labelNames: ['deployment'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    const read = () => this.readBuffered();
    new Gauge({
      name: 'fogline_mqtt_buffered_results',
      help: 'Results logged on the node and not yet acknowledged by the broker',
      labelNames: ['deployment'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [deployment, depth] of read()) this.set({ deployment }, depth);
      },
    });
    this.brokerUp = new Gauge({
      name: 'fogline_mqtt_connected',
      help: '1 while the agent is connected to its MQTT broker (--mqtt-url), 0 otherwise',
      registers: [registry],
    });
  }

  message(deployment: string): void {
    this.messages.inc({ deployment });
  }

  result(deployment: string, latencyMs: number): void {
    this.results.inc({ deployment });
    this.latency.observe({ deployment }, latencyMs / 1000);
  }

  deadLetter(deployment: string, reason: string): void {
    this.deadLetters.inc({ deployment, reason });
  }

  connected(up: boolean): void {
    this.brokerUp.set(up ? 1 : 0);
  }

  buffered(read: () => Map<string, number>): void {
    this.readBuffered = read;
  }
}
