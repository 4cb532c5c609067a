import { describe, expect, it } from "vitest";
import { MassHeavyHitters } from "../../src/analysis/heavy-hitters.js";
import { f1, MAX_BIGRAMS, MAX_CANDIDATE_TOKENS, MAX_PREVIOUS_CANDIDATES, ProxySearch, type UnitCandidates } from "../../src/analysis/interpretability.js";
import { interpretabilityProxySpec, median, summarizeInterpretability } from "../../src/analysis/interpretability-summary.js";
import { candidatesFromTop, mergeMassCandidates } from "../../src/analysis/proxy-candidates.js";
import { TokenSetLlr, TokenSetProxyBins } from "../../src/analysis/proxy-stats.js";
import { mulberry32 as rng } from "../helpers/random.js";

const V = 10;
const DOMAINS = ["prose", "code"];

/** Positions of one toy evaluation: token, domain, and each unit's activation there. */
interface Position {
  token: number;
  domain: number;
  act: number[];
}

/** Feeds positions (one sequence per domain run; the first position of a sequence has no previous token). */
function run(candidates: UnitCandidates[], seqs: Position[][], dense = false, vocab = V): ProxySearch {
  const search = new ProxySearch(candidates, vocab, DOMAINS);
  for (const seq of seqs) {
    seq.forEach((p, i) => {
      const previous = i === 0 ? -1 : seq[i - 1]!.token;
      if (dense) {
        search.addDense(p.token, previous, p.domain, Float32Array.from(p.act), 0);
      } else {
        const idx = p.act.flatMap((v, u) => (v > 0 ? [u] : []));
        search.addSparse(p.token, previous, p.domain, Int32Array.from(idx), Float32Array.from(idx.map((u) => p.act[u]!)), 0, idx.length);
      }
    });
  }
  return search;
}

const pos = (token: number, domain: number, ...act: number[]): Position => ({ token, domain, act });

