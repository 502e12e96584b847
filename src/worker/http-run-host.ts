import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ApiClient } from '../client/api-client.js';
import type { ClaimedRun } from '../contracts/runs.js';
import type { RunHost } from '../pipelines/run-executor.js';

/**
 * `fogline worker`'s way to the control plane: the REST API with an operator token. Inputs are
 * downloaded once into the worker's cache under their sha256, checked against the digest the
 * claim names, and written by rename, so a killed worker never leaves half a file that looks whole.
 */
export class HttpRunHost implements RunHost {
  constructor(
    private readonly client: ApiClient,
    private readonly cacheDir: string,
  ) {}

  claim: RunHost['claim'] = (runId, worker) => this.client.claimRun(runId, worker);
  report: RunHost['report'] = (runId, attempt, report) => this.client.reportRun(runId, attempt, report);
  release: RunHost['release'] = (runId, attempt) => this.client.releaseRun(runId, attempt);

  complete: RunHost['complete'] = async (runId, attempt, outcome, bundle) => {
    await this.client.completeRun(runId, attempt, { ...outcome, bundleBase64: bundle.toString('base64') });
  };

  async files(run: ClaimedRun): Promise<{ dataset: string; warmStart?: string }> {
    const dataset = await this.cached(run.dataset.sha256, async () => {
      const download = await this.client.downloadDataset(run.dataset.name, run.dataset.version);
      return Readable.fromWeb(download.body as WebReadableStream<Uint8Array>);
    });
    if (!run.warmStart) return { dataset };
    const { model, version } = run.warmStart;
    const warmStart = await this.cached(run.warmStart.sha256, async () =>
      Readable.from([(await this.client.downloadArtifact(model, version)).bytes]),
    );
    return { dataset, warmStart };
  }

  private async cached(sha256: string, open: () => Promise<Readable>): Promise<string> {
    const folder = path.join(this.cacheDir, 'inputs');
    const file = path.join(folder, sha256);
    if (fs.existsSync(file)) return file;
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    const hash = createHash('sha256');
    try {
      await pipeline(
        await open(),
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        }),
        fs.createWriteStream(temporary, { mode: 0o600 }),
      );
      const actual = hash.digest('hex');
      if (actual !== sha256)
        throw new Error(`the downloaded input has sha256 ${actual}, not the ${sha256} the run names: download it again`);
      fs.renameSync(temporary, file);
      return file;
    } finally {
      fs.rmSync(temporary, { force: true });
    }
  }
}
