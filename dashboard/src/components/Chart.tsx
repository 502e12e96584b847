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
  const key = JSON.stringify([series, time, xLabel, yLabel, yRange, height]);
  const range = useRef(xRange);
  range.current = xRange;

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const format = series[0]?.format;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      scales: {
        x: { time, range: (_u, min, max) => range.current ?? [min, max] },
        y: yRange ? { range: yRange } : {},
      },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: xLabel, stroke: '#333', grid: { stroke: '#e3e3e3' } },
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
  }, [data, xRange?.[0], xRange?.[1]]);

  return (
    <figure className="chart">
      <figcaption>
        <strong>{title}</strong> <span className="muted">{summary}</span>
      </figcaption>
      <div ref={holder} role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
