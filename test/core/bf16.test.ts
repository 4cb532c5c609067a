/**
 * bf16 products (gemm at precision "bf16"): the round-to-nearest-even conversion, every native bf16 path this CPU
 * has (AMX tiles, AVX512-BF16, and the emulation on the fp32 kernels, also under SAEKIT_ISA=avx2/scalar) against
 * the TS bf16 reference and against the exact float64 product, and the precision switch.
 *
 * Tolerances. bf16 keeps 8 significant bits (7 stored + the implicit one): values in [1, 2) are 2⁻⁷ apart, so
 * rounding one operand to nearest has relative error ≤ u = 2⁻⁸, and a product of two rounded operands ≤ 2u + u²
 * of |a·b|. Accumulating K products in float32 (unit roundoff 2⁻²⁴) adds at
 * most γ_K ≈ K·2⁻²⁴ of Σ|a·b|. Hence, elementwise with S = Σ_k |a_ik·b_kj| (|alpha| folded into a):
 *   vs the exact product:     |C_bf16 − C| ≤ (2⁻⁷ + 2⁻¹⁶ + (K+2)·2⁻²⁴)·S   (+ the beta·C term's one rounding)
 *   vs the TS bf16 reference: |C_bf16 − C_ref| ≤ (K+2)·2⁻²⁴·S   — same rounded operands, only the float32
 *                              summation order differs; a wrong rounding mode or pair layout breaks this at once.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { doctorReport, formatDoctor } from "../../src/cli/doctor.js";
import { kernels, setPrecision } from "../../src/core/backend.js";
import { gemmBf16, jsKernels, jsKernelsBf16, roundToBf16 } from "../../src/core/kernels-js.js";
import type { Kernels } from "../../src/core/kernels.js";
import { loadNativeKernels } from "../../src/core/native.js";
import { Rng } from "../../src/core/rng.js";
import { naiveGemm, randomFloat32 } from "../helpers/numeric.js";

const U = 2 ** -8, EPS32 = 2 ** -24;

describe("roundToBf16", () => {
  it("rounds to nearest, ties to even, and keeps NaN and infinities", () => {
    expect(roundToBf16(1)).toBe(1);
    expect(roundToBf16(1 + 2 ** -8)).toBe(1); // tie between 1 and 1 + 2⁻⁷: the even one
    expect(roundToBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // tie between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶ (even)
    expect(roundToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(1 + 2 ** -7); // above the tie
    expect(roundToBf16(-3.14159)).toBe(-3.140625);
    expect(roundToBf16(3.4028234663852886e38)).toBe(Infinity); // beyond bf16's largest finite 3.3895e38
    expect(roundToBf16(-Infinity)).toBe(-Infinity);
    expect(roundToBf16(NaN)).toBeNaN();
    // Subnormals round too (no flush in the reference): bf16's subnormal spacing is 2⁻¹³³.
    expect(roundToBf16(1.5 * 2 ** -130)).toBe(1.5 * 2 ** -130);
    expect(roundToBf16(1.5 * 2 ** -130 + 2 ** -140)).toBe(1.5 * 2 ** -130);
  });
});

/** Elementwise S = Σ_k |alpha·a_ik|·|b_kj| (the scale the bounds above multiply). */
function absProductSums(
  tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number,
): Float64Array {
  const absA = Float32Array.from(a, Math.abs), absB = Float32Array.from(b, Math.abs);
  return naiveGemm(tA, tB, M, N, K, Math.abs(alpha), absA, lda, absB, ldb, 0, new Float64Array(M * N), N);
}

interface Case { tA: boolean; tB: boolean; M: number; N: number; K: number; alpha: number; beta: number; pad: number }

