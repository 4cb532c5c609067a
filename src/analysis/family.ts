/**
 * Feature families across dictionary sizes (feature splitting, Towards Monosemanticity): for every feature of an
 * SAE run, its nearest features in the next smaller and the next larger run of the same model, by decoder cosine and
 * by activation r over the same evaluation tokens.
 *
 * Per side (a neighbouring run N of the analysed run R):
 *   - forward lists, per feature f of R: its k nearest features of N by decoder cosine (each with its r) and its k
 *     best by activation r (each with its cosine);
 *   - the inverse list, per feature f of R: the features of N whose nearest feature of R by decoder cosine is f. On
 *     the larger side these are f's children (the features it splits into); on the smaller side f's parent is its
 *     first forward entry by cosine.
 * Decoder cosine is the [d_R × d_N] product of unit-norm decoder rows, done in row blocks through the numeric core's
 * gemm with only the top k per row kept (topkRows); never the whole matrix. Activation r is computed feature by
 * feature from the sparse codes (R's firing tokens × N's active features at those tokens), so memory is O(d_N) per
 * feature and nothing [tokens × features] or [d_R × d_N] exists.
 */
import { kernels } from "../core/backend.js";
import type { CodeStore } from "./code-store.js";
import { pearsonFromSums } from "./correlation.js";

/** Entries kept per feature in each forward list. */
export const FAMILY_TOP_K = 3;

import type { FamilySideName } from "./family-types.js";

export type { FamilySideName };

/** One neighbouring run's links (all arrays indexed by the analysed run's features; [units × k] row-major). */
export interface FamilySide {
  side: FamilySideName;
  /** The neighbouring run, e.g. "A/0". */
  run: string;
  /** Its dictionary size. */
  units: number;
  k: number;
  cosIndex: Int32Array;
  cosValue: Float32Array;
  /** Activation r of each (f, cosIndex) pair (NaN when either never fires). */
  cosR: Float32Array;
  rIndex: Int32Array;
  rValue: Float32Array;
  /** Decoder cosine of each (f, rIndex) pair. */
  rCos: Float32Array;
  /** inverseStart[f] … inverseStart[f + 1] index inverseIndex/Cos/R: N's features whose nearest in R is f, by cosine desc. */
  inverseStart: Int32Array;
  inverseIndex: Int32Array;
  inverseCos: Float32Array;
  inverseR: Float32Array;
}

/** What one side needs: the neighbouring run's decoder and codes over the analysed run's evaluation tokens. */
export interface FamilyInput {
  run: string;
  /** W_dec [units × dIn] row-major. */
  decoder: Float32Array;
  units: number;
  codes: CodeStore;
}

export class FamilyError extends Error {
  override name = "FamilyError";
}

/** Unit-norm copies of the decoder rows (zero rows stay zero, so their cosines are 0). */
export function unitRows(decoder: Float32Array, rows: number, dIn: number): Float32Array {
  if (decoder.length !== rows * dIn) throw new FamilyError(`family: a decoder has ${decoder.length} values, expected ${rows} × ${dIn}`);
  const w = Float32Array.from(decoder);
  kernels().normalizeRows(w, rows, dIn, null);
  return w;
}

/**
 * For each row of `a` [nA × dIn] its k largest dot products with the rows of `b` [nB × dIn] (unit rows: cosines),
 * sorted descending. Rows of a are taken in blocks so the block of products stays ≤ ~64 MB.
 */
export function nearestRows(a: Float32Array, nA: number, b: Float32Array, nB: number, dIn: number, k: number): { index: Int32Array; value: Float32Array } {
  if (!(Number.isInteger(k) && k >= 1 && k <= nB)) throw new FamilyError(`family: k must be an integer in [1, ${nB}], got ${k}`);
  const kern = kernels();
  const block = Math.max(1, Math.min(nA, 1024, Math.floor((16 << 20) / nB)));
  const products = new Float32Array(block * nB);
  const index = new Int32Array(nA * k);
  const value = new Float32Array(nA * k);
  for (let r0 = 0; r0 < nA; r0 += block) {
    const m = Math.min(block, nA - r0);
    const c = products.subarray(0, m * nB);
    kern.gemm(false, true, m, nB, dIn, 1, a.subarray(r0 * dIn, (r0 + m) * dIn), dIn, b, dIn, 0, c, nB);
    kern.topkRows(c, m, nB, k, value.subarray(r0 * k, (r0 + m) * k), index.subarray(r0 * k, (r0 + m) * k));
  }
  return { index, value };
}

