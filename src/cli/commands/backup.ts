import { Command } from 'commander';
import { BACKUP_OPTIONS } from '../../backup/backup-options.js';
import { BackupRefused, createBackup, restoreBackup } from '../../backup/backup.js';
import { ArchiveError } from '../../backup/tar.js';
import { formatBytes } from '../format-bytes.js';
import { addOptions, readOptions } from '../command-options.js';

/** Refusals print one line; "not for this install" (an external database) exits 2. */
async function refusing(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof BackupRefused) {
      console.error(`error: ${error.message}`);
      process.exit(error.exitCode);
    }
    if (error instanceof ArchiveError) {
      console.error(`error: the archive is damaged or not a Fogline backup (${error.message}); nothing was restored`);
      process.exit(1);
    }
    throw error;
  }
}

export function backupCommand(): Command {
  const command = new Command('backup')
    .description(
      'Write the embedded install (SQLite database, artifacts, datasets, signing key, admin token) into one archive; safe while the server runs',
    )
    .argument('<file>', 'the archive to write (a tar file; must not exist yet)');
  addOptions(command, BACKUP_OPTIONS);
  return command.action(async (file: string, _options, self: Command) => {
    const config = readOptions(BACKUP_OPTIONS, self);
    await refusing(async () => {
      const manifest = await createBackup(config, file);
      const bytes = manifest.entries.reduce((sum, entry) => sum + entry.size, 0);
      console.log(
        `Wrote ${file}: the database and ${manifest.entries.length - 1} files, ${formatBytes(bytes)} (Fogline ${manifest.foglineVersion}, ${manifest.created})`,
      );
    });
  });
}

export function restoreCommand(): Command {
  const command = new Command('restore')
    .description(
      'Restore an archive of `fogline backup` into an empty data folder (or, with --force, replace what it holds); the server must be stopped',
    )
    .argument('<file>', 'the archive written by fogline backup')
    .option('--force', 'replace the data folder and database that exist', false);
  addOptions(command, BACKUP_OPTIONS);
  return command.action(async (file: string, options: { force: boolean }, self: Command) => {
    const config = readOptions(BACKUP_OPTIONS, self);
    await refusing(async () => {
      const { manifest, files } = await restoreBackup(config, file, { force: options.force });
      console.log(
        `Restored the backup of ${manifest.created} (Fogline ${manifest.foglineVersion}) into ${config.dataDir}: the database and ${files} files`,
      );
    });
  });
}
