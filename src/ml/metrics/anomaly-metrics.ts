/** A closed time interval [start, end] in Unix seconds. */
export interface TimeWindow {
  start: number;
  end: number;
}

export interface AnomalyWindowMetrics {
  /** Detected windows that overlap at least one labelled window. */
  truePositives: number;
  /** Detected windows that overlap no labelled window. */
  falsePositives: number;
  /** Labelled windows that no detected window overlaps. */
  missedWindows: number;
  detectedWindows: number;
  labelledWindows: number;
  /** truePositives / detectedWindows; with no detection: 1 if nothing was labelled either, else 0. */
  precision: number;
  /** Labelled windows hit / labelledWindows (1 when nothing was labelled). */
  recall: number;
  f1: number;
}

const overlaps = (a: TimeWindow, b: TimeWindow): boolean => a.start <= b.end && b.start <= a.end;

/**
 * Window-level precision and recall, the rule NAB's windows suggest: a detected window is a true
 * positive when it overlaps a labelled window (touching counts); a labelled window is found when
 * any detected window overlaps it. Several detections inside one labelled window are each true
 * positives for precision, but the labelled window counts once for recall.
 */
export function anomalyWindowMetrics(detected: readonly TimeWindow[], labelled: readonly TimeWindow[]): AnomalyWindowMetrics {
  const truePositives = detected.filter((d) => labelled.some((l) => overlaps(d, l))).length;
  const found = labelled.filter((l) => detected.some((d) => overlaps(d, l))).length;
  const precision = detected.length === 0 ? (labelled.length === 0 ? 1 : 0) : truePositives / detected.length;
  const recall = labelled.length === 0 ? 1 : found / labelled.length;
  return {
    truePositives,
    falsePositives: detected.length - truePositives,
    missedWindows: labelled.length - found,
    detectedWindows: detected.length,
    labelledWindows: labelled.length,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
  };
}
