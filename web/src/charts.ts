/** Chart.js helpers: histograms as bar charts and scatter plots, created once their canvas is in the page. */
import Chart from "chart.js/auto";
import type { ChartConfiguration, ChartDataset, TooltipItem } from "chart.js";
import { h } from "./dom.js";
import { themeColor } from "./colors.js";
import { fmt } from "./format.js";

Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.responsive = true;
// Text and grid lines from the stylesheet's theme variables (dark under prefers-color-scheme: dark).
Chart.defaults.color = themeColor("--chart-text", "#5f6368");
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.font.size = 11;
Chart.defaults.borderColor = themeColor("--chart-grid", "rgba(0, 0, 0, 0.08)");

type AnyConfig = ChartConfiguration<"bar"> | ChartConfiguration<"scatter">;

let live: Chart[] = [];
let pending: { canvas: HTMLCanvasElement; config: () => AnyConfig }[] = [];

/** Destroy every chart of the previous page. */
export function destroyCharts(): void {
  for (const c of live) c.destroy();
  live = [];
  pending = [];
}

/** Destroy the chart drawn on this canvas, if any. */
export function destroyChart(canvas: HTMLCanvasElement): void {
  const c = Chart.getChart(canvas);
  if (!c) return;
  c.destroy();
  live = live.filter((x) => x !== c);
}

/** Create the charts whose canvases are now in the document (call after inserting a page or a panel). */
export function mountCharts(): void {
  // Again here: the stylesheet may arrive after this module ran.
  Chart.defaults.color = themeColor("--chart-text", "#5f6368");
  Chart.defaults.borderColor = themeColor("--chart-grid", "rgba(0, 0, 0, 0.08)");
  const still: typeof pending = [];
  for (const p of pending) {
    if (!p.canvas.isConnected) {
      still.push(p);
      continue;
    }
    live.push(new Chart(p.canvas, p.config() as ChartConfiguration));
  }
  pending = still;
}

/** A sized box holding a canvas; its chart is built by `config` when mounted. */
export function chartBox(config: () => AnyConfig, opts: { height?: number; testid?: string; label?: string } = {}): HTMLElement {
  const canvas = h("canvas", { role: "img", "aria-label": opts.label ?? "chart" });
  pending.push({ canvas, config });
  return h("div", { class: "chart-box", style: `height: ${opts.height ?? 200}px`, "data-testid": opts.testid }, canvas);
}

export interface BarSeries {
  label: string;
  data: (number | null)[];
  color: string | string[];
  border?: string | string[];
  stack?: string;
}

export interface BarOptions {
  labels: string[];
  series: BarSeries[];
  xTitle: string;
  yTitle: string;
  stacked?: boolean;
  logY?: boolean;
  legend?: boolean;
  /** Tooltip heading of bar i. */
  title?: (i: number) => string;
  /** Tooltip line for a bar. */
  line?: (series: number, i: number, value: number) => string;
  /** Tooltip footer of bar i. */
  footer?: (i: number) => string[];
  yMax?: number;
}

export function barConfig(o: BarOptions): ChartConfiguration<"bar"> {
  const datasets: ChartDataset<"bar", (number | null)[]>[] = o.series.map((s) => ({
    label: s.label,
    data: s.data,
    backgroundColor: s.color,
    borderColor: s.border ?? "rgba(0,0,0,0.18)",
    borderWidth: s.border ? 1 : 0,
    barPercentage: 1,
    categoryPercentage: 1,
    stack: s.stack ?? "s",
  }));
  return {
    type: "bar",
    data: { labels: o.labels, datasets },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: o.legend ?? false, position: "top", align: "end", labels: { boxWidth: 12, boxHeight: 12 } },
        tooltip: {
          callbacks: {
            title: (items: TooltipItem<"bar">[]) => (o.title && items[0] ? o.title(items[0].dataIndex) : ""),
            label: (item: TooltipItem<"bar">) =>
              o.line ? o.line(item.datasetIndex, item.dataIndex, item.parsed.y ?? 0) : `${item.dataset.label}: ${fmt(item.parsed.y)}`,
            footer: (items: TooltipItem<"bar">[]) => (o.footer && items[0] ? o.footer(items[0].dataIndex) : []),
          },
        },
      },
      scales: {
        x: {
          stacked: o.stacked ?? false,
          title: { display: true, text: o.xTitle },
          grid: { display: false },
          ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 9 },
        },
        y: o.logY
          ? {
              type: "logarithmic",
              stacked: o.stacked ?? false,
              title: { display: true, text: o.yTitle },
              ticks: { maxTicksLimit: 6, callback: (v) => logTick(Number(v)) },
            }
          : {
              type: "linear",
              stacked: o.stacked ?? false,
              beginAtZero: true,
              max: o.yMax,
              title: { display: true, text: o.yTitle },
              ticks: { maxTicksLimit: 6, callback: (v) => tick(Number(v)) },
            },
      },
    },
  };
}

/** Axis tick or bin label: integers plainly, others with about 2 significant digits. */
export function tick(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US").replace(/-/g, "\u2212") : fmt(v, 2);
}

function logTick(v: number): string {
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) > 1e-9) return "";
  return `1e${Math.round(e)}`;
}

export interface ScatterOptions {
  x: number[];
  y: number[];
  xTitle: string;
  yTitle: string;
  color: string;
}

export function scatterConfig(o: ScatterOptions): ChartConfiguration<"scatter"> {
  const n = Math.min(o.x.length, o.y.length);
  const points: { x: number; y: number }[] = new Array(n);
  for (let i = 0; i < n; i++) points[i] = { x: o.x[i]!, y: o.y[i]! };
  const radius = n > 2000 ? 1.4 : n > 300 ? 2 : 3;
  return {
    type: "scatter",
    data: { datasets: [{ label: "units", data: points, backgroundColor: o.color, borderWidth: 0, pointRadius: radius, pointHoverRadius: radius + 2 }] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item: TooltipItem<"scatter">) => `(${fmt(item.parsed.x)}, ${fmt(item.parsed.y)})` } },
      },
      scales: {
        x: { type: "linear", title: { display: true, text: o.xTitle }, ticks: { maxTicksLimit: 7, callback: (v) => tick(Number(v)) } },
        y: { type: "linear", title: { display: true, text: o.yTitle }, ticks: { maxTicksLimit: 7, callback: (v) => tick(Number(v)) } },
      },
    },
  };
}

/** Bin labels (left edges) for histogram edges. */
export function binLabels(edges: number[]): string[] {
  return edges.slice(0, -1).map((e) => tick(Number(e.toPrecision(6))));
}
