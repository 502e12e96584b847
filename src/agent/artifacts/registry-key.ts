import fs from 'node:fs';
import path from 'node:path';
import { writePrivateFile } from '../../files/private-file.js';
import { ArtifactRefused } from './artifact-refused.js';

export const REGISTRY_KEY_FILE = 'registry-key.pem';

/**
 * The registry's public key, pinned in `<data dir>/registry-key.pem`: at enrolment, from the
 * enrolment's answer (`pin`); an agent enrolled by a control plane that did not send it pins the
 * key on first use instead. A control plane that later presents another key is refused (someone
 * would have to delete the file on purpose), and an agent cut off from the control plane still
 * verifies with the pin.
 */
export class RegistryKey {
  private readonly file: string;
  private checkedOnline = false;

  constructor(
    dataDir: string,
    private readonly fetchKey: () => Promise<string>,
  ) {
    this.file = path.join(dataDir, REGISTRY_KEY_FILE);
  }

  /** Pins `pem` (at enrolment: this is the control plane the node was just enrolled with); true when it replaced another key. */
  pin(pem: string): boolean {
    const pinned = this.pinned();
    if (pinned !== undefined && normalise(pinned) === normalise(pem)) return false;
    writePrivateFile(this.file, pem);
    return pinned !== undefined;
  }

  /** The pinned key, or undefined before the first contact with the control plane. */
  pinned(): string | undefined {
    try {
      return fs.readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The key to verify with; asks the control plane once per process (pins it the first time). */
  async get(): Promise<string> {
    const pinned = this.pinned();
    if (this.checkedOnline && pinned) return pinned;
    let served: string;
    try {
      served = await this.fetchKey();
    } catch (error) {
      // Offline: the pin is all we need, and all we would trust anyway.
      if (pinned) return pinned;
      throw error;
    }
    if (pinned && normalise(pinned) !== normalise(served)) {
      throw new ArtifactRefused(
        `the control plane's registry key differs from the one pinned in ${this.file}; refusing its artifacts (delete the file to trust the new key)`,
      );
    }
    if (!pinned) writePrivateFile(this.file, served);
    this.checkedOnline = true;
    return pinned ?? served;
  }
}

function normalise(pem: string): string {
  return pem.replace(/\s+/g, '');
}
