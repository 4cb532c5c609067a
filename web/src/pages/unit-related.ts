/**
 * Related units on the feature and neuron pages (GET /api/related/…): the top matches in each compared run both ways
 * (a match whose own best match back is another unit is flagged: likely splitting), with the overlap of their top
 * logit tokens beside the logit-weight r; the nearest features of the same SAE by decoder cosine and by activation
 * r; on a neuron page, the features that correlate with it. Stores written before related units show what can be
 * computed from them and say what needs a re-run of `saekit analyze`.
 */
import type { RelatedMatch, RelatedScored, RelatedTokenOverlap, RelatedUnitsView, UnitRecord } from "../types.js";
import { type App, unitLink } from "../app.js";
import { h, note, panel } from "../dom.js";
import { density, fmt, tokenLabel } from "../format.js";
import { rBar } from "./unit-relations.js";

function overlapCell(o: RelatedTokenOverlap | undefined, side: "top" | "bottom"): HTMLElement {
  if (!o) return h("td", { class: "num" }, "—");
  const words = o.tokens.map(tokenLabel).join(" ");
  return h(
    "td",
    {
      class: "num",
      "data-testid": `overlap-${side}`,
      title: `${o.shared} of the top ${o.k} ${side === "top" ? "positive" : "negative"} logit tokens shared (Jaccard ${fmt(o.jaccard, 2)})${words ? `: ${words}` : ""}`,
    },
    `${o.shared}/${o.k}`,
    h("span", { class: "muted" }, ` · J ${fmt(o.jaccard, 2)}`),
  );
}

function reverseCell(app: App, m: RelatedMatch): HTMLElement {
  if (!m.reverse) return h("td", { class: "muted" }, "unknown");
  const link = unitLink(app, m.reverse.name, "reverse-link", m.reverse.name);
  if (m.mutual) return h("td", { class: "flag-mutual", title: "each is the other's best match" }, "↔ mutual");
  return h(
    "td",
    { class: "flag-asym", title: `${m.name}'s own best match is ${m.reverse.name}, not this unit: likely a split (one unit of either run covers several of the other's)` },
    "⚠ ",
    link,
    h("span", { class: "muted" }, ` r ${fmt(m.reverse.r, 3)}`),
  );
}

function matchRows(app: App, matches: RelatedMatch[], first: boolean): HTMLElement[] {
  return matches.map((m, i) =>
    h(
      "tr",
      { "data-testid": "match-row", "data-unit": m.name, "data-mutual": m.mutual === null ? "unknown" : String(m.mutual), class: m.mutual === false ? "asym" : null },
      h("td", { class: "num muted" }, String(m.rank)),
      h("td", null, unitLink(app, m.name, first && i === 0 ? "match-link" : "related-match-link", m.name)),
      h("td", { class: "label-cell", title: m.label }, m.label),
      h("td", { class: "num", "data-testid": "match-r" }, rBar(m.r)),
      h("td", { class: "num" }, m.logitR === null ? h("span", { class: "muted", title: "stored for the best match only" }, "—") : rBar(m.logitR)),
      overlapCell(m.logitOverlap?.top, "top"),
      overlapCell(m.logitOverlap?.bottom, "bottom"),
      reverseCell(app, m),
    ),
  );
}

function matchesBody(app: App, view: RelatedUnitsView): HTMLElement[] {
  return view.runs.map((run, k) =>
    h(
      "div",
      { class: "related-run", "data-testid": "related-run", "data-run": run.run },
      h("h3", null, `In ${run.run}`, h("span", { class: "muted" }, run.source === "analysis" ? ` · top ${run.matches.length} by activation r` : " · best match only (older store)")),
      h(
        "table",
        { class: "data related" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { class: "num" }, "#"),
            h("th", null, "match"),
            h("th", null, "label"),
            h("th", { class: "num", title: "Pearson r of the activations over the evaluation tokens" }, "activation r"),
            h("th", { class: "num", title: "Pearson r of the logit weights over the whole vocabulary" }, "logit-weight r"),
            h("th", { class: "num", title: "shared tokens among both units' top positive logit tokens, and the Jaccard index" }, "top logits ∩"),
            h("th", { class: "num", title: "shared tokens among both units' top negative logit tokens, and the Jaccard index" }, "bottom logits ∩"),
            h("th", { title: `the match's own best match back in ${view.unit.slice(0, view.unit.lastIndexOf("/"))}` }, "its best match back"),
          ),
        ),
        h("tbody", null, matchRows(app, run.matches, k === 0)),
      ),
    ),
  );
}

