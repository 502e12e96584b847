import { option, parseChoice, parsePort } from './options.js';
import { dataDirOption, logLevelOption } from './server-options.js';

/** `fogline up`: the all-in-one cluster on one machine. */
export const UP_OPTIONS = {
  dataDir: dataDirOption,
  port: option({
    flag: '--port <port>',
    env: 'FOGLINE_PORT',
    description: 'Control plane port; the two agents take the next two ports',
    defaultText: '7070',
    defaultValue: () => 7070,
    parse: parsePort,
  }),
  logLevel: { ...logLevelOption, defaultText: 'warn', defaultValue: () => 'warn' as const },
  demo: option({
    flag: '--demo <mode>',
    env: 'FOGLINE_DEMO',
    description:
      'yes: after start, train briefly on the vendored PJM series, deploy to both agents and replay real days through them; no: skip it',
    defaultText: 'yes',
    defaultValue: () => 'yes' as 'yes' | 'no',
    parse: parseChoice(['yes', 'no'] as const),
  }),
};
