import { describe, it, expect } from "vitest";
import { erf, erfc, jsKernels as K } from "../../src/core/kernels-js.js";
import type { FloatArray, GeluApprox } from "../../src/core/kernels.js";
import { Rng } from "../../src/core/rng.js";
import { denseCodes, expectClose, naiveGemm, randomArray } from "../helpers/numeric.js";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
const CTORS: [string, Ctor][] = [["Float32Array", Float32Array], ["Float64Array", Float64Array]];

const random = randomArray;

/** Rounds a float64 reference through the array type under test (so float32 references match float32 inputs). */
function as(ctor: Ctor, values: ArrayLike<number>): FloatArray {
  return ctor.from(values);
}

/** Tolerances: float64 should agree to rounding; float32 to a few float32 ulps. */
function tol(ctor: Ctor): number {
  return ctor === Float64Array ? 1e-12 : 2e-6;
}

// ---------------------------------------------------------------------------------------------------------------
// Naive references (deliberately simple, float64)


/** Central finite difference of a scalar function of one array entry. */
function centralDifference(x: Float64Array, i: number, loss: () => number, eps = 1e-6): number {
  const saved = x[i]!;
  x[i] = saved + eps;
  const up = loss();
  x[i] = saved - eps;
  const down = loss();
  x[i] = saved;
  return (up - down) / (2 * eps);
}

/** Checks every entry of `analytic` against the finite-difference gradient of loss with respect to x. */
function expectGradient(x: Float64Array, analytic: ArrayLike<number>, loss: () => number, rtol = 1e-6): void {
  const fd = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) fd[i] = centralDifference(x, i, loss);
  const scale = Math.max(...Array.from(fd, Math.abs), 1e-3);
  expectClose(analytic, fd, rtol * scale, rtol);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---------------------------------------------------------------------------------------------------------------

describe("jsKernels identity", () => {
  it("reports a single-threaded js backend", () => {
    expect(K.name).toBe("js");
    expect(K.isa).toBe("js");
    expect(K.threads).toBe(1);
    K.setThreads(8);
    expect(K.threads).toBe(1);
  });
});

describe("gemm", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [7, 33, 1], [33, 7, 100], [65, 17, 129], [3, 1000, 5], [5, 6, 7], [4, 2, 10],
  ];
  const transposes: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
  for (const [typeName, ctor] of CTORS) {
    for (const [M, N, Kd] of shapes) {
      for (const [tA, tB] of transposes) {
        it(`${typeName} M=${M} N=${N} K=${Kd} transA=${tA} transB=${tB}, padded leading dims`, () => {
          const rng = new Rng(M * 1000 + N * 10 + Kd + (tA ? 1e6 : 0) + (tB ? 2e6 : 0));
          const aRows = tA ? Kd : M;
          const aCols = tA ? M : Kd;
          const bRows = tB ? N : Kd;
          const bCols = tB ? Kd : N;
          const lda = aCols + 3;
          const ldb = bCols + 5;
          const ldc = N + 2;
          const a = random(ctor, aRows * lda, rng);
          const b = random(ctor, bRows * ldb, rng);
          for (const beta of [0, 1, 0.5]) {
            const alpha = -1.75;
            const c = random(ctor, M * ldc, rng);
            if (beta === 0) c.fill(NaN); // must be ignored inside the matrix, left alone in the padding
            const expected = naiveGemm(tA, tB, M, N, Kd, alpha, a, lda, b, ldb, beta, c, ldc);
            K.gemm(tA, tB, M, N, Kd, alpha, a, lda, b, ldb, beta, c, ldc);
            const scale = Math.sqrt(Kd) * 2;
            expectClose(c, expected, tol(ctor) * scale, tol(ctor));
          }
        });
      }
    }
  }

  it("K = 0 scales C by beta", () => {
    const c = new Float64Array([1, 2, 3, 4]);
    K.gemm(false, false, 2, 2, 0, 1, new Float64Array(0), 1, new Float64Array(0), 2, 0.5, c, 2);
    expectClose(c, [0.5, 1, 1.5, 2], 0);
  });

  it("gemmAsync resolves with the same result as gemm", async () => {
    const rng = new Rng(5);
    const a = random(Float32Array, 7 * 9, rng);
    const b = random(Float32Array, 9 * 4, rng);
    const c1 = new Float32Array(7 * 4);
    const c2 = new Float32Array(7 * 4);
    K.gemm(false, false, 7, 4, 9, 1, a, 9, b, 4, 0, c1, 4);
    await K.gemmAsync(false, false, 7, 4, 9, 1, a, 9, b, 4, 0, c2, 4);
    expect(Array.from(c2)).toEqual(Array.from(c1));
  });

  it("rejects short arrays and bad leading dimensions with RangeErrors naming the argument", async () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    const c = new Float32Array(4);
    expect(() => K.gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, new Float32Array(3), 2)).toThrow(/C \(M×N\)/);
    expect(() => K.gemm(false, false, 2, 2, 4, 1, a, 4, new Float32Array(8), 2, 0, c, 2)).toThrow(/A \(M×K\)/);
    expect(() => K.gemm(false, true, 2, 2, 3, 1, a, 3, new Float32Array(5), 3, 0, c, 2)).toThrow(/B \(transposed/);
    expect(() => K.gemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2)).toThrow(RangeError);
    await expect(K.gemmAsync(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, new Float32Array(3), 2)).rejects.toThrow(
      RangeError,
    );
  });
});

