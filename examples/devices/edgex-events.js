#!/usr/bin/env node
// Prints EdgeX v3 events, one JSON per line, for hours of the vendored PJM East load series, as an
// EdgeX device service would publish a meter's readings. Pipe it into `mosquitto_pub -l` to play
// a device (README: Device data). Plain Node, no dependencies.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

const HELP = `Usage: node examples/devices/edgex-events.js [options]

Prints one EdgeX v3 event per line (deviceName, sourceName and resourceName as given, origin in
nanoseconds, one Float64 reading) for consecutive hours of data/energy/PJME_hourly_trimmed.csv.

Options:
  --device NAME      the EdgeX deviceName (default meter-1)
  --resource NAME    the reading's resourceName and the event's sourceName (default load)
  --hours N          how many hours to print (default 168, a forecaster's week)
  --until TIME       the last hour printed, as in the CSV or ISO 8601 (default: the series' last hour)
  --csv FILE         another series with the same two columns (time, value)
  -h, --help         this text`;

const { values: options } = parseArgs({
  options: {
    device: { type: 'string', default: 'meter-1' },
    resource: { type: 'string', default: 'load' },
    hours: { type: 'string', default: '168' },
    until: { type: 'string' },
    csv: { type: 'string', default: new URL('../../data/energy/PJME_hourly_trimmed.csv', import.meta.url).pathname },
    help: { type: 'boolean', short: 'h' },
  },
});
if (options.help) {
  console.log(HELP);
  process.exit(0);
}
const fail = (message) => {
  console.error(`edgex-events: ${message} (--help for the options)`);
  process.exit(2);
};

// "2018-01-02 00:00:00" (the CSV, UTC) or any ISO 8601 time → Unix milliseconds.
const timeOf = (text) => Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text.replace(' ', 'T') : `${text.replace(' ', 'T')}Z`);

const hours = Number(options.hours);
if (!Number.isInteger(hours) || hours < 1) fail(`--hours is ${JSON.stringify(options.hours)}: expected a whole number of hours, 1 or more`);
const rows = fs
  .readFileSync(options.csv, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [time, value] = line.split(',');
    return { ms: timeOf(time), value: Number(value) };
  })
  // The CSV is not in time order (PJM's export runs year blocks backwards): sort, as training does.
  .sort((a, b) => a.ms - b.ms);
let end = rows.length - 1;
if (options.until !== undefined) {
  const until = timeOf(options.until);
  if (Number.isNaN(until)) fail(`--until is ${JSON.stringify(options.until)}: expected a time such as 2018-01-01 23:00:00`);
  end = rows.findIndex((row) => row.ms === until);
  if (end < 0) fail(`--until ${options.until} is not an hour of ${options.csv}`);
}
if (end + 1 < hours) fail(`the series has ${end + 1} hours up to there: fewer than --hours ${hours}`);

for (const { ms, value } of rows.slice(end + 1 - hours, end + 1)) {
  const origin = `${ms}000000`; // nanoseconds, written as an integer literal (it exceeds 2^53)
  const reading = `{"id":"${randomUUID()}","origin":${origin},"deviceName":"${options.device}","resourceName":"${options.resource}","profileName":"meter","valueType":"Float64","value":"${value.toExponential(6)}"}`;
  console.log(
    `{"apiVersion":"v3","id":"${randomUUID()}","deviceName":"${options.device}","profileName":"meter","sourceName":"${options.resource}","origin":${origin},"readings":[${reading}]}`,
  );
}
