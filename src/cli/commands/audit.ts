import { Command } from 'commander';
import type { AuditEvent } from '../../contracts/audit.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { printRows } from '../output.js';
import { parseCount } from '../parse-arguments.js';

export function auditCommand(): Command {
  return withClientOptions(
    new Command('audit')
      .description('Show the audit log: who changed what, and when (admin)')
      .option('--limit <n>', 'How many events, newest first', (v) => parseCount(v, '--limit'), 50)
      .option('--before <id>', 'Only events older than this id (paging)'),
  ).action(async (options: { limit: number; before?: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const { events } = await client.listAudit({
      limit: options.limit,
      before: options.before === undefined ? undefined : parseCount(options.before, '--before'),
    });
    printRows(events, AUDIT_COLUMNS, json, 'The audit log is empty.');
  });
}

const AUDIT_COLUMNS = [
  { header: 'ID', value: (e: AuditEvent) => String(e.id) },
  { header: 'TIME', value: (e: AuditEvent) => e.at },
  { header: 'ACTOR', value: (e: AuditEvent) => `${e.actor.name} (${e.actor.role})` },
  { header: 'ACTION', value: (e: AuditEvent) => e.action },
  { header: 'TARGET', value: (e: AuditEvent) => e.target ?? '-' },
  { header: 'STATUS', value: (e: AuditEvent) => String(e.statusCode) },
];
