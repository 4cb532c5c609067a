/**
 * Search results: one ranked list over every run (or one), with the true count and pages. Tokens match exactly —
 * a leading space is part of the token and shows as "·" — case-sensitively unless "ignore case" is on.
 */
import type { App } from "../app.js";
import { h, note } from "../dom.js";
import { density, int, tokenLabel } from "../format.js";
import { searchPath, unitPath, type SearchOptions } from "../router.js";
import { OFFLINE_HINT } from "../source.js";

export const SEARCH_PAGE_ROWS = 50;

const MATCH_TITLES: Record<string, string> = {
  name: "the unit's name",
  exact: "the token exactly",
  trimmed: "the token but for surrounding whitespace",
  partial: "contains the query",
};

export async function searchPage(app: App, q: string, run: string | null, options: SearchOptions = { ignoreCase: false, exact: false, offset: 0 }): Promise<HTMLElement> {
  document.title = `${q} · search · saekit`;
  if (q.length === 0) return h("div", { class: "search-page" }, h("h1", null, "Search"), note("Type a query in the search box."));
  const res = await app.source.search(q, run, { ...options, limit: SEARCH_PAGE_ROWS });
  const total = res.total ?? res.hits.length;
  const offset = res.offset ?? 0;
  const hits = res.hits.map((hit, i) => {
    const name = hit.name.includes("/") ? hit.name : `${hit.run}/${hit.index}`;
    const content = [
      h("span", { class: "hit-rank" }, `${offset + i + 1}.`),
      h("span", { class: "badge" }, hit.run),
      h("span", { class: "hit-name" }, name),
      h("span", { class: "hit-label" }, hit.label),
      h("span", { class: "hit-field" }, `${hit.field}: `, h("span", { class: "chip" }, hit.field.includes("token") || hit.field.includes("logit") ? tokenLabel(hit.text) : hit.text)),
      hit.match ? h("span", { class: `hit-match match-${hit.match}`, title: MATCH_TITLES[hit.match] ?? "", "data-testid": "hit-match" }, hit.match) : null,
      h("span", { class: "hit-density", title: "density" }, density(hit.density)),
      hit.score === null ? null : h("span", { class: "hit-score", title: "interpretability score: F1 of the best automatic proxy's specificity and sensitivity" }, `score ${hit.score.toFixed(2)}`),
    ];
    return app.source.canOpen(name)
      ? h("a", { class: "hit", href: app.href(unitPath(name)), "data-testid": "search-result", "data-unit": name }, content)
      : h("div", { class: "hit offline", title: OFFLINE_HINT, "data-testid": "search-result", "data-unit": name }, content);
  });
  let runs: string[] = [];
  try {
    runs = (await app.source.runs()).map((r) => r.name);
  } catch {
    runs = [];
  }
  const go = (patch: Partial<SearchOptions> & { run?: string | null }) => {
    const { run: r = run, ...o } = patch;
    return searchPath(q, r, { ...options, offset: 0, ...o });
  };
  const filter = (label: string, r: string | null) => h("a", { href: app.href(go({ run: r })), class: r === run ? "active" : "", "data-testid": "search-filter" }, label);
  const toggle = (label: string, key: "ignoreCase" | "exact", title: string) =>
    h("label", { title }, h("input", { type: "checkbox", checked: options[key], "data-testid": `search-${key}`, onchange: () => app.navigate(go({ [key]: !options[key] })) }), ` ${label}`);
  const end = offset + res.hits.length;
  const pager = h(
    "div",
    { class: "pager" },
    offset > 0 ? h("a", { href: app.href(go({ offset: Math.max(0, offset - SEARCH_PAGE_ROWS) })), "data-testid": "search-prev" }, "← previous") : null,
    h("span", { "data-testid": "search-count" }, total === 0 ? "no results" : `${int(offset + 1)}–${int(end)} of ${int(total)} result${total === 1 ? "" : "s"}`),
    end < total ? h("a", { href: app.href(go({ offset: offset + SEARCH_PAGE_ROWS })), "data-testid": "search-next" }, "next →") : null,
  );
  return h(
    "div",
    { class: "search-page" },
    h("h1", null, "Search ", h("span", { class: "muted", "data-testid": "search-query" }, `“${tokenLabel(res.query)}”${run ? ` in ${run}` : ""}`)),
    h(
      "div",
      { class: "filters" },
      runs.length > 1 ? ["runs:", filter("all", null), runs.map((r) => filter(r, r))] : null,
      app.source.mode === "live" ? [toggle("ignore case", "ignoreCase", "fold case before comparing"), toggle("exact tokens only", "exact", "only the name and tokens equal to the query")] : null,
    ),
    note("Tokens match exactly: a leading space is part of the token (shown ·). Ranked: name, exact top token, exact logit token, equal but for whitespace, label, then partial matches."),
    pager,
    hits.length === 0 ? note("Nothing matched. Try a token (e.g. “·the” with its space, or tick ignore case), a label word, or a unit name like A/1/3450.") : h("div", { class: "hits" }, hits),
    total > SEARCH_PAGE_ROWS ? (pager.cloneNode(true) as HTMLElement) : null,
  );
}
