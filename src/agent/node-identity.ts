import fs from 'node:fs';
import path from 'node:path';
import { writePrivateFile } from '../files/private-file.js';

export const NODE_IDENTITY_FILE = 'node.json';

/** What an agent keeps after enrolling, so that a restart neither re-enrols nor changes its id. */
export interface NodeIdentity {
  server: string;
  nodeId: string;
  nodeName: string;
  credential: string;
  enrolledAt: string;
}

export function loadNodeIdentity(dataDir: string): NodeIdentity | undefined {
  const file = path.join(dataDir, NODE_IDENTITY_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const identity = JSON.parse(text) as Partial<NodeIdentity>;
  if (!identity.nodeId || !identity.credential || !identity.nodeName) {
    throw new Error(`${file} is incomplete: delete it and enrol again with a new join token`);
  }
  return identity as NodeIdentity;
}

export function saveNodeIdentity(dataDir: string, identity: NodeIdentity): void {
  writePrivateFile(path.join(dataDir, NODE_IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
}
