/**
 * Bring your own model over real HTTP (POST /api/v1/models/{name}/versions, the .onnx file as the
 * body): a PyTorch export becomes a signed version whose signature and origin come from the graph,
 * and the control plane's V2 route answers with ONNX Runtime's own numbers (with the predicted
 * label when labels were given). Every file the server refuses (not ONNX, cut short, an opset or
 * operator ONNX Runtime lacks, a graph that does not load or run, too large, wrong content type,
 * no right to import) gets a 4xx that says why and leaves nothing behind: no model row, no version,
 * no file in the data dir, and the next good import gets the next number. Damaged copies of a
 * good file never get a 5xx. The "leaves nothing" case also runs on PostgreSQL and MariaDB.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartAroundFile } from '../../src/client/multipart-upload.js';
import type { ModelVersionView } from '../../src/contracts/models.js';
import { decodeContainer } from '../../src/ml/bundle/bundle-container.js';
import { floatTensorProto, graphProto, int64TensorProto, modelProto, nodeProto, tensorValueInfo } from '../../src/ml/onnx/onnx-builders.js';
import { FLOAT_ELEMENT_TYPE, NodeField } from '../../src/ml/onnx/onnx-schema.js';
import type { ProtoWriter } from '../../src/ml/onnx/protobuf-wire.js';
import { verifyBundleSignature } from '../../src/registry/signing-key.js';
import { startTestControlPlane, type TestControlPlane } from '../support/control-plane.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.js';

/** A PyTorch 1.13 export (opset 13): features FP32 [batch, 4] → probabilities FP32 [batch, 3], softmax. */
const FIXTURES = fileURLToPath(new URL('../../src/ml/onnx/fixtures/', import.meta.url));
const TINY = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.onnx')));
const TINY_EXPECTED = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-mlp.expected.json'), 'utf8')) as {
  input: number[][];
  output: number[][];
};
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** x FP32 [batch, 3] → y through `nodes` (one Relu unless given); each option breaks one thing. */
function graphModel(
  options: {
    nodes?: ProtoWriter[];
    initializers?: ProtoWriter[];
    opsets?: { domain: string; version: number }[];
    output?: ProtoWriter;
  } = {},
): Uint8Array {
  const graph = graphProto({
    name: 'g',
    nodes: options.nodes ?? [nodeProto('Relu', ['x'], ['y'], 'relu')],
    initializers: options.initializers ?? [],
    inputs: [tensorValueInfo('x', FLOAT_ELEMENT_TYPE, ['batch', 3])],
    outputs: [options.output ?? tensorValueInfo('y', FLOAT_ELEMENT_TYPE, ['batch', 3])],
  });
  return modelProto({ irVersion: 8, opsets: options.opsets ?? [{ domain: '', version: 13 }], producerName: 'fogline-test' }, graph);
}

