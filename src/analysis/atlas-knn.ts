/**
 * Exact cosine nearest neighbours of many unit vectors (the decoder rows of an atlas), through the numeric core:
 * for a block of rows, the cosines with every row are one fp32 gemm (block × N) and the k + 1 largest per row one
 * topkRows call, so no [N × N] matrix ever exists and no hot loop runs in TypeScript. Exact rather than
 * approximate (NN-descent) because it costs a few seconds at ~20k points and needs no random numbers, so the
 * neighbour graph is a pure function of the rows (ties go to the smaller index, as topkRows breaks them).
 */
import { kernels } from "../core/backend.js";

export interface CosineNeighbours {
  /** [N × (k + 1)]: each row's own index first, then its k nearest other rows, nearest first. */
  indices: Int32Array;
  /** 1 − cosine, same layout; the row's own entry is exactly 0. */
  distances: Float32Array;
  /** k + 1. */
  width: number;
}

/** Rows per gemm block: 512 × 20k fp32 is 40 MB of cosines at a time. */
const BLOCK_ROWS = 512;

/**
 * The k nearest rows (by cosine) of each row of `unit` ([n × d], rows already L2-normalised; a zero row is at
 * distance 1 from every other). Products run in fp32 whatever the process' precision, so bf16 rounding cannot
 * reorder near ties.
 */
export function cosineNeighbours(unit: Float32Array, n: number, d: number, k: number): CosineNeighbours {
  if (unit.length !== n * d) throw new RangeError(`cosineNeighbours: ${unit.length} values are not ${n} rows of ${d}`);
  if (!Number.isInteger(k) || k < 1 || k >= n) throw new RangeError(`cosineNeighbours: k must be an integer in [1, ${n - 1}] for ${n} rows, got ${k}`);
  const kn = kernels().withPrecision("fp32");
  const width = k + 1;
  const indices = new Int32Array(n * width);
  const distances = new Float32Array(n * width);
  const block = Math.min(BLOCK_ROWS, n);
  const sims = new Float32Array(block * n);
  const topV = new Float32Array(block * width);
  const topI = new Int32Array(block * width);
  for (let r0 = 0; r0 < n; r0 += block) {
    const rows = Math.min(block, n - r0);
    const s = sims.subarray(0, rows * n);
    kn.gemm(false, true, rows, n, d, 1, unit.subarray(r0 * d, (r0 + rows) * d), d, unit, d, 0, s, n);
    kn.topkRows(s, rows, n, width, topV, topI);
    for (let r = 0; r < rows; r++) {
      const self = r0 + r;
      const out = self * width;
      indices[out] = self;
      distances[out] = 0;
      // The row itself is normally first (cosine 1); a duplicate row may outrank it, so it is skipped wherever it is.
      let j = 1;
      for (let t = 0; t < width && j < width; t++) {
        const idx = topI[r * width + t]!;
        if (idx === self) continue;
        indices[out + j] = idx;
        distances[out + j] = Math.max(0, 1 - topV[r * width + t]!);
        j++;
      }
    }
  }
  return { indices, distances, width };
}
