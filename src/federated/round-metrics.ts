import type { RoundMetrics } from '../contracts/federated.js';

/** Federated evaluation of the round: the clients' metrics, weighted by how much data each measured on. */
export function roundMetrics(updates: { examples: number; metrics: string; node_id: string }[], updateNorm: number): RoundMetrics {
  let evalCount = 0;
  let evalLoss = 0;
  let evalAccuracy = 0;
  let accuracyCount = 0;
  let trainLoss = 0;
  let examples = 0;
  for (const u of updates) {
    const m = JSON.parse(u.metrics) as { evalLoss?: number; evalAccuracy?: number; evalCount?: number; trainLoss?: number };
    const n = Number(u.examples);
    examples += n;
    if (typeof m.trainLoss === 'number' && Number.isFinite(m.trainLoss)) trainLoss += m.trainLoss * n;
    const count = typeof m.evalCount === 'number' ? m.evalCount : 0;
    if (count > 0 && typeof m.evalLoss === 'number' && Number.isFinite(m.evalLoss)) {
      evalLoss += m.evalLoss * count;
      evalCount += count;
      if (typeof m.evalAccuracy === 'number') {
        evalAccuracy += m.evalAccuracy * count;
        accuracyCount += count;
      }
    }
  }
  return {
    participants: updates.length,
    examples,
    evalLoss: evalCount ? evalLoss / evalCount : null,
    evalAccuracy: accuracyCount ? evalAccuracy / accuracyCount : null,
    trainLoss: examples ? trainLoss / examples : null,
    updateNorm,
  };
}
