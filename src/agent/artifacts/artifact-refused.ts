/**
 * An artifact the agent will not load: wrong digest, bad signature, truncated, or a registry key
 * that changed. The message is the reason reported to the control plane as `failed`.
 */
export class ArtifactRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactRefused';
  }
}
