import type { Command } from 'commander';
import { clientFor, withClientOptions } from '../client-context.js';
import { printJson } from '../output.js';
import { parseDuration } from '../parse-arguments.js';

/**
 * `fogline nodes approve` and `fogline nodes rotate-credential` (operator): what an operator
 * decides about a node's trust after it has joined.
 */
export function addNodeTrustCommands(nodes: Command): void {
  withClientOptions(
    nodes
      .command('approve')
      .description(
        'Approve a pending node (enrolled with a --require-approval join token): it gets deployments, rounds and sessions from now on',
      )
      .argument('<node>', 'Node id or name'),
  ).action(async (node: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.approveNode(node);
    if (json) return printJson(view);
    console.log(`${view.name} is approved: it may take work now.`);
  });

  withClientOptions(
    nodes
      .command('rotate-credential')
      .description(
        'Give a node a new credential: its agent gets it with its next heartbeat and saves it; the old one stops working 30 s after the agent first uses the new one',
      )
      .argument('<node>', 'Node id or name')
      .option('--credential-ttl <duration>', "Lifetime of the node's credentials from now on, e.g. 30d (default: unchanged)"),
  ).action(async (node: string, options: { credentialTtl?: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const ttl = options.credentialTtl === undefined ? undefined : parseDuration(options.credentialTtl, '--credential-ttl');
    const view = await client.rotateCredential(node, ttl === undefined ? {} : { credentialTtlSeconds: ttl });
    if (json) return printJson(view);
    console.log(
      `${view.name} gets a new credential with its next heartbeat (${view.status === 'online' ? 'it is online' : 'it is offline: when it is back'}).`,
    );
  });
}