describe("elementwise kernels", () => {
  for (const [typeName, ctor] of CTORS) {
    it(`addBias, axpy, scale (${typeName})`, () => {
      const rng = new Rng(11);
      const rows = 7;
      const cols = 33;
      const x = random(ctor, rows * cols, rng);
      const bias = random(ctor, cols, rng);
      const expected = Float64Array.from(x, (v, i) => v + bias[i % cols]!);
      K.addBias(x, rows, cols, bias);
      expectClose(x, as(ctor, expected), 0);

      const y = random(ctor, 100, rng);
      const z = random(ctor, 100, rng);
      const axpyExpected = Float64Array.from(y, (v, i) => v + 0.3 * z[i]!);
      K.axpy(0.3, z, y);
      expectClose(y, axpyExpected, tol(ctor));

      const s = random(ctor, 100, rng);
      const scaled = Float64Array.from(s, (v) => v * -2.5);
      K.scale(s, -2.5);
      expectClose(s, scaled, tol(ctor));
      expect(() => K.axpy(1, new ctor(3), new ctor(4))).toThrow(RangeError);
    });

    it(`relu forward and in place (${typeName})`, () => {
      const x = as(ctor, [-2, -0.5, 0, 0.25, 3]);
      const out = new ctor(5);
      K.relu(x, out);
      expectClose(out, [0, 0, 0, 0.25, 3], 0);
      K.relu(x, x);
      expectClose(x, [0, 0, 0, 0.25, 3], 0);
    });

    it(`gelu tanh matches the gelu_new formula (${typeName})`, () => {
      const x = random(ctor, 1000, new Rng(3), -6, 6);
      const out = new ctor(1000);
      K.gelu(x, out, "tanh");
      const c = Math.sqrt(2 / Math.PI);
      const expected = Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))));
      expectClose(out, expected, tol(ctor), tol(ctor));
    });
  }

  it("erf and erfc match reference values (Python math.erf / math.erfc)", () => {
    const table: [number, number, number][] = [
      [-3, -0.9999779095030014, 1.9999779095030015],
      [-1.9, -0.9927904292352575, 1.9927904292352574],
      [-0.5, -0.5204998778130465, 1.5204998778130465],
      [0.1, 0.1124629160182849, 0.8875370839817152],
      [1, 0.8427007929497149, 0.15729920705028513],
      [1.99, 0.995111413199617, 0.004888586800383003],
      [2.01, 0.9955248493552482, 0.004475150644751763],
      [2.5, 0.999593047982555, 0.0004069520174449589],
      [4, 0.9999999845827421, 1.541725790028002e-8],
      [6, 1.0, 2.1519736712498916e-17],
    ];
    for (const [z, erfZ, erfcZ] of table) {
      expect(Math.abs(erf(z) - erfZ)).toBeLessThanOrEqual(2e-15);
      expect(Math.abs(erfc(z) - erfcZ)).toBeLessThanOrEqual(1e-16 + 2e-13 * erfcZ);
    }
    expect(erf(0)).toBe(0);
    expect(erfc(40)).toBe(0);
  });

  it("gelu erf matches exact GELU reference values (float64)", () => {
    const table: [number, number][] = [
      [-5, -1.4332578593959731e-6], [-3, -0.004049694094890287], [-2.5, -0.015524163314440348],
      [-1, -0.15865525393145707], [-0.3, -0.1146265733433142], [0, 0], [0.7, 0.5306254434438489],
      [1.5, 1.399789198096713], [3, 2.99595030590511], [6, 5.999999994080474],
    ];
    const x = Float64Array.from(table, ([v]) => v);
    const out = new Float64Array(x.length);
    K.gelu(x, out, "erf");
    expectClose(out, table.map(([, g]) => g), 1e-15, 1e-12);
  });

  for (const approx of ["tanh", "erf"] as GeluApprox[]) {
    it(`geluBackward (${approx}) matches finite differences`, () => {
      const rng = new Rng(approx === "tanh" ? 21 : 22);
      const n = 60;
      const x = random(Float64Array, n, rng, -5, 5) as Float64Array;
      const dy = random(Float64Array, n, rng);
      const dx = new Float64Array(n);
      K.geluBackward(x, dy, dx, approx);
      const out = new Float64Array(n);
      expectGradient(x, dx, () => {
        K.gelu(x, out, approx);
        return dot(out, dy);
      });
      // dx may alias dy.
      const alias = Float64Array.from(dy);
      K.geluBackward(x, alias, alias, approx);
      expectClose(alias, dx, 0);
    });
  }

  it("reluBackward matches finite differences away from the kink", () => {
    const rng = new Rng(23);
    const x = random(Float64Array, 50, rng, -2, 2) as Float64Array;
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) < 1e-3) x[i] = 0.5;
    const dy = random(Float64Array, 50, rng);
    const dx = new Float64Array(50);
    K.reluBackward(x, dy, dx);
    const out = new Float64Array(50);
    expectGradient(x, dx, () => {
      K.relu(x, out);
      return dot(out, dy);
    });
    K.reluBackward(new Float64Array([0]), new Float64Array([1]), dx.subarray(0, 1));
    expect(dx[0]).toBe(0); // x = 0 is not > 0
  });
});

