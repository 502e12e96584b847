import { dataDirOption, SERVER_OPTIONS } from '../config/server-options.js';

/** `fogline backup` / `fogline restore`: the same data folder and database as `fogline server` and `up`. */
export const BACKUP_OPTIONS = {
  dataDir: dataDirOption,
  // After dataDir: its default lies in the data folder.
  db: SERVER_OPTIONS.db,
};
