import { option, parseChoice, parsePort, parseString } from './options.js';
import { dataDirOption, logLevelOption, SERVER_OPTIONS } from './server-options.js';

/** `fogline up`: the all-in-one cluster on one machine. */
export const UP_OPTIONS = {
  dataDir: dataDirOption,
  // After dataDir: its default lies in the data folder.
  db: SERVER_OPTIONS.db,
  port: option({
    flag: '--port <port>',
    env: 'FOGLINE_PORT',
    description: 'Control plane port; the two agents take the next two ports',
    defaultText: '7070',
    defaultValue: () => 7070,
    parse: parsePort,
  }),
  token: option({
    flag: '--token <token>',
    env: 'FOGLINE_TOKEN',
    description:
      'Admin token for a database that already has an admin while the data folder has no admin.token (saved there); the file wins when it exists',
    defaultText: 'from <data dir>/admin.token',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
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
