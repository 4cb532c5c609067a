/** Search results: units whose name, label, top tokens or logit tokens match the query. */
import type { App } from "../app.js";
import { h, note } from "../dom.js";
import { density, tokenLabel } from "../format.js";
import { searchPath, unitPath } from "../router.js";
import { OFFLINE_HINT } from "../source.js";

export async function searchPage(app: App, q: string, run: string | null): Promise<HTMLElement> {
  document.title = `${q} · search · saekit`;
  if (q.trim().length === 0) return h("div", { class: "search-page" }, h("h1", null, "Search"), note("Type a query in the search box."));
  const res = await app.source.search(q, run);
  const hits = res.hits.map((hit) => {
    const name = hit.name.includes("/") ? hit.name : `${hit.run}/${hit.index}`;
    const content = [
      h("span", { class: "badge" }, hit.run),
      h("span", { class: "hit-name" }, name),
      h("span", { class: "hit-label" }, hit.label),
      h("span", { class: "hit-field" }, `${hit.field}: `, h("span", { class: "chip" }, hit.field.includes("token") || hit.field.includes("logit") ? tokenLabel(hit.text) : hit.text)),
      h("span", { class: "hit-density", title: "density" }, density(hit.density)),
      hit.score === null ? null : h("span", { class: "hit-score", title: "interpretability score: F1 of the best automatic proxy's specificity and sensitivity" }, `score ${hit.score.toFixed(2)}`),
    ];
    return app.source.canOpen(name)
      ? h("a", { class: "hit", href: app.href(unitPath(name)), "data-testid": "search-result" }, content)
      : h("div", { class: "hit offline", title: OFFLINE_HINT, "data-testid": "search-result" }, content);
  });
  let runs: string[] = [];
  try {
    runs = (await app.source.runs()).map((r) => r.name);
  } catch {
    runs = [];
  }
  const filter = (label: string, r: string | null) =>
    h("a", { href: app.href(searchPath(q, r)), class: r === run ? "active" : "", "data-testid": "search-filter" }, label);
  return h(
    "div",
    { class: "search-page" },
    h("h1", null, "Search ", h("span", { class: "muted" }, `“${res.query}”${run ? ` in ${run}` : ""}`)),
    runs.length > 1 ? h("div", { class: "filters" }, "runs:", filter("all", null), runs.map((r) => filter(r, r))) : null,
    h("p", { class: "note" }, `${hits.length} result${hits.length === 1 ? "" : "s"}`),
    hits.length === 0 ? note("Nothing matched. Try a token (e.g. “the”), a label word, or a unit name like A/1/3450.") : h("div", { class: "hits" }, hits),
  );
}
