import { MlInputError } from '../errors.js';
import { parseDecimal, splitCsvLine } from '../timeseries/csv-fields.js';
import { LineSplitter } from '../timeseries/line-reader.js';

export interface ImageCsvOptions {
  height: number;
  width: number;
  channels?: number;
  /** Where the label is: the last column (optdigits, default) or the first. */
  labelColumn?: 'first' | 'last';
  maxLineLength?: number;
}

/** Images as one row-major float32 block (n × height × width × channels), labels as class indices into `classNames`. */
export interface ImageDataset {
  height: number;
  width: number;
  channels: number;
  pixels: Float32Array;
  labels: Int32Array;
  /** The label text of each class index, sorted (numerically when every label is a number). */
  classNames: string[];
  report: { rowsRead: number; rowsUsed: number; headerSkipped: boolean; malformedRows: number; nonNumericRows: number };
}

/**
 * Reads images stored one per CSV row: height × width × channels pixel columns plus a label column,
 * with or without a header row (optdigits: 64 values 0..16, then the digit).
 *
 * @example parseImageCsv(text, { height: 8, width: 8 }).classNames // ['0', …, '9']
 */
export function parseImageCsv(text: string, options: ImageCsvOptions): ImageDataset {
  const { height, width } = options;
  const channels = options.channels ?? 1;
  const size = height * width * channels;
  if (!(Number.isInteger(size) && size > 0 && height > 0 && width > 0 && channels > 0)) {
    throw new MlInputError('bad-parameter', `height, width and channels must be positive integers (got ${height}×${width}×${channels}).`);
  }
  const labelFirst = options.labelColumn === 'first';
  let pixels = new Float32Array(size * 256);
  const labelTexts: string[] = [];
  const report = { rowsRead: 0, rowsUsed: 0, headerSkipped: false, malformedRows: 0, nonNumericRows: 0 };
  const splitter = new LineSplitter(
    (line, lineNumber) => {
      if (line.trim() === '') return;
      const fields = splitCsvLine(line);
      if (!fields || fields.length !== size + 1) {
        report.rowsRead += 1;
        report.malformedRows += 1;
        return;
      }
      const pixelFields = labelFirst ? fields.slice(1) : fields.slice(0, size);
      const values = pixelFields.map(parseDecimal);
      if (values.some((v) => v === null)) {
        // A first line with non-numeric pixel columns is a header.
        if (lineNumber === 1) {
          report.headerSkipped = true;
          return;
        }
        report.rowsRead += 1;
        report.nonNumericRows += 1;
        return;
      }
      report.rowsRead += 1;
      if ((report.rowsUsed + 1) * size > pixels.length) {
        const grown = new Float32Array(pixels.length * 2);
        grown.set(pixels);
        pixels = grown;
      }
      pixels.set(values as number[], report.rowsUsed * size);
      report.rowsUsed += 1;
      labelTexts.push((labelFirst ? fields[0]! : fields[size]!).trim());
    },
    options.maxLineLength ?? 1 << 20,
  );
  splitter.push(text);
  splitter.end();
  if (report.rowsUsed === 0) {
    throw new MlInputError(
      report.rowsRead === 0 ? 'empty' : 'missing-column',
      report.rowsRead === 0
        ? 'The file has no image rows.'
        : `No row has ${size} pixel columns and a label (${height}×${width}×${channels} + 1 = ${size + 1} columns); check height, width and channels.`,
    );
  }
  const numeric = labelTexts.every((l) => parseDecimal(l) !== null);
  const classNames = [...new Set(labelTexts)].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  const index = new Map(classNames.map((name, i) => [name, i]));
  return {
    height,
    width,
    channels,
    pixels: pixels.slice(0, report.rowsUsed * size),
    labels: Int32Array.from(labelTexts, (l) => index.get(l)!),
    classNames,
    report,
  };
}
