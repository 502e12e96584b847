import fs from 'node:fs';
import { Command, Option } from 'commander';
import { WebSocket } from 'ws';
import type { OpenSessionResponse, SessionList, SessionView } from '../../contracts/sessions.js';
import { SESSION_KINDS } from '../../contracts/sessions.js';
import { parseLabelList } from '../../nodes/labels.js';
import { clientFor, withClientOptions } from '../client-context.js';
import { printJson, printRows } from '../output.js';

export function sessionsCommand(): Command {
  return new Command('sessions')
    .description('1:1 streaming inference sessions placed by the control plane on a node (or the cloud)')
    .addCommand(openCommand())
    .addCommand(listCommand())
    .addCommand(closeCommand());
}

/** V2 infer requests from the input: one JSON document (a request or an array of them), or one request per line. */
export function parseSessionInputs(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const whole = JSON.parse(trimmed) as unknown;
    return Array.isArray(whole) ? whole : [whole];
  } catch {
    return trimmed
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line, i) => {
        try {
          return JSON.parse(line) as unknown;
        } catch (error) {
          throw new Error(`Line ${i + 1} is not JSON: ${(error as Error).message}`);
        }
      });
  }
}

function openCommand(): Command {
  return withClientOptions(
    new Command('open')
      .description('Open a session, stream V2 infer requests to it (stdin or --input) and print each prediction, in order')
      .requiredOption('--model <deployment>', 'The deployment to stream to')
      .addOption(new Option('--kind <kind>', 'scalar (time series) or image').choices([...SESSION_KINDS]).makeOptionMandatory())
      .option('--input <file>', 'V2 infer requests: one JSON per line, or one JSON request or array ("-": stdin)', '-')
      .option('--selector <labels>', 'Only nodes with these labels, e.g. site=plant-a (the cloud when none can take it)'),
  ).action(async (options: { model: string; kind: 'scalar' | 'image'; input: string; selector?: string }, self: Command) => {
    const { client, json } = clientFor(self);
    const inputs = parseSessionInputs(fs.readFileSync(options.input === '-' ? 0 : options.input, 'utf8'));
    const startedAt = Date.now();
    // While the control plane has a node load the model on demand, the POST waits: say which node.
    const announced = new Set<string>();
    const progress = setInterval(() => {
      void client
        .request<SessionList>('GET', '/api/v1/sessions')
        .then(({ sessions }) => {
          for (const s of sessions) {
            const loading = s.model === options.model && s.state === 'pending' && s.reason.startsWith(`loading ${options.model} on `);
            if (!loading || Date.parse(s.createdAt) < startedAt - 5000 || announced.has(s.id)) continue;
            announced.add(s.id);
            console.error(`loading ${s.model} on ${s.nodeName ?? '?'} on demand (no node serving it can take the session) …`);
          }
        })
        .catch(() => undefined);
    }, 300);
    let opened: OpenSessionResponse;
    try {
      opened = await client.request<OpenSessionResponse>('POST', '/api/v1/sessions', {
        body: { model: options.model, kind: options.kind, ...(options.selector ? { nodeSelector: parseLabelList(options.selector) } : {}) },
        // The control plane bounds the wait (--session-load-timeout); this only keeps a dead connection from hanging.
        timeoutMs: 600_000,
      });
    } finally {
      clearInterval(progress);
    }
    const { session } = opened;
    console.error(`session ${session.id} on ${session.nodeName ?? 'the cloud'}: ${session.reason}`);
    const answers = await streamRequests(opened.url, inputs);
    let failed = 0;
    for (const [i, answer] of answers.entries()) {
      if (json) {
        printJson(answer);
        continue;
      }
      const body = answer as { error?: string; status?: number; outputs?: { name: string; data: unknown[] }[] };
      if (body.error !== undefined) {
        failed += 1;
        console.error(`#${i + 1} error ${body.status ?? ''}: ${body.error}`);
        continue;
      }
      const outputs = (body.outputs ?? []).map(
        (o) => `${o.name}: ${o.data.map((v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v)).join(' ')}`,
      );
      console.log(`#${i + 1} ${outputs.join('  ')}`);
    }
    if (failed > 0) process.exitCode = 1;
  });
}

/** Sends every request on one socket and resolves with the answers, in order; closes the socket after. */
function streamRequests(url: string, requests: unknown[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const answers: unknown[] = [];
    socket.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // not JSON: keep the text
        }
        reject(new Error(`The stream refused the session (${response.statusCode}): ${message}`));
      });
    });
    socket.on('open', () => {
      if (requests.length === 0) socket.close(1000);
      for (const request of requests) socket.send(JSON.stringify(request));
    });
    socket.on('message', (data: Buffer) => {
      answers.push(JSON.parse(data.toString()) as unknown);
      if (answers.length === requests.length) socket.close(1000);
    });
    socket.on('close', (code, reason) => {
      if (answers.length < requests.length)
        reject(new Error(`The session closed after ${answers.length} of ${requests.length} answers (${code} ${reason.toString()})`));
      else resolve(answers);
    });
    socket.on('error', (error) => reject(error));
  });
}

function listCommand(): Command {
  return withClientOptions(
    new Command('list').description('List open inference sessions').option('--all', 'Include recently closed sessions', false),
  ).action(async (options: { all: boolean }, self: Command) => {
    const { client, json } = clientFor(self);
    const { sessions } = await client.request<SessionList>('GET', `/api/v1/sessions${options.all ? '?all=true' : ''}`);
    printRows<SessionView>(
      sessions,
      [
        { header: 'ID', value: (s) => s.id },
        { header: 'DEPLOYMENT', value: (s) => s.model },
        { header: 'KIND', value: (s) => s.kind },
        { header: 'WHERE', value: (s) => s.nodeName ?? 'cloud' },
        { header: 'STATE', value: (s) => (s.closeReason ? `${s.state} (${s.closeReason})` : s.state) },
        { header: 'CREATED', value: (s) => s.createdAt },
        { header: 'REASON', value: (s) => s.reason },
      ],
      json,
      'No sessions.',
    );
  });
}

function closeCommand(): Command {
  return withClientOptions(
    new Command('close')
      .description('Close an inference session (the control plane stops counting it; its socket runs on until it closes or idles out)')
      .argument('<id>', 'The session id (fogline sessions list)'),
  ).action(async (id: string, _options: unknown, self: Command) => {
    const { client, json } = clientFor(self);
    const session = await client.request<SessionView>('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}`);
    if (json) printJson(session);
    else console.log(`session ${session.id} ${session.state} (${session.closeReason ?? ''})`);
  });
}
