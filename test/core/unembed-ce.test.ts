/**
 * Kernels.unembedCrossEntropy — the unembedding + softmax cross-entropy with its gradients — against a naive
 * float64 reference, on every backend: the TS kernels and the native ones at fp32 (the chunked route), and the
 * native bf16 kernels (on AVX512-BF16 machines the fused kernel of native/src/unembed_ce.cc, which tiles the
 * logits in cache and computes them twice; elsewhere the chunked route on emulated bf16).
 *
 * The reference computes in float64 from the same rounded operands: at bf16, x and W rounded to bf16, and G =
 * scale·(softmax − onehot) rounded to bf16 where it enters dW = xᵀG and dX = GWᵀ (dB sums G unrounded).
 * Tolerances, with S the matching sum of |products| (e.g. S_dW[k,c] = Σ_r |x_rk·G_rc|):
 *   nll: float32 logits and a float32 log-sum-exp: ≤ 1e-5·(1 + |lse|) + 2⁻²⁴·(d+2)·Σ_k|x_k·W_kc|;
 *   dW, dX at bf16: G is computed in float32, so its bf16 rounding may land on the other neighbour (one bf16 ulp,
 *     ≤ 2⁻⁷ relative) for some entries, plus float32 summation: ≤ 2⁻⁷·S + (K+2)·2⁻²⁴·S + 1e-12;
 *   G's own float32 error (its log-sum-exp) adds ≤ 2e-5·S at both precisions; dB: ≤ (2e-5 + (rows+4)·2⁻²⁴)·Σ_r|G|.
 * A wrong tile offset, a lost bias, a missing row or column or a mis-scaled gradient breaks these at once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { jsKernels, jsKernelsBf16, roundToBf16 } from "../../src/core/kernels-js.js";
import type { FloatArray, Kernels, UnembedCrossEntropyArgs } from "../../src/core/kernels.js";
import { loadNativeKernels } from "../../src/core/native.js";
import { Rng } from "../../src/core/rng.js";

interface Case {
  name: string;
  rows: number;
  d: number;
  vocab: number;
  bias: boolean;
  /** Every n-th row's target is ignored (0: none). */
  ignoreEvery: number;
  grads: { dX: boolean; dW: boolean; dB: boolean } | null;
}

// Sizes around the fused kernel's blocks: 12-row panels, 96-row gradient blocks, 32-column panels, 256-column tiles,
// the vocabulary split between threads; odd d (a half k-pair) and d not a multiple of 12 or 32.
const CASES: Case[] = [
  { name: "one row, odd d, vocab 33", rows: 1, d: 7, vocab: 33, bias: true, ignoreEvery: 0, grads: { dX: true, dW: true, dB: true } },
  { name: "37 rows, d 40, vocab 1007, ignored rows", rows: 37, d: 40, vocab: 1007, bias: true, ignoreEvery: 5, grads: { dX: true, dW: true, dB: true } },
  { name: "200 rows, d 48, vocab 1201, no bias", rows: 200, d: 48, vocab: 1201, bias: false, ignoreEvery: 0, grads: { dX: true, dW: true, dB: false } },
  { name: "97 rows, d 20, vocab 600, dW only", rows: 97, d: 20, vocab: 600, bias: true, ignoreEvery: 3, grads: { dX: false, dW: true, dB: false } },
  { name: "25 rows, d 64, vocab 515, dX and dB only", rows: 25, d: 64, vocab: 515, bias: true, ignoreEvery: 0, grads: { dX: true, dW: false, dB: true } },
  { name: "loss only", rows: 50, d: 33, vocab: 700, bias: true, ignoreEvery: 7, grads: null },
];

const IGNORE = -100;

function makeCase(c: Case, seed: number) {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: c.rows * c.d }, () => rng.normal());
  const w = Float32Array.from({ length: c.d * c.vocab }, () => 0.3 * rng.normal());
  const bias = c.bias ? Float32Array.from({ length: c.vocab }, () => rng.normal()) : null;
  const targets = Int32Array.from({ length: c.rows }, (_, r) => (c.ignoreEvery > 0 && r % c.ignoreEvery === 1 ? IGNORE : rng.int(c.vocab)));
  return { x, w, bias, targets };
}

