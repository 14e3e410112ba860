// A time-series chart with uPlot: one line per series over aligned timestamps, sized to its container,
// coloured from the theme's CSS variables, with a text summary for those who cannot see the canvas.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartLine { label: string; values: number[] }

const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function TimeChart({ title, times, lines, format }: { title: string; times: number[]; lines: ChartLine[]; format: (v: number) => string }) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const axisColor = cssVar('--muted', '#666');
    const gridColor = cssVar('--grid', '#ddd');
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        axis,
        {
          ...axis,
          values: (_u, ticks) => ticks.map((t) => format(t)),
          // Wide enough for the longest label ("$0.000048"), so none is clipped.
          size: (_u, values) => (values ? Math.max(40, ...values.map((v) => String(v).length * 7.5 + 16)) : 40),
        },
      ],
      series: [
        {},
        ...lines.map((line, i) => ({
          label: line.label,
          stroke: cssVar(PALETTE[i % PALETTE.length], '#2563eb'),
          width: 2,
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
          points: { show: times.length < 60 },
        })),
      ],
    };
    const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...lines.map((l) => l.values)];
    const plot = new uPlot(opts, data, el);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    observer.observe(el);
    return () => { observer.disconnect(); plot.destroy(); };
  }, [times, lines, format]);
  const totals = lines.map((l) => `${l.label}: ${format(l.values.reduce((a, b) => a + b, 0))}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={holder} role="img" aria-label={`${title}. Totals over the range: ${totals || 'no data'}.`} />
    </figure>
  );
}