/** Bytes no exporter writes, the same on every run. */
function noiseBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let block = createHash('sha256').update('noise').digest();
  for (let i = 0; i < length; i += block.length) {
    out.set(block.subarray(0, Math.min(block.length, length - i)), i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

interface Refusal {
  name: string;
  body: Uint8Array | string;
  status: number;
  code: string;
  /** What the message must say: why the file was refused. */
  message: RegExp;
}

/** Files the importer must refuse, with why. Names double as model names (lowercase, digits, "-"). */
const BAD_FILES: Refusal[] = [
  {
    name: 'json',
    body: JSON.stringify({ format: 'layers-model', modelTopology: {} }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /not an ONNX model.*JSON/,
  },
  {
    name: 'noise',
    body: noiseBytes(4096),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /not an ONNX model|not valid ONNX/,
  },
  {
    name: 'truncated',
    body: TINY.subarray(0, TINY.length - 100),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /cut short/,
  },
  {
    name: 'opset-27',
    body: graphModel({ opsets: [{ domain: '', version: 27 }] }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /opset 27.*opsets 7 to 26/,
  },
  {
    name: 'unknown-operator',
    body: graphModel({ nodes: [nodeProto('NoSuchOp', ['x'], ['y'], 'mystery')] }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /cannot be served.*NoSuchOp/,
  },
  {
    name: 'custom-domain-operator',
    body: graphModel({
      nodes: [nodeProto('NoSuchOp', ['x'], ['y'], 'mystery').string(NodeField.domain, 'com.example')],
      opsets: [
        { domain: '', version: 13 },
        { domain: 'com.example', version: 1 },
      ],
    }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /cannot be served.*NoSuchOp/,
  },
  {
    // Add(float, int64): ONNX Runtime refuses to load the graph.
    name: 'type-mismatch',
    body: graphModel({ nodes: [nodeProto('Add', ['x', 'c'], ['y'], 'add')], initializers: [int64TensorProto('c', [1, 2, 3])] }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /cannot be served: it does not load.*(Add|type)/i,
  },
  {
    // Loads (the batch is dynamic), but a batch of one cannot become [2, 5].
    name: 'fails-on-run',
    body: graphModel({
      nodes: [nodeProto('Reshape', ['x', 'shape'], ['y'], 'reshape')],
      initializers: [int64TensorProto('shape', [2, 5])],
      output: tensorValueInfo('y', FLOAT_ELEMENT_TYPE, [2, 5]),
    }),
    status: 400,
    code: 'FOGLINE_ERR_MODEL_FILE_INVALID',
    message: /cannot be served: it loads but fails on a batch of one/,
  },
  { name: 'empty', body: new Uint8Array(0), status: 400, code: 'FOGLINE_ERR_MODEL_FILE_INVALID', message: /empty/ },
];

/** Every file under `dir` with its size, but the database's own files (SQLite writes them on reads too). */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !/^fogline\.db/.test(entry.name))
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return `${path.relative(dir, file)} ${fs.statSync(file).size}`;
    })
    .sort();
}

/** The control plane and what a test needs to import into it and look at what it kept. */
class Importer {
  constructor(readonly cp: TestControlPlane) {}

  send(
    model: string,
    body: Uint8Array | string,
    options: { query?: Record<string, string | string[]>; token?: string | null; contentType?: string | null } = {},
  ) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {}))
      for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
    const token = options.token === undefined ? this.cp.adminToken : options.token;
    return fetch(`${this.cp.url}/api/v1/models/${model}/versions?${search}`, {
      method: 'POST',
      headers: {
        ...(options.contentType === null ? {} : { 'content-type': options.contentType ?? 'application/octet-stream' }),
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      // A Blob without a type: fetch sends no content-type of its own.
      body: options.contentType === null ? new Blob([body]) : body,
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));
  }

  /** Imports `body` and expects a 201 with the given version number. */
  async good(model: string, expectedVersion: number, body: Uint8Array = TINY, query?: Record<string, string | string[]>) {
    const answer = await this.send(model, body, { query });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.version).toBe(expectedVersion);
    return answer.body as ModelVersionView;
  }

  /** The version numbers of `model`, newest first; null when there is no such model. */
  async versions(model: string): Promise<number[] | null> {
    const found = await this.cp.call('GET', `/api/v1/models/${model}`, { token: this.cp.adminToken });
    if (found.status === 404) {
      expect(found.body.code).toBe('FOGLINE_ERR_MODEL_NOT_FOUND');
      return null;
    }
    const list = await this.cp.call('GET', `/api/v1/models/${model}/versions`, { token: this.cp.adminToken });
    return (list.body.versions as ModelVersionView[]).map((v) => v.version);
  }

  /**
   * Runs `attempt` (which must be refused with a 4xx) and checks that it left the model's versions
   * (or its absence) and the data dir's files as they were.
   */
  async refusedLeavesNothing<T extends { status: number }>(model: string, attempt: () => Promise<T>): Promise<T> {
    const versionsBefore = await this.versions(model);
    const filesBefore = filesUnder(this.cp.dataDir);
    const answer = await attempt();
    expect(answer.status, JSON.stringify(answer)).toBeGreaterThanOrEqual(400);
    expect(answer.status, JSON.stringify(answer)).toBeLessThan(500);
    expect(await this.versions(model)).toEqual(versionsBefore);
    expect(filesUnder(this.cp.dataDir)).toEqual(filesBefore);
    return answer;
  }
}