// Awkward sizes: odd K (a half pair), K across the 512 cache block, partial 12/32-row and 32-column tiles,
// strides > the logical width, alpha folded into A, beta 0 / 1 / other, and products big enough for two threads.
const CASES: Case[] = [
  { tA: false, tB: false, M: 1, N: 7, K: 3, alpha: 1, beta: 0, pad: 0 },
  { tA: false, tB: false, M: 37, N: 71, K: 129, alpha: 0.5, beta: 0.25, pad: 3 },
  { tA: true, tB: false, M: 37, N: 71, K: 129, alpha: 1, beta: 1, pad: 0 },
  { tA: false, tB: true, M: 33, N: 65, K: 31, alpha: -2, beta: 0, pad: 5 },
  { tA: true, tB: true, M: 13, N: 33, K: 1, alpha: 1, beta: 0, pad: 1 },
  { tA: false, tB: false, M: 100, N: 200, K: 1100, alpha: 1, beta: 0, pad: 0 },
  { tA: false, tB: true, M: 130, N: 97, K: 1025, alpha: 1, beta: 1, pad: 2 },
  { tA: true, tB: false, M: 70, N: 40, K: 700, alpha: 0.75, beta: 0, pad: 0 },
];

/** Runs every case on k and checks both bounds; returns the largest error relative to S seen. */
function checkCases(k: Kernels): number {
  const rng = new Rng(7);
  let worst = 0;
  for (const { tA, tB, M, N, K, alpha, beta, pad } of CASES) {
    const lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N;
    const a = randomFloat32((tA ? K : M) * lda, rng), b = randomFloat32((tB ? N : K) * ldb, rng);
    const c0 = randomFloat32(M * ldc, rng);
    const got = c0.slice(), ref = Float64Array.from(c0);
    k.gemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, got, ldc);
    gemmBf16(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, ref, ldc);
    const exact = naiveGemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c0, ldc);
    const s = absProductSums(tA, tB, M, N, K, alpha, a, lda, b, ldb);
    const what = `${tA ? "T" : "N"}${tB ? "T" : "N"} ${M}×${N}×${K} alpha ${alpha} beta ${beta}`;
    for (let i = 0; i < M * N; i++) {
      const betaTerm = beta === 0 ? 0 : Math.abs(beta * c0[i]!) * EPS32 * 2;
      const tight = (K + 2) * EPS32 * s[i]! + betaTerm + 1e-30;
      const loose = (2 * U + U * U + (K + 2) * EPS32) * s[i]! + betaTerm + 1e-30;
      if (!(Math.abs(got[i]! - ref[i]!) <= tight)) {
        expect.fail(`${what}: element ${i} ${got[i]} vs bf16 reference ${ref[i]} (> ${tight.toExponential(2)})`);
      }
      if (!(Math.abs(got[i]! - exact[i]!) <= loose)) {
        expect.fail(`${what}: element ${i} ${got[i]} vs exact ${exact[i]} (> ${loose.toExponential(2)})`);
      }
      worst = Math.max(worst, Math.abs(got[i]! - exact[i]!) / (s[i]! || 1));
    }
  }
  return worst;
}

describe("TS bf16 kernels", () => {
  it("jsKernelsBf16 computes bf16 products within the bounds and reports its precision", () => {
    expect(jsKernelsBf16.precision).toBe("bf16");
    expect(jsKernels.precision).toBe("fp32");
    expect(jsKernels.withPrecision("bf16")).toBe(jsKernelsBf16);
    const worst = checkCases(jsKernelsBf16 as Kernels);
    // bf16 really is coarser than fp32: the worst error is a sizeable part of the 2⁻⁷ bound, far above fp32's.
    expect(worst).toBeGreaterThan(1e-4);
  });
});

const requestedIsa = process.env.SAEKIT_ISA;
const probe = loadNativeKernels(2);

/** The native bf16 kernels with the ISA forced to `isa` and the bf16 path lowered to `path`. */
function nativeBf16(isa: string, path: string): { k?: Kernels; path?: string } {
  process.env.SAEKIT_ISA = isa;
  try {
    const loaded = loadNativeKernels(2);
    if (!loaded.kernels || loaded.kernels.isa !== isa) return {};
    const got = loaded.setBf16Path!(path);
    return { k: loaded.kernels.withPrecision("bf16"), path: got };
  } finally {
    if (requestedIsa === undefined) delete process.env.SAEKIT_ISA;
    else process.env.SAEKIT_ISA = requestedIsa;
  }
}

