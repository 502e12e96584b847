import fs from 'node:fs';
import path from 'node:path';
import type { DeviceReading } from '../../devices/device-reading.js';
import type { DeviceWindowsSnapshot } from '../../devices/device-windows.js';

/** A result waiting for the broker's acknowledgement: what to publish, for which accepted reading. */
export interface PendingResult {
  seq: number;
  topic: string;
  payload: Buffer;
}

/** What a binding's ledger held when it was opened: the state to resume from. */
export interface LedgerReplay {
  /** The windows as of the last compaction (undefined: none yet). */
  snapshot: DeviceWindowsSnapshot | undefined;
  /** Readings accepted since then, in order: replayed into the windows. */
  readings: Array<{ seq: number; reading: Pick<DeviceReading, 'device' | 'time' | 'value' | 'values'> }>;
  /** Reading numbers that already have a result (published or not). */
  answered: Set<number>;
  /** Results not yet acknowledged by the broker, in order: published again. */
  unpublished: PendingResult[];
  /** The number the next accepted reading gets. */
  nextSeq: number;
}

type Line =
  | { r: number; d: string; t: number; v?: number; vs?: number[] }
  | { p: number; topic: string; payload: string }
  | { a: number }
  | { w: DeviceWindowsSnapshot | null; next: number };

/**
 * One MQTT binding's write-ahead log on the node's disk (`<data-dir>/devices/<deployment>.log`),
 * JSON lines appended with a plain write: a reading is logged before the broker gets its
 * acknowledgement, a result before it is published, and the broker's acknowledgement of that
 * result after. A killed agent (kill -9) loses nothing the kernel has: reopening replays the
 * readings into the windows, predicts again for readings that have no result yet, and publishes
 * again the results the broker had not acknowledged (so a result can go out twice, never none).
 * A power cut may lose the last writes (no fsync per message: 1,000 readings/s).
 *
 * The log is compacted once it passes `compactBytes`: the windows' snapshot plus the unpublished
 * results, written to a new file and renamed over the old one.
 */
export class DeviceLedger {
  private fd: number;
  private bytes: number;

  private constructor(
    readonly file: string,
    fd: number,
    bytes: number,
    private readonly compactBytes: number,
  ) {
    this.fd = fd;
    this.bytes = bytes;
  }

  /** Opens (or creates) the log and reads back what it held. A torn last line (killed mid-write) is skipped. */
  static open(dir: string, deployment: string, options: { compactBytes?: number } = {}): { ledger: DeviceLedger; replay: LedgerReplay } {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${encodeURIComponent(deployment)}.log`);
    const replay = readLedger(file);
    const fd = fs.openSync(file, 'a');
    const ledger = new DeviceLedger(file, fd, fs.fstatSync(fd).size, options.compactBytes ?? 16 * 1024 * 1024);
    return { ledger, replay };
  }

  reading(seq: number, reading: Pick<DeviceReading, 'device' | 'time' | 'value' | 'values'>): void {
    this.append({
      r: seq,
      d: reading.device,
      t: reading.time,
      ...(reading.value !== undefined ? { v: reading.value } : {}),
      ...(reading.values ? { vs: reading.values } : {}),
    });
  }

  result(result: PendingResult): void {
    this.append({ p: result.seq, topic: result.topic, payload: result.payload.toString('base64') });
  }

  published(seq: number): void {
    this.append({ a: seq });
  }

  get needsCompaction(): boolean {
    return this.bytes > this.compactBytes;
  }

  /** Replaces the log with the windows' snapshot and the results still waiting for the broker. */
  compact(snapshot: DeviceWindowsSnapshot | undefined, nextSeq: number, unpublished: readonly PendingResult[]): void {
    const temporary = `${this.file}.tmp`;
    const lines = [
      JSON.stringify({ w: snapshot ?? null, next: nextSeq } satisfies Line),
      ...unpublished.map((r) => JSON.stringify({ p: r.seq, topic: r.topic, payload: r.payload.toString('base64') } satisfies Line)),
    ];
    const text = `${lines.join('\n')}\n`;
    fs.writeFileSync(temporary, text);
    const fd = fs.openSync(temporary, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.closeSync(this.fd);
    fs.renameSync(temporary, this.file);
    this.fd = fs.openSync(this.file, 'a');
    this.bytes = Buffer.byteLength(text);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Deletes the log: the binding was removed from the deployment, or the deployment deleted. */
  remove(): void {
    this.close();
    fs.rmSync(this.file, { force: true });
  }

  private append(line: Line): void {
    const text = `${JSON.stringify(line)}\n`;
    fs.writeSync(this.fd, text);
    this.bytes += text.length;
  }
}

function readLedger(file: string): LedgerReplay {
  const replay: LedgerReplay = { snapshot: undefined, readings: [], answered: new Set(), unpublished: [], nextSeq: 1 };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return replay;
    throw error;
  }
  const pending = new Map<number, PendingResult>();
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      continue; // the torn tail of a write a killed agent did not finish
    }
    if ('w' in line) {
      replay.snapshot = line.w ?? undefined;
      replay.nextSeq = Math.max(replay.nextSeq, line.next);
    } else if ('r' in line) {
      replay.readings.push({
        seq: line.r,
        reading: {
          device: line.d,
          time: line.t,
          ...(line.v !== undefined ? { value: line.v } : {}),
          ...(line.vs ? { values: line.vs } : {}),
        },
      });
      replay.nextSeq = Math.max(replay.nextSeq, line.r + 1);
    } else if ('p' in line) {
      replay.answered.add(line.p);
      replay.nextSeq = Math.max(replay.nextSeq, line.p + 1);
      pending.set(line.p, { seq: line.p, topic: line.topic, payload: Buffer.from(line.payload, 'base64') });
    } else if ('a' in line) {
      pending.delete(line.a);
    }
  }
  replay.unpublished = [...pending.values()].sort((a, b) => a.seq - b.seq);
  return replay;
}
