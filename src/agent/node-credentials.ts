import { type NodeIdentity, saveNodeIdentity } from './node-identity.js';

/**
 * The node's credential while the agent runs. Every part that calls the control plane reads
 * `current()` for each request, so a new credential reaches all of them at once.
 *
 * `replace()` saves the new credential to node.json first (a temporary file renamed over the old
 * one: the file holds one credential or the other, never half of one) and switches only once that
 * worked. If the agent dies before the rename, it restarts with the old credential, which the
 * control plane still accepts (and answers with another new one); if it dies after, it restarts
 * with the new one. If saving fails (disk full), it keeps the old one and the next heartbeat brings
 * another new one. So no crash between the steps locks the agent out (see src/nodes/credential-rotation.ts).
 */
export class NodeCredentials {
  constructor(
    private readonly dataDir: string,
    private saved: NodeIdentity,
  ) {}

  /** The credential to send now. */
  readonly current = (): string => this.saved.credential;

  get identity(): NodeIdentity {
    return this.saved;
  }

  /** Saves, then switches to, a credential the control plane handed out; throws (keeping the old one) when it cannot be saved. */
  replace(credential: string): void {
    const next = { ...this.saved, credential };
    saveNodeIdentity(this.dataDir, next);
    this.saved = next;
  }
}
