/**
 * The feature atlas of a model (`/atlas/A`): every feature of its mapped runs as one point of a 2-D UMAP of the
 * decoder directions (analyze --atlas), on a zoomable, pannable canvas (atlas-canvas.ts). Colour by run, by
 * density (log), by code share (code vs prose: the store's optional codeShare column) or by interpretability
 * score; hover a point for its name, top tokens and density, click it for its feature page.
 */
import type { App } from "../app.js";
import { AtlasScatter } from "../atlas-canvas.js";
import { h, note } from "../dom.js";
import { density as fmtDensity, int, tokenLabel } from "../format.js";
import { unitPath } from "../router.js";
import type { AtlasResponse } from "../types.js";

type ColourMode = "run" | "density" | "codeShare" | "interpScore";

const RUN_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"];
/** Viridis, 9 stops (low → high). */
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"];
/** Prose (blue) → neutral → code (orange). */
const PROSE_CODE = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#e8e8e8", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"];
const MISSING = "#b8bcc2";
const DEAD = "#6b7078";
const STEPS = 32;

function hexRgb(c: string): [number, number, number] {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** STEPS colours interpolated along `stops`. */
function ramp(stops: string[]): string[] {
  const rgb = stops.map(hexRgb);
  return Array.from({ length: STEPS }, (_, s) => {
    const t = (s / (STEPS - 1)) * (rgb.length - 1);
    const i = Math.min(rgb.length - 2, Math.floor(t));
    const f = t - i;
    const c = rgb[i]!.map((v, k) => Math.round(v + (rgb[i + 1]![k]! - v) * f));
    return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  });
}

function gradientCss(stops: string[]): string {
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

const runOfPoint = (atlas: AtlasResponse, i: number) => {
  let r = atlas.runs.length - 1;
  while (r > 0 && atlas.runs[r]!.offset > i) r--;
  return atlas.runs[r]!;
};

interface Colouring {
  index: Uint16Array;
  palette: string[];
  legend: HTMLElement;
}

/** Log-density range shown: the live points' range, at most 7 decades. */
function densityRange(atlas: AtlasResponse): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of atlas.density) {
    if (d === null || !(d > 0)) continue;
    const l = Math.log10(d);
    lo = Math.min(lo, l);
    hi = Math.max(hi, l);
  }
  if (!Number.isFinite(lo)) return [-6, 0];
  return [Math.max(lo, hi - 7), hi === lo ? lo + 1 : hi];
}

function colouring(atlas: AtlasResponse, mode: ColourMode): Colouring {
  const n = atlas.x.length;
  const index = new Uint16Array(n);
  if (mode === "run") {
    const palette = [MISSING, ...atlas.runs.map((_, r) => RUN_COLOURS[r % RUN_COLOURS.length]!)];
    atlas.runs.forEach((run, r) => index.fill(r + 1, run.offset, run.offset + run.units));
    const legend = h("div", { class: "atlas-legend", "data-testid": "atlas-legend" },
      atlas.runs.map((run, r) => h("span", { class: "atlas-swatch-item" },
        h("span", { class: "atlas-swatch", style: `background:${palette[r + 1]}` }),
        `${run.name} · ${int(run.units)}${run.analysed ? "" : " (not analysed)"}`)));
    return { index, palette, legend };
  }
  // Palette: 0 missing (drawn first, under the rest), 1 dead (density modes), then the ramp.
  const stops = mode === "codeShare" ? PROSE_CODE : VIRIDIS;
  const palette = [MISSING, DEAD, ...ramp(stops)];
  let lo = 0;
  let hi = 1;
  let values: (number | null)[];
  let caption: [string, string, string];
  if (mode === "density") {
    [lo, hi] = densityRange(atlas);
    values = atlas.density.map((d) => (d === null ? null : d > 0 ? Math.log10(d) : -Infinity));
    caption = [`10^${lo.toFixed(1)}`, "density (log)", `10^${hi.toFixed(1)}`];
  } else if (mode === "codeShare") {
    values = atlas.codeShare;
    caption = ["prose 0", "share of activation on code", "1 code"];
  } else {
    values = atlas.interpScore;
    caption = ["0", "interpretability score", "1"];
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) index[i] = 0;
    else if (v === -Infinity) index[i] = 1;
    else index[i] = 2 + Math.round(Math.max(0, Math.min(1, (v - lo) / (hi - lo))) * (STEPS - 1));
  }
  const legend = h("div", { class: "atlas-legend", "data-testid": "atlas-legend" },
    h("span", null, caption[0]),
    h("span", { class: "atlas-gradient", style: `background:${gradientCss(stops)}`, title: caption[1] }),
    h("span", null, caption[2]),
    h("span", { class: "atlas-caption" }, caption[1]),
    mode === "density" ? h("span", { class: "atlas-swatch-item" }, h("span", { class: "atlas-swatch", style: `background:${DEAD}` }), "dead") : null,
    h("span", { class: "atlas-swatch-item" }, h("span", { class: "atlas-swatch", style: `background:${MISSING}` }), "no value"));
  return { index, palette, legend };
}

