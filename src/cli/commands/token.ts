import { Command, Option } from 'commander';
import { NODE_ROLES } from '../../contracts/nodes.js';
import { CREATABLE_ROLES } from '../../contracts/roles.js';
import type { TokenInfo } from '../../contracts/tokens.js';
import { describeJoinPolicy, joinPolicyFromFlags, type JoinPolicyFlags } from '../join-policy-options.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { printJson, printRows } from '../output.js';
import { parseCount, parseDuration } from '../parse-arguments.js';

export function tokenCommand(): Command {
  const token = new Command('token').description('Create, list and revoke API and join tokens (admin)');

  withClientOptions(
    token
      .command('create')
      .description('Create a token; the secret is printed once')
      .addOption(new Option('--role <role>', 'Role of the token').choices([...CREATABLE_ROLES]).makeOptionMandatory())
      .option('--name <name>', 'What the token is for (default: "<role> token")')
      .option('--expires-in <duration>', 'Lifetime, e.g. 30m, 12h, 7d (default: never)')
      .option('--max-uses <n>', 'Join tokens: how many agents may enrol with it (default: unlimited)')
      .option(
        '--deployment <name>',
        'Inference tokens: a deployment whose /v2 routes (infer, stream, actuals, metadata) it may call on the agents that serve it (repeatable)',
        (name: string, names: string[] | undefined) => [...(names ?? []), name],
      )
      .option('--metrics', "Inference tokens: may also read agents' GET /metrics (give it to Prometheus)")
      .addOption(
        new Option('--node-role <role>', 'Join tokens: the role its nodes get; an agent asking for another is refused').choices([
          ...NODE_ROLES,
        ]),
      )
      .option(
        '--node-labels <k=v,...>',
        'Join tokens: labels its nodes get, e.g. site=plant-a,zone=north; an agent asking for none gets these',
      )
      .option(
        '--allowed-labels <k=v,...>',
        "Join tokens: labels an agent may ask for, where * matches any run of characters, e.g. 'site=plant-*,zone=*'; others are refused",
      )
      .option(
        '--require-approval',
        'Join tokens: its nodes wait, pending and without work, until an operator approves them (fogline nodes approve)',
      )
      .option(
        '--credential-ttl <duration>',
        "Join tokens: its nodes' credentials expire after this, e.g. 30d; agents renew them at half-life (default: never)",
      ),
  ).action(
    async (
      options: {
        role: (typeof CREATABLE_ROLES)[number];
        name?: string;
        expiresIn?: string;
        maxUses?: string;
        deployment?: string[];
        metrics?: boolean;
      } & JoinPolicyFlags,
      self: Command,
    ) => {
      const { client, json } = clientFor(self);
      const joinPolicy = joinPolicyFromFlags(options);
      const created = await client.createToken({
        name: options.name || `${options.role} token`,
        role: options.role,
        expiresInSeconds: options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn, '--expires-in'),
        maxUses: options.maxUses === undefined ? undefined : parseCount(options.maxUses, '--max-uses'),
        ...(options.deployment ? { deployments: options.deployment } : {}),
        ...(options.metrics ? { metrics: true } : {}),
        ...(joinPolicy ? { joinPolicy } : {}),
      });
      if (json) return printJson(created);
      console.log(created.token);
      console.error(
        `Created ${created.info.role} token ${created.info.id} ("${created.info.name}"). This is the only time the secret is shown.`,
      );
    },
  );

  withClientOptions(
    token
      .command('list')
      .description('List tokens (never their secrets)')
      .option('--all', 'Include revoked tokens and node credentials', false),
  ).action(async (options: { all: boolean }, self: Command) => {
    const { client, json } = clientFor(self);
    const { tokens } = await client.listTokens(options.all);
    printRows(tokens, TOKEN_COLUMNS, json, 'No tokens.');
  });

  withClientOptions(
    token.command('revoke').description('Revoke a token by id').argument('<id>', 'Token id (from fogline token list)'),
  ).action(async (id: string, _options, self: Command) => {
    const { client, json } = clientFor(self);
    await client.revokeToken(id);
    if (json) return printJson({ revoked: id });
    console.log(`Revoked token ${id}.`);
  });

  return token;
}

const TOKEN_COLUMNS = [
  { header: 'ID', value: (t: TokenInfo) => t.id },
  { header: 'NAME', value: (t: TokenInfo) => t.name },
  {
    header: 'ROLE',
    value: (t: TokenInfo) =>
      t.role === 'inference' ? `inference (${inferenceScope(t)})` : t.joinPolicy ? `join (${describeJoinPolicy(t.joinPolicy)})` : t.role,
  },
  { header: 'USES', value: (t: TokenInfo) => (t.maxUses === null ? String(t.uses) : `${t.uses}/${t.maxUses}`) },
  { header: 'EXPIRES', value: (t: TokenInfo) => t.expiresAt ?? 'never' },
  { header: 'STATE', value: (t: TokenInfo) => tokenState(t) },
  { header: 'CREATED', value: (t: TokenInfo) => t.createdAt },
];

/** An inference token's scope in a list: its deployments, and metrics when it may read /metrics. */
export function inferenceScope(token: Pick<TokenInfo, 'deployments' | 'metrics'>): string {
  return [...(token.deployments ?? []), ...(token.metrics ? ['metrics'] : [])].join(', ');
}

/** What a token can still do: revoked, expired and used-up tokens are refused by the server. */
export function tokenState(token: TokenInfo, now = Date.now()): string {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return 'expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'used up';
  return 'active';
}