describe("softmax", () => {
  function naiveSoftmaxRow(row: number[]): number[] {
    const finite = row.filter((v) => v !== -Infinity);
    if (finite.length === 0) return row.map(() => 0);
    const max = Math.max(...finite);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((v) => v / s);
  }

  for (const [typeName, ctor] of CTORS) {
    it(`softmaxRows / logSoftmaxRows with causal masks and an all-masked row (${typeName})`, () => {
      const rng = new Rng(31);
      const rows = 7;
      const cols = 33;
      const x = random(ctor, rows * cols, rng, -8, 8);
      for (let r = 0; r < rows; r++) for (let c = r + 1; c < cols; c++) x[r * cols + c] = -Infinity;
      x.fill(-Infinity, 6 * cols, 7 * cols);
      const expected: number[] = [];
      for (let r = 0; r < rows; r++) expected.push(...naiveSoftmaxRow(Array.from(x.subarray(r * cols, (r + 1) * cols))));
      const out = new ctor(rows * cols);
      K.softmaxRows(x, out, rows, cols);
      expectClose(out, expected, tol(ctor), tol(ctor));
      expect(Array.from(out.subarray(6 * cols))).toEqual(new Array(cols).fill(0));

      const logOut = new ctor(rows * cols);
      K.logSoftmaxRows(x, logOut, rows, cols);
      const expectedLog = expected.map(Math.log); // log 0 = -Infinity for masked entries
      expectClose(logOut, expectedLog, tol(ctor) * 10, tol(ctor));

      K.softmaxRows(x, x, rows, cols); // in place
      expectClose(x, out, 0);
    });
  }

  it("softmaxRowsBackward and logSoftmaxRowsBackward match finite differences", () => {
    const rng = new Rng(32);
    const rows = 3;
    const cols = 7;
    const masked = 2;
    const x = random(Float64Array, rows * cols, rng, -3, 3) as Float64Array;
    x[masked] = -Infinity; // a masked entry: no gradient flows to or from it
    const dy = random(Float64Array, rows * cols, rng);
    dy[masked] = 0;
    const y = new Float64Array(rows * cols);
    const out = new Float64Array(rows * cols);
    for (const log of [false, true]) {
      const forward = log ? K.logSoftmaxRows : K.softmaxRows;
      const backward = log ? K.logSoftmaxRowsBackward : K.softmaxRowsBackward;
      forward(x, y, rows, cols);
      const dx = new Float64Array(rows * cols);
      backward(y, dy, dx, rows, cols);
      expect(dx[masked]).toBe(0);
      // Σ dy·out over the unmasked entries (out is -Infinity at the masked entry of the log-softmax).
      const loss = () => {
        forward(x, out, rows, cols);
        let s = 0;
        for (let i = 0; i < out.length; i++) if (i !== masked) s += out[i]! * dy[i]!;
        return s;
      };
      expectGradient(x, dx, loss); // perturbing -Infinity leaves it -Infinity: finite difference 0
      // dx may alias dy.
      const alias = Float64Array.from(dy);
      backward(y, alias, alias, rows, cols);
      expectClose(alias, dx, 0);
    }
  });
});

