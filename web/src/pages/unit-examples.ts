/** Max-activating examples, the activation intervals, and the ablation panel. */
import type { UnitRecord } from "../types.js";
import { h, note, panel, stats } from "../dom.js";
import { fmt, int, pct, signed } from "../format.js";
import { exampleList, deltaScale, type TokenStyle } from "../tokens.js";
import { deltaColor } from "../colors.js";

/** The top examples, shaded by activation and underlined in place by the ablation's Δlog-prob (ablationPanel's figures). */
export function examplesPanel(u: UnitRecord): HTMLElement {
  const dmax = deltaScale(u.top);
  const style: TokenStyle = { max: u.maxActivation, underline: dmax > 0, deltaMax: dmax };
  return panel(
    "panel-examples",
    `Top activations (${u.top.length})`,
    h(
      "p",
      { class: "note" },
      "Tokens shaded by activation relative to the unit's max; the boxed token is the example. Underlines: how the log-probability of the actual next token changes when the unit is zeroed at that token (ablation). Hover a token for its values.",
    ),
    dmax > 0 ? deltaLegend(dmax) : null,
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

/** "± SE" of the mean loss effect; a note where the store predates it or too few tokens were sampled. */
function standardError(a: UnitRecord["ablation"]): { value: string; title: string } {
  if (a.standardError === undefined) return { value: "—", title: "re-run `saekit analyze` to see the standard error (this store was written before it)" };
  if (a.standardError === null) return { value: "—", title: "too few samples per activation interval for a standard error" };
  return { value: `± ${fmt(a.standardError, 2)}`, title: "standard error of the stratified mean (intervals weighted by their share of firing tokens)" };
}

export function ablationPanel(u: UnitRecord): HTMLElement {
  const a = u.ablation;
  const se = standardError(a);
  const dmax = deltaScale(u.top);
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
      { label: "standard error (nats)", value: se.value, testid: "ablation-se", title: se.title },
      { label: "positions ablated (n)", value: int(a.sampled), testid: "ablation-sampled", title: "interval samples ablated at their example token: the mean and its standard error come from these" },
    ]),
    h(
      "p",
      { class: "note" },
      `Positive = zeroing the unit raises the loss, so the unit helps prediction. The mean comes from ${int(a.sampled)} sampled firing tokens` +
        (a.standardError !== undefined && a.standardError !== null && a.meanLossEffect !== null ? ` (95 % interval ${signed(a.meanLossEffect - 1.96 * a.standardError)} to ${signed(a.meanLossEffect + 1.96 * a.standardError)}).` : ".") +
        (dmax > 0 ? " The per-token effects are underlined in place in the top activations above." : ""),
    ),
    dmax > 0 ? null : note("No Δlog-prob recorded on the top examples."),
  );
}
