/**
 * The feature atlas: one 2-D map of the decoder directions of several SAE runs of a model together (the paper's
 * interactive map of features, where a feature's family from the smaller and larger runs sits around it).
 *
 * UMAP (McInnes et al.) through umap-js, on cosine distance between decoder rows:
 *   1. every decoder row is L2-normalised (the cosine is then a dot product);
 *   2. the exact k nearest neighbours by cosine come from the numeric core (atlas-knn.ts), which replaces umap-js'
 *      own NN-descent: exact, deterministic and faster at this size;
 *   3. umap-js builds the fuzzy neighbour graph and lays it out by SGD, its random numbers drawn from a seeded
 *      xoshiro128** (core/rng.ts), so the same rows, options and seed give byte-identical coordinates.
 * Rows are stacked in the order of `runs` (callers sort them by name, so the map does not depend on which run an
 * analysis was started from).
 */
import { UMAP } from "umap-js";
import { kernels } from "../core/backend.js";
import { Rng } from "../core/rng.js";
import { cosineNeighbours } from "./atlas-knn.js";
import type { AtlasParams } from "./atlas-types.js";

export type { AtlasParams };

export interface AtlasRunInput {
  /** Unit set name, e.g. "A/1". */
  name: string;
  /** Decoder rows [units × dIn] (W_dec). */
  decoder: Float32Array;
  units: number;
  dIn: number;
}

export interface AtlasOptions {
  seed?: number;
  /** UMAP's n_neighbors (15 as umap-learn). */
  neighbors?: number;
  /** UMAP's min_dist (0.1 as umap-learn). */
  minDist?: number;
  /** SGD epochs (umap-learn's rule: 500 up to 10,000 points, 200 above). */
  epochs?: number;
}

export const ATLAS_DEFAULTS = { seed: 0, neighbors: 15, minDist: 0.1 } as const;

/** umap-learn's default number of epochs for n points. */
export function defaultAtlasEpochs(n: number): number {
  return n <= 10_000 ? 500 : 200;
}


export interface Atlas {
  /** The runs in stacking order: points [offset, offset + units) are that run's units 0…units−1. */
  runs: { name: string; units: number }[];
  /** [points × 2] x, y. */
  coords: Float32Array;
  params: AtlasParams;
  /** Seconds per stage (knn, umap). */
  timing: { knn: number; umap: number };
}

export class AtlasError extends Error {
  override name = "AtlasError";
}

/** Lays out every decoder row of `runs` in 2-D (see the module doc). */
export function computeAtlas(runs: readonly AtlasRunInput[], options: AtlasOptions = {}): Atlas {
  if (runs.length === 0) throw new AtlasError("atlas: no runs given");
  const dIn = runs[0]!.dIn;
  const names = new Set<string>();
  for (const r of runs) {
    if (names.has(r.name)) throw new AtlasError(`atlas: run ${r.name} is given twice`);
    names.add(r.name);
    if (r.dIn !== dIn) throw new AtlasError(`atlas: run ${r.name} has d_in ${r.dIn} but ${runs[0]!.name} has ${dIn}; an atlas maps runs of one hook`);
    if (r.decoder.length !== r.units * r.dIn) throw new AtlasError(`atlas: run ${r.name}'s decoder has ${r.decoder.length} values, expected ${r.units} × ${r.dIn}`);
  }
  const n = runs.reduce((s, r) => s + r.units, 0);
  const seed = options.seed ?? ATLAS_DEFAULTS.seed;
  const neighbors = options.neighbors ?? ATLAS_DEFAULTS.neighbors;
  const minDist = options.minDist ?? ATLAS_DEFAULTS.minDist;
  const epochs = options.epochs ?? defaultAtlasEpochs(n);
  if (!Number.isSafeInteger(seed)) throw new AtlasError(`atlas: seed must be a safe integer, got ${seed}`);
  if (!Number.isInteger(neighbors) || neighbors < 2) throw new AtlasError(`atlas: neighbors must be an integer ≥ 2, got ${neighbors}`);
  if (n <= neighbors) throw new AtlasError(`atlas: ${n} points are too few for ${neighbors} neighbours`);
  if (!(minDist >= 0 && minDist <= 1)) throw new AtlasError(`atlas: minDist must lie in [0, 1], got ${minDist}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new AtlasError(`atlas: epochs must be a positive integer, got ${epochs}`);

  let t0 = performance.now();
  const unit = new Float32Array(n * dIn);
  let at = 0;
  for (const r of runs) {
    unit.set(r.decoder, at * dIn);
    at += r.units;
  }
  kernels().normalizeRows(unit, n, dIn, null);
  // n_neighbors counts the point itself, as in umap-learn.
  const nn = cosineNeighbours(unit, n, dIn, neighbors - 1);
  const knn = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const rng = new Rng(seed);
  const umap = new UMAP({ nComponents: 2, nNeighbors: neighbors, minDist, nEpochs: epochs, random: () => rng.uniform() });
  const knnIndices: number[][] = [];
  const knnDistances: number[][] = [];
  for (let i = 0; i < n; i++) {
    knnIndices.push(Array.from(nn.indices.subarray(i * nn.width, (i + 1) * nn.width)));
    knnDistances.push(Array.from(nn.distances.subarray(i * nn.width, (i + 1) * nn.width)));
  }
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  // With the neighbours given, umap-js reads only the number of points from X.
  const embedding = umap.fit(Array.from({ length: n }, () => []));
  const coords = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    coords[2 * i] = embedding[i]![0]!;
    coords[2 * i + 1] = embedding[i]![1]!;
  }
  const umapSeconds = (performance.now() - t0) / 1000;
  return {
    runs: runs.map((r) => ({ name: r.name, units: r.units })),
    coords,
    params: { seed, neighbors, minDist, epochs, metric: "cosine", knn: "exact" },
    timing: { knn, umap: umapSeconds },
  };
}
