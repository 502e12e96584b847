/**
 * deploy/kubernetes: every overlay renders with `kubectl kustomize` (Debian's kubectl, which ships
 * kustomize), and every object it renders is valid against the Kubernetes API schemas (v1.33.0's
 * OpenAPI, as the kubernetes-models package compiles it) and the Prometheus operator's CRDs
 * (@kubernetes-models/prometheus-operator), offline: no cluster, no network. Fields a schema does not
 * know are refused too, as `kubectl apply` (strict field validation) would. Every container runs a
 * real `fogline` command with flags and FOGLINE_* variables that its `--help` lists.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from '../support/processes.js';
import { tempDir } from '../support/processes.js';

const KUBERNETES_DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const FOGLINE = fileURLToPath(new URL('../../bin/fogline.js', import.meta.url));
const OVERLAYS = ['k8s', 'k3s', 'kubeedge'];

type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };
interface Validating {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Validating> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'networking.k8s.io/v1/Ingress': Ingress,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/**
 * Validates `object` with its model's compiled schema and returns the paths of the fields the schema
 * does not know. The validator reads every property the schema names (and every entry of a map);
 * a property of the object it never read is one the API server would refuse as unknown.
 */
function validate(object: KubeObject): string[] {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  const model = new Model(object as never);
  const read = new Map<object, Set<PropertyKey>>();
  const watch = <T>(value: T): T => {
    if (value === null || typeof value !== 'object') return value;
    const keys = new Set<PropertyKey>();
    read.set(value, keys);
    return new Proxy(value, {
      get(target, key, receiver) {
        keys.add(key);
        return watch(Reflect.get(target, key, receiver) as unknown);
      },
    });
  };
  const plain = JSON.parse(JSON.stringify(model)) as object;
  model.validate.call(watch(plain));
  const unknown: string[] = [];
  const walk = (value: unknown, where: string) => {
    if (value === null || typeof value !== 'object') return;
    const keys = read.get(value);
    for (const [key, child] of Object.entries(value)) {
      const at = Array.isArray(value) ? `${where}[${key}]` : `${where}.${key}`;
      if (!Array.isArray(value) && !keys?.has(key)) unknown.push(at);
      else walk(child, at);
    }
  };
  walk(plain, `${object.kind}/${object.metadata.name}`);
  return unknown;
}

/** `kubectl kustomize <dir>`: the rendered objects, or throws with kubectl's message. */
function render(kubectl: string, dir: string): KubeObject[] {
  const result = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).map((document) => document.toJS() as KubeObject);
  for (const object of objects) {
    // kustomize folds long base64 values over several lines; the API server's decoder skips the
    // line breaks, the schema's "byte" format does not.
    if (object.kind === 'Secret') {
      const data = object.data as Record<string, string>;
      for (const key of Object.keys(data)) data[key] = data[key]!.replace(/\s/g, '');
    }
  }
  return objects;
}

