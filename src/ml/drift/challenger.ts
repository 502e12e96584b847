import { loadBundle } from '../bundle/load-bundle.js';
import { MlInputError } from '../errors.js';
import type { ForecasterParams } from '../forecast/forecaster-params.js';
import type { ForecasterPredictor } from '../forecast/forecaster-predictor.js';
import { gatherWindows } from '../forecast/forecast-windows.js';
import { prepareForecast } from '../forecast/train-forecaster.js';
import { forecastMetrics } from '../metrics/forecast-metrics.js';
import type { RegularSeries } from '../timeseries/series-types.js';

export interface ChallengerComparison {
  /** Windows both models were scored on (the challenger's test split of `series`). */
  windows: number;
  /** Unix seconds of the first and last window's first forecast hour. */
  from: number;
  to: number;
  championMape: number;
  challengerMape: number;
  /** 1 − challenger / champion: 0.1 means the challenger's MAPE is 10% lower. */
  improvement: number;
}

/**
 * Scores a champion and a challenger forecaster on the same held-out windows — the test split
 * that the challenger's training parameters define on `series` (the newest data, which the
 * challenger did not train on) — each through a fresh load of its bundle, as a node serves it.
 */
export async function compareForecasters(
  championBytes: Uint8Array,
  challengerBytes: Uint8Array,
  series: RegularSeries,
): Promise<ChallengerComparison> {
  const champion = await loadBundle(championBytes);
  const challenger = await loadBundle(challengerBytes);
  try {
    for (const p of [champion, challenger]) {
      if (p.manifest.kind !== 'forecaster') throw new MlInputError('bad-input', `A ${p.manifest.kind} is not a forecaster.`);
    }
    const paramsOf = (p: typeof champion) => p.manifest.training.params as unknown as ForecasterParams;
    const { split } = prepareForecast(series, paramsOf(challenger));
    const longest = Math.max(paramsOf(champion).window, paramsOf(challenger).window);
    const origins = split.test.filter((o) => o >= longest);
    if (origins.length === 0) throw new MlInputError('empty', 'No held-out window fits both models.');
    const score = async (p: typeof champion): Promise<number> => {
      const params = paramsOf(p);
      const batch = gatherWindows(series, origins, params.window, params.horizon);
      const forecast = await (p as unknown as ForecasterPredictor).forecast(batch.histories, batch.startTimes, batch.n);
      return forecastMetrics(batch.targets, forecast).mape;
    };
    const championMape = await score(champion);
    const challengerMape = await score(challenger);
    return {
      windows: origins.length,
      from: series.start + origins[0]! * series.intervalSeconds,
      to: series.start + origins[origins.length - 1]! * series.intervalSeconds,
      championMape,
      challengerMape,
      improvement: championMape > 0 ? 1 - challengerMape / championMape : 0,
    };
  } finally {
    champion.dispose();
    challenger.dispose();
  }
}