function dot(a: Float32Array, i: number, b: Float32Array, j: number, dIn: number): number {
  let s = 0;
  const oa = i * dIn;
  const ob = j * dIn;
  for (let c = 0; c < dIn; c++) s += a[oa + c]! * b[ob + c]!;
  return s;
}

/** Per unit: Σ v and Σ v² over its firing tokens (float64). */
function codeSums(codes: CodeStore, units: number): { s: Float64Array; s2: Float64Array } {
  const s = new Float64Array(units);
  const s2 = new Float64Array(units);
  for (let e = 0; e < codes.entries; e++) {
    const f = codes.indices[e]!;
    const v = codes.values[e]!;
    s[f]! += v;
    s2[f]! += v * v;
  }
  return { s, s2 };
}

export interface FamilyContext {
  /** The analysed run's codes and their per-feature columns (CodeStore.transpose). */
  codes: CodeStore;
  columns: { start: Int32Array; tokens: Int32Array; values: Float32Array };
  /** Unit-norm decoder rows of the analysed run [units × dIn]. */
  rows: Float32Array;
  units: number;
  dIn: number;
}

/** The analysed run's side of every family computation (its columns and unit rows), prepared once. */
export function familyContext(codes: CodeStore, decoder: Float32Array, units: number, dIn: number): FamilyContext {
  return { codes, columns: codes.transpose(units), rows: unitRows(decoder, units, dIn), units, dIn };
}

