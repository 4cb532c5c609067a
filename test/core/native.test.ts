/**
 * The native kernels (every instruction-set path this CPU supports) against the pure-TS reference and a naive
 * loop, on random inputs with awkward sizes, transposes, strides, and sizes large enough to cross every cache
 * block boundary and use the thread pool.
 */
import { afterAll, describe, expect, it } from "vitest";
import { jsKernels } from "../../src/core/kernels-js.js";
import type { Kernels } from "../../src/core/kernels.js";
import { loadNativeKernels } from "../../src/core/native.js";
import { Rng } from "../../src/core/rng.js";
import { denseCodes, expectClose, naiveGemm, randomFloat32 } from "../helpers/numeric.js";

const probe = loadNativeKernels(2);
const requestedIsa = process.env.SAEKIT_ISA;

/** Native kernels forced onto one ISA; undefined when this CPU lacks it. */
function nativeFor(isa: string): Kernels | undefined {
  process.env.SAEKIT_ISA = isa;
  try {
    const loaded = loadNativeKernels(2);
    return loaded.kernels && loaded.kernels.isa === isa ? loaded.kernels : undefined;
  } finally {
    if (requestedIsa === undefined) delete process.env.SAEKIT_ISA;
    else process.env.SAEKIT_ISA = requestedIsa;
  }
}

afterAll(() => {
  loadNativeKernels(); // leave the addon on the best ISA for later files in this worker
});

const js = jsKernels as Kernels;

describe.skipIf(!probe.kernels)("native addon", () => {
  it("loads and reports the CPU features it found", () => {
    expect(probe.kernels!.name).toBe("native");
    expect(["avx512", "avx2", "scalar"]).toContain(probe.kernels!.isa);
    expect(probe.kernels!.threads).toBe(2);
    if (probe.kernels!.isa === "avx512") expect(probe.cpuFeatures).toContain("avx512f");
  });
});

