/**
 * Argument checks shared by the kernel backends. They run once per call (never per element), so the native
 * addon can trust the extents it is given and a bad call gets an error naming the kernel and the argument.
 */

export interface Sized {
  readonly length: number;
}

export function checkDim(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${kernel}: ${name} must be a non-negative integer, got ${value}`);
  }
}

export function checkLength(kernel: string, name: string, arr: Sized, needed: number): void {
  if (arr.length < needed) {
    throw new RangeError(`${kernel}: ${name} has ${arr.length} elements, needs at least ${needed}`);
  }
}

/** Elements a row-major matrix view of rows×cols with leading dimension ld spans. */
export function matrixExtent(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function checkMatrix(
  kernel: string, name: string, arr: Sized, rows: number, cols: number, ld: number,
): void {
  if (!Number.isInteger(ld) || ld < cols || ld < 1) {
    throw new RangeError(`${kernel}: leading dimension of ${name} must be an integer ≥ ${Math.max(cols, 1)}, got ${ld}`);
  }
  checkLength(kernel, name, arr, matrixExtent(rows, cols, ld));
}

/** Checks every extent of C = alpha·op(A)·op(B) + beta·C. */
export function checkGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  a: Sized, lda: number, b: Sized, ldb: number, c: Sized, ldc: number,
): void {
  checkDim("gemm", "M", M);
  checkDim("gemm", "N", N);
  checkDim("gemm", "K", K);
  if (transA) checkMatrix("gemm", "A (transposed, K×M)", a, K, M, lda);
  else checkMatrix("gemm", "A (M×K)", a, M, K, lda);
  if (transB) checkMatrix("gemm", "B (transposed, N×K)", b, N, K, ldb);
  else checkMatrix("gemm", "B (K×N)", b, K, N, ldb);
  checkMatrix("gemm", "C (M×N)", c, M, N, ldc);
}

export function checkSameLength(kernel: string, names: string[], arrays: Sized[]): void {
  const n = arrays[0]!.length;
  for (let i = 1; i < arrays.length; i++) {
    if (arrays[i]!.length !== n) {
      throw new RangeError(
        `${kernel}: ${names[i]} has ${arrays[i]!.length} elements but ${names[0]} has ${n}`,
      );
    }
  }
}

/** Checks a rows×cols kernel call: dimensions, and that each array holds rows·cols elements. */
export function checkRows(kernel: string, rows: number, cols: number, arrays: Sized[], names: string[]): void {
  checkDim(kernel, "rows", rows);
  checkDim(kernel, "cols", cols);
  for (let i = 0; i < arrays.length; i++) checkLength(kernel, names[i]!, arrays[i]!, rows * cols);
}

/** Extents and targets of softmaxCrossEntropyRows (an out-of-range target would index past the row). */
export function checkCrossEntropy(
  rows: number, cols: number, x: Sized, targets: Int32Array, ignoreIndex: number, nll: Sized,
): void {
  const kernel = "softmaxCrossEntropyRows";
  checkRows(kernel, rows, cols, [x], ["x"]);
  checkLength(kernel, "targets", targets, rows);
  checkLength(kernel, "nll", nll, rows);
  if (!Number.isInteger(ignoreIndex)) throw new RangeError(`${kernel}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t !== ignoreIndex && (t < 0 || t >= cols)) {
      throw new RangeError(`${kernel}: target ${t} at row ${r} is outside [0, ${cols}) and not ignoreIndex ${ignoreIndex}`);
    }
  }
}

/** Extents of positiveRowsToSparse: x rows×cols, values/indices rows×k, counts rows. */
export function checkPositiveRows(
  rows: number, cols: number, k: number, x: Sized, values: Sized, indices: Sized, counts: Sized,
): void {
  const kernel = "positiveRowsToSparse";
  checkRows(kernel, rows, cols, [x], ["x"]);
  checkDim(kernel, "k", k);
  checkLength(kernel, "values", values, rows * k);
  checkLength(kernel, "indices", indices, rows * k);
  checkLength(kernel, "counts", counts, rows);
}

/** Extents of layerNorm / layerNormBackward: the [rows, cols] arrays, the per-column params, mean and rstd. */
export function checkLayerNorm(
  kernel: string, rows: number, cols: number, matrices: Record<string, Sized>, columns: Record<string, Sized | null>,
  mean: Sized, rstd: Sized,
): void {
  checkRows(kernel, rows, cols, Object.values(matrices), Object.keys(matrices));
  for (const [name, arr] of Object.entries(columns)) if (arr) checkLength(kernel, name, arr, cols);
  checkLength(kernel, "mean", mean, rows);
  checkLength(kernel, "rstd", rstd, rows);
}

export function checkTopk(rows: number, cols: number, k: number): void {
  checkDim("topkRows", "rows", rows);
  checkDim("topkRows", "cols", cols);
  if (!Number.isInteger(k) || k < 1 || k > cols) {
    throw new RangeError(`topkRows: k must be an integer in [1, cols=${cols}], got ${k}`);
  }
}

/** Checks for sparseDecode / sparseDecodeBackward; W is m×n with m = w.length / n. */
export function checkSparse(
  kernel: string, rows: number, k: number, indices: Sized, values: Sized, w: Sized, n: number, dense: Sized,
  denseName: string,
): void {
  checkDim(kernel, "rows", rows);
  checkDim(kernel, "k", k);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${kernel}: n must be a positive integer, got ${n}`);
  checkLength(kernel, "indices", indices, rows * k);
  checkLength(kernel, "values", values, rows * k);
  if (w.length % n !== 0) throw new RangeError(`${kernel}: W length ${w.length} is not a multiple of n=${n}`);
  checkLength(kernel, denseName, dense, rows * n);
}

/** Sparse indices must lie in [-1, m) (negative = padding); checked in one pass because W rows are read by index. */
export function checkSparseIndices(kernel: string, indices: Int32Array, count: number, m: number): void {
  for (let i = 0; i < count; i++) {
    const v = indices[i]!;
    if (v >= m) throw new RangeError(`${kernel}: indices[${i}] = ${v} is out of range for W with ${m} rows`);
  }
}
