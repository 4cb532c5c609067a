/**
 * The feature's family across dictionary sizes (analyze --family; src/analysis/family-view.ts): its parent in the
 * next smaller run and its children in the next larger one, with their labels, top tokens, densities, decoder
 * cosine and activation r. Cross-size only: same-run neighbours and cross-model matches are the related panels.
 */
import type { UnitRecord } from "../types.js";
import { type App, unitLink } from "../app.js";
import { h, note, panel } from "../dom.js";
import { density, fmt, int, tokenLabel } from "../format.js";

type Side = NonNullable<UnitRecord["family"]>["sides"][number];

function sideTable(app: App, s: Side): HTMLElement {
  const title = s.side === "smaller" ? `Parent in ${s.run} (${int(s.units)} features, smaller)` : `Children in ${s.run} (${int(s.units)} features, larger)`;
  const hasChildren = s.members.some((m) => m.relation === "child");
  return h(
    "div",
    { class: "family-side", "data-testid": `family-${s.side}`, "data-run": s.run },
    h(
      "table",
      { class: "data" },
      h("caption", null, title),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", null, "relation"),
          h("th", null, "feature"),
          h("th", null, "top tokens"),
          h("th", { class: "num" }, "density"),
          h("th", { class: "num", title: "cosine of the two decoder directions" }, "cos"),
          h("th", { class: "num", title: "Pearson r of the two activations over the evaluation tokens" }, "r"),
        ),
      ),
      h(
        "tbody",
        null,
        s.members.map((m) =>
          h(
            "tr",
            { "data-testid": "family-member", "data-relation": m.relation, "data-unit": m.name },
            h("td", null, m.relation),
            h("td", null, unitLink(app, m.name, "family-link", m.name), m.label ? h("div", { class: "note" }, m.label) : null),
            h("td", { class: "tokens" }, m.topTokens.map((t) => h("span", { class: "token-chip" }, tokenLabel(t)))),
            h("td", { class: "num" }, m.density === null ? "—" : density(m.density)),
            h("td", { class: "num", "data-testid": "family-cos" }, fmt(m.cos, 3)),
            h("td", { class: "num", "data-testid": "family-r" }, fmt(m.r, 3)),
          ),
        ),
      ),
    ),
    s.side === "larger" && !hasChildren ? note(`No feature of ${s.run} has this one as its nearest: the rows are its nearest features there.`) : null,
    s.weakChildren > 0 ? note(`${int(s.weakChildren)} more feature${s.weakChildren === 1 ? "" : "s"} of ${s.run} ha${s.weakChildren === 1 ? "s" : "ve"} this one as nearest at decoder cosine < 0.3 (not listed).`) : null,
    s.available ? null : note(`${s.run} has no investigation here: labels, top tokens and densities are missing.`),
  );
}

/** Scrolls to a panel of the page by test id (the related panels, which are same-run and cross-model). */
function jump(testid: string, text: string): HTMLElement {
  return h("a", { href: "#", onclick: (ev: MouseEvent) => {
    ev.preventDefault();
    document.querySelector(`[data-testid="${testid}"]`)?.scrollIntoView({ behavior: "smooth" });
  } }, text);
}

export function familyPanel(app: App, u: UnitRecord): HTMLElement | null {
  if (u.kind !== "feature") return null;
  const see = h("p", { class: "note" }, "Across dictionary sizes of the same model; same-run neighbours: ", jump("panel-nearest", "nearest features"), ", other models: ", jump("panel-match", "matches"), ".");
  if (!u.family || u.family.sides.length === 0) {
    return panel("panel-family", "Family across dictionary sizes", note("This run's investigation has no family links: re-run `saekit analyze --sae <run> --family <smaller run> <larger run>` to see this."));
  }
  return panel("panel-family", "Family across dictionary sizes", see, h("div", { class: "two-col tight" }, u.family.sides.map((s) => sideTable(app, s))));
}
