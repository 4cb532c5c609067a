/** The unit's interpretability score: its best automatic proxy and that proxy's specificity and sensitivity. */
import type { UnitRecord } from "../types.js";
import { h, note, panel, stats } from "../dom.js";
import { pct } from "../format.js";

/** Plain words for the proxy kinds whose spec is not self-explanatory (after-sets, bigrams); null for token sets. */
function proxyMeaning(spec: string): HTMLElement | null {
  if (spec.startsWith("after:")) return note("after: the unit fires on whatever token follows one of these tokens.", "note proxy-meaning");
  if (spec.startsWith("bigram:")) return note("bigram: the unit fires on the second token of one of these [previous, current] pairs.", "note proxy-meaning");
  return null;
}

export function interpretabilityPanel(u: UnitRecord): HTMLElement | null {
  // Stores written before the score have no field at all: no panel rather than an empty one.
  if (u.interpretability === undefined) return null;
  const r = u.interpretability;
  if (r === null) return panel("panel-interpretability", "Interpretability", note("The unit never fires on the evaluation tokens: no score.", "note empty-message"));
  return panel(
    "panel-interpretability",
    "Interpretability",
    stats([
      { label: "score (F1)", value: r.score.toFixed(2), testid: "interp-score", title: "F1 of the best automatic proxy's specificity and sensitivity" },
      { label: "specificity (activation mass)", value: pct(r.spec), testid: "interp-spec", title: "share of the unit's activation mass where the proxy holds" },
      { label: "sensitivity", value: pct(r.sens), testid: "interp-sens", title: "share of the proxy's occurrences where the unit fires" },
    ]),
    h(
      "p",
      { class: "proxy-spec", "data-testid": "interp-proxy" },
      "best proxy ",
      h("code", { title: r.proxy }, r.proxy.length > 140 ? `${r.proxy.slice(0, 139)}…` : r.proxy),
    ),
    proxyMeaning(r.proxy),
    note(
      "Searched among the unit's top-1…5 token sets (tokens of its top examples and those holding most of its activation mass), the same inside one domain (prose or code), " +
        "1…5 bigrams (a token after a given token: pairs of its top examples and those holding most of its mass) and after-sets (any token that follows one of 1…5 given tokens).",
    ),
  );
}
