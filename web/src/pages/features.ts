/**
 * The feature table of a run (`/features/A/1`): every unit's stored scalars, sorted by clicking a column heading,
 * filtered by a density range, by clicking a bar of the run's density histogram, or by domain (the store's code share:
 * the share of a unit's activation mass on code tokens), paged by the server (/api/features; 100 rows a page, so
 * 16,384 units cost the browser one page).
 */
import type { App } from "../app.js";
import { unitLink } from "../app.js";
import { barConfig, binLabels, chartBox } from "../charts.js";
import { ACCENT } from "../colors.js";
import { h, note } from "../dom.js";
import { density, fmt, int, signed } from "../format.js";
import { featuresPath, type FeaturesQuery } from "../router.js";
import type { FeatureTableRow, RunInfo } from "../types.js";

export const FEATURES_PAGE_ROWS = 100;

const COLUMNS: { key: string; label: string; title: string; cell: (r: FeatureTableRow, app: App) => HTMLElement | string }[] = [
  { key: "index", label: "unit", title: "unit name (its index)", cell: (r, app) => unitLink(app, r.name, "features-unit") },
  { key: "density", label: "density", title: "share of evaluation tokens the unit fires on", cell: (r) => density(r.density) },
  { key: "max", label: "max", title: "max activation", cell: (r) => fmt(r.max) },
  { key: "mean", label: "mean", title: "mean activation where it fires", cell: (r) => fmt(r.mean) },
  { key: "specificity", label: "spec", title: "specificity of the stored proxy (activation mass where it holds)", cell: (r) => fmt(r.specificity) },
  { key: "sensitivity", label: "sens", title: "sensitivity of the stored proxy (share of its tokens the unit fires on)", cell: (r) => fmt(r.sensitivity) },
  { key: "lossEffect", label: "loss effect", title: "mean rise of next-token loss when the unit is zeroed where it fires", cell: (r) => lossEffectCell(r) },
  { key: "neuronR", label: "best neuron · r", title: "most correlated MLP neuron and its activation r", cell: (r, app) => (r.neuron ? h("span", null, unitLink(app, r.neuron, "features-neuron", r.neuron.split("/").pop()), ` · ${fmt(r.neuronR, 2)}`) : "—") },
  { key: "matchR", label: "best match · r", title: "best-matching unit in the first compared run and its activation r", cell: (r, app) => (r.match ? h("span", null, unitLink(app, r.match, "features-match"), ` · ${fmt(r.matchR, 2)}`) : "—") },
  { key: "score", label: "score", title: "interpretability score: F1 of the best automatic proxy's specificity and sensitivity", cell: (r) => (r.score === null ? "—" : r.score.toFixed(2)) },
  { key: "codeShare", label: "code", title: "code share: share of the unit's activation mass on code (vs prose) evaluation tokens; 0.5 is neutral", cell: (r) => codeShareCell(r.codeShare) },
];

/** The mean loss effect, with its standard error and sample count in the tooltip (stores written before them: a note). */
function lossEffectCell(r: FeatureTableRow): HTMLElement | string {
  if (r.lossEffect === null) return "—";
  const title = r.lossEffectSE !== null
    ? `${signed(r.lossEffect)} ± ${fmt(r.lossEffectSE, 2)} nats (standard error, n = ${r.lossEffectN ?? "?"} sampled tokens)`
    : r.lossEffectN !== null ? `n = ${r.lossEffectN} sampled tokens: too few per interval for a standard error` : "standard error: re-run `saekit analyze` to see it";
  return h("span", { title, "data-testid": "features-loss-effect" }, signed(r.lossEffect));
}

/** The share as a number beside a small bar (code share filled, prose share empty). */
function codeShareCell(share: number | null): HTMLElement | string {
  if (share === null) return "—";
  const bar = h("span", { class: "code-share-bar", "aria-hidden": "true", style: "display:inline-block;width:36px;height:8px;margin-left:6px;vertical-align:middle;border:1px solid var(--border-strong, #999);border-radius:2px;overflow:hidden" },
    h("span", { style: `display:block;height:100%;width:${Math.round(share * 100)}%;background:${ACCENT}` }));
  return h("span", { "data-code-share": share.toFixed(4) }, share.toFixed(2), bar);
}

