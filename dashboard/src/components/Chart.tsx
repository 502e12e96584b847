import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  dash?: number[];
  /** Formats values in the legend and axis. */
  format?: (value: number) => string;
}

export interface ChartProps {
  /** Also the accessible name of the chart. */
  title: string;
  /** x values first (unix seconds when `time`), then one array per series; null is a gap. */
  data: [number[], ...(number | null)[][]];
  series: ChartSeries[];
  height?: number;
  /** x is time (seconds) or a plain number (epoch). */
  time?: boolean;
  xLabel?: string;
  yLabel?: string;
  yRange?: [number, number];
  /** Fixed x range (e.g. the last hour); otherwise the data's. */
  xRange?: [number, number];
  /** A sentence that says what the chart shows now, for screen readers and as a caption. */
  summary: string;
}

/** A uPlot line chart that follows its container's width and takes new data without being rebuilt. */
export function Chart({ title, data, series, height = 220, time = true, xLabel, yLabel, yRange, xRange, summary }: ChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = JSON.stringify([series, time, xLabel, yLabel, height]);
  // Ranges change with the data: read through refs, so that the chart is not rebuilt for them.
  const range = useRef(xRange);
  range.current = xRange;
  const yRangeRef = useRef(yRange);
  yRangeRef.current = yRange;

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const format = series[0]?.format;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      scales: {
        x: { time, range: (_u, min, max) => range.current ?? [min, max] },
        y: { range: (_u, min, max) => yRangeRef.current ?? uPlot.rangeNum(min, max, 0.1, true) },
      },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        // Epochs and other counts: whole-number ticks only.
        {
          label: xLabel,
          stroke: '#333',
          grid: { stroke: '#e3e3e3' },
          ...(time ? {} : { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }),
        },
        {
          label: yLabel,
          stroke: '#333',
          grid: { stroke: '#e3e3e3' },
          size: 64,
          values: format ? (_u, values) => values.map((v) => format(v)) : undefined,
        },
      ],
      series: [
        { label: time ? 'time' : (xLabel ?? 'x') },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dash,
          spanGaps: false,
          value: s.format ? (_u: uPlot, v: number | null) => (v === null ? '–' : s.format!(v)) : undefined,
        })),
      ],
    };
    const chart = new uPlot(options, data as uPlot.AlignedData, element);
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Rebuilt only when its shape changes; new data goes through setData below.
  }, [key]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data, xRange?.[0], xRange?.[1], yRange?.[0], yRange?.[1]]);

  return (
    <figure className="chart">
      <figcaption>
        <strong>{title}</strong> <span className="muted">{summary}</span>
      </figcaption>
      <div ref={holder} role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
