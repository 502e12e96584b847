import { Command, InvalidArgumentError, Option } from 'commander';
import { NODE_ROLES, NODE_STATUSES, type NodeView } from '../../contracts/nodes.js';
import { formatLabels, parseLabelList } from '../../nodes/labels.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { addNodeTrustCommands } from './node-trust.js';
import { formatAge, formatBytes, printJson, printRows } from '../output.js';

export function nodesCommand(): Command {
  const nodes = new Command('nodes').description('List and manage the nodes of the cluster');

  withClientOptions(
    nodes
      .command('list')
      .description('List nodes with their status and resources')
      .option('--selector <k=v,...>', 'Only nodes with these labels')
      .addOption(new Option('--status <status>', 'Only nodes with this status').choices([...NODE_STATUSES]))
      .addOption(new Option('--role <role>', 'Only edge or cloud nodes').choices([...NODE_ROLES])),
  ).action(async (options: { selector?: string; status?: NodeView['status']; role?: NodeView['role'] }, self: Command) => {
    const { client, json } = clientFor(self);
    if (options.selector) parseLabelList(options.selector);
    const { nodes: list } = await client.listNodes({ selector: options.selector, status: options.status, role: options.role });
    printRows(list, NODE_COLUMNS, json, 'No nodes yet: start an agent with `fogline agent --join-token …`.');
  });

  withClientOptions(nodes.command('get').description('Show one node').argument('<node>', 'Node id or name')).action(
    async (node: string, _options, self: Command) => {
      const { client, json } = clientFor(self);
      const view = await client.getNode(node);
      if (json) return printJson(view);
      console.log(describeNode(view));
    },
  );

  withClientOptions(
    nodes
      .command('label')
      .description('Set labels (k=v) and remove them (k-), like kubectl label')
      .argument('<node>', 'Node id or name')
      .argument('<changes...>', 'k=v to set, k- to remove'),
  ).action(async (node: string, changes: string[], _options, self: Command) => {
    const { client, json } = clientFor(self);
    const { set, remove } = parseLabelChanges(changes);
    const view = await client.patchLabels(node, { set, remove });
    if (json) return printJson(view);
    console.log(`${view.name}: ${formatLabels(view.labels) || '(no labels)'}`);
  });

  for (const [action, cordoned, text] of [
    ['cordon', true, 'Stop placing new deployments on a node'],
    ['uncordon', false, 'Allow deployments on a node again'],
  ] as const) {
    withClientOptions(nodes.command(action).description(text).argument('<node>', 'Node id or name')).action(
      async (node: string, _options, self: Command) => {
        const { client, json } = clientFor(self);
        const view = await client.setCordoned(node, cordoned);
        if (json) return printJson(view);
        console.log(`${view.name} ${cordoned ? 'cordoned' : 'uncordoned'}.`);
      },
    );
  }

  withClientOptions(
    nodes
      .command('set-url')
      .description(
        "Set where the control plane calls a node's agent (cloud replicas, session sockets, scrapes); heartbeats cannot change it",
      )
      .argument('<node>', 'Node id or name')
      .argument('<url>', 'http(s)://host:port of the agent, e.g. its --advertise-url'),
  ).action(async (node: string, url: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.setInferenceUrl(node, url);
    if (json) return printJson(view);
    console.log(`${view.name}: the control plane now calls its agent at ${view.inferenceUrl}.`);
  });

  addNodeTrustCommands(nodes);

  withClientOptions(
    nodes.command('delete').description('Delete a node and revoke its credential').argument('<node>', 'Node id or name'),
  ).action(async (node: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    const view = await client.deleteNode(node);
    if (json) return printJson(view);
    console.log(`Deleted node ${view.name} (${view.id}); its credential is revoked.`);
  });

  return nodes;
}

