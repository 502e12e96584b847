import type { LoadedPredictor } from '../../ml/bundle/load-bundle.js';

/** A version loaded into a slot, with the requests it is still answering. */
export interface LoadedVersion {
  version: number;
  sha256: string;
  predictor: LoadedPredictor;
  /** The model's name in the registry (the deployment's name when not given). */
  model?: string;
  /** How long loading and warming up took, for the serving observer. */
  loadSeconds?: number;
}

interface Active extends LoadedVersion {
  inFlight: number;
  retired: boolean;
  drained: () => void;
}

/**
 * What one deployment serves. `swap` switches to a new version in one assignment: requests that
 * started on the old version finish on it, new ones go to the new one, and the old predictor is
 * disposed only once its last request has answered, so no request fails across a switch.
 */
export class ModelSlot {
  private active: Active;

  constructor(initial: LoadedVersion) {
    this.active = activate(initial);
  }

  get version(): number {
    return this.active.version;
  }

  get model(): string | undefined {
    return this.active.model;
  }

  get sha256(): string {
    return this.active.sha256;
  }

  get predictor(): LoadedPredictor {
    return this.active.predictor;
  }

  /** Runs `work` on the version serving now; a swap meanwhile waits for it before disposing. */
  async use<T>(work: (loaded: LoadedVersion) => Promise<T>): Promise<T> {
    const active = this.active;
    active.inFlight += 1;
    try {
      return await work(active);
    } finally {
      active.inFlight -= 1;
      if (active.retired && active.inFlight === 0) active.drained();
    }
  }

  /** Switches to `next` (already loaded and warmed up) and frees the old version once drained. */
  async swap(next: LoadedVersion): Promise<void> {
    const old = this.active;
    this.active = activate(next);
    await retire(old);
  }

  /** Frees the serving version after its in-flight requests (the deployment was removed). */
  async close(): Promise<void> {
    await retire(this.active);
  }
}

function activate(loaded: LoadedVersion): Active {
  return { ...loaded, inFlight: 0, retired: false, drained: () => undefined };
}

async function retire(old: Active): Promise<void> {
  old.retired = true;
  if (old.inFlight > 0) await new Promise<void>((resolve) => (old.drained = resolve));
  old.predictor.dispose();
}