export async function atlasPage(app: App, model: string): Promise<HTMLElement> {
  document.title = `Atlas of ${model} · saekit`;
  const t0 = performance.now();
  const atlas = await app.source.atlas(model);
  const fetchMs = performance.now() - t0;
  const n = atlas.x.length;
  const status = h("p", { class: "atlas-status", "data-testid": "atlas-status", "aria-live": "polite" },
    "Hover a point for its feature; click it to open its page. Scroll to zoom, drag to pan, 0 resets.");
  const tip = h("div", { class: "atlas-tip", "data-testid": "atlas-tip", hidden: true });
  const nameOf = (i: number) => `${runOfPoint(atlas, i).name}/${i - runOfPoint(atlas, i).offset}`;

  const scatter = new AtlasScatter({
    x: atlas.x,
    y: atlas.y,
    height: Math.max(420, Math.min(760, Math.round(window.innerHeight * 0.72))),
    onHover(i, clientX, clientY) {
      if (i === null) {
        tip.hidden = true;
        tip.removeAttribute("data-unit");
        return;
      }
      const run = runOfPoint(atlas, i);
      const top = atlas.top[i] ?? [];
      const rows: HTMLElement[] = [h("div", { class: "atlas-tip-name" }, nameOf(i))];
      if (!run.analysed) rows.push(h("div", { class: "atlas-tip-muted" }, `${run.name} is not analysed`));
      else {
        rows.push(h("div", { class: "atlas-tip-tokens", "data-testid": "atlas-tip-tokens" }, top.length ? top.map((t) => h("span", { class: "token-chip" }, tokenLabel(t))) : h("span", { class: "atlas-tip-muted" }, "never fires")));
        rows.push(h("div", null, `density ${fmtDensity(atlas.density[i])}`));
        if (atlas.interpScore[i] !== null) rows.push(h("div", null, `score ${atlas.interpScore[i]!.toFixed(2)}`));
        if (atlas.codeShare[i] !== null) rows.push(h("div", null, `code share ${atlas.codeShare[i]!.toFixed(2)}`));
      }
      tip.replaceChildren(...rows);
      tip.setAttribute("data-unit", nameOf(i));
      tip.hidden = false;
      const host = tip.parentElement!.getBoundingClientRect();
      const left = Math.min(clientX - host.left + 14, host.width - 240);
      tip.style.left = `${Math.max(0, left)}px`;
      tip.style.top = `${clientY - host.top + 14}px`;
    },
    onClick(i) {
      const run = runOfPoint(atlas, i);
      const name = nameOf(i);
      if (!run.analysed) status.textContent = `${name}: ${run.note ?? `${run.name} is not analysed`}`;
      else if (!app.source.canOpen(name)) status.textContent = `${name}: this is an offline snapshot; open it with \`saekit serve\` to see the feature's page`;
      else app.navigate(unitPath(name));
    },
  });

  const modes: { value: ColourMode; label: string; available: boolean; why: string }[] = [
    { value: "run", label: "run", available: true, why: "" },
    { value: "density", label: "density (log)", available: atlas.density.some((d) => d !== null), why: "no mapped run is analysed" },
    { value: "codeShare", label: "domain (code vs prose)", available: atlas.hasCodeShare, why: "the stores have no code share: re-run `saekit analyze` to see this" },
    { value: "interpScore", label: "interpretability score", available: atlas.hasInterpScore, why: "the stores have no interpretability scores: re-run `saekit analyze` to see this" },
  ];
  const legendSlot = h("div", { class: "atlas-legend-slot" });
  const setMode = (mode: ColourMode) => {
    const c = colouring(atlas, mode);
    scatter.setColors(c.index, c.palette);
    legendSlot.replaceChildren(c.legend);
    scatter.canvas.setAttribute("data-colour", mode);
  };
  const select = h("select", {
    "data-testid": "atlas-colour",
    "aria-label": "colour points by",
    onchange: (ev: Event) => setMode((ev.target as HTMLSelectElement).value as ColourMode),
  }, modes.map((m) => h("option", { value: m.value, disabled: !m.available, title: m.available ? null : m.why }, m.available ? m.label : `${m.label} — not stored`)));
  const unavailable = modes.filter((m) => !m.available);

  const frame = h("div", { class: "atlas-frame" }, scatter.canvas, tip);
  const page = h("div", { class: "atlas-page", "data-testid": "atlas", "data-points": String(n), "data-fetch-ms": fetchMs.toFixed(0) },
    h("h1", null, `Atlas of model ${atlas.model}`),
    note(`${int(n)} features of ${atlas.runs.map((r) => r.name).join(", ")} laid out by UMAP on the cosine distance of their decoder directions ` +
      `(${atlas.params.neighbors} neighbours, min_dist ${atlas.params.minDist}, seed ${atlas.params.seed}; stored with ${atlas.source}). ` +
      "Nearby points write similar directions into the MLP output; a small run's feature usually sits amid its family from the larger runs."),
    h("div", { class: "atlas-controls" },
      h("label", null, "Colour by ", select),
      h("button", { type: "button", class: "button", "data-testid": "atlas-reset", onclick: () => scatter.resetView() }, "Reset view"),
      legendSlot),
    unavailable.map((m) => note(`${m.label}: ${m.why}.`, "note atlas-unavailable")),
    atlas.runs.filter((r) => !r.analysed).map((r) => note(r.note ?? `${r.name} is not analysed.`, "note atlas-unavailable")),
    frame,
    status);
  setMode("run");
  // Drawn once the page is in the document (the canvas needs its width).
  requestAnimationFrame(() => scatter.draw());
  return page;
}
