import type { FederatedJobConfig, RoundClient } from '../contracts/federated.js';

/**
 * The round state machine, as pure functions of what the database says and the clock: the
 * coordinator reads the state, asks `nextStep`, and does what it says (each step is one write).
 *
 *   no open round ──(≥ minFitClients available)──▶ open (sampled, deadline)
 *   open ──(every sampled client answered, accepted ≥ quorum)──▶ aggregated ──▶ next round / done
 *   open ──(deadline, accepted ≥ quorum)──▶ aggregated (the rest are dropped from this round)
 *   open ──(deadline or all answered, accepted < quorum)──▶ failed ──▶ a new attempt of the round
 *   maxRoundFailures failed attempts of one round ──▶ the job fails
 */
export interface RoundState {
  round: number;
  attempt: number;
  sampled: RoundClient[];
  deadlineAt: number;
  /** Nodes that sent an update this attempt, and how many of those were accepted. */
  answered: number;
  accepted: number;
}

export interface JobState {
  config: FederatedJobConfig;
  roundsCompleted: number;
  /** The open attempt, if any. */
  open: RoundState | null;
  /** Failed attempts of round roundsCompleted + 1 so far. */
  failedAttempts: number;
}

export type NextStep =
  | { kind: 'wait'; reason: string }
  | { kind: 'start-round'; round: number; attempt: number; sampled: RoundClient[]; deadlineAt: number }
  | { kind: 'aggregate'; round: number; attempt: number }
  | { kind: 'fail-round'; round: number; attempt: number; reason: string }
  | { kind: 'fail-job'; reason: string }
  | { kind: 'finish' };

/** Accepted updates a round needs: `quorum` of the sampled clients, rounded up, and at least one. */
export function quorumOf(config: Pick<FederatedJobConfig, 'quorum'>, sampled: number): number {
  return Math.max(1, Math.ceil(config.quorum * sampled - 1e-9));
}

/** How many of `available` clients a round samples: `fractionFit` of them, at least `minFitClients`. */
export function sampleSize(config: Pick<FederatedJobConfig, 'fractionFit' | 'minFitClients'>, available: number): number {
  if (available < config.minFitClients) return 0;
  return Math.min(available, Math.max(config.minFitClients, Math.ceil(config.fractionFit * available - 1e-9)));
}

/** A seeded choice of `count` clients (the same job, round and attempt always pick the same ones from the same list). */
export function sampleClients(available: readonly RoundClient[], count: number, seed: string): RoundClient[] {
  const sorted = [...available].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  const random = () => {
    h = (h + 0x6d2b79f5) >>> 0;
    let t = h;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j]!, sorted[i]!];
  }
  return sorted.slice(0, count);
}

/** What to do next for a running job, given the clients available now (matching the selector, recently seen). */
export function nextStep(jobId: string, state: JobState, available: readonly RoundClient[], now: number): NextStep {
  const { config, open } = state;
  if (open) {
    const need = quorumOf(config, open.sampled.length);
    const everyoneAnswered = open.answered >= open.sampled.length;
    if (everyoneAnswered || now >= open.deadlineAt) {
      if (open.accepted >= need) return { kind: 'aggregate', round: open.round, attempt: open.attempt };
      const why = everyoneAnswered
        ? `only ${open.accepted} of ${open.sampled.length} updates were accepted; the quorum is ${need}`
        : `the round timed out with ${open.accepted} of ${open.sampled.length} updates; the quorum is ${need}`;
      return { kind: 'fail-round', round: open.round, attempt: open.attempt, reason: why };
    }
    return { kind: 'wait', reason: `round ${open.round}: ${open.answered} of ${open.sampled.length} clients reported` };
  }
  if (state.roundsCompleted >= config.rounds) return { kind: 'finish' };
  if (state.failedAttempts >= config.maxRoundFailures) {
    return {
      kind: 'fail-job',
      reason: `round ${state.roundsCompleted + 1} failed ${state.failedAttempts} times without a quorum of updates`,
    };
  }
  const count = sampleSize(config, available.length);
  if (count === 0) {
    return {
      kind: 'wait',
      reason: `waiting for clients: ${available.length} available, ${config.minFitClients} needed`,
    };
  }
  const round = state.roundsCompleted + 1;
  const attempt = state.failedAttempts + 1;
  return {
    kind: 'start-round',
    round,
    attempt,
    sampled: sampleClients(available, count, `${jobId}/${round}/${attempt}`),
    deadlineAt: now + config.roundTimeoutSeconds * 1000,
  };
}