describe('model import API', { timeout: 60_000 }, () => {
  let cp: TestControlPlane;
  let importer: Importer;
  let small: TestControlPlane;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    importer = new Importer(cp);
    // A second server whose import limit is a little over the tiny model.
    small = await startTestControlPlane({ modelLimit: String(TINY.length + 10) });
  });

  afterAll(async () => {
    await cp?.close();
    await small?.close();
  });

  it('registers a PyTorch export as a signed version whose signature and origin come from the graph', async () => {
    const view = await importer.good('tiny', 1, TINY, {
      filename: 'tiny-mlp.onnx',
      description: 'iris-sized MLP',
      tag: ['team=edge', 'source=pytorch'],
    });
    expect(view).toMatchObject({
      model: 'tiny',
      framework: 'onnx',
      kind: 'imported',
      description: 'iris-sized MLP',
      tags: { team: 'edge', source: 'pytorch' },
      ioSignature: {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      },
    });
    expect(view.lineage).toMatchObject({
      source: 'imported',
      runId: null,
      dataset: null,
      imported: {
        fileName: 'tiny-mlp.onnx',
        fileSha256: sha256(TINY),
        fileSizeBytes: TINY.length,
        producerName: 'pytorch',
        producerVersion: '1.13.0',
        opsets: [{ domain: '', version: 13 }],
        operators: ['Gemm', 'Relu', 'Softmax'],
      },
    });

    const download = await cp.admin.downloadArtifact('tiny', 1);
    expect(sha256(download.bytes)).toBe(download.sha256);
    expect(download.sha256).toBe(view.artifact.sha256);
    const { publicKeyPem } = await cp.admin.registryPublicKey();
    expect(verifyBundleSignature(publicKeyPem, 'tiny', 1, download.sha256, download.signature)).toBe(true);
    // The bundle carries the uploaded graph byte for byte.
    expect(Buffer.from(decodeContainer(download.bytes).files.get('model.onnx')!).equals(TINY)).toBe(true);
  });

  it("answers V2 requests with ONNX Runtime's numbers for the uploaded file", async () => {
    const rows = TINY_EXPECTED.input;
    const answer = await cp.call('POST', '/v2/models/tiny/infer', {
      token: cp.adminToken,
      body: { inputs: [{ name: 'features', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ model_name: 'tiny', model_version: '1' });
    expect(answer.body.outputs).toHaveLength(1);
    const [probabilities] = answer.body.outputs;
    expect(probabilities).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [rows.length, 3] });

    const session = await ort.InferenceSession.create(TINY, { logSeverityLevel: 3 });
    const direct = await session.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]) });
    await session.release();
    const expected = Array.from(direct.probabilities!.data as Float32Array);
    expect(probabilities.data).toHaveLength(expected.length);
    probabilities.data.forEach((value: number, i: number) => expect(Math.abs(value - expected[i]!)).toBeLessThanOrEqual(1e-6));
    // …which are PyTorch's own.
    TINY_EXPECTED.output.flat().forEach((value, i) => expect(Math.abs(probabilities.data[i] - value)).toBeLessThanOrEqual(1e-6));
  });

  it('answers with the predicted class name when imported with labels', async () => {
    const view = await importer.good('tiny-labelled', 1, TINY, { labels: 'setosa\nversicolor\nvirginica\n' });
    expect(view.ioSignature.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ]);
    // Rows whose argmax differs: the class with the largest score is the label.
    const rows = [...TINY_EXPECTED.input, [0, 0, 0, 0], [5, -3, 2, 8]];
    const answer = await cp.call('POST', '/v2/models/tiny-labelled/infer', {
      token: cp.adminToken,
      body: { inputs: [{ name: 'features', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const scores = answer.body.outputs.find((o: { name: string }) => o.name === 'probabilities').data as number[];
    const label = answer.body.outputs.find((o: { name: string }) => o.name === 'label');
    expect(label).toMatchObject({ datatype: 'BYTES', shape: [rows.length] });
    const names = ['setosa', 'versicolor', 'virginica'];
    const argmax = rows.map((_, r) => {
      const row = scores.slice(r * 3, r * 3 + 3);
      return names[row.indexOf(Math.max(...row))];
    });
    expect(label.data).toEqual(argmax);
  });

  it('takes the labels of a 1000-class classifier (an ImageNet-sized labels file, about 20 KB)', async () => {
    const classes = 1000;
    const bytes = graphModel({
      nodes: [nodeProto('MatMul', ['x', 'w'], ['y'], 'scores')],
      initializers: [
        floatTensorProto(
          'w',
          [3, classes],
          Array.from({ length: 3 * classes }, (_, i) => (i % classes) / classes),
        ),
      ],
      output: tensorValueInfo('y', FLOAT_ELEMENT_TYPE, ['batch', classes]),
    });
    // WordNet ids and names, as in ImageNet's synset list.
    const names = Array.from({ length: classes }, (_, i) => `n${String(1_440_764 + 37 * i).padStart(8, '0')} class ${i}`);
    // Too long for a URL (Node takes about 16 KiB of headers): the labels go in a multipart form, as the CLI sends them.
    const inQuery = await importer.send('thousand-classes', bytes, { query: { labels: names.join('\n') } });
    expect(inQuery.status).toBe(431);
    const form = multipartAroundFile(
      [
        ['labels', `${names.join('\n')}\n`],
        ['tag', 'source=imagenet'],
      ],
      { field: 'file', fileName: 'big.onnx' },
    );
    const answer0 = await importer.send('thousand-classes', Buffer.concat([form.before, bytes, form.after]), {
      contentType: form.contentType,
    });
    expect(answer0.status, JSON.stringify(answer0.body)).toBe(201);
    expect(answer0.body).toMatchObject({ version: 1, tags: { source: 'imagenet' }, lineage: { imported: { fileName: 'big.onnx' } } });
    const answer = await cp.call('POST', '/v2/models/thousand-classes/infer', {
      token: cp.adminToken,
      body: { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 1, 1] }] },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual([names[classes - 1]]);
  });

  it('refuses labels that fit no output, naming the outputs, and keeps nothing', async () => {
    const answer = await importer.refusedLeavesNothing('tiny-four-labels', () =>
      importer.send('tiny-four-labels', TINY, { query: { labels: 'a\nb\nc\nd' } }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/4 labels.*no output has 4.*probabilities FP32 \[-1, 3\]/);
    expect(await importer.versions('tiny-four-labels')).toBeNull();
    await importer.good('tiny-four-labels', 1, TINY, { labels: 'a\nb\nc' });
  });

  it('imports a graph with an initializer and serves x·W as ONNX Runtime computes it', async () => {
    const weights = [0.5, -1, 2, 1.5, 0.25, -0.75, 3, 0, 1];
    const bytes = graphModel({
      nodes: [nodeProto('MatMul', ['x', 'w'], ['y'], 'matmul')],
      initializers: [floatTensorProto('w', [3, 3], weights)],
    });
    const view = await importer.good('matmul', 1, bytes);
    expect(view.ioSignature).toEqual({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(view.lineage.imported).toMatchObject({ producerName: 'fogline-test', irVersion: 8, operators: ['MatMul'] });
    const x = [1, 2, 3, -1, 0, 4];
    const answer = await cp.call('POST', '/v2/models/matmul/infer', {
      token: cp.adminToken,
      body: { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: x }] },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const expected = [0, 1].flatMap((r) =>
      [0, 1, 2].map((c) => [0, 1, 2].reduce((sum, k) => sum + x[r * 3 + k]! * weights[k * 3 + c]!, 0)),
    );
    expect(answer.body.outputs[0].data).toEqual(expected.map((v) => Math.fround(v)));
  });

  describe('refused files leave nothing and use up no version number', () => {
    let existingVersion = 0;

    beforeAll(async () => {
      existingVersion = (await importer.good('existing', 1)).version;
    });

    for (const bad of BAD_FILES) {
      it(`${bad.name}: ${bad.status} with the reason`, async () => {
        const model = `bad-${bad.name}`;
        for (const target of [model, 'existing']) {
          const answer = await importer.refusedLeavesNothing(target, () => importer.send(target, bad.body));
          expect(answer.status).toBe(bad.status);
          expect(answer.body.code).toBe(bad.code);
          expect(answer.body.message).toMatch(bad.message);
        }
        expect(await importer.versions(model)).toBeNull();
        await importer.good(model, 1);
      });
    }

    it('the next good import of an existing model gets the next number', async () => {
      await importer.good('existing', existingVersion + 1);
    });
  });

  it('refuses a file over the import limit with 413 and keeps nothing', async () => {
    const overLimit = new Importer(small);
    const big = new Uint8Array(TINY.length + 11);
    big.set(TINY);
    for (const body of [big, new Uint8Array(4 * 1024 * 1024)]) {
      const answer = await overLimit.refusedLeavesNothing('big', () => overLimit.send('big', body));
      expect(answer.status).toBe(413);
      expect(answer.body).toMatchObject({ code: 'FOGLINE_ERR_MODEL_FILE_TOO_LARGE' });
      expect(answer.body.message).toContain(`limit of ${TINY.length + 10} bytes`);
    }
    await overLimit.good('big', 1);
  });

  it('refuses a file sent with another content type with 415 that says which to use', async () => {
    // What clients send by default: curl --data-binary says x-www-form-urlencoded, a bare Blob nothing.
    const answers: Record<string, { status: number; message: string }> = {};
    for (const contentType of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', null]) {
      const body = contentType === 'application/json' ? '{"onnx": "base64…"}' : TINY;
      const answer = await importer.refusedLeavesNothing('wrong-type', () => importer.send('wrong-type', body, { contentType }));
      answers[contentType ?? 'none'] = { status: answer.status, message: answer.body.message };
    }
    const sayWhichToUse = { status: 415, message: expect.stringMatching(/content-type application\/octet-stream/) };
    expect(answers).toEqual(Object.fromEntries(Object.keys(answers).map((contentType) => [contentType, sayWhichToUse])));
    expect(await importer.versions('wrong-type')).toBeNull();
  });

  it('lets operators import, and refuses viewers (403) and anonymous callers (401)', async () => {
    const viewer = (await cp.admin.createToken({ name: 'viewer', role: 'viewer' })).token;
    const operator = (await cp.admin.createToken({ name: 'operator', role: 'operator' })).token;
    const asViewer = await importer.refusedLeavesNothing('by-role', () => importer.send('by-role', TINY, { token: viewer }));
    expect(asViewer.status).toBe(403);
    const anonymous = await importer.refusedLeavesNothing('by-role', () => importer.send('by-role', TINY, { token: null }));
    expect(anonymous.status).toBe(401);
    expect(await importer.versions('by-role')).toBeNull();
    const asOperator = await importer.send('by-role', TINY, { token: operator });
    expect(asOperator.status, JSON.stringify(asOperator.body)).toBe(201);
    expect(asOperator.body.version).toBe(1);
  });

  it('damaged copies of a good file are imported or refused with 400, never a 5xx, and a refused one keeps nothing', async () => {
    let latest = 0;
    const damaged = fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .array(fc.record({ at: fc.nat({ max: TINY.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), {
            minLength: 1,
            maxLength: 3,
          })
          .map((flips) => {
            const copy = Uint8Array.from(TINY);
            for (const { at, xor } of flips) copy[at]! ^= xor;
            return copy;
          }),
      },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: TINY.length - 1 }).map((length) => TINY.slice(0, length)) },
    );
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        const versionsBefore = await importer.versions('damaged');
        const filesBefore = filesUnder(cp.dataDir);
        const answer = await importer.send('damaged', bytes);
        expect([201, 400], JSON.stringify(answer.body)).toContain(answer.status);
        if (answer.status === 201) {
          latest += 1;
          expect(answer.body.version).toBe(latest);
        } else {
          expect(answer.body.code).toBe('FOGLINE_ERR_MODEL_FILE_INVALID');
          expect(await importer.versions('damaged')).toEqual(versionsBefore);
          expect(filesUnder(cp.dataDir)).toEqual(filesBefore);
        }
      }),
      { numRuns: 15 },
    );
  });
});

