import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { ModelVersionView, ModelView } from '../../contracts/models.js';
import { writePrivateFile } from '../../files/private-file.js';
import { bundleFileName } from '../../registry/bundle-file-name.js';
import { verifyBundleSignature } from '../../registry/signing-key.js';
import { multipartAroundFile } from '../../client/multipart-upload.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { uploadWithProgress } from '../file-upload.js';
import { formatBytes, printJson, printRows } from '../output.js';
import { parseCount } from '../parse-arguments.js';

export function modelsCommand(): Command {
  const models = new Command('models').description('The model registry: models, versions, aliases, bundles');

  withClientOptions(models.command('list').description('List registered models')).action(async (_options, self: Command) => {
    const { client, json } = clientFor(self);
    const { models: list } = await client.listModels();
    printRows(list, MODEL_COLUMNS, json, 'No models yet: a pipeline run registers one (fogline runs start …).');
  });

  withClientOptions(models.command('get').description('Show a model and its aliases').argument('<model>', 'Model name')).action(
    async (name: string, _options, self: Command) => {
      const { client, json } = clientFor(self);
      const model = await client.getModel(name);
      if (json) return printJson(model);
      console.log(formatModel(model));
    },
  );

  withClientOptions(
    models.command('versions').description("List a model's versions with their metrics").argument('<model>', 'Model name'),
  ).action(async (name: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const { versions } = await client.listVersions(name);
    printRows(versions, VERSION_COLUMNS, json, `Model ${name} has no versions.`);
  });

  withClientOptions(
    models
      .command('import')
      .description(
        'Import an ONNX model (from PyTorch, TensorFlow, scikit-learn, …) as a new version: the server reads its inputs and outputs, loads it in ONNX Runtime and runs it once before registering it',
      )
      .argument('<file>', 'The .onnx file (one self-contained file: external weight files are not supported)')
      .requiredOption('--name <name>', 'Model name (lowercase letters, digits, "-"); a new version is added if it exists')
      .option(
        '--labels <file>',
        'Class names, one per line, in the order of the classifier output scores: answers then carry the predicted label',
      )
      .option('--description <text>', 'What the model is')
      .option('--tag <key=value>', 'A tag on the version (repeatable)', (value: string, previous: string[] = []) => [...previous, value]),
  ).action(async (file: string, options: { name: string; labels?: string; description?: string; tag?: string[] }, self: Command) => {
    const { client, json } = clientFor(self);
    for (const given of [file, options.labels])
      if (given !== undefined && !fs.existsSync(given)) throw new Error(`${given} does not exist.`);
    // Fields travel in a multipart form before the file: a label list can be longer than a URL may be.
    const fields: [string, string][] = [
      ...(options.labels === undefined ? [] : [['labels', fs.readFileSync(options.labels, 'utf8')] as [string, string]]),
      ...(options.description === undefined ? [] : [['description', options.description] as [string, string]]),
      ...(options.tag ?? []).map((tag): [string, string] => ['tag', tag]),
    ];
    const form = multipartAroundFile(fields, { field: 'file', fileName: path.basename(file) });
    const view = await uploadWithProgress(
      file,
      'checking that ONNX Runtime loads and runs it …',
      (body) => client.importModel(options.name, body, {}, form.contentType),
      form,
    );
    if (json) return printJson(view);
    console.log(describeImported(view));
  });

  withClientOptions(
    models
      .command('download')
      .description('Download a bundle into the current folder, checking its sha256 and the registry signature')
      .argument('<model>', 'Model name')
      .option('--version <ref>', 'Version number or alias (default: champion, else the latest)')
      .option('--output <file>', 'Where to write it (default: <model>-v<version>.fogline)'),
  ).action(async (name: string, options: { version?: string; output?: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const ref = options.version ?? (await defaultRef(client, name));
    const download = await client.downloadArtifact(name, ref);
    const digest = createHash('sha256').update(download.bytes).digest('hex');
    if (digest !== download.sha256) {
      throw new Error(`The download of ${name}@${ref} is corrupt: sha256 ${digest} != ${download.sha256}. Nothing was written; try again.`);
    }
    const { publicKeyPem } = await client.registryPublicKey();
    if (!verifyBundleSignature(publicKeyPem, name, download.version, download.sha256, download.signature)) {
      throw new Error(`The registry signature of ${name} version ${download.version} does not verify. Nothing was written.`);
    }
    const file = path.resolve(options.output ?? bundleFileName(name, download.version));
    writePrivateFile(file, download.bytes);
    const result = {
      file,
      model: name,
      version: download.version,
      sha256: digest,
      sizeBytes: download.bytes.length,
      signature: 'verified',
    };
    if (json) return printJson(result);
    console.log(`Wrote ${file} (${formatBytes(download.bytes.length)}); sha256 ${digest} and ed25519 signature verified.`);
  });

  const alias = models.command('alias').description('Move or remove aliases such as champion and challenger');
  withClientOptions(
    alias
      .command('set')
      .description('Point an alias at a version (atomically)')
      .argument('<model>', 'Model name')
      .argument('<alias>', 'Alias, e.g. champion')
      .argument('<version>', 'Version number'),
  ).action(async (name: string, aliasName: string, version: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.setAlias(name, aliasName, parseCount(version, 'version'));
    if (json) return printJson(view);
    console.log(`${name}@${aliasName} -> version ${view.version}`);
  });
  withClientOptions(
    alias.command('delete').description('Remove an alias').argument('<model>', 'Model name').argument('<alias>', 'Alias'),
  ).action(async (name: string, aliasName: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    await client.deleteAlias(name, aliasName);
    if (json) return printJson({ model: name, deleted: aliasName });
    console.log(`Removed alias ${aliasName} of ${name}.`);
  });

  return models;
}

async function defaultRef(client: ReturnType<typeof clientFor>['client'], name: string): Promise<string | number> {
  const model = await client.getModel(name);
  if (model.aliases.champion !== undefined) return 'champion';
  if (model.latestVersion === null) throw new Error(`Model ${name} has no versions yet.`);
  return model.latestVersion;
}

const MODEL_COLUMNS = [
  { header: 'NAME', value: (m: ModelView) => m.name },
  { header: 'LATEST', value: (m: ModelView) => (m.latestVersion === null ? '-' : String(m.latestVersion)) },
  { header: 'VERSIONS', value: (m: ModelView) => String(m.versionCount) },
  { header: 'ALIASES', value: (m: ModelView) => formatAliases(m.aliases) },
  { header: 'UPDATED', value: (m: ModelView) => m.updatedAt },
];

const VERSION_COLUMNS = [
  { header: 'VERSION', value: (v: ModelVersionView) => String(v.version) },
  { header: 'ALIASES', value: (v: ModelVersionView) => v.aliases.join(',') || '-' },
  { header: 'KIND', value: (v: ModelVersionView) => v.kind },
  { header: 'METRICS', value: (v: ModelVersionView) => headlineMetrics(v.metrics) },
  { header: 'RUN', value: (v: ModelVersionView) => v.lineage.runId ?? '-' },
  {
    header: 'DATASET',
    value: (v: ModelVersionView) => (v.lineage.dataset ? `${v.lineage.dataset.name}@${v.lineage.dataset.version}` : '-'),
  },
  { header: 'SIZE', value: (v: ModelVersionView) => formatBytes(v.artifact.sizeBytes) },
  { header: 'CREATED', value: (v: ModelVersionView) => v.createdAt },
];

function formatAliases(aliases: Record<string, number>): string {
  return (
    Object.entries(aliases)
      .map(([name, version]) => `${name}=${version}`)
      .join(',') || '-'
  );
}

/** The top-level numeric metrics, e.g. "mape=4.21 mae=812"; nested ones are in --json. */
export function headlineMetrics(metrics: Record<string, unknown>): string {
  const parts = Object.entries(metrics)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .slice(0, 4)
    .map(([key, value]) => `${key}=${Number.isInteger(value) ? value : value.toPrecision(4)}`);
  return parts.join(' ') || '-';
}

function formatModel(model: ModelView): string {
  return [
    `Name:        ${model.name}`,
    `Versions:    ${model.versionCount} (latest ${model.latestVersion ?? '-'})`,
    `Aliases:     ${formatAliases(model.aliases)}`,
    `Created:     ${model.createdAt}`,
    `Updated:     ${model.updatedAt}`,
  ].join('\n');
}

function describeImported(view: ModelVersionView): string {
  const origin = view.lineage.imported;
  const tensor = (t: { name: string; datatype: string; shape: number[] }) => `${t.name} ${t.datatype} [${t.shape.join(', ')}]`;
  return [
    `Imported ${view.model} version ${view.version} (${formatBytes(view.artifact.sizeBytes)}, sha256 ${view.artifact.sha256.slice(0, 12)}…).`,
    origin
      ? `From:     ${origin.fileName ?? 'upload'} by ${origin.producerName || 'an unknown exporter'} ${origin.producerVersion}, opset ${origin.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`
      : '',
    `Inputs:   ${view.ioSignature.inputs.map(tensor).join('; ')}`,
    `Outputs:  ${view.ioSignature.outputs.map(tensor).join('; ')}`,
    `Next:     fogline deploy create --name ${view.model} --model ${view.model}@${view.version} --to <label>=<value>`,
  ]
    .filter(Boolean)
    .join('\n');
}
