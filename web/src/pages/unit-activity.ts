/** The activation panel (histogram coloured by the proxy, the paper's plot) and the proxy panel. */
import type { ProxyBin, UnitRecord } from "../types.js";
import { barConfig, binLabels, chartBox, mountCharts, destroyChart } from "../charts.js";
import { NON_PROXY_BORDER, NON_PROXY_FILL, ACCENT, diverging, divergingGradientCss } from "../colors.js";
import { h, note, panel, stats } from "../dom.js";
import { density, fmt, int, pct, signed } from "../format.js";

interface Bin {
  lo: number;
  hi: number;
  count: number;
  proxyCount: number | null;
  meanLlr: number | null;
}

function binsOf(u: UnitRecord): Bin[] {
  if (u.proxy && u.proxy.bins.length > 0) {
    return u.proxy.bins.map((b: ProxyBin) => ({ lo: b.lo, hi: b.hi, count: b.count, proxyCount: b.proxyCount, meanLlr: b.meanLlr }));
  }
  const e = u.histogram.edges;
  return u.histogram.counts.map((c, i) => ({ lo: e[i] ?? 0, hi: e[i + 1] ?? 0, count: c, proxyCount: null, meanLlr: null }));
}

/** Colour-scale half-width: the largest |mean LLR| over the bins, at least 1 nat. */
function llrRange(bins: Bin[]): number {
  let m = 1;
  for (const b of bins) if (b.meanLlr !== null && Number.isFinite(b.meanLlr)) m = Math.max(m, Math.abs(b.meanLlr));
  return Math.ceil(m);
}

function activationChart(u: UnitRecord, bins: Bin[], log: boolean): HTMLElement {
  const hasProxy = bins.some((b) => b.proxyCount !== null);
  const range = llrRange(bins);
  const llrColors = bins.map((b) => (b.meanLlr === null ? "#d5d5d5" : diverging(b.meanLlr / range)));
  const labels = binLabels([...bins.map((b) => b.lo), bins.length > 0 ? bins[bins.length - 1]!.hi : 0]);
  const scale = log ? 1 / Math.max(1, u.tokens) : 1;
  const val = (x: number) => (log ? (x > 0 ? x * scale : null) : x);
  const series = !hasProxy
    ? [{ label: "firing tokens", data: bins.map((b) => val(b.count)), color: ACCENT }]
    : log
      ? [{ label: "firing tokens", data: bins.map((b) => val(b.count)), color: llrColors, border: "rgba(0,0,0,0.25)" }]
      : [
          { label: "proxy holds", data: bins.map((b) => b.proxyCount ?? 0), color: llrColors, border: "rgba(0,0,0,0.25)" },
          { label: "proxy does not hold", data: bins.map((b) => Math.max(0, b.count - (b.proxyCount ?? 0))), color: NON_PROXY_FILL, border: NON_PROXY_BORDER },
        ];
  return chartBox(
    () =>
      barConfig({
        labels,
        series,
        stacked: hasProxy && !log,
        logY: log,
        xTitle: "activation",
        yTitle: log ? "density (share of all tokens)" : "tokens",
        title: (i) => `activation ${fmt(bins[i]!.lo)} – ${fmt(bins[i]!.hi)}`,
        line: (s, i, v) => (log ? `density ${v.toExponential(2)} (${int(bins[i]!.count)} tokens)` : `${series[s]!.label}: ${int(v)}`),
        footer: (i) => {
          const b = bins[i]!;
          const out: string[] = [];
          if (b.proxyCount !== null && b.count > 0) out.push(`proxy share ${pct(b.proxyCount / b.count)}`);
          if (b.meanLlr !== null) out.push(`mean log-likelihood ratio ${signed(b.meanLlr, 2)}`);
          return out;
        },
      }),
    { height: 230, testid: "activation-histogram", label: "activation histogram" },
  );
}

/** The legend of the view shown: the log view draws every firing token in one series (no "does not hold" bars). */
function llrLegend(range: number, log: boolean): HTMLElement {
  return h(
    "div",
    { class: "legend" },
    h("span", { class: "legend-title" }, "bar colour: proxy's mean log-likelihood ratio log P(t | proxy) / P(t)"),
    h(
      "span",
      { class: "legend-scale" },
      h("span", null, signed(-range, 2)),
      h("span", { class: "gradient", style: `background: ${divergingGradientCss()}` }),
      h("span", null, signed(range, 2)),
    ),
    log ? h("span", { class: "legend-item", "data-testid": "legend-log" }, "log scale: share of all tokens per bin, every firing token")
      : h("span", { class: "legend-item" }, h("span", { class: "swatch hollow" }), "proxy does not hold"),
  );
}