function scoredTable(app: App, rows: RelatedScored[] | null, caption: string, valueName: string, testid: string, empty: string): HTMLElement {
  if (rows === null) return h("div", { "data-testid": testid }, h("h3", null, caption), note(empty, "note rerun"));
  return h(
    "table",
    { class: "data", "data-testid": testid },
    h("caption", null, caption),
    h("thead", null, h("tr", null, h("th", null, "unit"), h("th", null, "label"), h("th", { class: "num" }, "density"), h("th", { class: "num" }, valueName))),
    h(
      "tbody",
      null,
      rows.length === 0
        ? h("tr", null, h("td", { colspan: "4", class: "muted" }, "none"))
        : rows.map((r) =>
            h(
              "tr",
              { "data-testid": "related-row", "data-unit": r.name },
              h("td", null, unitLink(app, r.name, "related-link", r.name)),
              h("td", { class: "label-cell", title: r.label }, r.label),
              h("td", { class: "num" }, density(r.density)),
              h("td", { class: "num", "data-testid": "related-value" }, rBar(r.value)),
            ),
          ),
    ),
  );
}

function notesBlock(notes: string[]): HTMLElement | null {
  if (notes.length === 0) return null;
  return h("ul", { class: "note rerun", "data-testid": "related-notes" }, notes.map((n) => h("li", null, n)));
}

/** What a page without the related units (a static page written before them) can still show: the best matches. */
function fromRecord(u: UnitRecord, why: string): RelatedUnitsView {
  return {
    unit: u.name,
    kind: u.kind,
    runs: Object.entries(u.matches).map(([run, m]) => ({
      run,
      source: "best match" as const,
      matches: [{ name: m.name, index: m.index, label: "", density: null, rank: 1, r: m.r, logitR: m.logitR, reverse: null, mutual: null, logitOverlap: null }],
    })),
    decoder: null,
    coactivation: u.related?.coactivation ? u.related.coactivation.map((c) => ({ name: c.name, index: c.index, label: "", density: null, value: c.r })) : null,
    features: u.related?.features ? u.related.features.map((c) => ({ name: c.name, index: c.index, label: "", density: null, value: c.r })) : null,
    featuresSource: u.related?.features ? "analysis" : null,
    notes: [why],
  };
}

/**
 * The matches panel (every unit) and the nearest-features panel (features) or the correlated-features panel
 * (neurons), filled in when the related units arrive.
 */
export function relatedPanels(app: App, u: UnitRecord): HTMLElement[] {
  const hasRuns = Object.keys(u.matches).length > 0;
  const matchSlot = h("div", { class: "related-body" }, h("p", { class: "loading" }, "Loading…"));
  const nearSlot = h("div", { class: "related-body" }, h("p", { class: "loading" }, "Loading…"));
  const matches = panel(
    "panel-match",
    "Universality: top matches in other runs, both ways",
    hasRuns ? matchSlot : note("No compared run: analyse with `--compare B/1` to find this unit's matches in another run.", "note empty-message"),
  );
  const near = u.kind === "feature"
    ? panel("panel-nearest", "Nearest features in this SAE", nearSlot)
    : panel("panel-neuron-features", "Features that correlate with this neuron", nearSlot);
  const render = (view: RelatedUnitsView, loaded: boolean) => {
    const runNotes = view.notes.filter((n) => !loaded || view.runs.some((r) => n.startsWith(`${r.run}:`)));
    const otherNotes = view.notes.filter((n) => !runNotes.includes(n));
    matchSlot.replaceChildren(...matchesBody(app, view), notesBlock(runNotes) ?? "");
    if (u.kind === "feature") {
      nearSlot.replaceChildren(
        // Stacked, not side by side: the panel sits in the page's narrow column, where two 4-column tables overlap.
        h(
          "div",
          { class: "stack tight" },
          scoredTable(app, view.decoder, "By decoder cosine", "cosine", "nearest-decoder", loaded ? "Needs the SAE weights (not in this folder)." : "Open this page with `saekit serve` to see these."),
          scoredTable(app, view.coactivation, "By activation r over the evaluation tokens", "r", "nearest-activation", "Re-run `saekit analyze` to see these."),
        ),
        loaded ? notesBlock(otherNotes) ?? "" : "",
      );
    } else {
      const caption = view.featuresSource === "best neuron" ? "Features whose best-correlated neuron this is" : "Features by Pearson r over the evaluation tokens";
      nearSlot.replaceChildren(scoredTable(app, view.features, caption, "r", "neuron-features", "Re-run `saekit analyze` to see these."), loaded ? notesBlock(otherNotes) ?? "" : "");
    }
  };
  app.source.related(u.name).then(
    (view) => render(view ?? fromRecord(u, "this page does not carry the related units: open it with `saekit serve` for the matches both ways, the logit overlap and the nearest features"), view !== null),
    // The best matches the record carries are still worth showing (e.g. a server without /api/related).
    (e: unknown) => render(fromRecord(u, `related units unavailable: ${e instanceof Error ? e.message : String(e)}`), false),
  );
  return [matches, near];
}