describe("layerNorm", () => {
  for (const [typeName, ctor] of CTORS) {
    it(`forward matches the biased-variance formula, writes mean and rstd (${typeName})`, () => {
      const rng = new Rng(41);
      const rows = 7;
      const cols = 33;
      const eps = 1e-5;
      const x = random(ctor, rows * cols, rng, -2, 3);
      const w = random(ctor, cols, rng);
      const b = random(ctor, cols, rng);
      for (const affine of [true, false]) {
        const out = new ctor(rows * cols);
        const mean = new ctor(rows);
        const rstd = new ctor(rows);
        K.layerNorm(x, rows, cols, affine ? w : null, affine ? b : null, eps, out, mean, rstd);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
          const mu = row.reduce((p, q) => p + q, 0) / cols;
          const variance = row.reduce((p, q) => p + (q - mu) ** 2, 0) / cols;
          const rs = 1 / Math.sqrt(variance + eps);
          expectClose([mean[r]!, rstd[r]!], [mu, rs], tol(ctor), tol(ctor));
          const expected = row.map((v, c) => (affine ? (v - mu) * rs * w[c]! + b[c]! : (v - mu) * rs));
          expectClose(out.subarray(r * cols, (r + 1) * cols), expected, tol(ctor) * 4, tol(ctor));
        }
      }
    });
  }

  for (const affine of [true, false]) {
    it(`backward matches finite differences for dx${affine ? ", dw, db" : " (no w, b)"}`, () => {
      const rng = new Rng(affine ? 42 : 43);
      const rows = 4;
      const cols = 9;
      const eps = 1e-5;
      const x = random(Float64Array, rows * cols, rng, -2, 2) as Float64Array;
      const w = affine ? (random(Float64Array, cols, rng, 0.5, 1.5) as Float64Array) : null;
      const b = affine ? (random(Float64Array, cols, rng) as Float64Array) : null;
      const dy = random(Float64Array, rows * cols, rng);
      const out = new Float64Array(rows * cols);
      const mean = new Float64Array(rows);
      const rstd = new Float64Array(rows);
      const loss = () => {
        K.layerNorm(x, rows, cols, w, b, eps, out, mean, rstd);
        return dot(out, dy);
      };
      loss();
      const dx = new Float64Array(rows * cols);
      // dw, db accumulate: start from known values and subtract them afterwards.
      const dw = new Float64Array(cols).fill(0.25);
      const db = new Float64Array(cols).fill(-0.5);
      K.layerNormBackward(x, dy, rows, cols, w, mean, rstd, dx, affine ? dw : null, affine ? db : null);
      expectGradient(x, dx, loss);
      if (w && b) {
        expectGradient(w, dw.map((v) => v - 0.25), loss);
        expectGradient(b, db.map((v) => v + 0.5), loss);
      }
      // dx may alias dy.
      loss();
      const alias = Float64Array.from(dy);
      K.layerNormBackward(x, alias, rows, cols, w, mean, rstd, alias, null, null);
      expectClose(alias, dx, 1e-14);
    });
  }
});

