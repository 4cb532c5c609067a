/**
 * Reference (TS) kernels of `saekit analyze`'s per-feature loops, which the native addon runs in
 * native/src/analyze_kernels.cc with bit-identical results (float64 sums in the same order, the same bin edges and
 * insertion rule). Shared by both backends' argument checks.
 */

/** Outputs of logitRowSummaries for `rows` rows: k-entry top/bottom lists, `bins` counts and 4 stats per row. */
export interface LogitRowSummaryOut {
  /** [rows, k]: the k largest values per row, descending (ties: smaller column first), and their columns. */
  topTok: Int32Array;
  topVal: Float32Array;
  /** [rows, k]: the k smallest, ascending (ties: smaller column first). */
  botTok: Int32Array;
  botVal: Float32Array;
  /** [rows, bins]: equal-width histogram of [min, max] (edge b = min + (max − min)·b/bins; max in the last bin). */
  counts: Int32Array;
  /** [rows, 4]: min, max, mean, population std (float64). */
  stats: Float64Array;
}

export function checkLogitRowSummaries(x: Float32Array, rows: number, cols: number, k: number, bins: number, out: LogitRowSummaryOut): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min || v > 0x7fffffff) throw new RangeError(`logitRowSummaries: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  int("rows", rows, 0);
  int("cols", cols, 1);
  int("k", k, 0);
  int("bins", bins, 1);
  if (k > cols) throw new RangeError(`logitRowSummaries: k ${k} exceeds cols ${cols}`);
  const want: [string, { length: number }, number][] = [
    ["x", x, rows * cols], ["topTok", out.topTok, rows * k], ["topVal", out.topVal, rows * k], ["botTok", out.botTok, rows * k],
    ["botVal", out.botVal, rows * k], ["counts", out.counts, rows * bins], ["stats", out.stats, rows * 4],
  ];
  for (const [name, a, n] of want) {
    if (a.length < n) throw new RangeError(`logitRowSummaries: ${name} has ${a.length} elements, needs at least ${n}`);
  }
}

function edge(lo: number, hi: number, b: number, n: number): number {
  return b === n ? hi : lo + ((hi - lo) * b) / n;
}

function binOf(v: number, lo: number, hi: number, n: number, scale: number): number {
  let b = Math.floor((v - lo) * scale);
  if (!(b >= 0)) b = 0;
  if (b >= n) b = n - 1;
  // (v − lo)·scale can round across an edge; step until edge(b) ≤ v < edge(b + 1) (one step in practice).
  while (b < n - 1 && v >= edge(lo, hi, b + 1, n)) b++;
  while (b > 0 && v < edge(lo, hi, b, n)) b--;
  return b;
}

/**
 * Per row of x [rows, cols]: with `centre`, first subtract the row's mean in place (float64 mean, float32 store);
 * then min, max, mean, population std, the k largest / smallest values with their columns (scanned in column
 * order, kept sorted by insertion, so ties go to the smaller column) and the `bins`-bin histogram of [min, max].
 * Returns −1, or row·cols + col of the first non-finite value (rows after it are left unsummarised).
 */
export function logitRowSummariesJs(x: Float32Array, rows: number, cols: number, centre: boolean, k: number, bins: number, out: LogitRowSummaryOut): number {
  checkLogitRowSummaries(x, rows, cols, k, bins, out);
  const { topTok, topVal, botTok, botVal, counts, stats } = out;
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    if (centre) {
      let s = 0;
      for (let t = 0; t < cols; t++) s += row[t]!;
      const m = s / cols;
      for (let t = 0; t < cols; t++) row[t] = row[t]! - m;
    }
    const kb = r * k;
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let nHi = 0;
    let nLo = 0;
    for (let t = 0; t < cols; t++) {
      const v = row[t]!;
      if (!Number.isFinite(v)) return r * cols + t;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      if (k === 0) continue;
      if (nHi < k || v > topVal[kb + k - 1]!) {
        let i = nHi < k ? nHi++ : k - 1;
        while (i > 0 && v > topVal[kb + i - 1]!) {
          topVal[kb + i] = topVal[kb + i - 1]!;
          topTok[kb + i] = topTok[kb + i - 1]!;
          i--;
        }
        topVal[kb + i] = v;
        topTok[kb + i] = t;
      }
      if (nLo < k || v < botVal[kb + k - 1]!) {
        let i = nLo < k ? nLo++ : k - 1;
        while (i > 0 && v < botVal[kb + i - 1]!) {
          botVal[kb + i] = botVal[kb + i - 1]!;
          botTok[kb + i] = botTok[kb + i - 1]!;
          i--;
        }
        botVal[kb + i] = v;
        botTok[kb + i] = t;
      }
    }
    const mean = sum / cols;
    let ss = 0;
    const cb = r * bins;
    counts.fill(0, cb, cb + bins);
    const scale = hi > lo ? bins / (hi - lo) : 0;
    for (let t = 0; t < cols; t++) {
      const v = row[t]!;
      const d = v - mean;
      ss += d * d;
      counts[cb + (hi > lo ? binOf(v, lo, hi, bins, scale) : bins - 1)]! += 1;
    }
    stats[4 * r] = lo;
    stats[4 * r + 1] = hi;
    stats[4 * r + 2] = mean;
    stats[4 * r + 3] = Math.sqrt(ss / cols);
  }
  return -1;
}