const helps = new Map<string, { flags: Set<string>; variables: Set<string> }>();
/** Long options and FOGLINE_* variables that `fogline <command> --help` lists. */
function helpOf(command: string): { flags: Set<string>; variables: Set<string> } {
  const known = helps.get(command);
  if (known) return known;
  const result = spawnSync(process.execPath, [FOGLINE, command, '--help'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`fogline ${command} --help failed:\n${result.stderr}`);
  const help = { flags: new Set(result.stdout.match(/--[a-z][a-z-]*/g)), variables: new Set(result.stdout.match(/FOGLINE_[A-Z_]+/g)) };
  helps.set(command, help);
  return help;
}

type Container = { name: string; image: string; command?: string[]; args?: string[]; env?: { name: string }[]; envFrom?: unknown[] };
function podSpecOf(object: KubeObject): { containers: Container[]; initContainers?: Container[] } | undefined {
  const spec = object.spec as { template?: { spec: { containers: Container[]; initContainers?: Container[] } } } | undefined;
  return spec?.template?.spec;
}

describe('deploy/kubernetes', () => {
  let kubectl: string;
  let work: string;
  let unfilled: { status: number | null; stderr: string };
  const rendered = new Map<string, KubeObject[]>();

  beforeAll(() => {
    kubectl = requireBinary('kubectl');
    // Debian bookworm's kubernetes-client (kubectl 1.20, kustomize v2.0.3) cannot read these
    // kustomizations (`labels`, `patches`): say so instead of failing on its parse error.
    const version = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' }).stdout;
    const kustomize = /Kustomize Version: v(\d+)\.(\d+)/.exec(version);
    if (!kustomize || Number(kustomize[1]) < 5) {
      throw new Error(`${kubectl} bundles no kustomize v5 or later (${version.trim()}): install kubectl 1.27 or later`);
    }
    // A copy with the example secrets filled in, as a user does (cp secrets/<file>.example secrets/<file>).
    work = tempDir('kustomize');
    fs.cpSync(KUBERNETES_DIR, work, { recursive: true });
    const secrets = path.join(work, 'base', 'secrets');
    const examples = fs.readdirSync(secrets).filter((name) => name.endsWith('.example'));
    for (const name of fs.readdirSync(secrets)) {
      if (name !== '.gitignore' && !name.endsWith('.example')) fs.rmSync(path.join(secrets, name)); // a developer's filled-in files
    }
    unfilled = spawnSync(kubectl, ['kustomize', path.join(work, 'overlays', 'k8s')], { encoding: 'utf8' });
    for (const file of examples) fs.copyFileSync(path.join(secrets, file), path.join(secrets, file.slice(0, -'.example'.length)));
    for (const overlay of OVERLAYS) rendered.set(overlay, render(kubectl, path.join(work, 'overlays', overlay)));
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it.each(OVERLAYS)('%s: every object is valid against the Kubernetes and Prometheus operator schemas', (overlay) => {
    const objects = rendered.get(overlay)!;
    expect(objects.map((object) => `${object.kind}/${object.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort()).toEqual(
      [
        'ConfigMap/fogline-agent-config',
        'ConfigMap/fogline-config',
        'DaemonSet/fogline-agent',
        'Deployment/fogline-control-plane',
        'Deployment/fogline-worker',
        'Ingress/fogline',
        'Namespace/fogline',
        'PodMonitor/fogline-agent',
        'Secret/fogline-agent',
        'Secret/fogline-control-plane',
        'Secret/fogline-metrics-token',
        'Secret/fogline-signing-key',
        'Secret/fogline-tls',
        'Secret/fogline-worker',
        'Service/fogline-control-plane',
        'ServiceMonitor/fogline-control-plane',
      ].sort(),
    );
    for (const object of objects) {
      expect(validate(object), `${object.kind}/${object.metadata.name}: fields its schema does not know`).toEqual([]);
      if (object.kind !== 'Namespace') expect(object.metadata.namespace).toBe('fogline');
    }
  });

  it('a typo in a field name or a wrong type is caught', () => {
    const deployment = structuredClone(rendered.get('k8s')!.find((object) => object.kind === 'Deployment')!);
    const container = podSpecOf(deployment)!.containers[0] as Record<string, unknown>;
    container.readinesProbe = container.readinessProbe;
    expect(validate(deployment)).toEqual([`Deployment/fogline-control-plane.spec.template.spec.containers[0].readinesProbe`]);
    container.ports = [{ containerPort: 'http' }];
    expect(() => validate(deployment)).toThrow(/containerPort must be integer/);
    const monitor = structuredClone(rendered.get('k8s')!.find((object) => object.kind === 'ServiceMonitor')!);
    (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0]!.honorLabels = true;
    expect(validate(monitor)).toEqual([]); // a field the CRD has
    (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0]!.scrapeInterval = '30s';
    expect(validate(monitor)).toEqual(['ServiceMonitor/fogline-control-plane.spec.endpoints[0].scrapeInterval']);
    delete (monitor.spec as { selector?: unknown }).selector;
    expect(() => validate(monitor)).toThrow(/spec must have required property selector/);
  });

  it.each(OVERLAYS)('%s: containers run fogline commands with flags and variables their --help lists', (overlay) => {
    const secretsAndMaps = new Map(
      rendered
        .get(overlay)!
        .filter((object) => object.kind === 'Secret' || object.kind === 'ConfigMap')
        .map((object) => [object.metadata.name, Object.keys((object.data ?? {}) as object)]),
    );
    const commands: string[] = [];
    for (const object of rendered.get(overlay)!) {
      const pod = podSpecOf(object);
      if (!pod) continue;
      for (const container of pod.containers) {
        expect(container.image).toBe('ghcr.io/fogline/fogline:0.1.0');
        expect(container.command, 'the image runs bin/fogline.js: containers give only args').toBeUndefined();
        const [command, ...args] = container.args!;
        const { flags, variables } = helpOf(command!);
        commands.push(`${object.metadata.name}: ${command}`);
        for (const flag of args.filter((arg) => arg.startsWith('--'))) expect(flags, `fogline ${command} ${flag}`).toContain(flag);
        const names = [
          ...(container.env ?? []).map((variable) => variable.name),
          ...(container.envFrom ?? []).flatMap((source) => {
            const ref = source as { secretRef?: { name: string }; configMapRef?: { name: string } };
            const name = (ref.secretRef ?? ref.configMapRef)!.name;
            expect(secretsAndMaps.has(name), `${name} is rendered`).toBe(true);
            return secretsAndMaps.get(name)!;
          }),
        ];
        for (const name of names.filter((variable) => variable.startsWith('FOGLINE_'))) {
          expect(variables, `fogline ${command} reads ${name}`).toContain(name);
        }
        // $(VAR) in args is expanded by the kubelet only from the container's own variables.
        for (const reference of args.join(' ').matchAll(/\$\(([A-Z_]+)\)/g)) expect(names).toContain(reference[1]);
      }
    }
    expect(commands.sort()).toEqual(['fogline-agent: agent', 'fogline-control-plane: server', 'fogline-worker: worker']);
  });

  it('the control plane, worker and agent carry what each platform needs', () => {
    const find = (overlay: string, kind: string, name: string) =>
      rendered.get(overlay)!.find((object) => object.kind === kind && object.metadata.name === name)!;
    const server = podSpecOf(find('k8s', 'Deployment', 'fogline-control-plane'))!;
    expect((find('k8s', 'Deployment', 'fogline-control-plane').spec as { replicas: number }).replicas).toBe(2);
    expect(server.containers[0]!.args).toEqual(expect.arrayContaining(['--artifact-store', 'database', '--run-concurrency', '0']));
    expect(podSpecOf(find('k8s', 'Deployment', 'fogline-worker'))!.containers[0]!.args).toEqual(
      expect.arrayContaining(['--server', 'http://fogline-control-plane']),
    );

    const ingressClass = (overlay: string) => (find(overlay, 'Ingress', 'fogline').spec as { ingressClassName: string }).ingressClassName;
    expect(OVERLAYS.map(ingressClass)).toEqual(['nginx', 'traefik', 'nginx']);

    type AgentPod = { hostNetwork?: boolean; nodeSelector: Record<string, string>; tolerations?: { key: string; effect?: string }[] };
    const agent = (overlay: string) => podSpecOf(find(overlay, 'DaemonSet', 'fogline-agent')) as unknown as AgentPod;
    expect(agent('k3s').nodeSelector['fogline.io/agent']).toBe('true');
    expect(agent('kubeedge').nodeSelector['node-role.kubernetes.io/edge']).toBe('');
    expect(agent('kubeedge').tolerations).toContainEqual({ key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoSchedule' });
    expect(agent('kubeedge').hostNetwork).toBe(true);
    expect(agent('k8s').hostNetwork).toBeUndefined();
    // No cluster DNS on KubeEdge's edge nodes: agents use the control plane's external address.
    const agentServer = (overlay: string) => {
      const config = rendered.get(overlay)!.find((object) => object.metadata.name.startsWith('fogline-agent-config-'))!;
      return (config.data as Record<string, string>).FOGLINE_SERVER;
    };
    expect(agentServer('kubeedge')).toMatch(/^https:\/\//);
    expect(agentServer('k3s')).toBe('http://fogline-control-plane.fogline.svc.cluster.local');
  });

  it('refuses to render before the secrets are filled in, naming the missing file', () => {
    expect(unfilled.status).not.toBe(0);
    expect(unfilled.stderr).toMatch(/secrets\/control-plane\.env/);
  });
});
