/** Shared helpers for numeric tests: random inputs, a naive GEMM reference, elementwise closeness checks. */
import { expect } from "vitest";
import type { FloatArray } from "../../src/core/kernels.js";
import { Rng } from "../../src/core/rng.js";

export type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

export function randomArray(ctor: FloatCtor, n: number, rng: Rng, lo = -1, hi = 1): FloatArray {
  const a = new ctor(n);
  rng.fillUniform(a, lo, hi);
  return a;
}

export function randomFloat32(n: number, rng: Rng, lo = -1, hi = 1): Float32Array {
  return randomArray(Float32Array, n, rng, lo, hi) as Float32Array;
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (NaN must match NaN, ±Infinity must match
 * exactly) and reports the first offending index.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) {
        expect.fail(`index ${i}: expected ${e}, got ${a}`);
      }
      continue;
    }
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`index ${i}: expected ${e}, got ${a} (|diff| ${Math.abs(a - e)} > ${atol} + ${rtol}·|expected|)`);
    }
  }
}

/** C = alpha·op(A)·op(B) + beta·C by the definition, in float64 (beta = 0 ignores C, NaN included). */
export function naiveGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  a: ArrayLike<number>, lda: number, b: ArrayLike<number>, ldb: number, beta: number, c: ArrayLike<number>,
  ldc: number,
): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) {
        const aip = transA ? a[p * lda + i]! : a[i * lda + p]!;
        const bpj = transB ? b[j * ldb + p]! : b[p * ldb + j]!;
        s += aip * bpj;
      }
      out[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * ldc + j]!);
    }
  }
  return out;
}

/** Dense rows×m code matrix of a sparse code (repeated indices add, padding is skipped). */
export function denseCodes(
  rows: number, k: number, m: number, indices: Int32Array, values: ArrayLike<number>,
): Float64Array {
  const codes = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const idx = indices[r * k + j]!;
      if (idx >= 0) codes[r * m + idx] += values[r * k + j]!;
    }
  }
  return codes;
}