for (const isa of ["avx512", "avx2", "scalar"]) {
  describe.skipIf(!probe.kernels)(`native kernels (${isa})`, () => {
    const get = (): Kernels => {
      const k = nativeFor(isa);
      if (!k) throw new Error(`unreachable: ${isa} requested but not available`);
      return k;
    };
    const available = probe.kernels ? nativeFor(isa) !== undefined : false;
    const test = available ? it : it.skip;
    if (!available) it.skip(`${isa} is not supported by this CPU`, () => {});

    test("gemm matches a naive loop for awkward shapes, transposes, strides, alpha and beta", () => {
      const nk = get();
      const rng = new Rng(11);
      const shapes: [number, number, number][] = [
        [1, 1, 1], [7, 33, 1], [33, 7, 100], [1, 1000, 7], [65, 17, 129], [13, 35, 257], [25, 33, 31],
      ];
      for (const [M, N, K] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const beta of [0, 1, 0.5]) {
              const lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 2, ldc = N + 5;
              const a = randomFloat32((transA ? K : M) * lda, rng);
              const b = randomFloat32((transB ? N : K) * ldb, rng);
              const c = beta === 0 ? new Float32Array(M * ldc).fill(Number.NaN) : randomFloat32(M * ldc, rng);
              const expected = naiveGemm(transA, transB, M, N, K, 1.5, a, lda, b, ldb, beta, c, ldc);
              // Padding columns of C (j ≥ N) must be left untouched.
              for (let i = 0; i < M; i++) for (let j = N; j < ldc; j++) expected[i * ldc + j] = c[i * ldc + j]!;
              nk.gemm(transA, transB, M, N, K, 1.5, a, lda, b, ldb, beta, c, ldc);
              expectClose(c, expected, 1e-5 * Math.sqrt(K) + 1e-6, 1e-5);
            }
          }
        }
      }
    });

    test("gemm crosses every cache block and thread split (K > KC, N > NC, many row panels)", () => {
      const nk = get();
      const rng = new Rng(12);
      for (const [M, N, K, transA, transB] of [
        [300, 3100, 300, false, false], [3100, 40, 290, true, true], [97, 515, 520, false, true], [530, 97, 259, true, false],
      ] as [number, number, number, boolean, boolean][]) {
        const a = randomFloat32(M * K, rng), b = randomFloat32(K * N, rng);
        const lda = transA ? M : K, ldb = transB ? K : N;
        const c = randomFloat32(M * N, rng);
        const ref = Float32Array.from(c);
        nk.gemm(transA, transB, M, N, K, 1, a, lda, b, ldb, 0.25, c, N);
        js.gemm(transA, transB, M, N, K, 1, a, lda, b, ldb, 0.25, ref, N);
        expectClose(c, ref, 2e-4, 1e-4);
      }
    });

    test("gemm with K = 0 or alpha = 0 scales C by beta", () => {
      const nk = get();
      const c = new Float32Array([1, 2, 3, 4]);
      nk.gemm(false, false, 2, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 0.5, c, 2);
      expect(Array.from(c)).toEqual([0.5, 1, 1.5, 2]);
      nk.gemm(false, false, 2, 2, 1, 0, new Float32Array(2), 1, new Float32Array(2), 2, 0, c, 2);
      expect(Array.from(c)).toEqual([0, 0, 0, 0]);
    });

    test("elementwise, softmax, layer norm, reductions and AdamW agree with the TS kernels", () => {
      const nk = get();
      const rng = new Rng(13);
      for (const [rows, cols] of [[1, 1], [7, 33], [33, 1000], [70, 1025]] as [number, number][]) {
        const n = rows * cols;
        const x = randomFloat32(n, rng, -4, 4), dy = randomFloat32(n, rng);
        const pair = () => [new Float32Array(n), new Float32Array(n)] as const;
        for (const approx of ["tanh", "erf"] as const) {
          const [a, b] = pair();
          nk.gelu(x, a, approx);
          js.gelu(x, b, approx);
          expectClose(a, b, 1e-6, 1e-5);
          nk.geluBackward(x, dy, a, approx);
          js.geluBackward(x, dy, b, approx);
          expectClose(a, b, 1e-6, 1e-5);
        }
        {
          const [a, b] = pair();
          nk.relu(x, a);
          js.relu(x, b);
          expectClose(a, b, 0);
          nk.reluBackward(x, dy, a);
          js.reluBackward(x, dy, b);
          expectClose(a, b, 0);
        }
        // Mask the upper triangle like causal attention, so -Infinity handling is compared too.
        const masked = Float32Array.from(x);
        for (let r = 0; r < rows; r++) for (let c = r + 1; c < cols; c++) if ((r + c) % 3 === 0) masked[r * cols + c] = -Infinity;
        {
          const [a, b] = pair();
          nk.softmaxRows(masked, a, rows, cols);
          js.softmaxRows(masked, b, rows, cols);
          expectClose(a, b, 1e-7, 1e-5);
          const [da, db] = pair();
          nk.softmaxRowsBackward(b, dy, da, rows, cols);
          js.softmaxRowsBackward(b, dy, db, rows, cols);
          expectClose(da, db, 1e-6, 1e-4);
          nk.logSoftmaxRows(x, a, rows, cols);
          js.logSoftmaxRows(x, b, rows, cols);
          expectClose(a, b, 1e-5, 1e-5);
          nk.logSoftmaxRowsBackward(b, dy, da, rows, cols);
          js.logSoftmaxRowsBackward(b, dy, db, rows, cols);
          expectClose(da, db, 1e-5, 1e-4);
        }
        {
          // ReLU codes as sparse rows: dense rows (k too small: counts still exact), sparse rows, odd widths.
          for (const [r, c, kk, shift] of [[9, 37, 4, 0], [17, 300, 40, -1.2], [5, 16, 16, 0.5]] as const) {
            const m = randomFloat32(r * c, rng, -1 + shift, 1 + shift);
            const va = new Float32Array(r * kk), vb = new Float32Array(r * kk);
            const ia = new Int32Array(r * kk), ib = new Int32Array(r * kk);
            const ca = new Int32Array(r), cb = new Int32Array(r);
            expect(nk.positiveRowsToSparse(m, r, c, kk, va, ia, ca)).toBe(js.positiveRowsToSparse(m, r, c, kk, vb, ib, cb));
            expect(Array.from(ia)).toEqual(Array.from(ib));
            expect(Array.from(va)).toEqual(Array.from(vb));
            expect(Array.from(ca)).toEqual(Array.from(cb));
          }
          const g = randomFloat32(rows * cols, rng), w = randomFloat32(rows * cols, rng);
          w.fill(0, 0, cols); // a zero row is left alone
          const [ga, gb] = [Float32Array.from(g), Float32Array.from(g)];
          nk.projectOutRows(ga, w, rows, cols);
          js.projectOutRows(gb, w, rows, cols);
          expectClose(ga, gb, 1e-5, 1e-4);
          const [wa, wb] = [Float32Array.from(w), Float32Array.from(w)];
          const na = new Float32Array(rows), nb = new Float32Array(rows);
          nk.normalizeRows(wa, rows, cols, na);
          js.normalizeRows(wb, rows, cols, nb);
          expectClose(wa, wb, 1e-6, 1e-5);
          expectClose(na, nb, 1e-6, 1e-5);
        }
        {
          // Fused cross-entropy on vocabulary-length rows with extreme logits (exp under/overflow ranges).
          const crossRows = 5, vocab = 50257;
          const logits = randomFloat32(crossRows * vocab, rng, -30, 30);
          logits[7] = 95; // row 0 dominated by one logit
          const targets = Int32Array.from([7, -1, 123, 50256, 0]);
          for (const gradScale of [null, 0.25]) {
            const a = Float32Array.from(logits), b = Float32Array.from(logits);
            const nllA = new Float32Array(crossRows), nllB = new Float32Array(crossRows);
            nk.softmaxCrossEntropyRows(a, crossRows, vocab, targets, -1, gradScale, nllA);
            js.softmaxCrossEntropyRows(b, crossRows, vocab, targets, -1, gradScale, nllB);
            expect(nllA[1]).toBeNaN();
            nllA[1] = nllB[1] = 0;
            expectClose(nllA, nllB, 1e-4, 1e-5);
            expectClose(a, b, 1e-7, 1e-4);
          }
        }
        for (const affine of [true, false]) {
          const w = affine ? randomFloat32(cols, rng) : null, bias = affine ? randomFloat32(cols, rng) : null;
          const [a, b] = pair();
          const meanA = new Float32Array(rows), meanB = new Float32Array(rows);
          const rstdA = new Float32Array(rows), rstdB = new Float32Array(rows);
          nk.layerNorm(x, rows, cols, w, bias, 1e-5, a, meanA, rstdA);
          js.layerNorm(x, rows, cols, w, bias, 1e-5, b, meanB, rstdB);
          expectClose(a, b, 1e-4, 1e-4);
          expectClose(meanA, meanB, 1e-6, 1e-5);
          expectClose(rstdA, rstdB, 1e-6, 1e-4);
          const dwA = affine ? randomFloat32(cols, rng) : null, dbA = affine ? randomFloat32(cols, rng) : null;
          const dwB = dwA ? Float32Array.from(dwA) : null, dbB = dbA ? Float32Array.from(dbA) : null;
          nk.layerNormBackward(x, dy, rows, cols, w, meanB, rstdB, a, dwA, dbA);
          js.layerNormBackward(x, dy, rows, cols, w, meanB, rstdB, b, dwB, dbB);
          expectClose(a, b, 1e-4, 1e-3);
          if (dwA) expectClose(dwA, dwB!, 1e-4 * rows, 1e-4);
          if (dbA) expectClose(dbA, dbB!, 1e-4 * rows, 1e-4);
        }
        for (const accumulate of [false, true]) {
          const outA = randomFloat32(cols, rng), outB = Float32Array.from(outA);
          nk.sumOverRows(x, rows, cols, outA, accumulate);
          js.sumOverRows(x, rows, cols, outB, accumulate);
          expectClose(outA, outB, 1e-4 * rows, 1e-5);
          const colA = randomFloat32(rows, rng), colB = Float32Array.from(colA);
          nk.sumOverCols(x, rows, cols, colA, accumulate);
          js.sumOverCols(x, rows, cols, colB, accumulate);
          expectClose(colA, colB, 1e-4 * cols, 1e-5);
        }
        {
          const bias = randomFloat32(cols, rng);
          const a = Float32Array.from(x), b = Float32Array.from(x);
          nk.addBias(a, rows, cols, bias);
          js.addBias(b, rows, cols, bias);
          expectClose(a, b, 0);
          nk.axpy(0.3, dy, a);
          js.axpy(0.3, dy, b);
          expectClose(a, b, 1e-6, 1e-6);
          nk.scale(a, -1.5);
          js.scale(b, -1.5);
          expectClose(a, b, 1e-6, 1e-6);
        }
        {
          const pA = Float32Array.from(x), pB = Float32Array.from(x);
          const mA = randomFloat32(n, rng), mB = Float32Array.from(mA);
          const vA = randomFloat32(n, rng, 0, 1), vB = Float32Array.from(vA);
          nk.adamwStep(pA, dy, mA, vA, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3);
          js.adamwStep(pB, dy, mB, vB, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3);
          expectClose(pA, pB, 1e-6, 1e-5);
          expectClose(mA, mB, 1e-7, 1e-6);
          expectClose(vA, vB, 1e-7, 1e-6);
        }
      }
    });

    test("topkRows matches the TS kernel exactly, ties included", () => {
      const nk = get();
      const rng = new Rng(14);
      // The wide cases take the sampled-threshold path (k ≪ cols); quantised rows, a constant row and a row whose
      // large values all sit after the sample force its exact fallback.
      for (const [rows, cols, k] of [[1, 1, 1], [5, 7, 7], [33, 100, 5], [9, 1000, 32], [64, 4099, 17], [40, 4096, 32], [6, 16384, 8]] as [number, number, number][]) {
        const x = randomFloat32(rows * cols, rng);
        if (cols >= 4096) {
          x.fill(0.5, 2 * cols, 3 * cols);
          for (let c = 0; c < cols; c++) x[3 * cols + c] = c < 256 ? 1 : c / cols;
        }
        // Quantise some rows so ties are common.
        for (let i = 0; i < x.length; i += 3) x[i] = Math.round(x[i]! * 4) / 4;
        // NaN ranks above every number (as torch.topk); two NaNs in one row tie on index.
        x[Math.floor(x.length / 2)] = Number.NaN;
        if (cols > 3) x[cols + 3 < x.length ? cols + 3 : 2] = Number.NaN;
        if (cols > 3) x[cols > 7 ? 7 : 1] = Number.NaN;
        const va = new Float32Array(rows * k), vb = new Float32Array(rows * k);
        const ia = new Int32Array(rows * k), ib = new Int32Array(rows * k);
        nk.topkRows(x, rows, cols, k, va, ia);
        js.topkRows(x, rows, cols, k, vb, ib);
        expect(Array.from(ia)).toEqual(Array.from(ib));
        expect(Array.from(va).map(String)).toEqual(Array.from(vb).map(String));
        // With a column bias: the same as ranking x + bias (formed in float32), native and TS alike.
        const bias = randomFloat32(cols, rng);
        const shifted = Float32Array.from(x, (v, i) => v + bias[i % cols]!);
        const vc = new Float32Array(rows * k), ic = new Int32Array(rows * k);
        nk.topkRows(x, rows, cols, k, va, ia, bias);
        js.topkRows(x, rows, cols, k, vb, ib, bias);
        nk.topkRows(shifted, rows, cols, k, vc, ic);
        expect(Array.from(ia)).toEqual(Array.from(ic));
        expect(Array.from(ib)).toEqual(Array.from(ic));
        expect(Array.from(va).map(String)).toEqual(Array.from(vc).map(String));
      }
    });

    // The last shape has many slots per feature: the weight gradient is bucketed by blocks of rows (4 blocks of 76).
    test("sparseDecode and its backward match the dense products (padding and repeats included)", () => {
      const nk = get();
      const rng = new Rng(15);
      for (const [rows, k, m, n] of [[1, 1, 1, 1], [7, 3, 20, 33], [33, 8, 100, 256], [50, 32, 600, 512], [20, 5, 64, 300], [301, 16, 8, 260]] as [number, number, number, number][]) {
        const w = randomFloat32(m * n, rng);
        const indices = new Int32Array(rows * k);
        for (let i = 0; i < indices.length; i++) indices[i] = i % 7 === 3 ? -1 : rng.int(m);
        if (rows * k > 2) indices[1] = indices[0]!; // a repeated latent within a row
        const values = randomFloat32(rows * k, rng);
        const codes = denseCodes(rows, k, m, indices, values);
        for (const accumulate of [false, true]) {
          const out = randomFloat32(rows * n, rng);
          const expected = naiveGemm(false, false, rows, n, m, 1, codes, m, w, n, accumulate ? 1 : 0, out, n);
          nk.sparseDecode(rows, k, indices, values, w, n, out, accumulate);
          expectClose(out, expected, 1e-5, 1e-5);
        }
        const dOut = randomFloat32(rows * n, rng);
        const dValues = new Float32Array(rows * k), dValuesRef = new Float32Array(rows * k);
        const dW = randomFloat32(m * n, rng), dWRef = Float32Array.from(dW);
        nk.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValues, dW);
        js.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValuesRef, dWRef);
        expectClose(dValues, dValuesRef, 1e-5, 1e-4);
        expectClose(dW, dWRef, 1e-5, 1e-5);
      }
    });
  });
}

