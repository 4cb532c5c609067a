/**
 * analyze's per-feature kernels (src/core/kernels-analyze.ts, native/src/analyze_kernels.cc): the TS reference against
 * a naive per-row computation, and the native kernel bit-identical to the reference (1 and 2 threads).
 */
import { describe, expect, it } from "vitest";
import { logitRowSummariesJs, type LogitRowSummaryOut } from "../../src/core/kernels-analyze.js";
import { loadNativeKernels } from "../../src/core/native.js";
import { Rng } from "../../src/core/rng.js";

function outputs(rows: number, k: number, bins: number): LogitRowSummaryOut {
  return {
    topTok: new Int32Array(rows * k), topVal: new Float32Array(rows * k), botTok: new Int32Array(rows * k), botVal: new Float32Array(rows * k),
    counts: new Int32Array(rows * bins), stats: new Float64Array(rows * 4),
  };
}

/** Rows with ties (values rounded to a coarse grid), a constant row and a row with one outlier. */
function fixture(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(rows * cols);
  rng.fillNormal(x, 0.3, 2);
  for (let i = 0; i < x.length; i += 3) x[i] = Math.round(x[i]! * 4) / 4;
  x.fill(1.5, 0, cols); // row 0 constant
  if (rows > 1) x[cols + 7] = 1e4; // row 1: an outlier
  return x;
}

/** The naive definition: sort by (value desc, column asc) etc., float64 sums in column order. */
function naive(row: Float32Array, centre: boolean, k: number, bins: number) {
  let v = Array.from(row);
  if (centre) {
    let s = 0;
    for (const a of v) s += a;
    const m = s / v.length;
    v = v.map((a) => Math.fround(a - m));
  }
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  let sum = 0;
  for (const a of v) sum += a;
  const mean = sum / v.length;
  let ss = 0;
  for (const a of v) ss += (a - mean) * (a - mean);
  const cols = v.map((a, t) => ({ a, t }));
  const top = [...cols].sort((p, q) => q.a - p.a || p.t - q.t).slice(0, k);
  const bottom = [...cols].sort((p, q) => p.a - q.a || p.t - q.t).slice(0, k);
  const edge = (b: number) => (b === bins ? hi : lo + ((hi - lo) * b) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const a of v) {
    let b = bins - 1;
    if (hi > lo) for (let c = 0; c < bins; c++) if (a >= edge(c) && (a < edge(c + 1) || c === bins - 1)) { b = c; break; }
    counts[b]! += 1;
  }
  return { lo, hi, mean, std: Math.sqrt(ss / v.length), top, bottom, counts };
}

describe("logitRowSummaries (TS reference)", () => {
  it.each([false, true])("matches the naive per-row definition (centre %s)", (centre) => {
    const rows = 5;
    const cols = 301;
    const k = 7;
    const bins = 13;
    const x = fixture(rows, cols, 3);
    const before = x.slice();
    const out = outputs(rows, k, bins);
    expect(logitRowSummariesJs(x, rows, cols, centre, k, bins, out)).toBe(-1);
    for (let r = 0; r < rows; r++) {
      const want = naive(before.subarray(r * cols, (r + 1) * cols), centre, k, bins);
      expect(Array.from(out.stats.subarray(4 * r, 4 * r + 4))).toEqual([want.lo, want.hi, want.mean, want.std].map((v, i) => (i < 2 ? v : out.stats[4 * r + i])));
      expect(out.stats[4 * r + 2]).toBeCloseTo(want.mean, 10);
      expect(out.stats[4 * r + 3]).toBeCloseTo(want.std, 10);
      expect(Array.from(out.topTok.subarray(r * k, (r + 1) * k))).toEqual(want.top.map((e) => e.t));
      expect(Array.from(out.topVal.subarray(r * k, (r + 1) * k))).toEqual(want.top.map((e) => e.a));
      expect(Array.from(out.botTok.subarray(r * k, (r + 1) * k))).toEqual(want.bottom.map((e) => e.t));
      expect(Array.from(out.counts.subarray(r * bins, (r + 1) * bins))).toEqual(want.counts);
    }
    // Row 0 is constant: every value in the last bin; the outlier row keeps its maximum at column 7.
    expect(out.counts[bins - 1]).toBe(cols);
    expect(out.topTok[k]).toBe(7);
  });

  it("reports the first non-finite value", () => {
    const x = fixture(3, 50, 1);
    x[50 + 9] = Number.NaN;
    expect(logitRowSummariesJs(x, 3, 50, false, 3, 4, outputs(3, 3, 4))).toBe(59);
  });

  it("refuses short outputs and k > cols, naming the argument", () => {
    expect(() => logitRowSummariesJs(new Float32Array(20), 2, 10, false, 3, 4, { ...outputs(2, 3, 4), counts: new Int32Array(7) })).toThrow(/counts/);
    expect(() => logitRowSummariesJs(new Float32Array(20), 2, 10, false, 11, 4, outputs(2, 11, 4))).toThrow(/k 11 exceeds cols 10/);
  });
});

const native1 = loadNativeKernels(1).kernels;
const native2 = loadNativeKernels(2).kernels;

describe.skipIf(!native2)("logitRowSummaries (native)", () => {
  it.each([
    [1, false], [2, false], [2, true],
  ] as const)("is bit-identical to the TS reference (%i threads, centre %s)", (threads, centre) => {
    const k = (threads === 1 ? native1 : native2)!;
    loadNativeKernels(threads);
    const rows = 37;
    const cols = 50257 % 4099; // an awkward width
    const x = fixture(rows, cols, 11);
    const xRef = x.slice();
    const a = outputs(rows, 10, 40);
    const b = outputs(rows, 10, 40);
    expect(k.logitRowSummaries(x, rows, cols, centre, 10, 40, a)).toBe(-1);
    expect(logitRowSummariesJs(xRef, rows, cols, centre, 10, 40, b)).toBe(-1);
    expect(x).toEqual(xRef); // the same in-place centring
    for (const key of ["topTok", "topVal", "botTok", "botVal", "counts", "stats"] as const) expect(a[key]).toEqual(b[key]);
    loadNativeKernels(2);
  });

  it("reports the first non-finite value as the reference does", () => {
    const x = fixture(4, 100, 2);
    x[2 * 100 + 5] = Number.POSITIVE_INFINITY;
    x[3 * 100 + 1] = Number.NaN;
    expect(native2!.logitRowSummaries(x, 4, 100, false, 5, 8, outputs(4, 5, 8))).toBe(205);
  });
});
