import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { ControlPlaneLink } from '../sync/control-plane-link.js';
import { ArtifactRefused } from './artifact-refused.js';

/**
 * Every download try, finished or failed, is published here (metrics subscribe); `file` is
 * the partial file, which tells agents sharing one process apart by their data dirs.
 */
export const ARTIFACT_DOWNLOAD_CHANNEL = 'fogline:agent:artifact-download';
export interface ArtifactDownloadEvent {
  file: string;
  model: string;
  version: number;
  /** Bytes received by this try (a resumed download counts only the rest). */
  bytes: number;
  seconds: number;
  ok: boolean;
}
const downloads = diagnosticsChannel.channel(ARTIFACT_DOWNLOAD_CHANNEL);

/**
 * Downloads a deployment's bundle into `partial`, resuming from what an earlier, interrupted try
 * left there (Range: bytes=N-). Checking what arrived is the caller's job; this only refuses
 * answers that cannot be the artifact (another digest in x-fogline-sha256, more bytes than signed).
 */
export async function downloadArtifact(
  link: ControlPlaneLink,
  deployment: DesiredDeployment,
  partial: string,
  signal: AbortSignal,
): Promise<void> {
  let have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
  if (have > deployment.sizeBytes) {
    fs.rmSync(partial, { force: true });
    have = 0;
  }
  if (have === deployment.sizeBytes && have > 0) return;
  const started = performance.now();
  const received = { bytes: 0 };
  let ok = false;
  try {
    await fetchInto(link, deployment, partial, signal, have, received);
    ok = true;
  } finally {
    if (downloads.hasSubscribers) {
      const { model, version } = deployment;
      const seconds = (performance.now() - started) / 1000;
      downloads.publish({ file: partial, model, version, bytes: received.bytes, seconds, ok } satisfies ArtifactDownloadEvent);
    }
  }
}

async function fetchInto(
  link: ControlPlaneLink,
  deployment: DesiredDeployment,
  partial: string,
  signal: AbortSignal,
  have: number,
  received: { bytes: number },
): Promise<void> {
  const response = await link.download(deployment.downloadPath, have, signal);
  const offered = response.headers.get('x-fogline-sha256');
  if (offered && offered !== deployment.sha256) {
    await response.body?.cancel();
    throw new ArtifactRefused(
      `the control plane offers another artifact (sha256 ${offered.slice(0, 12)}…) for ${deployment.model} version ${deployment.version}`,
    );
  }
  // 206: the server resumed where we stopped; 200: it sent everything again.
  const append = response.status === 206 && have > 0;
  if (!response.body) throw new Error(`no body in the artifact download of ${deployment.model} version ${deployment.version}`);
  let written = append ? have : 0;
  await pipeline(
    Readable.fromWeb(response.body as ReadableStream<Uint8Array>),
    async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        written += chunk.length;
        received.bytes += chunk.length;
        if (written > deployment.sizeBytes) {
          throw new ArtifactRefused(
            `the artifact of ${deployment.model} version ${deployment.version} is larger than the ${deployment.sizeBytes} bytes signed`,
          );
        }
        yield chunk;
      }
    },
    fs.createWriteStream(partial, { flags: append ? 'a' : 'w', mode: 0o600 }),
    { signal },
  );
}
