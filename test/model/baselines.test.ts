/**
 * N-gram baselines: exact smoothed probabilities on a hand-computable example, normalisation, the held-out tuning
 * of α and D, and the bigram beating the unigram on a patterned corpus.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import {
  BigramModel, fitBaselines, fitBigram, fitUnigram, minimizeScalar, targetCount, UnigramModel, type TokenSequences,
} from "../../src/model/baselines.js";

const seqs = (rows: number[][]): TokenSequences => ({ tokens: Int32Array.from(rows.flat()), nCtx: rows[0]!.length });

describe("unigram and bigram baselines", () => {
  // Targets are positions 1..3 of each row: 1,0,1 and 1,2,1 → c(0)=1, c(1)=4, c(2)=1, N=6.
  // Pairs within rows: (0,1)×3, (1,0), (1,2), (2,1) → c(0·)=3 T(0)=1, c(1·)=2 T(1)=2, c(2·)=1 T(2)=1.
  const data = seqs([[0, 1, 0, 1], [0, 1, 2, 1]]);

  it("add-α unigram: (c(w) + α) / (N + αV) over the targets only", () => {
    const uni = fitUnigram([data], 3, 1);
    expect(uni.total).toBe(6);
    expect(uni.prob(0)).toBeCloseTo(2 / 9, 15);
    expect(uni.prob(1)).toBeCloseTo(5 / 9, 15);
    expect(uni.prob(2)).toBeCloseTo(2 / 9, 15);
    const half = fitUnigram([data], 4, 0.5); // an unseen token 3 still gets mass
    expect(half.prob(3)).toBeCloseTo(0.5 / 8, 15);
    expect(half.prob(1)).toBeCloseTo(4.5 / 8, 15);
    expect(uni.loss([data])).toBeCloseTo(-(Math.log(2 / 9) * 2 + Math.log(5 / 9) * 4) / 6, 12);
  });

  it("absolute-discounting bigram: (max(c(v,w) − D, 0) + D·T(v)·p(w)) / c(v), unigram for unseen contexts", () => {
    const uni = fitUnigram([data], 4, 1); // V = 4: p = 2/10, 5/10, 2/10, 1/10
    const bi = fitBigram([data], uni, 0.5);
    expect(bi.pairCount(0, 1)).toBe(3);
    expect(bi.pairCount(1, 1)).toBe(0);
    expect(bi.prob(0, 1)).toBeCloseTo((2.5 + 0.5 * 1 * 0.5) / 3, 15);
    expect(bi.prob(0, 0)).toBeCloseTo((0.5 * 1 * 0.2) / 3, 15);
    expect(bi.prob(1, 0)).toBeCloseTo((0.5 + 0.5 * 2 * 0.2) / 2, 15);
    expect(bi.prob(1, 2)).toBeCloseTo((0.5 + 0.5 * 2 * 0.2) / 2, 15);
    expect(bi.prob(1, 1)).toBeCloseTo((0.5 * 2 * 0.5) / 2, 15);
    expect(bi.prob(2, 1)).toBeCloseTo(0.5 + 0.5 * 1 * 0.5, 15);
    expect(bi.prob(3, 2)).toBeCloseTo(uni.prob(2), 15); // token 3 never precedes anything
    for (let v = 0; v < 4; v++) {
      let sum = 0;
      for (let w = 0; w < 4; w++) sum += bi.prob(v, w);
      expect(sum).toBeCloseTo(1, 14);
    }
    const expected = -(3 * Math.log(bi.prob(0, 1)) + Math.log(bi.prob(1, 0)) + Math.log(bi.prob(1, 2)) + Math.log(bi.prob(2, 1))) / 6;
    expect(bi.loss([data])).toBeCloseTo(expected, 12);
    expect(targetCount(data)).toBe(6);
  });

  it("rejects out-of-range tokens and bad smoothing parameters", () => {
    expect(() => fitUnigram([seqs([[0, 5]])], 3)).toThrow(/token id 5 is outside \[0, 3\)/);
    expect(() => new UnigramModel(new Float64Array(3), 0)).toThrow(/alpha must be a positive number/);
    expect(() => fitBigram([data], fitUnigram([data], 3), 1.5)).toThrow(/discount must be in \[0, 1\]/);
  });

  it("minimizeScalar finds the minimum of a smooth function", () => {
    const { x, value } = minimizeScalar((t) => (t - 0.3217) ** 2 + 1, 0, 1);
    expect(x).toBeCloseTo(0.3217, 5);
    expect(value).toBeCloseTo(1, 9);
  });

  /** Sequences where the next token is (3·prev + 1) mod V 85% of the time, else random. */
  function patterned(rng: Rng, rows: number, nCtx: number, vocab: number): TokenSequences {
    const tokens = new Int32Array(rows * nCtx);
    for (let r = 0; r < rows; r++) {
      tokens[r * nCtx] = rng.int(vocab);
      for (let t = 1; t < nCtx; t++) {
        const prev = tokens[r * nCtx + t - 1]!;
        tokens[r * nCtx + t] = rng.uniform() < 0.85 ? (3 * prev + 1) % vocab : rng.int(vocab);
      }
    }
    return { tokens, nCtx };
  }

  it("tunes α and D on held-out train sequences, and the bigram beats the unigram on a patterned corpus", () => {
    const rng = new Rng(7);
    const vocab = 50257; // GPT-2 sized: counts must stay sparse
    const train = [patterned(rng, 300, 32, 400), patterned(rng, 100, 32, 400)];
    const validation = patterned(rng, 60, 32, 400);
    const fit = fitBaselines(train, vocab);
    expect(fit.tuning.method).toBe("held-out-train");
    expect(fit.tuning.heldOutSequences).toBe(40); // every 10th of 400
    expect(fit.tuning.heldOutTargets).toBe(40 * 31);
    expect(fit.bigram.discount).toBeGreaterThan(0);
    expect(fit.bigram.discount).toBeLessThanOrEqual(1);

    const unigramLoss = fit.unigram.loss([validation]);
    const bigramLoss = fit.bigram.loss([validation]);
    expect(Number.isFinite(unigramLoss) && Number.isFinite(bigramLoss)).toBe(true);
    expect(unigramLoss).toBeGreaterThan(Math.log(400) - 0.2); // near-uniform over the 400 used tokens
    expect(bigramLoss).toBeLessThan(unigramLoss - 2);

    // The chosen D is at least as good on the held-out slice as the usual 0.75 and the extremes.
    const all = Array.from({ length: 400 }, (_, i) => (i < 300 ? train[0]!.tokens.subarray(i * 32, i * 32 + 32) : train[1]!.tokens.subarray((i - 300) * 32, (i - 300) * 32 + 32)));
    const held = seqs(all.filter((_, i) => i % 10 === 9).map((r) => [...r]));
    const rest = seqs(all.filter((_, i) => i % 10 !== 9).map((r) => [...r]));
    const uniRest = fitUnigram([rest], vocab, fit.unigram.alpha);
    expect(uniRest.loss([held])).toBeCloseTo(fit.tuning.heldOutUnigramLoss, 10);
    for (const alpha of [fit.unigram.alpha * 3, fit.unigram.alpha / 3, 1]) {
      // Slack: here every held-out token was seen, so the optimum is α → 0 and the search stops at its bound.
      expect(fitUnigram([rest], vocab, alpha).loss([held])).toBeGreaterThanOrEqual(fit.tuning.heldOutUnigramLoss - 1e-6);
    }
    const heldOutBigram = (d: number) => new BigramModel(fitBigram([rest], uniRest, d).pairs, uniRest, d).loss([held]);
    expect(heldOutBigram(fit.bigram.discount)).toBeCloseTo(fit.tuning.heldOutBigramLoss, 10);
    for (const d of [0.05, 0.75, 1]) expect(heldOutBigram(d)).toBeGreaterThanOrEqual(fit.tuning.heldOutBigramLoss - 1e-12);
  });

  it("falls back to α = 1 and D = 0.75 when the train split is too small to hold anything out", () => {
    const fit = fitBaselines([data], 3);
    expect(fit.tuning.method).toBe("defaults");
    expect(fit.unigram.alpha).toBe(1);
    expect(fit.bigram.discount).toBe(0.75);
  });
});
