import path from 'node:path';
import { Command } from 'commander';
import { SERVER_OPTIONS } from '../../config/server-options.js';
import { ADMIN_TOKEN_FILE } from '../../control-plane/data-dir-files.js';
import { addOptions, readOptions } from '../command-options.js';
import { stopOnSignals } from '../shutdown.js';

export function serverCommand(): Command {
  const command = new Command('server').description(
    'Run the control plane: REST API, dashboard, node registry, datasets, runs, model registry and deployments',
  );
  addOptions(command, SERVER_OPTIONS);
  return command.action(async (_options, self: Command) => {
    const config = readOptions(SERVER_OPTIONS, self);
    if (config.migrateOnly) {
      const { migrateOnly } = await import('../../control-plane/control-plane.js');
      const applied = await migrateOnly(config);
      console.log(
        applied.length > 0
          ? `Migrated the database: applied ${applied.length} migration${applied.length === 1 ? '' : 's'} (${applied.join(', ')})`
          : 'The database schema is up to date: no migration to apply',
      );
      return;
    }
    // Loaded here, not at the top: client commands should not pay for the server's modules.
    const { startControlPlane } = await import('../../control-plane/control-plane.js');
    const running = await startControlPlane(config);
    if (running.adminToken) {
      // Printed once, on the very first start; afterwards only the file holds it.
      console.log(`Admin token (shown once, also saved to ${path.join(config.dataDir, ADMIN_TOKEN_FILE)}):\n  ${running.adminToken}`);
    }
    console.log(`Fogline control plane listening on ${running.url}`);
    stopOnSignals(running.stop);
  });
}