/** The API query of the page's URL state. */
function apiQuery(q: FeaturesQuery): URLSearchParams {
  const p = new URLSearchParams({ limit: String(FEATURES_PAGE_ROWS), offset: String(q.offset) });
  if (q.sort) p.set("sort", q.sort);
  if (q.desc !== null) p.set("desc", q.desc ? "1" : "0");
  if (q.densityMin !== null) p.set("densityMin", String(q.densityMin));
  if (q.densityMax !== null) p.set("densityMax", String(q.densityMax));
  if (q.bin !== null) p.set("bin", String(q.bin));
  if (q.domain) p.set("domain", q.domain);
  if (q.minCodeShare !== null && q.minCodeShare !== undefined) p.set("minCodeShare", String(q.minCodeShare));
  return p;
}

/** The density histogram; a click on a bar filters the table to that bin (and clicking it again clears it). */
function histogram(app: App, run: RunInfo, q: FeaturesQuery): HTMLElement {
  const hist = run.densityHistogram;
  const e = hist.edges;
  const colors = hist.counts.map((_, i) => (q.bin === null || q.bin === i ? ACCENT : "rgba(120,120,120,0.35)"));
  return chartBox(
    () => {
      const config = barConfig({
        labels: binLabels(e),
        series: [{ label: "units", data: hist.counts, color: colors }],
        xTitle: "log10 density (click a bar to filter the table)",
        yTitle: "units",
        title: (i) => `log10 density ${fmt(e[i])} – ${fmt(e[i + 1])}`,
        line: (_s, _i, v) => `${int(v)} units`,
      });
      config.options!.onClick = (_ev, elements) => {
        const i = elements[0]?.index;
        if (i === undefined) return;
        app.navigate(featuresPath(run.name, { ...q, bin: q.bin === i ? null : i, offset: 0 }));
      };
      config.options!.onHover = (ev, elements) => {
        const target = ev.native?.target as HTMLElement | undefined;
        if (target) target.style.cursor = elements.length > 0 ? "pointer" : "default";
      };
      // Where each bar is (CSS px in the canvas), for scripts and tests that click a bar by bin.
      config.plugins = [{
        id: "bar-positions",
        afterDraw: (chart) => {
          const xs = chart.getDatasetMeta(0).data.map((b) => Math.round(b.x));
          chart.canvas.dataset.barX = xs.join(",");
          chart.canvas.dataset.areaY = `${Math.round(chart.chartArea.top)},${Math.round(chart.chartArea.bottom)}`;
        },
      }];
      return config;
    },
    { height: 160, testid: "features-histogram", label: `density histogram of ${run.name}; click a bar to filter` },
  );
}

