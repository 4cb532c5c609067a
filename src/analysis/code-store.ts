/**
 * SAE codes of a whole evaluation stream kept in memory as compressed sparse rows (per token: its active features)
 * — L0 × 8 bytes per token, ~120 MB for 10^6 tokens at L0 15 — so later passes (histograms, example windows,
 * ablations) need not encode again, and a transposed copy (per feature: its firing tokens) for per-feature work.
 */
import type { SparseCodes } from "../sae/sae.js";

export class CodeStore {
  /** rowStart[t] … rowStart[t + 1] are token t's entries. */
  rowStart: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  private tokens = 0;
  private used = 0;

  constructor(expectedTokens: number, expectedL0 = 32) {
    this.rowStart = new Int32Array(expectedTokens + 1);
    this.indices = new Int32Array(Math.max(1024, expectedTokens * expectedL0));
    this.values = new Float32Array(this.indices.length);
  }

  get rows(): number {
    return this.tokens;
  }

  get entries(): number {
    return this.used;
  }

  private grow(need: number): void {
    let cap = this.indices.length;
    while (cap < need) cap *= 2;
    const idx = new Int32Array(cap);
    idx.set(this.indices.subarray(0, this.used));
    const val = new Float32Array(cap);
    val.set(this.values.subarray(0, this.used));
    this.indices = idx;
    this.values = val;
  }

  /** Appends the positive slots of a batch of codes (padding and zeros dropped). */
  append(codes: SparseCodes): void {
    const { rows, k, indices, values } = codes;
    if (this.tokens + rows + 1 > this.rowStart.length) {
      const rs = new Int32Array(Math.max(this.rowStart.length * 2, this.tokens + rows + 1));
      rs.set(this.rowStart.subarray(0, this.tokens + 1));
      this.rowStart = rs;
    }
    if (this.used + rows * k > this.indices.length) this.grow(this.used + rows * k);
    let u = this.used;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < k; j++) {
        const f = indices[r * k + j]!;
        const v = values[r * k + j]!;
        if (f >= 0 && v > 0) {
          this.indices[u] = f;
          this.values[u++] = v;
        }
      }
      this.rowStart[++this.tokens] = u;
    }
    this.used = u;
  }

  /** Tokens [first, first + rows) as padded SparseCodes (k = the batch's largest row). */
  batch(first: number, rows: number): SparseCodes {
    let k = 1;
    for (let r = 0; r < rows; r++) k = Math.max(k, this.rowStart[first + r + 1]! - this.rowStart[first + r]!);
    const indices = new Int32Array(rows * k).fill(-1);
    const values = new Float32Array(rows * k);
    for (let r = 0; r < rows; r++) {
      const a = this.rowStart[first + r]!;
      const n = this.rowStart[first + r + 1]! - a;
      indices.set(this.indices.subarray(a, a + n), r * k);
      values.set(this.values.subarray(a, a + n), r * k);
    }
    return { rows, k, indices, values };
  }

  /** The activation of `unit` at token t (0 when it does not fire). */
  valueAt(t: number, unit: number): number {
    for (let e = this.rowStart[t]!, end = this.rowStart[t + 1]!; e < end; e++) if (this.indices[e] === unit) return this.values[e]!;
    return 0;
  }

  /** Per unit, its firing tokens in stream order: columns of the code matrix (a counting sort). */
  transpose(units: number): { start: Int32Array; tokens: Int32Array; values: Float32Array } {
    const start = new Int32Array(units + 1);
    for (let e = 0; e < this.used; e++) start[this.indices[e]! + 1]! += 1;
    for (let f = 0; f < units; f++) start[f + 1]! += start[f]!;
    const fill = start.slice(0, units);
    const tokens = new Int32Array(this.used);
    const values = new Float32Array(this.used);
    for (let t = 0; t < this.tokens; t++) {
      for (let e = this.rowStart[t]!, end = this.rowStart[t + 1]!; e < end; e++) {
        const at = fill[this.indices[e]!]!++;
        tokens[at] = t;
        values[at] = this.values[e]!;
      }
    }
    return { start, tokens, values };
  }
}