describe("topkRows", () => {
  /** Full sort with the documented order: value descending, ties → smaller column index. */
  function naiveTopk(row: number[], k: number): { values: number[]; indices: number[] } {
    const order = row.map((v, i) => i).sort((i, j) => (row[j]! - row[i]!) || i - j);
    const top = order.slice(0, k);
    return { values: top.map((i) => row[i]!), indices: top };
  }

  for (const [typeName, ctor] of CTORS) {
    for (const cols of [1, 7, 33, 100, 1000]) {
      it(`${typeName} cols=${cols}, with many ties, k from 1 to cols`, () => {
        const rng = new Rng(cols);
        const rows = 5;
        const x = new ctor(rows * cols);
        // Small integers make ties common; one row is entirely tied.
        for (let i = 0; i < x.length; i++) x[i] = rng.int(7) - 3;
        x.fill(1.5, 0, cols);
        for (const k of [...new Set([1, Math.min(3, cols), Math.min(32, cols), cols])]) {
          const values = new ctor(rows * k);
          const indices = new Int32Array(rows * k);
          K.topkRows(x, rows, cols, k, values, indices);
          for (let r = 0; r < rows; r++) {
            const expected = naiveTopk(Array.from(x.subarray(r * cols, (r + 1) * cols)), k);
            expect(Array.from(indices.subarray(r * k, (r + 1) * k))).toEqual(expected.indices);
            expect(Array.from(values.subarray(r * k, (r + 1) * k))).toEqual(expected.values);
          }
        }
      });
    }
  }

  it("random continuous values", () => {
    const rng = new Rng(77);
    const rows = 3;
    const cols = 1000;
    const k = 17;
    const x = random(Float32Array, rows * cols, rng);
    const values = new Float32Array(rows * k);
    const indices = new Int32Array(rows * k);
    K.topkRows(x, rows, cols, k, values, indices);
    for (let r = 0; r < rows; r++) {
      const expected = naiveTopk(Array.from(x.subarray(r * cols, (r + 1) * cols)), k);
      expect(Array.from(indices.subarray(r * k, (r + 1) * k))).toEqual(expected.indices);
    }
  });

  it("ranks NaN above every number (like torch.topk) and -Infinity last", () => {
    const x = new Float64Array([1, NaN, -Infinity, 5, NaN, 2]);
    const values = new Float64Array(6);
    const indices = new Int32Array(6);
    K.topkRows(x, 1, 6, 6, values, indices);
    expect(Array.from(indices)).toEqual([1, 4, 3, 5, 0, 2]);
    expect(Array.from(values)).toEqual([NaN, NaN, 5, 2, 1, -Infinity]);
  });

  it("rejects k outside [1, cols]", () => {
    const x = new Float32Array(6);
    expect(() => K.topkRows(x, 2, 3, 0, new Float32Array(0), new Int32Array(0))).toThrow(RangeError);
    expect(() => K.topkRows(x, 2, 3, 4, new Float32Array(8), new Int32Array(8))).toThrow(RangeError);
  });
});

