/** Home: one card per loaded run with its headline metrics and feature-density histogram. */
import type { RunInfo } from "../types.js";
import type { App } from "../app.js";
import { barConfig, binLabels, chartBox } from "../charts.js";
import { ACCENT, GREY } from "../colors.js";
import { h, note } from "../dom.js";
import { fmt, int, pct, pctLoose } from "../format.js";
import { atlasPath, featuresPath, promptPath, unitPath } from "../router.js";
import { sizeShareChart, universalityHistogram } from "./run-figures.js";

function row(label: string, value: string, testid?: string): HTMLElement[] {
  return [h("dt", null, label), h("dd", { "data-testid": testid }, value)];
}

function universality(run: RunInfo): HTMLElement | null {
  if (run.compare.length === 0) return null;
  return h(
    "div",
    { class: "universality", "data-testid": "run-universality" },
    run.compare.map((c) =>
      h(
        "div",
        null,
        h("div", { class: "caption" }, `Universality vs ${c.name} (live units ${int(c.livePairs.a)} / ${int(c.livePairs.b)})`),
        h(
          "table",
          { class: "data compact" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", null, "best-match r >"),
              h("th", { class: "num" }, "all live"),
              (c.byDensity ?? []).map((b) => h("th", { class: "num", title: `${int(b.features)} features fire on at least ${fmt(100 * b.minDensity)} % of tokens` }, `density ≥ ${b.minDensity.toExponential(0)}`)),
            ),
          ),
          h(
            "tbody",
            null,
            c.thresholds.map((t, k) =>
              h(
                "tr",
                null,
                h("td", null, fmt(t.threshold, 2)),
                h("td", { class: "num", title: `${int(t.matched)} features` }, pct(t.fraction)),
                (c.byDensity ?? []).map((b) => {
                  const bt = b.thresholds[k];
                  return h("td", { class: "num", title: bt ? `${int(bt.matched)} of ${int(b.features)} features` : "" }, bt ? pct(bt.fraction) : "—");
                }),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** "1e-4" for 0.0001. */
function thresholdLabel(t: number): string {
  return t.toExponential(0).replace("e+", "e");
}

/**
 * The density histogram, the ultra-low-density cluster marked: bins whose upper edge is at or below the largest
 * low-density threshold (1e-4) are drawn grey as their own series ("cluster"), the rest in the accent colour.
 */
function densityChart(run: RunInfo): HTMLElement {
  const hist = run.densityHistogram;
  const e = hist.edges;
  const cut = run.lowDensity && run.lowDensity.length > 0 ? Math.log10(Math.max(...run.lowDensity.map((b) => b.threshold))) : null;
  const inCluster = (i: number) => cut !== null && e[i + 1]! <= cut + 1e-9;
  const series = cut === null
    ? [{ label: "units", data: hist.counts, color: ACCENT }]
    : [
        { label: `ultra-low density (< ${thresholdLabel(10 ** cut)})`, data: hist.counts.map((c, i) => (inCluster(i) ? c : 0)), color: GREY },
        { label: "units", data: hist.counts.map((c, i) => (inCluster(i) ? 0 : c)), color: ACCENT },
      ];
  return h(
    "div",
    null,
    h(
      "div",
      { class: "caption" },
      `${run.kind === "feature" ? "Feature" : "Neuron"} density: log10 of the share of tokens a unit fires on${hist.dead > 0 ? ` (${int(hist.dead)} dead units not shown)` : ""}` +
        (cut !== null ? `; grey: the ultra-low-density cluster (< ${thresholdLabel(10 ** cut)})` : ""),
    ),
    chartBox(
      () =>
        barConfig({
          labels: binLabels(e),
          series,
          stacked: cut !== null,
          legend: cut !== null,
          xTitle: "log10 density",
          yTitle: "units",
          title: (i) => `log10 density ${fmt(e[i])} – ${fmt(e[i + 1])}`,
          line: (s, i, v) => (cut !== null && (s === 0) !== inCluster(i) ? "" : `${int(v)} units${inCluster(i) ? " (ultra-low density)" : ""}`),
        }),
      { height: 170, testid: "density-histogram", label: `density histogram of ${run.name}` },
    ),
  );
}

/**
 * Histogram of interpretability scores (share of live units per score bin): an SAE run's features next to its model's
 * neurons (the paper's "features are more interpretable than neurons"), or a neuron set alone.
 */
function interpretabilityChart(run: RunInfo): HTMLElement | null {
  const ip = run.interpretability;
  type Figures = NonNullable<NonNullable<RunInfo["interpretability"]>["features"]>;
  const sets: { label: string; s: Figures; color: string }[] = [];
  if (ip?.features && ip.features.live > 0) sets.push({ label: "features", s: ip.features, color: ACCENT });
  if (ip?.neurons && ip.neurons.live > 0) sets.push({ label: "neurons", s: ip.neurons, color: GREY });
  if (sets.length === 0) return null;
  const bins = sets[0]!.s.histogram.length;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i / bins);
  return h(
    "div",
    { "data-testid": "run-interpretability" },
    h(
      "div",
      { class: "caption" },
      `Interpretability score (F1 of the best automatic proxy's specificity and sensitivity): median ${sets.map((x) => `${x.label} ${x.s.median.toFixed(2)}`).join(", ")}` +
        (ip?.features ? `; ${pct(ip.features.share_spec_sens_ge_0_8)} of live features with spec and sens ≥ 0.8` : ""),
    ),
    chartBox(
      () =>
        barConfig({
          labels: binLabels(edges),
          series: sets.map((x) => ({ label: x.label, data: x.s.histogram.map((c) => c / x.s.live), color: x.color, stack: x.label })),
          legend: sets.length > 1,
          xTitle: "score",
          yTitle: "share of live units",
          title: (i) => `score ${fmt(edges[i], 2)} – ${fmt(edges[i + 1], 2)}`,
          line: (s, i, v) => `${sets[s]!.label}: ${pct(v)} (${int(sets[s]!.s.histogram[i] ?? 0)} units)`,
        }),
      { height: 170, testid: "interpretability-histogram", label: `interpretability scores of ${run.name}` },
    ),
  );
}

/** "open unit [N]": jump to a unit of the run by index. */
function openUnitForm(app: App, run: RunInfo): HTMLElement {
  const input = h("input", {
    type: "number",
    min: 0,
    max: Math.max(0, run.units - 1),
    step: 1,
    placeholder: `0–${Math.max(0, run.units - 1)}`,
    "aria-label": `unit index in ${run.name}`,
    "data-testid": "open-unit-index",
  });
  return h(
    "form",
    {
      class: "open-unit",
      onsubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        const i = Number(input.value);
        if (input.value.trim() === "" || !Number.isInteger(i) || i < 0) return;
        app.navigate(unitPath(`${run.name}/${i}`));
      },
    },
    h("label", null, `open ${run.kind === "feature" ? "feature" : "neuron"} `, input),
    h("button", { type: "submit" }, "open"),
  );
}

function runCard(app: App, run: RunInfo): HTMLElement {
  const deadShare = run.units > 0 ? ` (${pct(run.dead / run.units)})` : "";
  const denseShare = run.units > 0 ? ` (${pct(run.dense / run.units)})` : "";
  return h(
    "section",
    { class: "panel run-card", "data-testid": "run-card", "data-run": run.name },
    h(
      "h2",
      null,
      h("span", { class: "run-name" }, run.name),
      h("span", { class: `badge ${run.kind}` }, run.kind === "feature" ? "SAE features" : "MLP neurons"),
      run.promptable ? h("span", { class: "badge live", title: "model loaded: prompts can be analysed" }, "promptable") : null,
    ),
    h(
      "dl",
      { class: "facts" },
      row("model", run.model),
      row("hook", run.hook),
      row("units", int(run.units), "run-units"),
      row("evaluation tokens", int(run.tokens), "run-tokens"),
      row("L0", fmt(run.sae?.l0 ?? null), "run-l0"),
      row("CE loss recovered", pctLoose(run.sae?.ceLossRecovered ?? null), "run-loss-recovered"),
      row("dead", `${int(run.dead)}${deadShare}`, "run-dead"),
      row("dense (> 10 %)", `${int(run.dense)}${denseShare}`, "run-dense"),
      ...(run.lowDensity ?? []).flatMap((b) =>
        row(`density < ${thresholdLabel(b.threshold)}`, `${int(b.count)} (${pct(b.share)})`, `run-low-density-${thresholdLabel(b.threshold)}`),
      ),
    ),
    densityChart(run),
    interpretabilityChart(run),
    universality(run),
    universalityHistogram(run),
    h(
      "div",
      { class: "card-actions" },
      openUnitForm(app, run),
      app.source.mode === "live" ? h("a", { href: app.href(featuresPath(run.name)), "data-testid": "run-features-link" }, `all ${int(run.units)} ${run.kind === "feature" ? "features" : "neurons"} →`) : null,
      run.promptable && run.kind === "feature" ? h("a", { href: app.href(promptPath(run.name, null)) }, "analyse a prompt →") : null,
      app.source.mode === "live" && run.atlas ? h("a", { href: app.href(atlasPath(run.model)), "data-testid": "run-atlas-link" }, `atlas of ${run.model} →`) : null,
    ),
  );
}

export async function homePage(app: App): Promise<HTMLElement> {
  const runs = await app.source.runs();
  document.title = "saekit";
  return h(
    "div",
    { class: "home" },
    h(
      "div",
      { class: "intro" },
      h("h1", null, "Runs"),
      h(
        "p",
        { class: "note" },
        "Sparse-autoencoder features and MLP neurons of the loaded models. Search for a feature by label or token, open a run's units, or analyse a prompt.",
      ),
    ),
    h("div", { class: "run-figures-grid", "data-testid": "run-figures" }, [...new Set(runs.map((r) => r.model))].map((m) => sizeShareChart(m, runs))),
    runs.length === 0
      ? note("No investigation loaded. Run `saekit analyze` on an SAE folder, then `saekit serve`.")
      : h("div", { class: "run-grid" }, runs.map((r) => runCard(app, r))),
  );
}
