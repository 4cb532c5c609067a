/**
 * The atlas of a model as the dashboards draw it (GET /api/atlas/A, the atlas page, its self-contained export): the
 * stored coordinates (atlas-store.ts) joined with what each run's own store knows of its units — density,
 * interpretability score, code share (optional column) and top tokens — as columns, one entry per point.
 *
 * Which atlas: any feature store of the model may hold one (written by `analyze --atlas`); the one covering the
 * most points is used (ties: the first set in listing order). Points of a run that has no store of its own (never
 * analysed), or whose store has another number of units than the atlas recorded (re-trained since), are drawn
 * without those columns and the run says why.
 */
import { roundTo } from "./store/format.js";
import { NotFoundError } from "./errors.js";
import type { AtlasRunView, AtlasView } from "./atlas-types.js";
import { hasAtlas, readAtlas } from "./atlas-store.js";
import type { InvestigationStore } from "./store.js";
import type { RunInfo } from "./unit-record.js";

export type { AtlasRunView, AtlasView };

/** Top tokens per point in the view (hover labels). */
export const ATLAS_TOP_TOKENS = 3;

export interface AtlasSources {
  /** Every unit set (workspace.runs()). */
  runs: RunInfo[];
  /** A set's opened store, or null when it has none / it does not open. */
  storeOf(run: string): InvestigationStore | null;
}

const r5 = (v: number) => roundTo(v, 5);
const r3 = (v: number) => roundTo(v, 3);
const finiteOrNull = (v: number | undefined, round: (v: number) => number): number | null => (v !== undefined && Number.isFinite(v) ? round(v) : null);

/** The model's atlas view; NotFoundError when the model is unknown or none of its stores holds an atlas. */
export function atlasView(model: string, src: AtlasSources): AtlasView {
  const sets = src.runs.filter((r) => r.model === model && r.kind === "feature");
  if (sets.length === 0) {
    const models = [...new Set(src.runs.map((r) => r.model))];
    throw new NotFoundError(`no SAE run of model ${JSON.stringify(model)} has an investigation${models.length ? ` (models: ${models.join(", ")})` : ""}`);
  }
  let best: { set: string; atlas: NonNullable<ReturnType<typeof readAtlas>>; points: number } | null = null;
  for (const s of sets) {
    const store = src.storeOf(s.name);
    if (!store || !hasAtlas(store.dir)) continue;
    const atlas = readAtlas(store.dir, store.manifest.checksums?.["atlas.safetensors"]);
    if (!atlas) continue;
    const points = atlas.coords.length / 2;
    if (!best || points > best.points) best = { set: s.name, atlas, points };
  }
  if (!best) {
    throw new NotFoundError(
      `model ${model} has no atlas: run \`saekit analyze --sae models/${model}/N --atlas models/${model}/M …\` (runs: ${sets.map((s) => s.name).join(", ")})`,
    );
  }
  const { atlas } = best;
  const n = best.points;
  const view: AtlasView = {
    model, source: best.set, params: atlas.params, runs: [],
    x: new Array<number>(n), y: new Array<number>(n), density: new Array<number | null>(n).fill(null),
    interpScore: new Array<number | null>(n).fill(null), codeShare: new Array<number | null>(n).fill(null),
    top: Array.from({ length: n }, () => []), hasCodeShare: false, hasInterpScore: false,
  };
  for (let i = 0; i < n; i++) {
    view.x[i] = r5(atlas.coords[2 * i]!);
    view.y[i] = r5(atlas.coords[2 * i + 1]!);
  }
  let offset = 0;
  for (const r of atlas.runs) {
    const run: AtlasRunView = { name: r.name, units: r.units, offset, analysed: false };
    const store = src.storeOf(r.name);
    if (!store) run.note = `${r.name} has no investigation: run saekit analyze on it to see its densities, scores and feature pages`;
    else if (store.units !== r.units) run.note = `${r.name}'s investigation has ${store.units} features but the atlas mapped ${r.units}; rerun saekit analyze --atlas`;
    else {
      run.analysed = true;
      const c = store.columns;
      if (c.codeShare && c.codeShare.some(Number.isFinite)) view.hasCodeShare = true;
      if (c.interpScore.some(Number.isFinite)) view.hasInterpScore = true;
      const table = store.searchTable;
      for (let u = 0; u < r.units; u++) {
        const p = offset + u;
        view.density[p] = finiteOrNull(c.density[u], r3);
        view.interpScore[p] = finiteOrNull(c.interpScore[u], r3);
        view.codeShare[p] = finiteOrNull(c.codeShare?.[u], r3);
        view.top[p] = table[u]!.topTokens.slice(0, ATLAS_TOP_TOKENS);
      }
    }
    view.runs.push(run);
    offset += r.units;
  }
  return view;
}