/** float64 reference from the operands as the products see them (bf16-rounded at bf16). */
function reference(c: Case, data: ReturnType<typeof makeCase>, bf16: boolean, scale: number) {
  const { rows, d, vocab } = c;
  const rb = bf16 ? roundToBf16 : (v: number) => v;
  const rg = bf16 ? (v: number) => roundToBf16(Math.fround(v)) : (v: number) => v;
  const x = Float64Array.from(data.x, rb), w = Float64Array.from(data.w, rb);
  const nll = new Float64Array(rows), nllTol = new Float64Array(rows);
  const g = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const logits = new Float64Array(vocab);
    let absMax = 0;
    for (let col = 0; col < vocab; col++) {
      let s = 0, abs = 0;
      for (let k = 0; k < d; k++) {
        s += x[r * d + k]! * w[k * vocab + col]!;
        abs += Math.abs(x[r * d + k]! * w[k * vocab + col]!);
      }
      logits[col] = s + (data.bias ? data.bias[col]! : 0);
      absMax = Math.max(absMax, abs);
    }
    const t = data.targets[r]!;
    if (t === IGNORE) {
      nll[r] = NaN;
      continue;
    }
    const mx = Math.max(...logits);
    let sum = 0;
    for (const l of logits) sum += Math.exp(l - mx);
    const lse = mx + Math.log(sum);
    nll[r] = lse - logits[t]!;
    nllTol[r] = 1e-5 * (1 + Math.abs(lse)) + 2 ** -24 * ((d + 2) * absMax + vocab);
    for (let col = 0; col < vocab; col++) g[r * vocab + col] = scale * (Math.exp(logits[col]! - lse) - (col === t ? 1 : 0));
  }
  const dW = new Float64Array(d * vocab), sW = new Float64Array(d * vocab);
  const dX = new Float64Array(rows * d), sX = new Float64Array(rows * d);
  const dB = new Float64Array(vocab), sB = new Float64Array(vocab);
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < vocab; col++) {
      const gv = g[r * vocab + col]!, gr = rg(gv);
      dB[col] += gv;
      sB[col] += Math.abs(gv);
      for (let k = 0; k < d; k++) {
        dW[k * vocab + col] += x[r * d + k]! * gr;
        sW[k * vocab + col] += Math.abs(x[r * d + k]! * gv);
        dX[r * d + k] += gr * w[k * vocab + col]!;
        sX[r * d + k] += Math.abs(gv * w[k * vocab + col]!);
      }
    }
  }
  return { nll, nllTol, dW, sW, dX, sX, dB, sB };
}

function expectClose(name: string, got: FloatArray, want: Float64Array, tol: (i: number) => number): void {
  let worst = -Infinity, at = -1;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]!)) {
      expect(got[i], `${name}[${i}]`).toBeNaN();
      continue;
    }
    const excess = Math.abs(got[i]! - want[i]!) - tol(i);
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(worst, `${name}: worst at ${at}: got ${got[at]}, want ${want[at]}, tolerance ${tol(at)}`).toBeLessThanOrEqual(0);
}

