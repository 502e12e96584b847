import fs from 'node:fs';
import path from 'node:path';
import type { DesiredDeployment } from '../../contracts/deployments.js';
import type { ControlPlaneLink } from '../sync/control-plane-link.js';
import { ArtifactRefused } from './artifact-refused.js';
import { downloadArtifact } from './download-artifact.js';
import type { RegistryKey } from './registry-key.js';
import { verifyArtifact } from './verify-artifact.js';

const PARTIAL_SUFFIX = '.partial';
/** A stalled download must not hold up every later desired state; what arrived is resumed next time. */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * Verified bundles under `<data dir>/artifacts/<sha256>`. A file gets its final name only after
 * its sha256 and the registry's signature check out, and is checked again each time it is read,
 * so a bundle damaged on disk is refused (and fetched again) rather than loaded.
 */
export class ArtifactCache {
  readonly dir: string;

  constructor(
    dataDir: string,
    private readonly key: RegistryKey,
    private readonly link: ControlPlaneLink | undefined,
    private readonly limitBytes: number,
  ) {
    this.dir = path.join(dataDir, 'artifacts');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ArtifactRefused(`not a sha256 digest: ${sha256}`);
    return path.join(this.dir, sha256);
  }

  has(sha256: string): boolean {
    return fs.existsSync(this.pathOf(sha256));
  }

  /**
   * The verified bytes of the deployment's bundle: from the cache when it is there and intact,
   * else downloaded (with resume). `onDownload` says when the network is needed.
   */
  async fetch(deployment: DesiredDeployment, signal: AbortSignal, onDownload: () => void = () => undefined): Promise<Uint8Array> {
    const file = this.pathOf(deployment.sha256);
    const publicKeyPem = await this.key.get();
    if (fs.existsSync(file)) {
      const bytes = fs.readFileSync(file);
      try {
        verifyArtifact(bytes, deployment, publicKeyPem);
        touch(file);
        return bytes;
      } catch (error) {
        // Damaged on disk: drop it and fetch a good copy below (when the control plane is there).
        fs.rmSync(file, { force: true });
        if (!this.link) throw error;
      }
    }
    if (!this.link)
      throw new ArtifactRefused(
        `the artifact of ${deployment.model} version ${deployment.version} is not cached and the control plane is out of reach`,
      );
    // Deployments whose bundles are byte-identical share one file: one download, whoever asks first.
    let download = this.downloads.get(deployment.sha256);
    if (!download) {
      onDownload();
      download = this.download(this.link, deployment, file, publicKeyPem, signal).finally(() => this.downloads.delete(deployment.sha256));
      this.downloads.set(deployment.sha256, download);
    }
    await download;
    // Each deployment checks the bytes against its own signature (model and version differ).
    const bytes = fs.readFileSync(file);
    verifyArtifact(bytes, deployment, publicKeyPem);
    return bytes;
  }

  private readonly downloads = new Map<string, Promise<void>>();

  /** Downloads into `<sha256>.partial` (resuming what is there), checks it, and renames it into place. */
  private async download(
    link: ControlPlaneLink,
    deployment: DesiredDeployment,
    file: string,
    publicKeyPem: string,
    signal: AbortSignal,
  ): Promise<void> {
    const partial = `${file}${PARTIAL_SUFFIX}`;
    await downloadArtifact(link, deployment, partial, AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]));
    const bytes = fs.readFileSync(partial);
    try {
      verifyArtifact(bytes, deployment, publicKeyPem);
    } catch (error) {
      // Never resume onto bytes that failed the check: the next try starts clean.
      fs.rmSync(partial, { force: true });
      throw error;
    }
    fs.renameSync(partial, file);
  }

  /** Sum of the cached bundles' sizes (partial downloads included). */
  sizeBytes(): number {
    return this.entries().reduce((sum, entry) => sum + entry.size, 0);
  }

  /**
   * Deletes the least recently used bundles not in `inUse` (digests being served or desired)
   * until the cache fits its limit. Bundles in use are never evicted, even past the limit.
   */
  evict(inUse: Set<string>): string[] {
    const entries = this.entries().sort((a, b) => a.usedAt - b.usedAt);
    let total = entries.reduce((sum, entry) => sum + entry.size, 0);
    const evicted: string[] = [];
    for (const entry of entries) {
      if (total <= this.limitBytes) break;
      const sha256 = entry.name.replace(PARTIAL_SUFFIX, '');
      if (inUse.has(sha256)) continue;
      fs.rmSync(path.join(this.dir, entry.name), { force: true });
      total -= entry.size;
      evicted.push(entry.name);
    }
    return evicted;
  }

  private entries(): { name: string; size: number; usedAt: number }[] {
    return fs.readdirSync(this.dir).flatMap((name) => {
      try {
        const stat = fs.statSync(path.join(this.dir, name));
        return stat.isFile() ? [{ name, size: stat.size, usedAt: stat.mtimeMs }] : [];
      } catch {
        return [];
      }
    });
  }
}

/** The modification time doubles as "last used", for least-recently-used eviction. */
function touch(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // best effort
  }
}