afterAll(() => {
  loadNativeKernels(); // the best ISA and bf16 path again for later files in this worker
});

const features = probe.cpuFeatures;
const PATHS: { isa: string; path: string; missing: () => string | undefined }[] = [
  { isa: "avx512", path: "amx", missing: () => probe.amxUnavailable || undefined },
  { isa: "avx512", path: "avx512bf16", missing: () => (features.includes("avx512_bf16") ? undefined : "CPU lacks avx512_bf16") },
  { isa: "avx512", path: "emulated", missing: () => (features.includes("avx512f") ? undefined : "CPU lacks avx512f") },
  { isa: "avx2", path: "emulated", missing: () => (features.includes("avx2") ? undefined : "CPU lacks avx2") },
  { isa: "scalar", path: "emulated", missing: () => undefined },
];

describe.skipIf(!probe.kernels)("native bf16 products", () => {
  for (const { isa, path, missing } of PATHS) {
    const why = probe.kernels ? missing() : "no addon";
    if (why) {
      it.skip(`skipped: ${why} (bf16 path ${path} on ${isa})`, () => {});
      continue;
    }
    it(`${path} (isa ${isa}) matches the bf16 reference and the exact product within the bf16 bounds`, () => {
      const { k, path: got } = nativeBf16(isa, path);
      expect(got).toBe(path);
      expect(k!.precision).toBe("bf16");
      expect(k!.bf16Path).toBe(path);
      checkCases(k!);
    });
  }

  it("a packed B (packB + gemmPackedB) gives bit-for-bit gemm's result at both precisions and on every path", () => {
    const rng = new Rng(9);
    const loaded = loadNativeKernels(2);
    const paths = ["avx512bf16", "emulated", ...(probe.amxUnavailable ? [] : ["amx"])].filter((p) => p !== "avx512bf16" || features.includes("avx512_bf16"));
    for (const path of paths) {
      loaded.setBf16Path!(path);
      for (const k of [loaded.kernels!, loaded.kernels!.withPrecision("bf16"), jsKernels as Kernels, jsKernelsBf16 as Kernels]) {
        // K across the 512-deep block (two blocks, the second odd), transposed B, alpha/beta, partial panels.
        for (const [tA, tB, M, N, K] of [[false, false, 70, 100, 1027], [true, true, 33, 65, 129], [false, true, 256, 40, 600], [false, false, 2, 2, 9]] as const) {
          const ldb = (tB ? K : N) + 1;
          const a = randomFloat32(M * K, rng), b = randomFloat32((tB ? N : K) * ldb, rng), c0 = randomFloat32(M * N, rng);
          const want = c0.slice(), got = c0.slice();
          k.gemm(tA, tB, M, N, K, 0.5, a, tA ? M : K, b, ldb, 0.25, want, N);
          const packed = k.packB(tB, K, N, b, ldb);
          expect(packed.handle !== undefined).toBe(k.name === "native" && k.precision === "bf16");
          k.gemmPackedB(tA, M, 0.5, a, tA ? M : K, packed, 0.25, got, N);
          expect(got, `${k.name} ${k.precision} ${path} ${tA}${tB} ${M}×${N}×${K}`).toEqual(want);
        }
      }
    }
    // A pack is tied to the bf16 path it was made for.
    loaded.setBf16Path!("avx512bf16");
    const k16 = loaded.kernels!.withPrecision("bf16");
    if (k16.bf16Path !== "emulated" && features.includes("avx512_bf16")) {
      const b = randomFloat32(64 * 64, rng);
      const packed = k16.packB(false, 64, 64, b, 64);
      loaded.setBf16Path!("emulated");
      expect(() => k16.gemmPackedB(false, 64, 1, b, 64, packed, 0, new Float32Array(64 * 64), 64)).toThrow(/another bf16 path/);
    }
    expect(() => loaded.kernels!.packB(false, 10, 10, new Float32Array(50), 10)).toThrow(/B \(K×N\) has 50 elements/);
  });

  it("gemmAsync at bf16 gives the same C as gemm, and dot-shaped products stay fp32", async () => {
    const k32 = loadNativeKernels(2).kernels!;
    const k = k32.withPrecision("bf16");
    expect(k.withPrecision("fp32")).toBe(k32);
    const rng = new Rng(3);
    const [M, N, K] = [64, 96, 600];
    const a = randomFloat32(M * K, rng), b = randomFloat32(K * N, rng);
    const c1 = new Float32Array(M * N), c2 = new Float32Array(M * N);
    k.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c1, N);
    await k.gemmAsync(false, false, M, N, K, 1, a, K, b, N, 0, c2, N);
    expect(c2).toEqual(c1);
    // Differs from the fp32 product (the rounding is real)...
    const c32 = new Float32Array(M * N);
    k32.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c32, N);
    expect(c32).not.toEqual(c1);
    // ...but a 1×1 dot product (gradient norms) is computed in fp32 exactly as the fp32 kernels do.
    const d16 = new Float32Array(1), d32 = new Float32Array(1);
    k.gemm(false, true, 1, 1, K, 1, a, K, b, K, 0, d16, 1);
    k32.gemm(false, true, 1, 1, K, 1, a, K, b, K, 0, d32, 1);
    expect(d16[0]).toBe(d32[0]);
  });
});

