import { type Static, Type } from '@sinclair/typebox';
import { Count, Nullable } from './common.js';

/** How readings arrive and results leave on MQTT: EdgeX v3 events, or plain JSON `{device, time, value}`. */
export const DEVICE_FORMATS = ['edgex', 'json'] as const;
export type DeviceFormat = (typeof DEVICE_FORMATS)[number];

/** Where a deployment's dead letters go when the binding names no topic. */
export const DEFAULT_DEAD_LETTER_TOPIC = 'fogline/dead-letter/{deployment}';

/**
 * A deployment's MQTT binding (issue 18): every agent serving the deployment subscribes to
 * `input` on its broker, turns readings into model inputs, predicts, and publishes each result
 * to `output`. Checked by the control plane (src/devices/topics.ts) before it is stored.
 */
export const DeviceBinding = Type.Object(
  {
    input: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: "Topic filter the agents subscribe to, MQTT wildcards allowed (e.g. 'edgex/events/device/+/+/+/load')",
    }),
    output: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: "Topic each result goes to; {deployment} and {device} are filled in (e.g. 'fogline/predictions/{deployment}/{device}')",
    }),
    format: Type.Union(
      DEVICE_FORMATS.map((f) => Type.Literal(f)),
      { description: 'edgex: EdgeX v3 events in and out; json: {device, time, value} in, {device, time, outputs} out' },
    ),
    resource: Nullable(
      Type.String({
        maxLength: 256,
        description: 'EdgeX: the resourceName whose readings feed the model (null: every reading of the event)',
      }),
    ),
    deadLetter: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'Topic for messages that cannot be used, with the reason; {deployment} is filled in',
    }),
  },
  { additionalProperties: false },
);
export type DeviceBinding = Static<typeof DeviceBinding>;

/** What `POST /deployments` takes: format, resource and dead-letter topic are optional. */
export const DeviceBindingRequest = Type.Object(
  {
    input: DeviceBinding.properties.input,
    output: DeviceBinding.properties.output,
    format: Type.Optional(DeviceBinding.properties.format),
    resource: Type.Optional(DeviceBinding.properties.resource),
    deadLetter: Type.Optional(DeviceBinding.properties.deadLetter),
  },
  { additionalProperties: false },
);
export type DeviceBindingRequest = Static<typeof DeviceBindingRequest>;

/** One node's counts for a deployment's MQTT binding, since its agent started. */
export const DeviceCounts = Type.Object(
  {
    messages: Count({ description: 'Messages taken from the input topic' }),
    predictions: Count({ description: 'Results published (or waiting in the buffer)' }),
    deadLetters: Count({ description: 'Messages sent to the dead-letter topic' }),
    buffered: Count({ description: 'Results waiting on disk for the broker' }),
    latencyP99Ms: Nullable(
      Type.Number({ minimum: 0, maximum: 3_600_000, description: 'Reading in to result handed to the broker, p99, ms' }),
    ),
    connected: Type.Boolean({ description: 'Whether the agent is connected to its broker now' }),
  },
  { additionalProperties: false },
);
export type DeviceCounts = Static<typeof DeviceCounts>;
