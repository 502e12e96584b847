/**
 * Bring your own model, end to end with real processes: the two examples/pytorch scripts train and
 * export their models with Debian's PyTorch, `fogline models import` sends them to a control plane,
 * `fogline deploy create` puts them on two edge agents, and each agent's V2 answers for PyTorch's
 * 16 held-out reference rows equal PyTorch's own (with the predicted digit as `label`). A second
 * version then rolls out to both agents while clients keep asking: no request fails and every
 * answer stays PyTorch's. Steps run in order and share one cluster.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/contracts/deployments.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import { beforeAllOrFail } from '../support/before-all-or-fail.js';
import { TestCluster } from '../support/cluster.js';
import { cleanFoglineEnv, eventually, requestJson, runFogline, tempDir } from '../support/processes.js';
import { requirePythonTorch } from '../support/python-torch.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/pytorch/', import.meta.url));
const AGENTS = ['edge-1', 'edge-2'];

/** What the scripts write beside each model: 16 held-out rows and PyTorch's answers for them. */
interface Reference {
  input: string;
  output: string;
  shape: [number, number];
  inputs: number[][];
  outputs: number[][];
}

interface V2Answer {
  model_version: string;
  outputs: { name: string; datatype: string; shape: number[]; data: (number | string)[] }[];
}

/** The two models, with how close a served number must be to PyTorch's. */
const MODELS = {
  digits: { script: 'train_digits_cnn.py', file: 'digits-cnn', tolerance: () => 1e-4 },
  // Float32 megawatts around 30,000: one float32 step is 0.004 MW, so the bound is relative.
  forecaster: {
    script: 'train_load_forecaster.py',
    file: 'load-forecaster',
    tolerance: (ref: number) => 1e-4 * Math.max(1, Math.abs(ref)),
  },
} as const;
type ModelKey = keyof typeof MODELS;