describe("sparseDecode", () => {
  const rows = 7;
  const k = 5;
  const m = 33;
  const n = 17;

  /** Random sparse code with padding (-1) slots and a row that repeats one index. */
  function sparseCode(ctor: Ctor, rng: Rng): { indices: Int32Array; values: FloatArray } {
    const indices = new Int32Array(rows * k);
    for (let i = 0; i < indices.length; i++) indices[i] = rng.uniform() < 0.2 ? -1 : rng.int(m);
    indices.set([4, 4, 9, 4, -1], 0);
    indices.fill(-1, (rows - 1) * k, rows * k); // an all-padding row
    return { indices, values: random(ctor, rows * k, rng) };
  }

  for (const [typeName, ctor] of CTORS) {
    it(`forward equals the dense codes × W product, overwrite and accumulate (${typeName})`, () => {
      const rng = new Rng(51);
      const { indices, values } = sparseCode(ctor, rng);
      const w = random(ctor, m * n, rng);
      const codes = denseCodes(rows, k, m, indices, values);
      const start = random(ctor, rows * n, rng);
      for (const accumulate of [false, true]) {
        const out = Float64Array.from(start);
        const typedOut = as(ctor, start);
        if (!accumulate) typedOut.fill(NaN);
        K.sparseDecode(rows, k, indices, values, w, n, typedOut, accumulate);
        const expected = naiveGemm(false, false, rows, n, m, 1, codes, m, w, n, accumulate ? 1 : 0, out, n);
        expectClose(typedOut, expected, tol(ctor) * 4, tol(ctor));
      }
    });

    it(`backward equals dense dOut·Wᵀ (dValues) and codesᵀ·dOut (dW) (${typeName})`, () => {
      const rng = new Rng(52);
      const { indices, values } = sparseCode(ctor, rng);
      const w = random(ctor, m * n, rng);
      const dOut = random(ctor, rows * n, rng);
      const dW0 = random(ctor, m * n, rng);

      const dValues = new ctor(rows * k).fill(NaN); // padding slots must be written as 0
      const dW = as(ctor, dW0);
      K.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValues, dW);

      const denseGrad = naiveGemm(false, true, rows, m, n, 1, dOut, n, w, n, 0, new Float64Array(rows * m), m);
      const expectedDValues = Array.from(indices, (idx, slot) => (idx < 0 ? 0 : denseGrad[Math.floor(slot / k) * m + idx]!));
      expectClose(dValues, expectedDValues, tol(ctor) * 4, tol(ctor));

      const codes = denseCodes(rows, k, m, indices, values);
      const expectedDW = naiveGemm(true, false, m, n, rows, 1, codes, m, dOut, n, 1, dW0, n);
      expectClose(dW, expectedDW, tol(ctor) * 4, tol(ctor));

      // Either output may be skipped.
      const dValuesOnly = new ctor(rows * k);
      K.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValuesOnly, null);
      expectClose(dValuesOnly, dValues, 0);
      const dWOnly = as(ctor, dW0);
      K.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, null, dWOnly);
      expectClose(dWOnly, dW, 0);
    });
  }

  it("rejects an index beyond W's rows", () => {
    const w = new Float32Array(3 * 4);
    const out = new Float32Array(4);
    expect(() => K.sparseDecode(1, 1, new Int32Array([3]), new Float32Array([1]), w, 4, out, false)).toThrow(
      /indices\[0\] = 3/,
    );
  });
});

describe("reductions", () => {
  for (const [typeName, ctor] of CTORS) {
    it(`sumOverRows / sumOverCols, overwrite and accumulate (${typeName})`, () => {
      const rng = new Rng(61);
      const rows = 100;
      const cols = 33;
      const x = random(ctor, rows * cols, rng);
      const colSums = new Float64Array(cols);
      const rowSums = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          colSums[c] += x[r * cols + c]!;
          rowSums[r] += x[r * cols + c]!;
        }
      }
      const overCols = new ctor(cols).fill(NaN);
      K.sumOverRows(x, rows, cols, overCols, false);
      expectClose(overCols, colSums, tol(ctor) * 10, tol(ctor));
      K.sumOverRows(x, rows, cols, overCols, true);
      expectClose(overCols, colSums.map((v) => 2 * v), tol(ctor) * 20, tol(ctor));

      const overRows = new ctor(rows).fill(NaN);
      K.sumOverCols(x, rows, cols, overRows, false);
      expectClose(overRows, rowSums, tol(ctor) * 10, tol(ctor));
      overRows.fill(1);
      K.sumOverCols(x, rows, cols, overRows, true);
      expectClose(overRows, rowSums.map((v) => v + 1), tol(ctor) * 10, tol(ctor));
    });
  }
});