function check(k: Kernels<FloatArray>, c: Case, seed: number, bf16: boolean): void {
  const data = makeCase(c, seed);
  const counted = Array.from(data.targets).filter((t) => t !== IGNORE).length;
  const scale = 1 / Math.max(counted, 1);
  const sentinel = 12345;
  const nll = new Float32Array(c.rows);
  const dX = new Float32Array(c.rows * c.d).fill(sentinel);
  const dW = new Float32Array(c.d * c.vocab).fill(sentinel);
  const dB = new Float32Array(c.vocab).fill(sentinel);
  const args: UnembedCrossEntropyArgs<FloatArray> = {
    x: data.x, rows: c.rows, d: c.d, w: data.w, vocab: c.vocab, bias: data.bias, targets: data.targets,
    ignoreIndex: IGNORE, gradScale: c.grads ? scale : null, nll,
    dX: c.grads?.dX ? dX : null, dW: c.grads?.dW ? dW : null, dB: c.grads?.dB ? dB : null,
  };
  k.unembedCrossEntropy(args);
  const ref = reference(c, data, bf16, scale);
  expectClose("nll", nll, ref.nll, (i) => ref.nllTol[i]!);
  const rel = (K: number) => (bf16 ? 2 ** -7 : 0) + 2e-5 + (K + 4) * 2 ** -24;
  if (c.grads?.dW) expectClose("dW", dW, ref.dW, (i) => rel(c.rows) * ref.sW[i]! + 1e-12);
  else expect(dW.every((v) => v === sentinel)).toBe(true);
  if (c.grads?.dX) expectClose("dX", dX, ref.dX, (i) => rel(c.vocab) * ref.sX[i]! + 1e-12);
  else expect(dX.every((v) => v === sentinel)).toBe(true);
  if (c.grads?.dB) expectClose("dB", dB, ref.dB, (i) => rel(c.rows) * ref.sB[i]! + 1e-12);
  else expect(dB.every((v) => v === sentinel)).toBe(true);
}

const loaded = loadNativeKernels();
const native = loaded.kernels;
afterAll(() => native?.setThreads(2));

describe("unembedCrossEntropy", () => {
  it.each(CASES)("TS kernels, fp32 and bf16: $name", (c) => {
    check(jsKernels, c, 1, false);
    check(jsKernelsBf16, c, 2, true);
  });

  describe.skipIf(!native)("native", () => {
    it.each(CASES)("fp32 (chunked route): $name", (c) => {
      check(native!, c, 3, false);
    });

    it.each(CASES)("bf16 (fused on AVX512-BF16) with 1, 2 and 3 threads: $name", (c) => {
      const k16 = native!.withPrecision("bf16");
      const before = native!.threads;
      try {
        for (const threads of [1, 2, 3]) {
          native!.setThreads(threads);
          check(k16, c, 4 + threads, true);
        }
      } finally {
        native!.setThreads(before);
      }
    });

    it("bf16: every row ignored gives NaN losses and zero gradients", () => {
      const k16 = native!.withPrecision("bf16");
      const c: Case = { name: "", rows: 30, d: 16, vocab: 100, bias: true, ignoreEvery: 0, grads: null };
      const data = makeCase(c, 9);
      data.targets.fill(IGNORE);
      const nll = new Float32Array(30), dX = new Float32Array(30 * 16).fill(7), dW = new Float32Array(1600).fill(7), dB = new Float32Array(100).fill(7);
      k16.unembedCrossEntropy({ ...data, rows: 30, d: 16, vocab: 100, ignoreIndex: IGNORE, gradScale: 0.5, nll, dX, dW, dB });
      expect(nll.every(Number.isNaN)).toBe(true);
      expect([dX, dW, dB].every((a) => a.every((v) => v === 0))).toBe(true);
    });

    it("refuses a target outside the vocabulary and short arrays, naming them", () => {
      const c: Case = { name: "", rows: 4, d: 8, vocab: 50, bias: false, ignoreEvery: 0, grads: null };
      const data = makeCase(c, 10);
      const base = { ...data, rows: 4, d: 8, vocab: 50, ignoreIndex: -1, gradScale: null, nll: new Float32Array(4), dX: null, dW: null, dB: null };
      for (const k of [native!, native!.withPrecision("bf16")]) {
        data.targets[2] = 50;
        expect(() => k.unembedCrossEntropy(base)).toThrow(/unembedCrossEntropy: target 50 at row 2 is outside \[0, 50\)/);
        data.targets[2] = 3;
        expect(() => k.unembedCrossEntropy({ ...base, w: data.w.subarray(1) })).toThrow(/unembedCrossEntropy: w has 399 elements, needs at least 400/);
        expect(() => k.unembedCrossEntropy({ ...base, gradScale: 1, dB: new Float32Array(49) })).toThrow(/dB has 49 elements/);
      }
    });
  });
});
