/**
 * The run-level figures of a unit set as the home page gets them (RunInfo.figures): the ones `analyze` stored in
 * its manifest (runFigures), or, for a store written before them, the universality histogram rebuilt from its
 * columns (best-match r of the first compared run, and of the model's neurons from the neuron store); and the
 * dead / ultra-low-density share of every run of the model by dictionary size, each run measured on its own store
 * where it has one, else on the store of the run analysed with it by --family.
 */
import { modelOf, neuronSetName } from "../names.js";
import { LOW_DENSITY_THRESHOLDS } from "../sae/density.js";
import { rHistogram, sizePoint, sizeSeries, type RunFigures, type SizePoint, type UniversalityHistogram } from "./run-figures.js";
import type { InvestigationStore } from "./store.js";

export interface FigureSets {
  /** This set's store. */
  store: InvestigationStore;
  /** The stores of the other feature sets of the same model (any order). */
  siblings: InvestigationStore[];
  /** A unit set's store when the workspace has it, else null. */
  storeOf: (name: string) => InvestigationStore | null;
}

function universalityFromColumns(store: InvestigationStore, storeOf: FigureSets["storeOf"]): UniversalityHistogram[] {
  const first = store.manifest.compare[0];
  if (!first) return [];
  const features = rHistogram(store.columns.matchR, store.columns.density);
  const neuronSet = store.manifest.kind === "feature" ? storeOf(neuronSetName(store.manifest.model)) : null;
  const against = neuronSetName(modelOf(first.name));
  const nFirst = neuronSet?.manifest.compare[0];
  const neurons = neuronSet && nFirst?.name === against ? { against, ...rHistogram(neuronSet.columns.matchR, neuronSet.columns.density) } : null;
  return [{ against: first.name, features, neurons }];
}

/** The figures of a feature set (null for a neuron set). */
export function runFiguresView(sets: FigureSets): RunFigures | null {
  const { store, siblings, storeOf } = sets;
  const m = store.manifest;
  if (m.kind !== "feature") return null;
  const points: SizePoint[] = [];
  for (const s of [store, ...siblings]) {
    const stored = s.manifest.lowDensity?.map((b) => b.threshold) ?? [];
    points.push(sizePoint(s.manifest.name, s.columns.density, s.manifest.tokens, s.manifest.name, stored.length > 0 ? stored : LOW_DENSITY_THRESHOLDS));
    for (const p of s.manifest.runFigures?.sizes ?? []) points.push(p);
  }
  return {
    universality: m.runFigures?.universality ?? universalityFromColumns(store, storeOf),
    sizes: sizeSeries(points),
  };
}