describe("adamwStep", () => {
  it("matches a hand-computed two-step example", () => {
    // lr 0.1, β1 0.9, β2 0.999, eps 1e-8, weight decay 0.01; p0 = 1; g1 = 0.5, g2 = −0.25.
    // Step 1: m = 0.05, v = 0.00025, bc1 = 0.1, bc2 = 0.001 → m̂ = 0.5, √v̂ = 0.5
    //         p = 1 − 0.1·(0.5/(0.5 + 1e-8) + 0.01·1) = 0.89900000199999996…
    // Step 2: m = 0.9·0.05 − 0.1·0.25 = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
    //         bc1 = 0.19, bc2 = 0.001999 → p = 0.871467298705846162599… (second entry has zero gradient:
    //         only decay acts, p = 2·(1 − 0.001)·(1 − 0.001) = 1.996002).
    const lr = 0.1;
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-8;
    const wd = 0.01;
    for (const [, ctor] of CTORS) {
      const p = as(ctor, [1, 2]);
      const m = new ctor(2);
      const v = new ctor(2);
      K.adamwStep(p, as(ctor, [0.5, 0]), m, v, lr, b1, b2, eps, wd, 1 - b1, 1 - b2);
      const t = tol(ctor);
      expectClose(m, [0.05, 0], t, t);
      expectClose(v, [0.00025, 0], t, t);
      expectClose(p, [0.8990000019999999600000008, 1.998], t, t);
      K.adamwStep(p, as(ctor, [-0.25, 0]), m, v, lr, b1, b2, eps, wd, 1 - b1 ** 2, 1 - b2 ** 2);
      expectClose(m, [0.02, 0], t, t);
      expectClose(v, [0.00031225, 0], t, t);
      expectClose(p, [0.8714672987058461625993764, 1.996002], t, t);
    }
  });

  it("rejects mismatched lengths", () => {
    const a = new Float32Array(3);
    expect(() => K.adamwStep(a, new Float32Array(2), a, a, 0.1, 0.9, 0.999, 1e-8, 0, 1, 1)).toThrow(/grad/);
  });

  it("softmaxCrossEntropyRows: nll = −log softmax[target], gradient = scale·(softmax − onehot) (finite differences)", () => {
    const rng = new Rng(33);
    const rows = 4;
    const cols = 9;
    const x = random(Float64Array, rows * cols, rng, -4, 4) as Float64Array;
    const targets = Int32Array.from([3, -100, 0, 8]);
    const nll = new Float64Array(rows);
    K.softmaxCrossEntropyRows(Float64Array.from(x), rows, cols, targets, -100, null, nll);
    const logp = new Float64Array(rows * cols);
    K.logSoftmaxRows(x, logp, rows, cols);
    expect(nll[0]).toBeCloseTo(-logp[3]!, 12);
    expect(nll[1]).toBeNaN();
    expect(nll[2]).toBeCloseTo(-logp[2 * cols]!, 12);
    expect(nll[3]).toBeCloseTo(-logp[3 * cols + 8]!, 12);
    const scale = 0.37;
    const dx = Float64Array.from(x);
    K.softmaxCrossEntropyRows(dx, rows, cols, targets, -100, scale, new Float64Array(rows));
    expect(Array.from(dx.subarray(cols, 2 * cols))).toEqual(new Array(cols).fill(0)); // ignored row
    expectGradient(x, dx, () => {
      const out = new Float64Array(rows);
      K.softmaxCrossEntropyRows(Float64Array.from(x), rows, cols, targets, -100, null, out);
      return scale * (out[0]! + out[2]! + out[3]!);
    });
    expect(() => K.softmaxCrossEntropyRows(x, rows, cols, Int32Array.from([0, 1, 2, 9]), -100, null, nll)).toThrow(
      /target 9 at row 3 is outside \[0, 9\)/,
    );
  });

  it("positiveRowsToSparse, projectOutRows, normalizeRows by hand", () => {
    const x = Float64Array.from([0, 2, -1, 3, /**/ -1, -2, -3, -4, /**/ 5, 6, 7, 8]);
    const values = new Float64Array(6);
    const indices = new Int32Array(6);
    const counts = new Int32Array(3);
    expect(K.positiveRowsToSparse(x, 3, 4, 2, values, indices, counts)).toBe(4);
    expect(Array.from(counts)).toEqual([2, 0, 4]);
    expect(Array.from(indices)).toEqual([1, 3, -1, -1, 0, 1]);
    expect(Array.from(values)).toEqual([2, 3, 0, 0, 5, 6]);
    const w = Float64Array.from([3, 4, 0, 0]);
    const g = Float64Array.from([1, 1, 2, 5]);
    K.projectOutRows(g, w, 2, 2);
    // g − (g·w/‖w‖²) w = (1,1) − (7/25)(3,4); the zero row is unchanged.
    expectClose(g, [1 - 21 / 25, 1 - 28 / 25, 2, 5], 1e-15);
    const norms = new Float64Array(2);
    K.normalizeRows(w, 2, 2, norms);
    expect(Array.from(w)).toEqual([0.6, 0.8, 0, 0]);
    expect(Array.from(norms)).toEqual([5, 0]);
  });
});
