import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DATASET_KINDS, type DatasetSummary, type DatasetUploadQuery, type DatasetVersionView } from '../../contracts/datasets.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { uploadWithProgress } from '../file-upload.js';
import { formatBytes, printJson, printRows } from '../output.js';
import { parseCount } from '../parse-arguments.js';

export function datasetsCommand(): Command {
  const datasets = new Command('datasets').description('Versioned datasets: CSV files the pipelines train on');

  withClientOptions(
    datasets
      .command('push')
      .description('Upload a CSV as a new version of a dataset (streamed; shows progress)')
      .argument('<file>', 'CSV file')
      .requiredOption('--name <name>', 'Dataset name (lowercase letters, digits, "-")')
      .addOption(new Option('--kind <kind>', 'How to read it').choices([...DATASET_KINDS]).default('timeseries'))
      .option('--time-column <column>', 'Time-series: the timestamp column (default: the first)')
      .option('--value-column <column>', 'Time-series: the value column (default: the second)')
      .option('--image-size <HxW>', 'image-csv: image height x width, e.g. 8x8'),
  ).action(
    async (
      file: string,
      options: { name: string; kind: DatasetUploadQuery['kind']; timeColumn?: string; valueColumn?: string; imageSize?: string },
      self: Command,
    ) => {
      const { client, json } = clientFor(self);
      const query: DatasetUploadQuery = {
        kind: options.kind,
        timeColumn: options.timeColumn,
        valueColumn: options.valueColumn,
        filename: path.basename(file),
      };
      if (options.imageSize) Object.assign(query, parseImageSize(options.imageSize));
      const view = await uploadWithProgress(file, 'checking the data on the server …', (body) =>
        client.pushDataset(options.name, body, query),
      );
      if (json) return printJson(view);
      console.log(describeDataset(view));
    },
  );

  withClientOptions(datasets.command('list').description('List datasets')).action(async (_options, self: Command) => {
    const { client, json } = clientFor(self);
    const { datasets: list } = await client.listDatasets();
    printRows(list, DATASET_COLUMNS, json, 'No datasets yet: fogline datasets push FILE --name NAME');
  });

  withClientOptions(
    datasets
      .command('get')
      .description('Show a dataset version (default: the latest)')
      .argument('<name>', 'Dataset name')
      .option('--version <n>', 'Version number (default: the latest)'),
  ).action(async (name: string, options: { version?: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const view = options.version
      ? await client.getDataset(name, parseCount(options.version, '--version'))
      : ((await client.datasetVersions(name)).versions[0] as DatasetVersionView);
    if (json) return printJson(view);
    console.log(describeDataset(view));
  });

  return datasets;
}

function parseImageSize(text: string): { imageHeight: number; imageWidth: number } {
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match) throw new InvalidArgumentError(`--image-size must look like 8x8 (height x width), got "${text}"`);
  return { imageHeight: Number(match[1]), imageWidth: Number(match[2]) };
}

const DATASET_COLUMNS = [
  { header: 'NAME', value: (d: DatasetSummary) => d.name },
  { header: 'KIND', value: (d: DatasetSummary) => d.kind },
  { header: 'LATEST', value: (d: DatasetSummary) => String(d.latestVersion) },
  { header: 'VERSIONS', value: (d: DatasetSummary) => String(d.versionCount) },
  { header: 'ROWS', value: (d: DatasetSummary) => String(d.rowCount) },
  { header: 'UPDATED', value: (d: DatasetSummary) => d.updatedAt },
];

/** The version and, for time series, what reading it fixed: what a user wants to see after a push. */
function describeDataset(view: DatasetVersionView): string {
  const lines = [
    `Dataset:     ${view.name} version ${view.version} (${view.kind})`,
    `Rows:        ${view.rowCount}`,
    `Size:        ${formatBytes(view.sizeBytes)}, sha256 ${view.sha256}`,
  ];
  if (view.timeStart) lines.push(`Time range:  ${view.timeStart} .. ${view.timeEnd}`);
  const fixes = Object.entries(view.report)
    .filter(([key, value]) => typeof value === 'number' && value > 0 && FIX_COUNTS.includes(key))
    .map(([key, value]) => `${value} ${key}`);
  if (fixes.length > 0) lines.push(`Fixed:       ${fixes.join(', ')}`);
  return lines.join('\n');
}

const FIX_COUNTS = [
  'outOfOrderRows',
  'duplicateRows',
  'pointsFilled',
  'gapsFilled',
  'nonNumericValues',
  'emptyValues',
  'malformedRows',
  'badTimestamps',
  'longGaps',
  'nonNumericRows',
];