describe.skipIf(!probe.kernels)("native argument checks", () => {
  it("rejects short arrays and wrong types with errors naming the kernel and argument", () => {
    const nk = probe.kernels!;
    expect(() => nk.gemm(false, false, 2, 2, 2, 1, new Float32Array(3), 2, new Float32Array(4), 2, 0, new Float32Array(4), 2))
      .toThrow(/gemm: A \(M×K\) has 3 elements, needs at least 4/);
    expect(() => nk.gemm(false, false, 2, 2, 2, 1, new Float32Array(4), 1, new Float32Array(4), 2, 0, new Float32Array(4), 2))
      .toThrow(/gemm: leading dimension of A/);
    expect(() => nk.topkRows(new Float32Array(4), 2, 2, 3, new Float32Array(6), new Int32Array(6))).toThrow(/topkRows: k/);
    expect(() => nk.sparseDecode(1, 1, new Int32Array([5]), new Float32Array(1), new Float32Array(8), 4, new Float32Array(4), false))
      .toThrow(/sparseDecode: indices\[0\] = 5 is out of range for W with 2 rows/);
    expect(() => nk.relu(new Float64Array(4) as unknown as Float32Array, new Float32Array(4))).toThrow(/Float32Array/);
  });

  it("gemmAsync gives the same result without blocking the event loop", async () => {
    const nk = probe.kernels!;
    const rng = new Rng(16);
    const M = 512, N = 1024, K = 1024;
    const a = randomFloat32(M * K, rng), b = randomFloat32(K * N, rng);
    const sync = new Float32Array(M * N), async = new Float32Array(M * N);
    nk.gemm(false, false, M, N, K, 1, a, K, b, N, 0, sync, N);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const started = Date.now();
    await Promise.all([nk.gemmAsync(false, false, M, N, K, 1, a, K, b, N, 0, async, N),
      new Promise((resolve) => setTimeout(resolve, 1))]);
    clearInterval(timer);
    expect(Array.from(async.subarray(0, 100))).toEqual(Array.from(sync.subarray(0, 100)));
    expectClose(async, sync, 0);
    // The event loop kept running while the product was computed (at least the 1 ms timer fired).
    expect(ticks).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(0);
  });
});
