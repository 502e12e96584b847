import { Command } from 'commander';
import { AGENT_OPTIONS } from '../../config/agent-options.js';
import { addOptions, readOptions } from '../command-options.js';
import { stopOnSignals } from '../shutdown.js';

/** The exit status of an agent whose credential the control plane refuses for good (sysexits' EX_CONFIG). */
export const EXIT_CREDENTIAL_REFUSED = 78;

export function agentCommand(): Command {
  const command = new Command('agent').description('Run the agent on a node: enrol once, then heartbeat and serve');
  addOptions(command, AGENT_OPTIONS);
  return command.action(async (_options, self: Command) => {
    const config = readOptions(AGENT_OPTIONS, self);
    const { startAgent } = await import('../../agent/agent.js');
    const agent = await startAgent(config);
    console.log(`Fogline agent ${agent.identity.nodeName} (${agent.identity.nodeId}) serving on ${agent.url}`);
    stopOnSignals(agent.stop);
    // A deleted node or a revoked credential: retrying forever helps nobody. Exit with EX_CONFIG
    // (78), which a supervisor can be told not to restart on (systemd: RestartPreventExitStatus=78).
    void agent.credentialRefused.then(async (message) => {
      console.error(message);
      await agent.stop().catch(() => undefined);
      process.exit(EXIT_CREDENTIAL_REFUSED);
    });
  });
}
