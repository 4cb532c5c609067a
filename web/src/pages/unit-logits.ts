/** The logit-weights panel: top and bottom tokens, and the histogram of all logit weights. */
import type { TokenWeight, UnitRecord } from "../types.js";
import { barConfig, binLabels, chartBox } from "../charts.js";
import { BLUE, RED } from "../colors.js";
import { h, panel } from "../dom.js";
import { fmt, signed, tokenLabel } from "../format.js";

function weightTable(title: string, rows: TokenWeight[], testid: string, scale: number): HTMLElement {
  return h(
    "table",
    { class: "weights", "data-testid": testid },
    h("thead", null, h("tr", null, h("th", null, title), h("th", { class: "num" }, "weight"))),
    h(
      "tbody",
      null,
      rows.map((t) =>
        h(
          "tr",
          null,
          h("td", null, h("span", { class: "chip", title: `token id ${t.id}` }, tokenLabel(t.text))),
          h(
            "td",
            { class: "num" },
            h(
              "span",
              { class: "bar-cell" },
              h("span", { class: "bar-track" }, h("span", { class: "bar", style: `width:${Math.min(100, (Math.abs(t.weight) / scale) * 100).toFixed(1)}%;background:${t.weight >= 0 ? BLUE : RED}` })),
              h("span", { class: "bar-value" }, signed(t.weight)),
            ),
          ),
        ),
      ),
    ),
  );
}

export function logitsPanel(u: UnitRecord): HTMLElement {
  const l = u.logits;
  const scale = Math.max(1e-9, ...l.top.map((t) => Math.abs(t.weight)), ...l.bottom.map((t) => Math.abs(t.weight)));
  const e = l.histogram.edges;
  const colors = l.histogram.counts.map((_, i) => ((e[i]! + e[i + 1]!) / 2 >= 0 ? BLUE : RED));
  return panel(
    "panel-logits",
    "Logit weights",
    h("p", { class: "note" }, "Direct effect of the unit's output direction on each next-token logit (W_dec · W_U)."),
    h(
      "div",
      { class: "two-col tight" },
      weightTable("positive logits", l.top, "logits-top", scale),
      weightTable("negative logits", l.bottom, "logits-bottom", scale),
    ),
    h("div", { class: "caption" }, `Histogram over the vocabulary · mean ${signed(l.mean)} · std ${fmt(l.std)}`),
    chartBox(
      () =>
        barConfig({
          labels: binLabels(e),
          series: [{ label: "tokens", data: l.histogram.counts, color: colors }],
          xTitle: "logit weight",
          yTitle: "tokens",
          title: (i) => `weight ${fmt(e[i])} – ${fmt(e[i + 1])}`,
          line: (_s, _i, v) => `${fmt(v)} tokens`,
        }),
      { height: 160, testid: "logit-histogram", label: "logit weight histogram" },
    ),
  );
}
