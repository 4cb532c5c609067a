/**
 * The paper's run-level figures (Towards Monosemanticity), as data: the universality histogram (each live unit's
 * best-match r against another model's units: features A vs B next to neurons A vs B) and how the dead and
 * ultra-low-density share of a dictionary grows with its size (one point per run of a model). The log-density
 * histogram itself is the manifest's densityHistogram. `analyze` stores these in the manifest (runFigures) and
 * summary.json; the home page draws them.
 */
import { densitySummary, LOW_DENSITY_THRESHOLDS, type DensityBand } from "../sae/density.js";

/** Bins of the universality histogram over r in [0, 1]. */
export const R_HISTOGRAM_BINS = 20;

/** Live units' best-match r in equal bins of [0, 1]; units whose best r is ≤ 0 (or that have no match) counted apart. */
export interface RHistogram {
  edges: number[];
  counts: number[];
  /** Live units counted (density > 0). */
  units: number;
  /** Of those, units with best r ≤ 0 or none. */
  nonPositive: number;
}

export interface UniversalityHistogram {
  /** The compared unit sets: "B/1" and, when the neurons were analysed too, "B/neuron". */
  against: string;
  features: RHistogram;
  neurons: (RHistogram & { against: string }) | null;
}

/** One run's point of the share-vs-size series. */
export interface SizePoint {
  run: string;
  units: number;
  /** Evaluation tokens the densities were counted over. */
  tokens: number;
  dead: number;
  /** Units below each density threshold (dead included). */
  below: DensityBand[];
  /** The store whose evaluation measured it: the run's own ("A/1"), or the run analysed with --family ("A/1"). */
  measuredBy: string;
}

export interface RunFigures {
  universality: UniversalityHistogram[];
  /** This run and its --family runs, by dictionary size, measured on this store's evaluation tokens. */
  sizes: SizePoint[];
}

/** The universality histogram of best-match r (`bestR` NaN = no match) over the live units (`density` > 0). */
export function rHistogram(bestR: ArrayLike<number>, density: ArrayLike<number>, bins = R_HISTOGRAM_BINS): RHistogram {
  if (bestR.length !== density.length) throw new RangeError(`rHistogram: ${bestR.length} r values but ${density.length} densities`);
  if (!(Number.isInteger(bins) && bins >= 1)) throw new RangeError(`rHistogram: bins must be a positive integer, got ${bins}`);
  const counts = new Array<number>(bins).fill(0);
  let units = 0;
  let nonPositive = 0;
  for (let u = 0; u < bestR.length; u++) {
    if (!(density[u]! > 0)) continue;
    units++;
    const r = bestR[u]!;
    if (!(r > 0)) {
      nonPositive++;
      continue;
    }
    counts[Math.min(bins - 1, Math.floor(r * bins))]! += 1;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => Number((i / bins).toFixed(6))), counts, units, nonPositive };
}

/** A run's point from its units' densities over `tokens` evaluation tokens. */
export function sizePoint(run: string, density: ArrayLike<number>, tokens: number, measuredBy: string, thresholds: readonly number[] = LOW_DENSITY_THRESHOLDS): SizePoint {
  const s = densitySummary(density, thresholds, tokens);
  return { run, units: density.length, tokens, dead: s.dead, below: s.below, measuredBy };
}

/** Per-unit densities of sparse codes (a CodeStore's entries) over `tokens` tokens. */
export function densitiesFromCodes(codes: { indices: Int32Array; entries: number }, units: number, tokens: number): Float32Array {
  const counts = new Float64Array(units);
  for (let e = 0; e < codes.entries; e++) counts[codes.indices[e]!]! += 1;
  return Float32Array.from(counts, (c) => (tokens > 0 ? c / tokens : 0));
}

/**
 * One point per run, by dictionary size: a run's measurement on its own store wins over one made by another run's
 * --family analysis; among those, the one over more tokens.
 */
export function sizeSeries(points: SizePoint[]): SizePoint[] {
  const best = new Map<string, SizePoint>();
  for (const p of points) {
    const old = best.get(p.run);
    const own = (q: SizePoint) => (q.measuredBy === q.run ? 1 : 0);
    if (!old || own(p) > own(old) || (own(p) === own(old) && p.tokens > old.tokens)) best.set(p.run, p);
  }
  return [...best.values()].sort((a, b) => a.units - b.units || a.run.localeCompare(b.run));
}

/** "<1e-4: 72.0 %" etc. for one point, the text report's row. */
export function formatSizePoint(p: SizePoint): string {
  const share = (n: number) => `${((100 * n) / Math.max(1, p.units)).toFixed(1)}%`;
  return `${p.run.padEnd(6)} ${String(p.units).padStart(7)} features  dead ${share(p.dead).padStart(6)}  ${p.below.map((b) => `< ${b.threshold.toExponential(0).replace("e+", "e")} ${share(b.count).padStart(6)}`).join("  ")}  (${p.tokens.toLocaleString("en-US")} tokens, measured by ${p.measuredBy})`;
}
