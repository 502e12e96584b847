import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface StoredArtifact {
  sha256: string;
  sizeBytes: number;
}

/**
 * Content-addressed files under one folder: a file's name is its sha256. Writes go to a
 * temporary name and are renamed into place only when complete, so a killed process never
 * leaves a partial artifact under a real name.
 */
export class ArtifactStore {
  constructor(private readonly root: string) {}

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathOf(sha256));
  }

  async putBytes(bytes: Uint8Array): Promise<StoredArtifact> {
    return this.putStream(
      (async function* () {
        yield bytes;
      })(),
    );
  }

  /** Streams `source` into the store; `limitBytes` stops oversize input before it fills the disk. */
  async putStream(source: AsyncIterable<Uint8Array>, limitBytes = Number.POSITIVE_INFINITY): Promise<StoredArtifact> {
    fs.mkdirSync(path.join(this.root, 'tmp'), { recursive: true });
    const temporary = path.join(this.root, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            sizeBytes += chunk.length;
            if (sizeBytes > limitBytes) throw new ArtifactTooLargeError(limitBytes);
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(temporary, { mode: 0o600 }),
      );
      const sha256 = hash.digest('hex');
      const target = this.pathOf(sha256);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(temporary, target);
      return { sha256, sizeBytes };
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw error;
    }
  }

  read(sha256: string): Buffer {
    return fs.readFileSync(this.pathOf(sha256));
  }

  createReadStream(sha256: string): fs.ReadStream {
    return fs.createReadStream(this.pathOf(sha256));
  }
}

export class ArtifactTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`larger than the limit of ${limitBytes} bytes`);
    this.name = 'ArtifactTooLargeError';
  }
}
