/**
 * The paper's run-level figures on the home page (src/analysis/run-figures.ts): the universality histogram of a run
 * (best-match r of its features against the compared run next to the same for the two models' neurons) and, per
 * model, the dead / ultra-low-density share by dictionary size. Each canvas carries the drawn series in
 * data-labels / data-series once Chart.js has drawn it (the browser tests read them).
 */
import type { Chart, ChartConfiguration, Plugin } from "chart.js";
import type { RunInfo } from "../types.js";
import { barConfig, binLabels, chartBox } from "../charts.js";
import { ACCENT, BLUE, GREY, RED } from "../colors.js";
import { h } from "../dom.js";
import { fmt, int, pct } from "../format.js";

type Figures = NonNullable<RunInfo["figures"]>;
type RHist = Figures["universality"][number]["features"];

/** Writes the drawn labels and series onto the canvas (data-labels, data-series: JSON). */
const exposeSeries: Plugin<"bar"> = {
  id: "saekit-expose-series",
  afterDraw(chart: Chart<"bar">) {
    chart.canvas.dataset.labels = JSON.stringify(chart.data.labels);
    chart.canvas.dataset.series = JSON.stringify(chart.data.datasets.map((d) => ({ label: d.label, data: d.data })));
  },
};

function withExpose(c: ChartConfiguration<"bar">): ChartConfiguration<"bar"> {
  return { ...c, plugins: [...(c.plugins ?? []), exposeSeries] };
}

/** The bin holding the median of all live units (units with r ≤ 0 sit below the first bin). */
function medianBin(hist: RHist): string {
  const half = hist.units / 2;
  if (hist.units === 0) return "—";
  if (hist.nonPositive >= half) return "≤ 0";
  let acc = hist.nonPositive;
  for (let i = 0; i < hist.counts.length; i++) {
    acc += hist.counts[i]!;
    if (acc >= half) return `${fmt(hist.edges[i], 2)}–${fmt(hist.edges[i + 1], 2)}`;
  }
  return "—";
}

/** Share of live units with best r ≥ 0.5 (bins from 0.5 up). */
function shareAbove(hist: RHist, r: number): number {
  let n = 0;
  hist.counts.forEach((c, i) => {
    if (hist.edges[i]! >= r - 1e-9) n += c;
  });
  return hist.units > 0 ? n / hist.units : Number.NaN;
}

/** The universality histogram of one comparison: share of live features (and neurons) per best-match r bin. */
export function universalityHistogram(run: RunInfo): HTMLElement | null {
  const u = run.figures?.universality[0];
  if (!u || u.features.units === 0) return null;
  const sets: { label: string; hist: RHist; color: string }[] = [{ label: `features vs ${u.against}`, hist: u.features, color: ACCENT }];
  if (u.neurons && u.neurons.units > 0) sets.push({ label: `neurons vs ${u.neurons.against}`, hist: u.neurons, color: GREY });
  const edges = u.features.edges;
  return h(
    "div",
    { "data-testid": "run-universality-histogram" },
    h(
      "div",
      { class: "caption" },
      `Universality: each live unit's best-match r in the other model (share of live units per bin; r ≤ 0 not shown). ` +
        sets.map((s) => `${s.label}: ${pct(shareAbove(s.hist, 0.5))} with r ≥ 0.5, median ${medianBin(s.hist)}`).join("; "),
    ),
    chartBox(
      () =>
        withExpose(
          barConfig({
            labels: binLabels(edges),
            series: sets.map((s) => ({ label: s.label, data: s.hist.counts.map((c) => c / s.hist.units), color: s.color, stack: s.label })),
            legend: sets.length > 1,
            xTitle: "best-match r",
            yTitle: "share of live units",
            title: (i) => `r ${fmt(edges[i], 2)} – ${fmt(edges[i + 1], 2)}`,
            line: (s, i, v) => `${sets[s]!.label}: ${pct(v)} (${int(sets[s]!.hist.counts[i] ?? 0)} of ${int(sets[s]!.hist.units)})`,
          }),
        ),
      { height: 170, testid: "universality-histogram", label: `universality histogram of ${run.name}` },
    ),
  );
}

/** "A/1 · 4,096". */
function sizeLabel(p: Figures["sizes"][number]): string {
  return `${p.run} · ${int(p.units)}`;
}

/**
 * Per model: dead and ultra-low-density share of each run, runs ordered by dictionary size (grouped bars), from the
 * first of its runs that carries the series. Null when the model has fewer than two sizes.
 */
export function sizeShareChart(model: string, runs: RunInfo[]): HTMLElement | null {
  const sizes = runs.find((r) => r.model === model && r.kind === "feature" && (r.figures?.sizes.length ?? 0) > 1)?.figures?.sizes;
  if (!sizes) return null;
  const thresholds = sizes[0]!.below.map((b) => b.threshold);
  const colors = [BLUE, ACCENT, RED];
  const series = [
    { label: "dead (never fired)", data: sizes.map((p) => p.dead / p.units), color: GREY, stack: "dead" },
    ...thresholds.map((t, k) => ({
      label: `density < ${t.toExponential(0).replace("e+", "e")}`,
      data: sizes.map((p) => (p.below[k] ? p.below[k]!.count / p.units : null)),
      color: colors[k % colors.length]!,
      stack: `t${k}`,
    })),
  ];
  const measured = sizes.filter((p) => p.measuredBy !== p.run).map((p) => `${p.run} measured on ${p.measuredBy}'s tokens (--family)`);
  return h(
    "section",
    { class: "panel run-figures", "data-testid": "size-share", "data-model": model },
    h("h2", null, `Model ${model}: dead and ultra-low-density features by dictionary size`),
    h(
      "div",
      { class: "caption" },
      `Share of each run's features that never fire, or fire on fewer than ${thresholds.map((t) => t.toExponential(0).replace("e+", "e")).join(" / ")} of the evaluation tokens` +
        (measured.length > 0 ? `; ${measured.join(", ")}` : ""),
    ),
    chartBox(
      () =>
        withExpose(
          barConfig({
            labels: sizes.map(sizeLabel),
            series,
            legend: true,
            yMax: 1,
            xTitle: "run · dictionary size",
            yTitle: "share of features",
            title: (i) => `${sizeLabel(sizes[i]!)} features (${int(sizes[i]!.tokens)} tokens)`,
            line: (s, i, v) => `${series[s]!.label}: ${pct(v)}`,
          }),
        ),
      { height: 200, testid: "size-share-chart", label: `dead and ultra-low-density share by dictionary size, model ${model}` },
    ),
  );
}