/** `k=v` sets a label, `k-` removes one (kubectl's form); anything else is refused. */
export function parseLabelChanges(changes: string[]): { set: Record<string, string>; remove: string[] } {
  const remove: string[] = [];
  const toSet: string[] = [];
  for (const change of changes) {
    if (change.includes('=')) toSet.push(change);
    else if (change.endsWith('-') && change.length > 1) remove.push(change.slice(0, -1));
    else throw new InvalidArgumentError(`"${change}" is neither k=v (set a label) nor k- (remove one)`);
  }
  return { set: parseLabelList(toSet.join(',')), remove };
}

export function nodeState(node: NodeView): string {
  return [node.status, ...(node.pending ? ['pending'] : []), ...(node.cordoned ? ['cordoned'] : [])].join(',');
}

const NODE_COLUMNS = [
  { header: 'NAME', value: (n: NodeView) => n.name },
  { header: 'ID', value: (n: NodeView) => n.id },
  { header: 'ROLE', value: (n: NodeView) => n.role },
  { header: 'STATUS', value: nodeState },
  { header: 'HEARTBEAT', value: (n: NodeView) => (n.heartbeatAgeSeconds === null ? 'never' : `${formatAge(n.heartbeatAgeSeconds)} ago`) },
  { header: 'CPU', value: (n: NodeView) => (n.resources ? `${n.resources.cpuCount} (load ${n.resources.loadAverage[0]})` : '-') },
  {
    header: 'MEMORY FREE',
    value: (n: NodeView) =>
      n.resources ? `${formatBytes(n.resources.memoryFreeBytes)}/${formatBytes(n.resources.memoryTotalBytes)}` : '-',
  },
  { header: 'DISK FREE', value: (n: NodeView) => (n.resources ? formatBytes(n.resources.diskFreeBytes) : '-') },
  { header: 'LABELS', value: (n: NodeView) => formatLabels(n.labels) || '-' },
];

function describeNode(node: NodeView): string {
  const r = node.resources;
  const lines = [
    `Name:        ${node.name}`,
    `ID:          ${node.id}`,
    `Role:        ${node.role}`,
    `Status:      ${nodeState(node)}`,
    `Labels:      ${formatLabels(node.labels) || '(none)'}`,
    `Enrolled:    ${node.enrolledAt}`,
    ...(node.pending ? [`Approval:    pending: it gets no work until an operator runs fogline nodes approve ${node.name}`] : []),
    ...(node.credentialRotation === 'requested' ? ['Credential:  a new one goes to the node with its next heartbeat'] : []),
    ...(node.credentialRotation === 'delivered' ? ['Credential:  a new one was handed out; the node has not used it yet'] : []),
    `Heartbeat:   ${node.lastHeartbeatAt ? `${node.lastHeartbeatAt} (${formatAge(node.heartbeatAgeSeconds)} ago)` : 'never'}`,
  ];
  if (r) {
    lines.push(
      `CPUs:        ${r.cpuCount}, load ${r.loadAverage.join(' ')}`,
      `Memory:      ${formatBytes(r.memoryFreeBytes)} free of ${formatBytes(r.memoryTotalBytes)}`,
      `Disk:        ${formatBytes(r.diskFreeBytes)} free of ${formatBytes(r.diskTotalBytes)}`,
      `GPUs:        ${r.gpus.length === 0 ? 'none' : r.gpus.map((gpu) => gpu.name).join(', ')}`,
    );
  }
  lines.push(`Inference:   ${node.inferenceUrl ?? '(not known yet)'}`);
  if (node.agent) {
    lines.push(`Agent:       ${node.agent.version} on ${node.agent.os} ${node.agent.arch} (${node.agent.hostname})`);
    if (node.inferenceUrl !== null && node.agent.inferenceUrl !== node.inferenceUrl) {
      lines.push(
        `             says it serves at ${node.agent.inferenceUrl}: ignored (fogline nodes set-url ${node.name} <url> to move it)`,
      );
    }
  }
  return lines.join('\n');
}
