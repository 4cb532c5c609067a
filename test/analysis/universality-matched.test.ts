/** analyze's matched logit r (universality.ts matchedLogitCorrelator) against a naive one-unit-at-a-time reference. */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { pearson } from "../../src/analysis/correlation.js";
import { logitWeights, logitWeightTable } from "../../src/analysis/logit-weights.js";
import { matchedLogitCorrelator } from "../../src/analysis/universality.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { unembed } from "../../src/model/readout.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";

/** Each matched pair on its own: both units' centred logit weights (one-row GEMMs), then their Pearson r. */
function naiveMatchedLogitR(dirsA: Float32Array, modelA: HookedTransformer, dirsB: Float32Array, modelB: HookedTransformer, best: Int32Array): Float32Array {
  const ua = unembed(modelA);
  const ub = unembed(modelB);
  const [d, dB] = [ua.dModel, ub.dModel];
  return Float32Array.from(best, (g, a) => {
    if (g < 0) return Number.NaN;
    const la = logitWeights(dirsA.subarray(a * d, (a + 1) * d), 1, d, ua.wU, ua.dVocab, ua.lnW, { centre: true });
    const lb = logitWeights(dirsB.subarray(g * dB, (g + 1) * dB), 1, dB, ub.wU, ub.dVocab, ub.lnW, { centre: true });
    return pearson(la, lb);
  });
}

describe("matchedLogitCorrelator", () => {
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 24, d_vocab: 1000 };
  const modelA = new HookedTransformer(cfg, initWeights(cfg, new Rng(3)));
  const modelB = new HookedTransformer(cfg, initWeights(cfg, new Rng(4)));
  const rng = new Rng(9);
  const [nA, nB, d] = [700, 40, 16];
  const dirsA = Float32Array.from({ length: nA * d }, () => rng.normal());
  const dirsB = Float32Array.from({ length: nB * d }, () => rng.normal());
  // Most units matched (several to the same unit of B), some not; chunks of A with no match at all.
  const best = Int32Array.from({ length: nA }, (_, a) => (a >= 300 && a < 440) || a % 7 === 0 ? -1 : rng.int(nB));

  it("gives the naive reference's numbers, fed with logitWeightTable's chunks, with and without B's table", () => {
    const want = naiveMatchedLogitR(dirsA, modelA, dirsB, modelB, best);
    expect(want.filter((r) => !Number.isNaN(r)).length).toBeGreaterThan(400);
    const u = unembed(modelA);
    for (const tableBytes of [2 ** 30, 0]) {
      const m = matchedLogitCorrelator(dirsB, modelB, best, tableBytes);
      logitWeightTable(dirsA, nA, d, u.wU, u.dVocab, u.lnW, { centre: true, bins: 40, onChunk: (first, n, rows) => m.add(first, n, rows) });
      expect(m.result).toEqual(want);
    }
  });

  it("refuses chunks that do not start at a multiple of 128 when B's rows are computed per chunk", () => {
    const m = matchedLogitCorrelator(dirsB, modelB, best, 0);
    expect(() => m.add(100, 1, new Float32Array(1000))).toThrow(/multiple of 128/);
  });
});
