/** Max-activating examples, the activation intervals, and the ablation panel. */
import type { UnitRecord } from "../types.js";
import { h, note, panel, stats } from "../dom.js";
import { fmt, int, pct, signed } from "../format.js";
import { exampleList, deltaScale, type TokenStyle } from "../tokens.js";
import { deltaColor } from "../colors.js";

export function examplesPanel(u: UnitRecord): HTMLElement {
  const style: TokenStyle = { max: u.maxActivation, underline: false, deltaMax: 0 };
  return panel(
    "panel-examples",
    `Top activations (${u.top.length})`,
    h("p", { class: "note" }, "Tokens shaded by activation relative to the unit's max; the boxed token is the example. Hover a token for its values."),
    exampleList(u.top, style),
  );
}

export function intervalsPanel(u: UnitRecord): HTMLElement {
  const style: TokenStyle = { max: u.maxActivation, underline: false, deltaMax: 0 };
  const intervals = [...u.intervals].sort((a, b) => b.lo - a.lo);
  return panel(
    "panel-intervals",
    "Activation intervals",
    intervals.length === 0
      ? note("No interval samples.")
      : intervals.map((iv) =>
          h(
            "div",
            { class: "interval", "data-testid": "interval" },
            h(
              "h3",
              null,
              `INTERVAL ${fmt(iv.lo)} – ${fmt(iv.hi)}`,
              h("span", { class: "muted" }, ` · CONTAINS ${pct(iv.fraction)}`),
            ),
            exampleList(iv.examples, style),
          ),
        ),
  );
}

function deltaLegend(max: number): HTMLElement {
  const sw = (delta: number, text: string) =>
    h("span", { class: "legend-item" }, h("span", { class: "underline-swatch", style: `background:${deltaColor(delta, 1)}` }), text);
  return h(
    "div",
    { class: "legend" },
    sw(-1, "ablating lowers log P(next token): the unit helped"),
    sw(1, "ablating raises it: the unit hurt"),
    h("span", { class: "legend-title" }, `thickness and opacity ∝ |Δ|, full at ≥ ${fmt(max)} nats`),
  );
}

export function ablationPanel(u: UnitRecord): HTMLElement {
  const a = u.ablation;
  const examples = u.top.slice(0, 12);
  const dmax = deltaScale(examples);
  const style: TokenStyle = { max: u.maxActivation, underline: true, deltaMax: dmax };
  return panel(
    "panel-ablation",
    "Ablation: effect on the next-token loss",
    stats([
      {
        label: "mean loss effect when firing (nats)",
        value: signed(a.meanLossEffect),
        testid: "ablation-mean",
        title: "mean change of the next-token loss when the unit is zeroed where it fires (positive = the unit lowers the loss)",
      },
      { label: "per evaluation token (nats)", value: signed(a.lossEffectPerToken), testid: "ablation-per-token", title: "mean loss effect × density" },
      { label: "positions ablated", value: int(a.sampled), testid: "ablation-sampled" },
    ]),
    h(
      "p",
      { class: "note" },
      "Positive = zeroing the unit raises the loss, so the unit helps prediction. Each underline shows how the log-probability of the actual next token changes when the unit is zeroed at that token.",
    ),
    dmax > 0 ? deltaLegend(dmax) : note("No Δlog-prob recorded on these examples."),
    exampleList(examples, style),
  );
}
