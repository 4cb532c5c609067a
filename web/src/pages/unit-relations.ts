/** Neurons behind a feature and the side-by-side scatter plots (matches in other runs: unit-related.ts). */
import type { CompareResponse, UnitRecord } from "../types.js";
import { type App, unitLink } from "../app.js";
import { chartBox, mountCharts, scatterConfig } from "../charts.js";
import { BLUE } from "../colors.js";
import { errorBox, h, note, panel } from "../dom.js";
import { fmt, int, pct, signed } from "../format.js";

/** r (or a cosine) as a signed bar and its value. */
export function rBar(r: number | null): HTMLElement {
  const v = r === null || !Number.isFinite(r) ? 0 : r;
  return h(
    "span",
    { class: "bar-cell" },
    h("span", { class: "bar-track" }, h("span", { class: "bar", style: `width:${(Math.min(1, Math.abs(v)) * 100).toFixed(1)}%;background:${v >= 0 ? BLUE : "#c0392b"}` })),
    h("span", { class: "bar-value" }, r === null ? "—" : fmt(r, 3)),
  );
}

export function neuronsPanel(app: App, u: UnitRecord): HTMLElement | null {
  if (!u.neurons) return null;
  const { alignment, correlated } = u.neurons;
  return panel(
    "panel-neurons",
    "Neurons",
    h(
      "div",
      { class: "two-col tight" },
      h(
        "table",
        { class: "data", "data-testid": "neuron-alignment" },
        h("caption", null, "Neuron alignment (decoder row)"),
        h("thead", null, h("tr", null, h("th", null, "neuron"), h("th", { class: "num" }, "value"), h("th", { class: "num" }, "% of L1"))),
        h(
          "tbody",
          null,
          alignment.map((a) =>
            h(
              "tr",
              null,
              h("td", null, unitLink(app, a.name, "neuron-link", a.name)),
              h("td", { class: "num" }, signed(a.value)),
              h("td", { class: "num" }, pct(a.fractionOfL1)),
            ),
          ),
        ),
      ),
      h(
        "table",
        { class: "data", "data-testid": "neuron-correlated" },
        h("caption", null, "Correlated neurons (Pearson r over tokens)"),
        h("thead", null, h("tr", null, h("th", null, "neuron"), h("th", { class: "num" }, "r"))),
        h(
          "tbody",
          null,
          correlated.map((c) => h("tr", null, h("td", null, unitLink(app, c.name, "neuron-link", c.name)), h("td", { class: "num" }, rBar(c.r)))),
        ),
      ),
    ),
  );
}

function scatterBlock(title: string, config: () => ReturnType<typeof scatterConfig>, testid: string): HTMLElement {
  return h("figure", { class: "scatter" }, h("figcaption", null, title), chartBox(config, { height: 250, testid, label: title }));
}

function pairCharts(c: CompareResponse): HTMLElement {
  return h(
    "div",
    { class: "two-col" },
    scatterBlock(
      `Activations · r = ${fmt(c.activations.r, 3)} (${int(c.activations.tokens)} tokens)`,
      () =>
        scatterConfig({
          x: c.activations.x,
          y: c.activations.y,
          xTitle: `${c.a} activation`,
          yTitle: `${c.b} activation`,
          color: "rgba(217, 115, 13, 0.45)",
        }),
      "compare-activations",
    ),
    scatterBlock(
      `Logit weights · r = ${fmt(c.logits.r, 3)} (${int(c.logits.x.length)} tokens)`,
      () =>
        scatterConfig({
          x: c.logits.x,
          y: c.logits.y,
          xTitle: `${c.a} logit weight`,
          yTitle: `${c.b} logit weight`,
          color: "rgba(33, 102, 172, 0.4)",
        }),
      "compare-logits",
    ),
  );
}

export function comparePanel(app: App, u: UnitRecord): HTMLElement {
  const pairs: { b: string; why: string }[] = [];
  const best = u.neurons?.correlated[0];
  if (best) pairs.push({ b: best.name, why: "most-correlated neuron" });
  for (const [run, m] of Object.entries(u.matches)) pairs.push({ b: m.name, why: `best match in ${run}` });
  if (pairs.length === 0) {
    return panel("panel-compare", "Side by side", note("Nothing to compare: no correlated neuron and no compared run.", "note empty-message"));
  }
  const body = pairs.map((p) => {
    const slot = h("div", { class: "compare-body" }, h("p", { class: "loading" }, "Loading…"));
    app.source.compare(u.name, p.b).then(
      (c) => {
        if (!c) {
          slot.replaceChildren(note("Scatter data not included in this page: open it with `saekit serve`."));
          return;
        }
        slot.replaceChildren(pairCharts(c));
        mountCharts();
      },
      (e: unknown) => slot.replaceChildren(errorBox(e instanceof Error ? e.message : String(e))),
    );
    return h(
      "div",
      { class: "compare-pair", "data-testid": "compare-pair", "data-b": p.b },
      h("h3", null, `${u.name} vs `, unitLink(app, p.b, "compare-link", p.b), h("span", { class: "muted" }, ` · ${p.why}`)),
      slot,
    );
  });
  return panel("panel-compare", "Side by side", body);
}
