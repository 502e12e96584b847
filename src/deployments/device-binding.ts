import { DEFAULT_DEAD_LETTER_TOPIC, type DeviceBinding, type DeviceBindingRequest } from '../contracts/devices.js';
import type { IoSignature } from '../contracts/models.js';
import { deviceInputPlan } from '../devices/model-inputs.js';
import { checkOutputTemplate, checkTopicFilter } from '../devices/topics.js';

/**
 * A deployment's MQTT binding as stored: the topics checked (a filter that is no MQTT filter, or
 * an output topic with wildcards or unknown placeholders, is refused before anything is written),
 * the model checked to be one a binding can feed, and the defaults filled in.
 */
export function resolveDeviceBinding(request: DeviceBindingRequest, model: { name: string; ioSignature: IoSignature }): DeviceBinding {
  checkTopicFilter(request.input);
  checkOutputTemplate(request.output);
  const deadLetter = request.deadLetter ?? DEFAULT_DEAD_LETTER_TOPIC;
  checkOutputTemplate(deadLetter);
  deviceInputPlan(model.ioSignature, model.name);
  return {
    input: request.input,
    output: request.output,
    format: request.format ?? 'edgex',
    resource: request.resource ?? null,
    deadLetter,
  };
}
