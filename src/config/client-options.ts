import { option, parseString } from './options.js';
import { caOption, dataDirOption } from './server-options.js';

/** Options every API-calling CLI command shares; defined once, registered on each command. */
export const CLIENT_OPTIONS = {
  server: option({
    flag: '--server <url>',
    env: 'FOGLINE_SERVER',
    description: 'Control plane URL',
    defaultText: 'from <data dir>/server.json, else http://127.0.0.1:7070',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  token: option({
    flag: '--token <token>',
    env: 'FOGLINE_TOKEN',
    description: 'API token',
    defaultText: 'from <data dir>/admin.token',
    defaultValue: () => undefined as string | undefined,
    parse: parseString,
  }),
  ca: caOption,
  dataDir: {
    ...dataDirOption,
    description: 'Data folder of a local `fogline up` or `fogline server`, where server.json and admin.token are found',
  },
};