/** The links of the analysed run to one neighbouring run (module doc). */
export function familySide(ctx: FamilyContext, side: FamilySideName, other: FamilyInput, k = FAMILY_TOP_K): FamilySide {
  const { units, dIn, columns } = ctx;
  const nN = other.units;
  if (other.codes.rows !== ctx.codes.rows) {
    throw new FamilyError(`family ${other.run}: its codes cover ${other.codes.rows} tokens but the analysed run's cover ${ctx.codes.rows}; both must encode the same evaluation tokens`);
  }
  const kk = Math.min(k, nN);
  const otherRows = unitRows(other.decoder, nN, dIn);
  const fwd = nearestRows(ctx.rows, units, otherRows, nN, dIn, kk);
  // Each feature of N's nearest feature of R: grouped by that feature into the inverse lists.
  const back = nearestRows(otherRows, nN, ctx.rows, units, dIn, 1);
  const inverseStart = new Int32Array(units + 1);
  for (let g = 0; g < nN; g++) inverseStart[back.index[g]! + 1]! += 1;
  for (let f = 0; f < units; f++) inverseStart[f + 1]! += inverseStart[f]!;
  const fill = inverseStart.slice(0, units);
  const inverseIndex = new Int32Array(nN);
  const inverseCos = new Float32Array(nN);
  for (let g = 0; g < nN; g++) {
    const at = fill[back.index[g]!]!++;
    inverseIndex[at] = g;
    inverseCos[at] = back.value[g]!;
  }
  for (let f = 0; f < units; f++) {
    // By cosine descending (ties: smaller index first).
    const a = inverseStart[f]!;
    const b = inverseStart[f + 1]!;
    if (b - a < 2) continue;
    const order = Array.from({ length: b - a }, (_, i) => a + i).sort((x, y) => inverseCos[y]! - inverseCos[x]! || inverseIndex[x]! - inverseIndex[y]!);
    const idx = order.map((i) => inverseIndex[i]!);
    const cos = order.map((i) => inverseCos[i]!);
    inverseIndex.set(idx, a);
    inverseCos.set(cos, a);
  }
  const inverseR = new Float32Array(nN).fill(Number.NaN);
  const cosR = new Float32Array(units * kk).fill(Number.NaN);
  const rIndex = new Int32Array(units * kk).fill(-1);
  const rValue = new Float32Array(units * kk).fill(Number.NaN);
  const rCos = new Float32Array(units * kk).fill(Number.NaN);

  // Activation r, one feature of R at a time: Σ f·g over f's firing tokens for every g active there.
  const n = ctx.codes.rows;
  const { s: sumN, s2: sumN2 } = codeSums(other.codes, nN);
  const acc = new Float64Array(nN);
  const touched = new Int32Array(nN);
  const mark = new Uint8Array(nN);
  const { rowStart, indices, values } = other.codes;
  const topIdx = new Int32Array(kk);
  const topR = new Float64Array(kk);
  for (let f = 0; f < units; f++) {
    let nt = 0;
    let sa = 0;
    let sa2 = 0;
    for (let e = columns.start[f]!, end = columns.start[f + 1]!; e < end; e++) {
      const t = columns.tokens[e]!;
      const va = columns.values[e]!;
      sa += va;
      sa2 += va * va;
      for (let j = rowStart[t]!, je = rowStart[t + 1]!; j < je; j++) {
        const g = indices[j]!;
        if (mark[g] === 0) {
          mark[g] = 1;
          touched[nt++] = g;
        }
        acc[g]! += va * values[j]!;
      }
    }
    const rOf = (g: number) => pearsonFromSums(n, sa, sa2, sumN[g]!, sumN2[g]!, acc[g]!);
    // The best r among co-firing features (a feature that never fires with f has Σ f·g = 0, so r ≤ 0 there).
    let filled = 0;
    for (let i = 0; i < nt; i++) {
      const g = touched[i]!;
      const r = rOf(g);
      if (!(r === r)) continue;
      let at: number;
      if (filled < kk) at = filled++;
      else if (r > topR[kk - 1]! || (r === topR[kk - 1] && g < topIdx[kk - 1]!)) at = kk - 1;
      else continue;
      while (at > 0 && (r > topR[at - 1]! || (r === topR[at - 1] && g < topIdx[at - 1]!))) {
        topR[at] = topR[at - 1]!;
        topIdx[at] = topIdx[at - 1]!;
        at--;
      }
      topR[at] = r;
      topIdx[at] = g;
    }
    for (let j = 0; j < filled; j++) {
      rIndex[f * kk + j] = topIdx[j]!;
      rValue[f * kk + j] = topR[j]!;
      rCos[f * kk + j] = dot(ctx.rows, f, otherRows, topIdx[j]!, dIn);
    }
    for (let j = 0; j < kk; j++) cosR[f * kk + j] = rOf(fwd.index[f * kk + j]!);
    for (let e = inverseStart[f]!; e < inverseStart[f + 1]!; e++) inverseR[e] = rOf(inverseIndex[e]!);
    for (let i = 0; i < nt; i++) {
      const g = touched[i]!;
      acc[g] = 0;
      mark[g] = 0;
    }
  }
  return {
    side, run: other.run, units: nN, k: kk, cosIndex: fwd.index, cosValue: fwd.value, cosR, rIndex, rValue, rCos,
    inverseStart, inverseIndex, inverseCos, inverseR,
  };
}

/**
 * The next smaller and next larger of the given runs by dictionary size (a run of the analysed run's size is
 * refused: it is not a neighbour in size, compare it with --compare instead).
 */
export function familyNeighbours<T extends { run: string; units: number }>(analysed: { run: string; units: number }, runs: T[]): { smaller: T | null; larger: T | null } {
  let smaller: T | null = null;
  let larger: T | null = null;
  for (const r of runs) {
    if (r.units === analysed.units) {
      throw new FamilyError(`analyze --family ${r.run}: it has ${r.units} features, as many as ${analysed.run}; families link runs of different sizes (use --compare for another seed)`);
    }
    if (r.units < analysed.units && (smaller === null || r.units > smaller.units)) smaller = r;
    if (r.units > analysed.units && (larger === null || r.units < larger.units)) larger = r;
  }
  return { smaller, larger };
}
