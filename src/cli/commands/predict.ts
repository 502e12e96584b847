import fs from 'node:fs';
import { Command } from 'commander';
import type { V2InferResponse } from '../../contracts/open-inference.js';
import { ApiClient } from '../../client/api-client.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { printJson } from '../output.js';

export function predictCommand(): Command {
  return withClientOptions(
    new Command('predict')
      .description('Send an Open Inference Protocol request to a node (or the cloud) and print the outputs')
      .requiredOption('--model <name>', 'On a node: the deployment name; in the cloud: a registered model (name or name@version)')
      .requiredOption('--input <file>', 'A V2 request body: {"inputs": [{"name", "shape", "datatype", "data"}]} ("-" reads stdin)')
      .option('--node <node>', 'Node id or name: its agent serves the request')
      .option('--cloud', 'Use the control plane’s inference endpoint instead of a node', false),
  ).action(async (options: { model: string; input: string; node?: string; cloud: boolean }, self: Command) => {
    const { client, json } = clientFor(self);
    if (!options.node === !options.cloud) throw new Error('Say where to predict: --node <node> or --cloud');
    const body = fs.readFileSync(options.input === '-' ? 0 : options.input, 'utf8');
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (error) {
      throw new Error(`${options.input} is not JSON: ${(error as Error).message}`);
    }
    const [model, version] = options.model.split('@');
    const path = `/v2/models/${encodeURIComponent(model ?? '')}${version ? `/versions/${encodeURIComponent(version)}` : ''}/infer`;
    let target: ApiClient;
    if (options.cloud) {
      target = client;
    } else {
      const node = await client.getNode(options.node as string);
      if (!node.agent) throw new Error(`Node ${node.name} has not reported its inference URL yet (no heartbeat)`);
      target = new ApiClient({ server: node.agent.inferenceUrl });
    }
    const response = await target.request<V2InferResponse>('POST', path, { body: request });
    if (json) return printJson(response);
    console.log(`${response.model_name} version ${response.model_version ?? '-'}`);
    for (const output of response.outputs) {
      const values = output.data.map((value) => (typeof value === 'number' ? Number(value.toPrecision(6)) : value));
      console.log(`${output.name} ${output.datatype} [${output.shape.join(', ')}]: ${values.join(' ')}`);
    }
  });
}
