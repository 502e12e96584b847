import { Command } from 'commander';
import { AGENT_OPTIONS } from '../../config/agent-options.js';
import { addOptions, readOptions } from '../command-options.js';
import { stopOnSignals } from '../shutdown.js';

export function agentCommand(): Command {
  const command = new Command('agent').description('Run the agent on a node: enrol once, then heartbeat and serve');
  addOptions(command, AGENT_OPTIONS);
  return command.action(async (_options, self: Command) => {
    const config = readOptions(AGENT_OPTIONS, self);
    const { startAgent } = await import('../../agent/agent.js');
    const agent = await startAgent(config);
    console.log(`Fogline agent ${agent.identity.nodeName} (${agent.identity.nodeId}) serving on ${agent.url}`);
    stopOnSignals(agent.stop);
  });
}