export async function featuresPage(app: App, runName: string, q: FeaturesQuery): Promise<HTMLElement> {
  document.title = `${runName} features · saekit`;
  const runs = await app.source.runs();
  const run = runs.find((r) => r.name === runName);
  if (!run) throw new Error(`no run ${runName}; runs: ${runs.map((r) => r.name).join(", ")}`);
  const table = await app.source.features(run.name, apiQuery(q));
  const go = (patch: Partial<FeaturesQuery>) => featuresPath(run.name, { ...q, ...patch });

  const head = COLUMNS.map((c) => {
    const active = table.sort === c.key;
    // A click sorts by the column (its natural direction), a second click flips it.
    const next = active ? { sort: c.key, desc: !table.desc, offset: 0 } : { sort: c.key, desc: null, offset: 0 };
    return h(
      "th",
      { title: c.title, class: active ? "sorted" : "", "aria-sort": active ? (table.desc ? "descending" : "ascending") : "none" },
      h("a", { href: app.href(go(next)), "data-testid": `sort-${c.key}` }, c.label, active ? (table.desc ? " ▼" : " ▲") : ""),
    );
  });
  const rows = table.rows.map((r) =>
    h("tr", { "data-testid": "features-row", "data-unit": r.name }, COLUMNS.map((c) => h("td", { class: `col-${c.key}` }, c.cell(r, app))), h("td", { class: "col-label" }, r.label)),
  );

  const minInput = h("input", { type: "text", name: "densityMin", inputmode: "decimal", placeholder: "e.g. 1e-5", value: q.densityMin ?? "", "data-testid": "density-min", size: 8 });
  const maxInput = h("input", { type: "text", name: "densityMax", inputmode: "decimal", placeholder: "e.g. 0.01", value: q.densityMax ?? "", "data-testid": "density-max", size: 8 });
  const shareOk = table.codeShareAvailable;
  const domainSelect = h("select", { name: "domain", "data-testid": "domain-select", disabled: !shareOk, title: "code: most of the unit's activation mass on code tokens (code share ≥ 0.5); prose: below 0.5" },
    (["any", "code", "prose"] as const).map((d) => h("option", { value: d, selected: (q.domain ?? "any") === d }, d)));
  const minShareInput = h("input", { type: "text", name: "minCodeShare", inputmode: "decimal", placeholder: "e.g. 0.9", value: q.minCodeShare ?? "", "data-testid": "min-code-share", size: 5, disabled: !shareOk });
  const formError = h("span", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    {
      class: "features-filter",
      onsubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        const parse = (el: HTMLInputElement, what: string): number | null | undefined => {
          const t = el.value.trim();
          if (t === "") return null;
          const v = Number(t);
          if (!Number.isFinite(v) || v < 0 || v > 1) {
            formError.textContent = `${what} must be a density between 0 and 1 (e.g. 1e-4), not “${t}”`;
            return undefined;
          }
          return v;
        };
        const lo = parse(minInput, "min");
        const hi = parse(maxInput, "max");
        if (lo === undefined || hi === undefined) return;
        const share = minShareInput.value.trim();
        const minCodeShare = share === "" ? null : Number(share);
        if (minCodeShare !== null && !(Number.isFinite(minCodeShare) && minCodeShare >= 0 && minCodeShare <= 1)) {
          formError.textContent = `min code share must be a share between 0 and 1 (e.g. 0.9), not “${share}”`;
          return;
        }
        const domain = domainSelect.value === "code" || domainSelect.value === "prose" ? domainSelect.value : null;
        app.navigate(go({ densityMin: lo, densityMax: hi, domain, minCodeShare, offset: 0 }));
      },
    },
    "density from ", minInput, " to ", maxInput, " · domain ", domainSelect, " · code share ≥ ", minShareInput, " ",
    h("button", { type: "submit", "data-testid": "density-apply" }, "Filter"), " ", formError,
  );

  const minShare = q.minCodeShare ?? null;
  const filtered = q.densityMin !== null || q.densityMax !== null || q.bin !== null || !!q.domain || minShare !== null;
  const e = run.densityHistogram.edges;
  const filters = [
    q.bin !== null ? `log10 density in [${fmt(e[q.bin])}, ${fmt(e[q.bin + 1])})` : null,
    q.densityMin !== null ? `density ≥ ${q.densityMin}` : null,
    q.densityMax !== null ? `density ≤ ${q.densityMax}` : null,
    q.domain ? `domain ${q.domain} (code share ${q.domain === "code" ? "≥" : "<"} 0.5)` : null,
    minShare !== null ? `code share ≥ ${minShare}` : null,
  ].filter((x): x is string => x !== null);
  const end = table.offset + table.rows.length;
  const pager = h(
    "div",
    { class: "pager" },
    table.offset > 0 ? h("a", { href: app.href(go({ offset: Math.max(0, table.offset - FEATURES_PAGE_ROWS) })), "data-testid": "features-prev" }, "← previous") : null,
    h("span", { "data-testid": "features-count" }, table.total === 0 ? "no units" : `rows ${int(table.offset + 1)}–${int(end)} of ${int(table.total)}`),
    end < table.total ? h("a", { href: app.href(go({ offset: table.offset + FEATURES_PAGE_ROWS })), "data-testid": "features-next" }, "next →") : null,
  );

  return h(
    "div",
    { class: "features-page" },
    h("h1", null, `${run.name} `, h("span", { class: "muted" }, `${run.kind === "feature" ? "features" : "neurons"} · ${int(run.units)} units`)),
    h("section", { class: "panel" }, histogram(app, run, q), form,
      h("p", { class: "note", "data-testid": "features-filters" }, filtered ? `filtered: ${filters.join(", ")} — ${int(table.total)} units · ` : `all ${int(table.units)} units · `,
        filtered ? h("a", { href: app.href(featuresPath(run.name, { sort: q.sort, desc: q.desc })), "data-testid": "features-clear" }, "clear filters") : null,
        shareOk ? null : h("span", { "data-testid": "code-share-missing" }, " No code shares in this store (written before them): re-run `saekit analyze` to see this column and filter by domain."))),
    pager,
    table.rows.length === 0
      ? note("No unit matches these filters.")
      : h("div", { class: "table-scroll" }, h("table", { class: "features-table", "data-testid": "features-table" }, h("thead", null, h("tr", null, head, h("th", null, "label"))), h("tbody", null, rows))),
    pager.cloneNode(true) as HTMLElement,
  );
}