export function activationsPanel(u: UnitRecord): HTMLElement {
  const bins = binsOf(u);
  const hasProxy = bins.some((b) => b.proxyCount !== null);
  // Opens in the log-density view: on a linear axis the proxy's rare high bins vanish beside the low bins' bulk.
  let log = true;
  const holder = h("div", { class: "chart-holder" });
  const legend = h("div", null);
  const drawLegend = () => legend.replaceChildren(hasProxy ? llrLegend(llrRange(bins), log) : "");
  const draw = () => {
    for (const c of holder.querySelectorAll("canvas")) destroyChart(c);
    holder.replaceChildren(activationChart(u, bins, log));
    drawLegend();
    mountCharts();
  };
  const buttons = (["linear", "log density"] as const).map((name) =>
    h(
      "button",
      {
        type: "button",
        class: (name !== "linear") === log ? "active" : "",
        "data-testid": `histogram-${name === "linear" ? "linear" : "log"}`,
        onclick: (ev: MouseEvent) => {
          log = name !== "linear";
          for (const b of buttons) b.classList.toggle("active", b === ev.currentTarget);
          draw();
        },
      },
      name,
    ),
  );
  holder.append(activationChart(u, bins, log));
  drawLegend();
  return panel(
    "panel-activations",
    "Activations",
    stats([
      { label: "density", value: density(u.density), title: `${int(u.firing)} of ${int(u.tokens)} tokens`, testid: "stat-density" },
      { label: "max activation", value: fmt(u.maxActivation), testid: "stat-max" },
      { label: "mean (when firing)", value: fmt(u.meanActivation), testid: "stat-mean" },
      { label: "firing tokens", value: int(u.firing), testid: "stat-firing" },
    ]),
    h("div", { class: "panel-bar" }, h("span", { class: "caption" }, "Histogram of non-zero activations"), h("div", { class: "toggle" }, buttons)),
    holder,
    legend,
  );
}

export function proxyPanel(u: UnitRecord): HTMLElement {
  const p = u.proxy;
  if (!p) return panel("panel-proxy", "Proxy", note("No proxy was evaluated for this unit (saekit analyze --proxy …)."));
  const bins = p.bins;
  const spec = bins.map((b) => b.proxyMassShare);
  return panel(
    "panel-proxy",
    "Proxy",
    h(
      "p",
      { class: "proxy-spec", "data-testid": "proxy-spec" },
      h("code", { title: p.spec }, p.spec.length > 140 ? `${p.spec.slice(0, 139)}…` : p.spec),
      " ",
      h("span", { title: p.description }, p.description.length > 220 ? `${p.description.slice(0, 219)}…` : p.description),
    ),
    stats([
      { label: "specificity (activation mass)", value: pct(p.specificity), testid: "proxy-specificity", title: "share of the unit's activation mass on tokens where the proxy holds" },
      { label: "specificity (firing tokens)", value: pct(p.specificityFiring), testid: "proxy-specificity-firing", title: "share of the unit's firing tokens where the proxy holds" },
      { label: "sensitivity", value: pct(p.sensitivity), testid: "proxy-sensitivity", title: "share of the proxy's tokens where the unit fires" },
      { label: "proxy tokens", value: int(p.proxyTokens), testid: "proxy-tokens", title: "evaluation tokens where the proxy holds" },
    ]),
    h("div", { class: "caption" }, "Specificity per activation bin (share of the bin's activation mass on proxy tokens)"),
    chartBox(
      () =>
        barConfig({
          labels: binLabels([...bins.map((b) => b.lo), bins.length > 0 ? bins[bins.length - 1]!.hi : 0]),
          series: [{ label: "specificity", data: spec, color: "#4a7fb5" }],
          xTitle: "activation",
          yTitle: "specificity",
          yMax: 1,
          title: (i) => `activation ${fmt(bins[i]!.lo)} – ${fmt(bins[i]!.hi)}`,
          line: (_s, i, v) => `specificity ${pct(v)} (${int(bins[i]!.count)} tokens)`,
        }),
      { height: 140, testid: "proxy-chart", label: "specificity per bin" },
    ),
  );
}