describe("proxy search", () => {
  // Unit 0: fires on token 1 (3 occurrences, fires on 2 with 1.0), on token 2 (2 occurrences, 0.5 each) and once on
  // token 9 (1.0). Total mass 4. Unit 1: fires only on token 5 in code (2.0), never on its prose occurrence.
  // Unit 2: fires on token 7 only after token 6 (1.5); token 7 also occurs after token 8 without firing.
  const seqs: Position[][] = [
    [pos(1, 0, 1, 0, 0), pos(2, 0, 0.5, 0, 0), pos(1, 0, 0, 0, 0), pos(5, 0, 0, 0, 0), pos(6, 0, 0, 0, 0), pos(7, 0, 0, 0, 1.5), pos(8, 0, 0, 0, 0), pos(7, 0, 0, 0, 0)],
    [pos(1, 1, 1, 0, 0), pos(2, 1, 0.5, 0, 0), pos(9, 1, 1, 0, 0), pos(5, 1, 0, 2, 0), pos(8, 1, 0, 0, 0), pos(7, 1, 0, 0, 0)],
  ];
  const candidates: UnitCandidates[] = [
    { tokens: [2, 1], bigrams: [] },
    { tokens: [5], bigrams: [] },
    { tokens: [7], bigrams: [[8, 7], [6, 7]], previous: [8, 2] },
  ];

  it("keeps the candidate with the best F1 of mass specificity and sensitivity", () => {
    const search = run(candidates, seqs);
    const u0 = search.best(0);
    // top-1 by mass is token 1 (2.0 of 4): spec 0.5, sens 2/3, F1 0.571; top-2 adds token 2: spec 0.75, sens 4/5.
    expect(u0.kind).toBe("tokens");
    expect(u0.ids).toEqual([1, 2]);
    expect(u0.spec).toBeCloseTo(0.75, 12);
    expect(u0.sens).toBeCloseTo(0.8, 12);
    expect(u0.score).toBeCloseTo(f1(0.75, 0.8), 12);
    expect(u0.score).toBeCloseTo(0.7741935483870968, 12);

    // Token 5 over both domains: spec 1, sens 1/2 (F1 0.667); inside code: spec 1, sens 1.
    const u1 = search.best(1);
    expect(u1).toEqual({ score: 1, spec: 1, sens: 1, kind: "tokens-domain", ids: [5], domain: "code" });

    // Token 7 alone: spec 1, sens 1/3 (in prose 1/2); after token 6: spec 1, sens 1 (the pair ranked first by mass).
    const u2 = search.best(2);
    expect(u2).toEqual({ score: 1, spec: 1, sens: 1, kind: "bigram", ids: [7], previous: [6] });
  });

  it("an \"after\" set ties with the bigram it equals and loses the tie (bigram before after)", () => {
    // Unit 2's after-6 set equals its (6, 7) bigram here (token 6 is followed only by 7): both score 1.
    const search = run([{ tokens: [], bigrams: [[6, 7]], previous: [6] }], seqs.map((s) => s.map((p) => pos(p.token, p.domain, p.act[2]!))));
    expect(search.best(0)).toEqual({ score: 1, spec: 1, sens: 1, kind: "bigram", ids: [7], previous: [6] });
    const alone = run([{ tokens: [], bigrams: [], previous: [8, 6] }], seqs.map((s) => s.map((p) => pos(p.token, p.domain, p.act[2]!))));
    expect(alone.best(0)).toEqual({ score: 1, spec: 1, sens: 1, kind: "after", ids: [6] });
  });

  it("dense rows give the same result as sparse codes", () => {
    expect(run(candidates, seqs, true).results()).toEqual(run(candidates, seqs).results());
  });

  it("a token set's spec and sens are those TokenSetProxyBins reports for the same set", () => {
    const search = run([{ tokens: [1, 2], bigrams: [] }], seqs.map((s) => s.map((p) => pos(p.token, p.domain, p.act[0]!))));
    const best = search.best(0);
    const unigram = new Float64Array(V);
    for (const s of seqs) for (const p of s) unigram[p.token]! += 1;
    const bins = new TokenSetProxyBins(new TokenSetLlr(unigram, [[1, 2]]), 4, Float32Array.of(1));
    for (const s of seqs) for (const p of s) if (p.act[0]! > 0) bins.add(0, p.token, p.act[0]!);
    const report = bins.report(0);
    expect(best.spec).toBeCloseTo(report.specificity, 12);
    expect(best.sens).toBeCloseTo(report.sensitivity, 12);
  });

  it("\"after\" sets: spec and sens of the best one equal a naive count over the positions, sparse and dense alike", () => {
    // Unit 0 fires (1 + noise) on whatever follows token 3, sometimes after 5 (0.6), and 10 % of the time elsewhere.
    // Unit 1 is noise only. Vocabulary 12, 40 sequences of 16.
    const r = rng(11);
    const seqs: Position[][] = Array.from({ length: 40 }, (_, q) => {
      const toks = Array.from({ length: 16 }, () => Math.floor(r() * 12));
      return toks.map((t, i) => {
        const prev = i === 0 ? -1 : toks[i - 1]!;
        const a0 = prev === 3 ? 1 + r() : prev === 5 && r() < 0.7 ? 0.6 : r() < 0.1 ? 0.3 * r() : 0;
        return pos(t, q % 2, a0, r() < 0.2 ? r() : 0);
      });
    });
    const cands: UnitCandidates[] = [{ tokens: [3, 4], bigrams: [], previous: [7, 5, 3, 1] }, { tokens: [2], bigrams: [], previous: [0, 1, 2] }];
    const search = run(cands, seqs, false, 12);
    expect(run(cands, seqs, true, 12).results()).toEqual(search.results());
    const naive = (u: number, prevSet: number[]) => {
      let mass = 0, pMass = 0, pFired = 0, pOcc = 0;
      for (const s of seqs) s.forEach((p, i) => {
        const a = Math.fround(p.act[u]!); // the search sees Float32 activations
        mass += a;
        if (i > 0 && prevSet.includes(s[i - 1]!.token)) (pOcc++, (pMass += a), a > 0 && pFired++);
      });
      return { spec: pMass / mass, sens: pFired / pOcc };
    };
    const b0 = search.best(0);
    expect(b0.kind).toBe("after");
    expect(b0.ids[0]).toBe(3); // the previous token holding the most mass comes first
    const ref = naive(0, b0.ids);
    expect(b0.spec).toBeCloseTo(ref.spec, 12);
    expect(b0.sens).toBeCloseTo(ref.sens, 12);
    expect(b0.score).toBeCloseTo(f1(ref.spec, ref.sens), 12);
    // Every prefix the search could have picked scores at most the best, by the naive count too.
    for (const set of [[3], [3, 5], [3, 5, 7], [3, 5, 7, 1]]) {
      const n = naive(0, set);
      expect(f1(n.spec, n.sens)).toBeLessThanOrEqual(b0.score + 1e-12);
    }
    const b1 = search.best(1);
    if (b1.kind === "after") {
      const n1 = naive(1, b1.ids);
      expect(b1.spec).toBeCloseTo(n1.spec, 12);
      expect(b1.sens).toBeCloseTo(n1.sens, 12);
    }
  });

  it("a unit whose mass is on common tokens absent from its top examples: the mass candidates find them", () => {
    // Unit 0 fires 10 on rare token 9 (4 times: its top examples) and 1 on every occurrence of common tokens 1 and 2
    // (~100 of them), which hold most of its mass but never make the top examples.
    const r = rng(5);
    const seqs: Position[][] = Array.from({ length: 30 }, (_, q) =>
      Array.from({ length: 16 }, (_, i) => {
        const t = q < 4 && i === 7 ? 9 : r() < 0.25 ? 1 + Math.floor(r() * 2) : 3 + Math.floor(r() * 6);
        return pos(t, 0, t === 9 ? 10 : t === 1 || t === 2 ? 1 : 0);
      }));
    const tokens = Int32Array.from(seqs.flat().map((p) => p.token));
    const top = seqs.flatMap((s, q) => s.map((p, i) => ({ sequence: q, position: i, activation: p.act[0]! }))).sort((a, b) => b.activation - a.activation).slice(0, 4);
    const fromTop = candidatesFromTop([9], top, tokens, 16);
    expect(fromTop.tokens).toEqual([9]);
    const sketch = new MassHeavyHitters(1, 8);
    for (const p of seqs.flat()) sketch.add(0, p.token, p.act[0]!);
    const merged = mergeMassCandidates(fromTop, sketch.top(0, 16), []);
    expect(merged.tokens.slice(0, 1)).toEqual([9]);
    expect([...merged.tokens].sort()).toEqual([1, 2, 9]);
    const before = run([fromTop], seqs).best(0);
    const after = run([merged], seqs).best(0);
    // Before: token 9 alone, spec 40 / (40 + ~100) ≈ 0.3. After: {1, 2, 9} holds all the mass and fires on every occurrence.
    expect(before.ids).toEqual([9]);
    expect(before.score).toBeLessThan(0.5);
    expect(after).toMatchObject({ score: 1, spec: 1, sens: 1, kind: "tokens" });
    expect([...after.ids].sort()).toEqual([1, 2, 9]);
  });

  it("bigram sets from mass candidates: up to 5 pairs, spec and sens against a naive count, sparse and dense alike", () => {
    // Unit 0 fires 1 on token 4 after tokens 0, 1, 2 or 3 (each pair a mass candidate), never on 4 after anything else.
    const r = rng(21);
    const seqs: Position[][] = Array.from({ length: 30 }, (_, q) => {
      const toks = Array.from({ length: 12 }, () => Math.floor(r() * 6));
      return toks.map((t, i) => pos(t, q % 2, t === 4 && i > 0 && toks[i - 1]! < 4 ? 1 : 0));
    });
    const cands: UnitCandidates[] = [mergeMassCandidates({ tokens: [4], bigrams: [[0, 4]], previous: [] }, [], [], [1 * 6 + 4, 2 * 6 + 4, 3 * 6 + 4, 5 * 6 + 4], 6)];
    expect(cands[0]!.bigrams).toEqual([[0, 4], [1, 4], [2, 4], [3, 4], [5, 4]]);
    const search = run(cands, seqs, false, 6);
    expect(run(cands, seqs, true, 6).results()).toEqual(search.results());
    const best = search.best(0);
    expect(best.kind).toBe("bigram");
    expect([...best.ids]).toEqual([4, 4, 4, 4]);
    expect([...best.previous!].sort()).toEqual([0, 1, 2, 3]);
    expect(best).toMatchObject({ score: 1, spec: 1, sens: 1 });
    // Token 4 alone is worse: it also occurs after 4 and 5 without firing.
    const tokenOnly = run([{ tokens: [4], bigrams: [] }], seqs, false, 6).best(0);
    expect(tokenOnly.sens).toBeLessThan(1);
  });

  it("merge rule: the top examples' candidates first, then the mass ids not already there, capped", () => {
    const top: UnitCandidates = { tokens: [5, 6], bigrams: [[1, 5]], previous: [1] };
    const many = Array.from({ length: 40 }, (_, i) => 100 + i);
    const m = mergeMassCandidates(top, [6, 7, ...many], [1, 2, ...many]);
    expect(m.tokens.slice(0, 4)).toEqual([5, 6, 7, 100]);
    expect(m.tokens).toHaveLength(MAX_CANDIDATE_TOKENS);
    expect(m.previous!.slice(0, 3)).toEqual([1, 2, 100]);
    expect(m.previous).toHaveLength(MAX_PREVIOUS_CANDIDATES);
    expect(m.bigrams).toEqual([[1, 5]]);
    // Bigrams from mass come as keys previous·V + current (V = 1000 here).
    const withPairs = mergeMassCandidates(top, [], [], [1005, 2007, ...many.map((x) => 3000 + x)], 1000);
    expect(withPairs.bigrams.slice(0, 3)).toEqual([[1, 5], [2, 7], [3, 100]]);
    expect(withPairs.bigrams).toHaveLength(MAX_BIGRAMS);
  });

  it("a unit that never fires scores 0", () => {
    const search = run([{ tokens: [3], bigrams: [] }], [[pos(1, 0, 0), pos(3, 0, 0)]]);
    expect(search.best(0)).toEqual({ score: 0, spec: 0, sens: 0, kind: "tokens", ids: [] });
  });

  it("rejects ids outside the vocabulary and repeated candidates, naming them", () => {
    expect(() => new ProxySearch([{ tokens: [10], bigrams: [] }], V, DOMAINS)).toThrow("candidate token id 10 of unit 0 is outside the vocabulary 0..9");
    expect(() => new ProxySearch([{ tokens: [1, 1], bigrams: [] }], V, DOMAINS)).toThrow("unit 0's candidate tokens repeat an id");
    expect(() => new ProxySearch([{ tokens: [], bigrams: [[1, 2], [1, 2]] }], V, DOMAINS)).toThrow("unit 0's candidate bigrams repeat a pair");
    const search = new ProxySearch([{ tokens: [1], bigrams: [] }], V, DOMAINS);
    expect(() => search.addDense(1, -1, 2, Float32Array.of(1), 0)).toThrow("domain 2 is not one of 0..1");
  });
});