function runPython(python: string, script: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(python, [path.join(EXAMPLES, script), '--out', out], { timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${script} failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
}

/** Indices of the largest score of each row. */
function argmaxRows(rows: number[][]): number[] {
  return rows.map((row) => row.indexOf(Math.max(...row)));
}

describe('PyTorch → ONNX → Fogline round trip (real processes)', { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let out: string;
  const references = {} as Record<ModelKey, Reference>;
  let labels: string[];

  const cli = (args: string[]) => runFogline(args, cleanFoglineEnv({ FOGLINE_SERVER: cluster.url, FOGLINE_TOKEN: cluster.adminToken }));

  /** The 16 reference rows as one V2 request. */
  const requestFor = (reference: Reference) => ({
    inputs: [{ name: reference.input, shape: reference.shape, datatype: 'FP32', data: reference.inputs.flat() }],
  });

  /** Asks `agent` for the reference rows of `model`; throws unless the answer is PyTorch's, and resolves with the version that answered. */
  async function askAgent(agent: string, model: ModelKey): Promise<string> {
    const reference = references[model];
    const { status, body } = await requestJson<V2Answer>(`${cluster.agents.get(agent)!.url}/v2/models/${model}/infer`, {
      method: 'POST',
      body: requestFor(reference),
      timeoutMs: 10_000,
    });
    if (status !== 200) throw new Error(`${agent} answered ${status}: ${JSON.stringify(body)}`);
    const answer = body.outputs.find((o) => o.name === reference.output);
    const rows = reference.outputs.length;
    const width = reference.outputs[0]!.length;
    if (!answer) throw new Error(`${agent} answered without ${reference.output}: ${JSON.stringify(body.outputs.map((o) => o.name))}`);
    expect(answer).toMatchObject({ datatype: 'FP32', shape: [rows, width] });
    const expected = reference.outputs.flat();
    const worst = expected.reduce((most, value, i) => {
      const off = Math.abs((answer.data[i] as number) - value) / MODELS[model].tolerance(value);
      return Math.max(most, off);
    }, 0);
    expect(worst, `${agent} ${model}: largest difference from PyTorch, in tolerances`).toBeLessThanOrEqual(1);
    if (model === 'digits') {
      const label = body.outputs.find((o) => o.name === 'label');
      expect(label).toMatchObject({ datatype: 'BYTES', shape: [rows] });
      expect(label!.data).toEqual(argmaxRows(reference.outputs).map((i) => labels[i]));
    }
    return body.model_version;
  }

  const deployment = async (name: string) => (await cluster.api<DeploymentView>('GET', `/api/v1/deployments/${name}`)).body;

  /** Resolves once both agents serve `version` of deployment `name`. */
  const servedEverywhere = (name: string, version: number) =>
    eventually(async () => {
      const view = await deployment(name);
      const ok = view.nodes.length === AGENTS.length && view.nodes.every((n) => n.state === 'serving' && n.servingVersion === version);
      return ok ? view : undefined;
    }, 60_000);

  beforeAllOrFail(async () => {
    const python = await requirePythonTorch();
    out = tempDir('pytorch');
    // The scripts train on one thread each; the cluster starts meanwhile.
    const [started] = await Promise.all([
      TestCluster.start('byom'),
      runPython(python, MODELS.digits.script, out),
      runPython(python, MODELS.forecaster.script, out),
    ]);
    cluster = started;
    for (const model of Object.keys(MODELS) as ModelKey[])
      references[model] = JSON.parse(fs.readFileSync(path.join(out, `${MODELS[model].file}.reference.json`), 'utf8')) as Reference;
    labels = fs.readFileSync(path.join(out, 'labels.txt'), 'utf8').trim().split('\n');
    const joinToken = await cluster.joinToken(AGENTS.length);
    await Promise.all(AGENTS.map((name) => cluster.startAgent(name, { labels: 'site=plant-a', joinToken })));
    await cluster.nodesOnline(AGENTS.length);
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it('fogline models import registers both exports with their signatures, labels and origin', async () => {
    const [digits, forecaster] = await Promise.all([
      cli([
        ...['models', 'import', path.join(out, 'digits-cnn.onnx'), '--name', 'digits'],
        ...['--labels', path.join(out, 'labels.txt'), '--description', 'optdigits CNN', '--tag', 'source=pytorch', '--json'],
      ]),
      cli(['models', 'import', path.join(out, 'load-forecaster.onnx'), '--name', 'forecaster', '--json']),
    ]);
    expect(digits.code, digits.stderr).toBe(0);
    expect(forecaster.code, forecaster.stderr).toBe(0);
    const digitsView = JSON.parse(digits.stdout) as ModelVersionView;
    expect(digitsView).toMatchObject({
      model: 'digits',
      version: 1,
      framework: 'onnx',
      kind: 'imported',
      description: 'optdigits CNN',
      tags: { source: 'pytorch' },
      ioSignature: {
        inputs: [{ name: 'pixels', datatype: 'FP32', shape: [-1, 64] }],
        outputs: [
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
          { name: 'label', datatype: 'BYTES', shape: [-1] },
        ],
      },
      lineage: {
        source: 'imported',
        imported: { fileName: 'digits-cnn.onnx', producerName: 'pytorch', opsets: [{ domain: '', version: 13 }] },
      },
    });
    expect(JSON.parse(forecaster.stdout)).toMatchObject({
      model: 'forecaster',
      version: 1,
      ioSignature: {
        inputs: [{ name: 'history', datatype: 'FP32', shape: [-1, 168] }],
        outputs: [{ name: 'forecast', datatype: 'FP32', shape: [-1, 24] }],
      },
    });
  });

  it("deploys both to both agents, which answer PyTorch's reference rows with PyTorch's numbers", async () => {
    await cluster.setAlias('digits', 'champion', 1);
    const created = await Promise.all(
      (['digits', 'forecaster'] as const).map((model) =>
        cli([
          ...['deploy', 'create', '--name', model, '--model', model === 'digits' ? 'digits@champion' : 'forecaster@1'],
          ...['--to', 'site=plant-a', '--wait', '--timeout', '60s'],
        ]),
      ),
    );
    for (const result of created) expect(result.code, result.stderr).toBe(0);
    await servedEverywhere('digits', 1);
    await servedEverywhere('forecaster', 1);
    for (const agent of AGENTS) {
      expect(await askAgent(agent, 'digits')).toBe('1');
      expect(await askAgent(agent, 'forecaster')).toBe('1');
    }
  });

  it("rolls a second version out to both agents while clients ask, with no failed request and PyTorch's answers throughout", async () => {
    // The same graph under another file name: a different bundle (its origin differs) with the same numbers.
    const copy = path.join(out, 'digits-cnn-v2.onnx');
    fs.copyFileSync(path.join(out, 'digits-cnn.onnx'), copy);
    const imported = await cli(['models', 'import', copy, '--name', 'digits', '--labels', path.join(out, 'labels.txt'), '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const v2 = JSON.parse(imported.stdout) as ModelVersionView;
    expect(v2.version).toBe(2);
    expect(v2.artifact.sha256).not.toBe(
      (await cluster.api<ModelVersionView>('GET', '/api/v1/models/digits/versions/1')).body.artifact.sha256,
    );

    const failures: string[] = [];
    const seen = new Map<string, string[]>(AGENTS.map((agent) => [agent, []]));
    let stop = false;
    const clients = AGENTS.map(async (agent) => {
      while (!stop) {
        try {
          seen.get(agent)!.push(await askAgent(agent, 'digits'));
        } catch (error) {
          failures.push(`${agent}: ${(error as Error).message}`);
        }
      }
    });
    await cluster.setAlias('digits', 'champion', 2);
    await servedEverywhere('digits', 2);
    // A few more answers from the new version on each agent.
    const answered = new Map(AGENTS.map((agent) => [agent, seen.get(agent)!.length]));
    await eventually(async () => (AGENTS.every((agent) => seen.get(agent)!.length >= answered.get(agent)! + 3) ? true : undefined));
    stop = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    for (const agent of AGENTS) {
      const versions = seen.get(agent)!;
      expect(versions[0], agent).toBe('1');
      expect(versions.at(-1), agent).toBe('2');
      // Once a node answers with version 2 it never goes back.
      expect(
        versions.slice(versions.indexOf('2')).every((v) => v === '2'),
        agent,
      ).toBe(true);
    }
  });
});