for (const dialect of DIALECTS) {
  describe(`a refused import keeps nothing (${dialect})`, { timeout: 60_000 }, () => {
    let database: TestDatabase | undefined;
    let cp: TestControlPlane;
    let importer: Importer;

    beforeAll(async () => {
      database = dialect === 'sqlite' ? undefined : await createTestDatabase(dialect);
      cp = await startTestControlPlane(database ? { db: database.url } : {});
      importer = new Importer(cp);
    });

    afterAll(async () => {
      await cp?.close();
      await database?.drop();
    });

    it('refused before and after the trial run: no model row, no version, no file, no number used up', async () => {
      // One refused while reading the graph, one by ONNX Runtime, one after it loaded.
      const refusals = BAD_FILES.filter((bad) => ['truncated', 'unknown-operator', 'fails-on-run'].includes(bad.name));
      for (const bad of refusals) {
        const answer = await importer.refusedLeavesNothing('model', () => importer.send('model', bad.body));
        expect(answer.body.message).toMatch(bad.message);
      }
      expect(await importer.versions('model')).toBeNull();
      await importer.good('model', 1);
      for (const bad of refusals) await importer.refusedLeavesNothing('model', () => importer.send('model', bad.body));
      await importer.good('model', 2);
      expect(await importer.versions('model')).toEqual([2, 1]);
    });
  });
}
