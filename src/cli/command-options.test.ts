import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { AGENT_OPTIONS } from '../config/agent-options.js';
import { CLIENT_OPTIONS } from '../config/client-options.js';
import { flagName, type OptionSpecs } from '../config/options.js';
import { SERVER_OPTIONS } from '../config/server-options.js';
import { UP_OPTIONS } from '../config/up-options.js';
import { WORKER_OPTIONS } from '../config/worker-options.js';
import { addOptions, readOptions } from './command-options.js';

/** A value each option accepts that differs from its default. */
const SAMPLES: Record<string, string> = {
  '--data-dir': '/tmp/fogline-sample',
  '--db': 'postgres://u@h/db',
  '--host': '0.0.0.0',
  '--port': '9999',
  '--heartbeat-interval': '3',
  '--node-timeout': '9',
  '--body-limit': '2048',
  '--dataset-limit': '4096',
  '--run-concurrency': '2',
  '--metrics-access': 'public',
  '--cache-limit': '1000000',
  '--demo': 'no',
  '--log-level': 'debug',
  '--server': 'http://10.0.0.1:7070',
  '--join-token': 'fgl.x',
  '--name': 'pi-7',
  '--labels': 'site=x',
  '--role': 'cloud',
  '--advertise-url': 'http://pi-7:7071',
  '--token': 'fgl.y',
  '--max-batch-size': '4',
  '--max-batch-delay-ms': '2',
  '--predictor-isolation': 'worker',
  '--redis': 'redis://127.0.0.1:6379',
  '--redis-channel': 'plant-a:changes',
  '--artifact-store': 'database',
  '--signing-key-file': '/run/secrets/fogline-signing-key.pem',
  '--trust-proxy': '127.0.0.1,10.0.0.0/8',
  '--runtime': 'tfjs',
  '--onnx-threads': '2',
  '--onnx-provider': 'webgpu',
  '--model-limit': '1048576',
  '--import-trial-timeout': '30',
  '--offload-cpu-load': '1.5',
  '--offload-timeout-ms': '500',
  '--offload-overload': 'queue',
  '--stream-sessions': 'required',
  '--sessions-per-node': '2',
  '--session-idle-timeout': '30',
  '--session-load-timeout': '10',
  '--session-release-after': '60',
  '--session-max-load': '8',
  '--sample-clock-skew': '600',
  '--sample-value-band': '0.5',
  '--sample-gap-limit': '24',
  '--edge-auth': 'token',
  '--client-ca': '/etc/fogline/client-ca.pem',
  '--enrol-rate-limit': '100',
  '--tls-cert': '/etc/fogline/cert.pem',
  '--tls-key': '/etc/fogline/key.pem',
  '--ca': '/etc/fogline/ca.pem',
  '--auth-failure-limit': '10',
  '--fl-data': '/tmp/site-a.csv',
  '--pipeline-concurrency': 'image-classifier=1,forecast=4',
  '--worker-lost-after': '5',
  '--concurrency': '2',
  '--cache-dir': '/var/cache/fogline-worker',
  '--mqtt-url': 'mqtt://127.0.0.1:1883',
  '--mqtt-username': 'plant-a',
  '--mqtt-password': 'secret',
  '--mqtt-ca': '/etc/fogline/mqtt-ca.pem',
  '--mqtt-cert': '/etc/fogline/mqtt-cert.pem',
  '--mqtt-key': '/etc/fogline/mqtt-key.pem',
  // A switch: the flag alone, no value.
  '--migrate-only': '',
};

describe.each([
  ['server', SERVER_OPTIONS],
  ['agent', AGENT_OPTIONS],
  ['up', UP_OPTIONS],
  ['client', CLIENT_OPTIONS],
  ['worker', WORKER_OPTIONS],
] as [string, OptionSpecs][])('%s flags', (_, specs) => {
  it.each(Object.entries(specs))('--%s reaches the resolved configuration', (key, spec) => {
    const flag = flagName(spec);
    const sample = SAMPLES[flag];
    expect(sample, `add a sample value for ${flag}`).toBeDefined();
    const command = addOptions(new Command('x').exitOverride(), specs);
    command.parse(['node', 'x', flag, ...(spec.flag.includes(' ') ? [sample as string] : [])]);
    const resolved = readOptions(specs, command) as Record<string, unknown>;
    const defaults = readOptions(specs, addOptions(new Command('y'), specs).parse(['node', 'y'])) as Record<string, unknown>;
    expect(resolved[key]).not.toEqual(defaults[key]);
  });
});

describe('--pipeline-concurrency', () => {
  const parse = (value: string) =>
    readOptions(
      SERVER_OPTIONS,
      addOptions(new Command('x').exitOverride(), SERVER_OPTIONS).parse(['node', 'x', '--pipeline-concurrency', value]),
    );
  it('reads pipeline=n pairs', () => {
    expect(parse('forecast=2, anomaly=1').pipelineConcurrency).toEqual({ forecast: 2, anomaly: 1 });
  });
  it.each(['forecast', 'forecast=0', 'forecast=1.5', 'unknown=1', 'forecast=two'])('refuses "%s", naming the pipelines', (value) => {
    expect(() => parse(value)).toThrow(/is not <pipeline>=<n> with a pipeline of forecast, anomaly, image-classifier/);
  });
});
