import { Command } from 'commander';
import type { DeploymentView } from '../../contracts/deployments.js';
import { formatLabels, parseLabelList } from '../../nodes/labels.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { formatTable, printJson, printRows } from '../output.js';

export function deployCommand(): Command {
  const deploy = new Command('deploy').description('Deploy models to edge nodes: a model selector + a node selector');

  withClientOptions(
    deploy
      .command('create')
      .description('Create a deployment; it follows its model selector (moving an alias rolls it forward)')
      .requiredOption('--name <name>', 'Deployment name: the model name agents serve it under on /v2')
      .requiredOption('--model <selector>', 'name, name@version or name@alias, e.g. energy-forecaster@champion')
      .option('--to <k=v,...>', 'Node selector: labels the nodes must have (default: every node)', ''),
  ).action(async (options: { name: string; model: string; to: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.createDeployment({ name: options.name, model: options.model, nodeSelector: parseLabelList(options.to) });
    if (json) return printJson(view);
    console.log(describeDeployment(view));
  });

  withClientOptions(deploy.command('list').description('List deployments')).action(async (_options, self: Command) => {
    const { client, json } = clientFor(self);
    const { deployments } = await client.listDeployments();
    printRows(
      deployments,
      DEPLOYMENT_COLUMNS,
      json,
      'No deployments yet: fogline deploy create --name NAME --model MODEL@champion --to site=…',
    );
  });

  withClientOptions(
    deploy.command('get').description('Show a deployment and the state on each node').argument('<name>', 'Deployment name'),
  ).action(async (name: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.getDeployment(name);
    if (json) return printJson(view);
    console.log(describeDeployment(view));
  });

  withClientOptions(
    deploy.command('delete').description('Delete a deployment: every node unloads it').argument('<name>', 'Deployment name'),
  ).action(async (name: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    await client.deleteDeployment(name);
    if (json) return printJson({ deleted: name });
    console.log(`Deleted deployment ${name}; nodes unload it on their next sync.`);
  });

  return deploy;
}

const DEPLOYMENT_COLUMNS = [
  { header: 'NAME', value: (d: DeploymentView) => d.name },
  { header: 'MODEL', value: (d: DeploymentView) => d.model },
  { header: 'VERSION', value: (d: DeploymentView) => (d.version === null ? '-' : String(d.version)) },
  { header: 'NODES', value: (d: DeploymentView) => formatLabels(d.nodeSelector) || '(all)' },
  {
    header: 'SERVING',
    value: (d: DeploymentView) => `${d.nodes.filter((n) => n.state === 'serving' && n.version === d.version).length}/${d.nodes.length}`,
  },
];

function describeDeployment(view: DeploymentView): string {
  const lines = [
    `Deployment:  ${view.name}`,
    `Model:       ${view.model} (now version ${view.version ?? '-'})`,
    `Nodes:       ${formatLabels(view.nodeSelector) || '(all)'}`,
  ];
  if (view.nodes.length === 0) lines.push('', 'No node fits yet (online, not cordoned, labels matching, enough memory).');
  else
    lines.push(
      '',
      formatTable(view.nodes, [
        { header: '  NODE', value: (n) => `  ${n.nodeName}` },
        { header: 'STATE', value: (n) => n.state },
        { header: 'VERSION', value: (n) => (n.version === null ? '-' : String(n.version)) },
        { header: 'SERVING', value: (n) => (n.servingVersion === null ? '-' : String(n.servingVersion)) },
        { header: 'REASON', value: (n) => n.reason ?? '' },
      ]),
    );
  return lines.join('\n');
}
