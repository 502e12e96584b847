import fs from 'node:fs';
import path from 'node:path';
import type { DesiredDeployment, DesiredState } from '../../contracts/deployments.js';
import { writePrivateFile } from '../../files/private-file.js';

export const DESIRED_STATE_FILE = 'desired-state.json';
export const SERVING_FILE = 'serving.json';

/**
 * What the agent keeps so that it serves after a restart without the control plane: the last
 * desired state it received, and what it actually serves (which differs while a new version
 * is refused or still downloading). Both are written atomically.
 */
export class AgentStateFiles {
  private lastServing: string | undefined;

  constructor(private readonly dataDir: string) {}

  loadDesired(): DesiredState | undefined {
    return readJson<DesiredState>(path.join(this.dataDir, DESIRED_STATE_FILE));
  }

  saveDesired(state: DesiredState): void {
    writePrivateFile(path.join(this.dataDir, DESIRED_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }

  /** The deployments serving when the agent last changed one, as the desired entries they came from. */
  loadServing(): DesiredDeployment[] {
    return readJson<DesiredDeployment[]>(path.join(this.dataDir, SERVING_FILE)) ?? [];
  }

  /** Writes only when something changed: the reconciler calls this after every poll. */
  saveServing(serving: DesiredDeployment[]): void {
    const text = `${JSON.stringify(serving, null, 2)}\n`;
    if (text === this.lastServing) return;
    writePrivateFile(path.join(this.dataDir, SERVING_FILE), text);
    this.lastServing = text;
  }
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    // A damaged file is as good as none: the control plane will send the state again.
    return undefined;
  }
}