describe("precision switch", () => {
  const saved = process.env.SAEKIT_PRECISION;
  afterEach(() => {
    if (saved === undefined) delete process.env.SAEKIT_PRECISION;
    else process.env.SAEKIT_PRECISION = saved;
    setPrecision("auto");
  });

  it("setPrecision switches kernels() between fp32 and bf16 products", () => {
    setPrecision("bf16");
    expect(kernels().precision).toBe("bf16");
    setPrecision("fp32");
    expect(kernels().precision).toBe("fp32");
  });

  it("SAEKIT_PRECISION selects the precision and a bad value is refused naming the variable", () => {
    process.env.SAEKIT_PRECISION = "bf16";
    setPrecision("auto");
    expect(kernels().precision).toBe("bf16");
    process.env.SAEKIT_PRECISION = "fp16";
    setPrecision("auto");
    expect(() => kernels()).toThrow(/SAEKIT_PRECISION must be "fp32", "bf16" or "auto", got "fp16"/);
  });

  it("defaults to bf16 exactly where the native addon has a hardware bf16 path", () => {
    delete process.env.SAEKIT_PRECISION;
    setPrecision("auto");
    const k = kernels();
    const hardware = k.name === "native" && (k.bf16Path === "amx" || k.bf16Path === "avx512bf16");
    expect(k.precision).toBe(hardware ? "bf16" : "fp32");
  });

  it("doctor shows the precision, why, and the bf16 path in use, and self-checks the bf16 products", () => {
    process.env.SAEKIT_PRECISION = "bf16";
    setPrecision("auto");
    const report = doctorReport();
    expect(report.backend.precision).toBe("bf16");
    expect(report.backend.precisionSource).toBe("SAEKIT_PRECISION");
    expect(report.env.SAEKIT_PRECISION).toBe("bf16");
    // Same rounded operands as the TS reference: only float32 summation order differs (≤ 258·2⁻²⁴·256).
    expect(report.selfCheck.maxAbsDiffBf16VsTs).toBeLessThanOrEqual((258 * 256) / 2 ** 24);
    expect(report.selfCheck.maxAbsDiffVsTs).toBeLessThan(1e-3);
    const text = formatDoctor(report);
    expect(text).toContain("precision:     bf16 products (set by SAEKIT_PRECISION)");
    const path = report.backend.bf16Path;
    expect(text).toMatch(path === "avx512bf16" ? /bf16 path: +AVX512-BF16 dot products \(vdpbf16ps\)/ : path === "amx" ? /AMX-BF16 tiles/ : /emulated/);
    if (report.backend.amxUnavailable) expect(text).toContain(`AMX not used: ${report.backend.amxUnavailable}`);
  });
});