describe("candidates, specs and summaries", () => {
  it("bigram candidates from the top examples, most frequent pair first; position 0 gives none", () => {
    const tokens = Int32Array.from([4, 7, 5, 7, 4, 7, 9, 9]); // two sequences of 4
    const top = [
      { sequence: 0, position: 3, activation: 3 }, // (5, 7)
      { sequence: 1, position: 1, activation: 2 }, // (4, 7)
      { sequence: 0, position: 1, activation: 1 }, // (4, 7)
      { sequence: 1, position: 0, activation: 1 }, // first position: no pair
    ];
    expect(candidatesFromTop([7, 4], top, tokens, 4)).toEqual({ tokens: [7, 4], bigrams: [[4, 7], [5, 7]], previous: [4, 5] });
  });

  it("proxy specs name the token texts", () => {
    const texts = { tokenText: (id: number) => [" United", " States", "def"][id]! };
    expect(interpretabilityProxySpec({ kind: "tokens", ids: [0, 1] }, texts)).toBe('tokens:[" United"," States"]');
    expect(interpretabilityProxySpec({ kind: "tokens-domain", ids: [2], domain: "code" }, texts)).toBe('tokens:["def"] in:code');
    expect(interpretabilityProxySpec({ kind: "bigram", ids: [1], previous: [0] }, texts)).toBe('bigram:[[" United"," States"]]');
    expect(interpretabilityProxySpec({ kind: "after", ids: [0, 2] }, texts)).toBe('after:[" United","def"]');
  });

  it("summary: median, share with spec and sens ≥ 0.8, histogram, over live units only", () => {
    const results = [
      { score: 0.9, spec: 0.85, sens: 0.95 },
      { score: 0.5, spec: 0.9, sens: 0.35 },
      { score: 0.2, spec: 0.2, sens: 0.2 },
      { score: 1, spec: 1, sens: 1 },
      { score: 0, spec: 0, sens: 0 }, // dead
    ];
    const s = summarizeInterpretability(results, (u) => u !== 4);
    expect(s.live).toBe(4);
    expect(s.median).toBeCloseTo(0.7, 12);
    expect(s.mean).toBeCloseTo(0.65, 12);
    expect(s.share_spec_sens_ge_0_8).toBe(0.5);
    expect(s.histogram).toHaveLength(20);
    expect(s.histogram[4]).toBe(1); // 0.2
    expect(s.histogram[10]).toBe(1); // 0.5
    expect(s.histogram[18]).toBe(1); // 0.9
    expect(s.histogram[19]).toBe(1); // 1.0 falls in the last bin
    expect(median([])).toBe(0);
    expect(median([3, 1, 2])).toBe(2);
  });
});
