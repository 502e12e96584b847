/**
 * MQTT for the tests, with Debian's own clients and broker: `mosquitto_pub` and `mosquitto_sub` as
 * the independent devices and consumers, and a private `mosquitto` on a free port where a test
 * stops and restarts the broker or needs TLS and passwords. The machine's shared broker listens on
 * 127.0.0.1:1883.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { eventually, freePort, requireBinary, tempDir } from './processes.js';

// Debian's Mosquitto programs (mosquitto, mosquitto-clients): a missing one fails the importing test
// file at once, and the preflight, which reads these calls, names its package before any test runs.
const MOSQUITTO_PUB = requireBinary('mosquitto_pub');
const MOSQUITTO_SUB = requireBinary('mosquitto_sub');
const MOSQUITTO = requireBinary('mosquitto');
const MOSQUITTO_PASSWD = requireBinary('mosquitto_passwd');

export const SHARED_BROKER = { host: '127.0.0.1', port: 1883 };

export interface BrokerAddress {
  host: string;
  port: number;
  /** Extra mosquitto_pub/sub arguments (TLS, user and password). */
  clientArgs?: string[];
}

/** One EdgeX v3 event with one Float64 reading, as a device service publishes it. */
export function edgexEvent(device: string, resource: string, timeSeconds: number, value: number | string, valueType = 'Float64'): string {
  const origin = `${Math.round(timeSeconds * 1000)}000000`;
  return (
    `{"apiVersion":"v3","id":"${crypto.randomUUID()}","deviceName":"${device}","profileName":"meter","sourceName":"${resource}","origin":${origin},` +
    `"readings":[{"id":"${crypto.randomUUID()}","origin":${origin},"deviceName":"${device}","resourceName":"${resource}","profileName":"meter","valueType":"${valueType}","value":"${value}"}]}`
  );
}

/** Publishes each line as one message (QoS 1), in order, with mosquitto_pub. */
export function publishLines(broker: BrokerAddress, topic: string, lines: readonly string[]): void {
  const result = spawnSync(
    MOSQUITTO_PUB,
    ['-h', broker.host, '-p', String(broker.port), ...(broker.clientArgs ?? []), '-q', '1', '-t', topic, '-l'],
    { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) throw new Error(`mosquitto_pub failed (${result.status}): ${result.stderr}`);
}

/** A mosquitto_sub that keeps every message it gets (topic and payload), from the moment it is subscribed. */
export class Subscriber {
  readonly messages: Array<{ topic: string; payload: string }> = [];
  private constructor(private readonly child: ChildProcess) {}

  /** `session`: a client id whose session the broker keeps (-c): messages published while it is away wait for it. */
  static async start(broker: BrokerAddress, topic: string, session?: string): Promise<Subscriber> {
    // stdbuf: mosquitto_sub's stdout is a pipe here, which C buffers by the block; each line must arrive as printed.
    const child = spawn(
      'stdbuf',
      [
        ...['-oL', MOSQUITTO_SUB],
        ...['-h', broker.host, '-p', String(broker.port), ...(broker.clientArgs ?? []), '-q', '1', '-t', topic, '-v', '-d'],
        ...(session ? ['-i', session, '-c'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const subscriber = new Subscriber(child);
    let buffer = '';
    let subscribed = false;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.startsWith('Subscribed (')) continue;
        if (line.startsWith('Client ')) {
          if (line.includes('SUBACK')) subscribed = true;
          continue; // -d debug lines
        }
        const space = line.indexOf(' ');
        if (space > 0) subscriber.messages.push({ topic: line.slice(0, space), payload: line.slice(space + 1) });
      }
    });
    await eventually(async () => (subscribed ? true : undefined), 10_000, 50);
    return subscriber;
  }

  /** Messages whose payload parses as JSON. */
  json<T = Record<string, unknown>>(): Array<{ topic: string; body: T }> {
    return this.messages.map((m) => ({ topic: m.topic, body: JSON.parse(m.payload) as T }));
  }

  async waitFor(count: number, timeoutMs = 30_000): Promise<void> {
    await eventually(async () => (this.messages.length >= count ? true : undefined), timeoutMs, 100);
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}

/** A private Mosquitto: persistence on (sessions and queued messages survive its restart), optional TLS and passwords. */
export class PrivateBroker {
  private child: ChildProcess | undefined;
  readonly dir = tempDir('fogline-mosquitto');

  private constructor(
    readonly port: number,
    readonly clientArgs: string[],
  ) {}

  static async start(
    options: { tls?: { cert: string; key: string; ca: string }; users?: Record<string, string> } = {},
  ): Promise<PrivateBroker> {
    const port = await freePort();
    const clientArgs: string[] = [];
    const broker = new PrivateBroker(port, clientArgs);
    const lines = [
      `listener ${port} 127.0.0.1`,
      'persistence true',
      `persistence_location ${broker.dir}/`,
      'autosave_interval 1',
      'max_queued_messages 100000',
      'max_inflight_messages 100',
      'log_dest stderr',
      // Started as root, Mosquitto would run as the "mosquitto" user, who cannot write our temporary folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
    ];
    if (options.users) {
      const file = path.join(broker.dir, 'passwords');
      fs.writeFileSync(file, '');
      for (const [user, password] of Object.entries(options.users)) {
        const made = spawnSync(MOSQUITTO_PASSWD, ['-b', file, user, password], { encoding: 'utf8' });
        if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr}`);
      }
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else lines.push('allow_anonymous true');
    if (options.tls) lines.push(`cafile ${options.tls.ca}`, `certfile ${options.tls.cert}`, `keyfile ${options.tls.key}`);
    fs.writeFileSync(path.join(broker.dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
    await broker.restart();
    return broker;
  }

  get address(): BrokerAddress {
    return { host: '127.0.0.1', port: this.port, clientArgs: this.clientArgs };
  }

  async restart(): Promise<void> {
    const child = spawn(MOSQUITTO, ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.child = child;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`mosquitto exited ${child.exitCode}: ${stderr}`);
        return stderr.includes('running') || stderr.includes(`port ${this.port}`) ? true : undefined;
      },
      10_000,
      50,
    ).catch(async () => {
      // Some builds log nothing at the default level: a TCP connect says it listens.
      const net = await import('node:net');
      await eventually(
        () =>
          new Promise<true | undefined>((resolve) => {
            const socket = net.connect(this.port, '127.0.0.1', () => {
              socket.destroy();
              resolve(true);
            });
            socket.on('error', () => resolve(undefined));
          }),
        10_000,
        50,
      );
    });
  }

  /** Stops the broker cleanly (it saves its sessions and queued messages). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async remove(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
