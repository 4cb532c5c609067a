import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseProxy, ProxyError, tokenSetProxy, type Proxy, type ProxyTokenizer } from "../../src/analysis/proxy.js";
import { proxyReport, ProxyTokenStats, TokenSetLlr } from "../../src/analysis/proxy-stats.js";
import { expectClose } from "../helpers/numeric.js";

/**
 * A byte-level fake tokenizer: each id is a byte string, decode concatenates the bytes and decodes UTF-8 (partial
 * characters become U+FFFD), tokenText(id) = decode([id]) as in the real tokenizer.
 */
const VOCAB: (string | number[])[] = [
  " the", //  0
  " a", //    1
  "cat", //   2
  " The", //  3
  ",", //     4
  " مرحبا", // 5 Arabic
  "שלום", //  6 Hebrew
  "xש", //    7 one Latin, one Hebrew letter
  "123", //   8 no letters
  [0xc3], //  9 first byte of "é"
  [0xa9], // 10 second byte of "é"
  " THE ", // 11
];
const BYTES = VOCAB.map((t) => (typeof t === "string" ? new TextEncoder().encode(t) : Uint8Array.from(t)));

function fakeTokenizer(): ProxyTokenizer & { calls: number } {
  const tok = {
    vocabSize: VOCAB.length,
    calls: 0,
    decode(ids: ArrayLike<number>): string {
      const parts = Array.from(ids, (id) => {
        const b = BYTES[id];
        if (!b) throw new RangeError(`fake tokenizer: id ${id}`);
        return Array.from(b);
      });
      return new TextDecoder().decode(Uint8Array.from(parts.flat()));
    },
    tokenText(id: number): string {
      tok.calls++;
      return tok.decode([id]);
    },
  };
  return tok;
}

function score(proxy: Proxy, ids: number[]): number[] {
  const out = new Float32Array(ids.length);
  proxy.scoreSequence(ids, out);
  return Array.from(out);
}

const ALL_IDS = VOCAB.map((_, i) => i);

describe("token-level proxies", () => {
  it("tokens: matches token texts exactly, the comma form taken literally", async () => {
    const tok = fakeTokenizer();
    const p = await parseProxy("tokens: the, a", tok); // " the" and " a"
    expect(p.tokenLevel).toBe(true);
    expect(p.spec).toBe("tokens: the, a");
    expect(score(p, [2, 0, 1, 3, 11])).toEqual([0, 1, 1, 0, 0]);
    expect(p.description).toBe('token is one of " the", " a"');
  });

  it("tokens: accepts a JSON array for texts with commas", async () => {
    const p = await parseProxy('tokens:[" the",","]', fakeTokenizer());
    expect(score(p, ALL_IDS)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("tokens-ci: compares trimmed, lower-cased texts", async () => {
    const p = await parseProxy("tokens-ci:The", fakeTokenizer());
    expect(score(p, ALL_IDS)).toEqual([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it("regex: plain form (u flag) and /pattern/flags form", async () => {
    const tok = fakeTokenizer();
    expect(score(await parseProxy("regex:^\\s", tok), ALL_IDS)).toEqual([1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
    expect(score(await parseProxy("regex:\\p{Script=Hebrew}", tok), ALL_IDS)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
    // g is dropped (a stateful test() would alternate true/false on the same text).
    const ci = await parseProxy("regex:/^ th/gi", tok);
    expect(score(ci, [0, 0, 3, 11, 2])).toEqual([1, 1, 1, 1, 0]);
  });

  it("script: share of the token's letters in the script", async () => {
    const tok = fakeTokenizer();
    expect(score(await parseProxy("script:Arabic", tok), ALL_IDS)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(score(await parseProxy("script:Hebrew", tok), ALL_IDS)).toEqual([0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, 0, 0]);
    // Digits, punctuation, spaces and partial bytes (U+FFFD) are not letters.
    expect(score(await parseProxy("script: Latin", tok), ALL_IDS)).toEqual([1, 1, 1, 1, 0, 0, 0, 0.5, 0, 0, 0, 1]);
  });

  it("builds the per-id table once, on first use", async () => {
    const tok = fakeTokenizer();
    const p = await parseProxy("script:Arabic", tok);
    expect(tok.calls).toBe(0);
    score(p, [5, 0]);
    expect(tok.calls).toBe(VOCAB.length);
    score(p, [1, 2, 3]);
    expect(tok.calls).toBe(VOCAB.length);
    expect(p.tokenLevel && Array.from(p.tokenScores())).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("rejects ids outside the vocabulary and a short output", async () => {
    const p = await parseProxy("tokens:cat", fakeTokenizer());
    expect(() => score(p, [2, 12])).toThrow(/token id 12 at position 1 is outside the vocabulary 0\.\.11/);
    expect(() => score(p, [-1])).toThrow(ProxyError);
    expect(() => p.scoreSequence([1, 2], new Float32Array(1))).toThrow(/output holds 1 scores but the sequence has 2/);
  });

  it("tokenSetProxy: score 1 on the set, a spec parseProxy reads back", async () => {
    const tok = fakeTokenizer();
    const p = tokenSetProxy([5, 0, 5], tok);
    expect(p.tokenLevel).toBe(true);
    expect(Array.from(p.ids)).toEqual([0, 5]);
    expect(p.spec).toBe('tokens:[" the"," مرحبا"]');
    expect(score(p, [0, 1, 5, 2])).toEqual([1, 0, 1, 0]);
    const back = await parseProxy(p.spec, tok);
    expect(back.tokenLevel && Array.from(back.tokenScores())).toEqual(Array.from(p.tokenScores()));
    expect(() => tokenSetProxy([3, 12], tok)).toThrow(/token id 12 is outside/);
  });
});

describe("context proxy", () => {
  it("holds at every token a match overlaps, across token boundaries", async () => {
    const p = await parseProxy("context:t th", fakeTokenizer());
    expect(p.tokenLevel).toBe(false);
    // "cat the a": cat [0,3), " the" [3,7), " a" [7,9); the match is [2,6).
    expect(score(p, [2, 0, 1])).toEqual([1, 1, 0]);
    expect(score(p, [0, 2, 0, 2])).toEqual([0, 1, 1, 0]); // " thecat thecat": match [6,10)
    expect(score(p, [1, 2])).toEqual([0, 0]);
  });

  it("every match counts; flags from the /…/ form; empty matches cover nothing", async () => {
    const tok = fakeTokenizer();
    expect(score(await parseProxy("context:/CAT/i", tok), [2, 0, 2, 1])).toEqual([1, 0, 1, 0]);
    expect(score(await parseProxy("context:x*", tok), [2, 0, 7])).toEqual([0, 0, 1]);
  });

  it("decodes runs of partial-byte tokens together", async () => {
    const tok = fakeTokenizer();
    // "cat" + [C3] + [A9] + "cat" = "catécat": the two byte tokens share the span of "é".
    const ctx = await parseProxy("context:é", tok);
    expect(score(ctx, [2, 9, 10, 2])).toEqual([0, 1, 1, 0]);
    expect(score(await parseProxy("context:té", tok), [2, 9, 10, 2])).toEqual([1, 1, 1, 0]);
    // Token by token the bytes are only U+FFFD.
    expect(score(await parseProxy("regex:é", tok), [2, 9, 10, 2])).toEqual([0, 0, 0, 0]);
    expect(score(await parseProxy("context:\\p{Script=Arabic}+", tok), [0, 5, 6])).toEqual([0, 1, 0]);
  });
});

describe("module proxy", () => {
  const dir = mkdtempSync(join(tmpdir(), "saekit-proxy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, source: string) => {
    const path = join(dir, name);
    writeFileSync(path, source);
    return relative(process.cwd(), path); // module paths are relative to the working directory
  };

  it("default-exported function sees id, text, position, sequence and tokenText", async () => {
    const path = write(
      "after-the.mjs",
      // 1 at "cat" right after " the", 0.25 at any other "cat", 0 elsewhere.
      `export default (ctx) => ctx.text !== "cat" ? 0 :
         ctx.position > 0 && ctx.tokenText(ctx.sequence[ctx.position - 1]) === " the" ? 1 : 0.25;`,
    );
    const p = await parseProxy(`module:${path}`, fakeTokenizer());
    expect(p.tokenLevel).toBe(false);
    expect(p.description).toBe(`module proxy ${path}`);
    expect(score(p, [2, 0, 2, 1, 2])).toEqual([0.25, 0, 1, 0, 0.25]);
  });

  it("default-exported object with description and a boolean score", async () => {
    const path = write(
      "capital.mjs",
      `export default { description: "capitalised", upper: /^\\s*[A-Z]/, score(ctx) { return this.upper.test(ctx.text); } };`,
    );
    const p = await parseProxy(`module:${path}`, fakeTokenizer());
    expect(p.description).toBe("capitalised");
    expect(score(p, [0, 3, 11, 2])).toEqual([0, 1, 1, 0]);
  });

  it("errors: missing file, bad export, scores outside [0, 1] or NaN", async () => {
    const tok = fakeTokenizer();
    await expect(parseProxy("module:no/such/proxy.mjs", tok)).rejects.toThrow(/module file not found: .*no\/such\/proxy\.mjs/);
    await expect(parseProxy(`module:${write("number.mjs", "export default 42;")}`, tok)).rejects.toThrow(
      /number\.mjs must be a function \(ctx\) => score or an object \{ description\?, score\(ctx\) \}, got number/,
    );
    await expect(parseProxy(`module:${write("noscore.mjs", "export default { description: 'x' };")}`, tok)).rejects.toThrow(ProxyError);
    const two = await parseProxy(`module:${write("two.mjs", "export default () => 2;")}`, tok);
    expect(() => score(two, [2])).toThrow(/proxy module .*two\.mjs returned 2 at position 0 \(token 2 "cat"\)/);
    const nan = await parseProxy(`module:${write("nan.mjs", "export default (ctx) => ctx.position === 1 ? NaN : 0;")}`, tok);
    expect(() => score(nan, [2, 0])).toThrow(/nan\.mjs returned NaN at position 1 \(token 0 " the"\)/);
  });
});

describe("bad specs", () => {
  const tok = fakeTokenizer();
  it("unknown kinds list the accepted forms", async () => {
    for (const spec of ["words:cat", "cat"]) {
      const err = await parseProxy(spec, tok).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProxyError);
      const message = (err as Error).message;
      for (const form of ["tokens:", "tokens-ci:", "regex:", "context:", "script:", "module:"]) expect(message).toContain(form);
    }
    await expect(parseProxy("words:cat", tok)).rejects.toThrow(/unknown proxy kind "words"/);
    await expect(parseProxy("cat", tok)).rejects.toThrow(/has no kind/);
  });

  it("names the bad argument", async () => {
    await expect(parseProxy("script:Klingon", tok)).rejects.toThrow(/unknown Unicode script "Klingon"/);
    await expect(parseProxy("script:Latin}|.", tok)).rejects.toThrow(/unknown Unicode script "Latin}\|\."/);
    await expect(parseProxy("regex:(", tok)).rejects.toThrow(/invalid regular expression "\("/);
    await expect(parseProxy("context:/a/q", tok)).rejects.toThrow(/invalid regular expression "\/a\/q"/);
    await expect(parseProxy("tokens:", tok)).rejects.toThrow(/needs an argument/);
    await expect(parseProxy("tokens:a,,b", tok)).rejects.toThrow(/empty token text/);
    await expect(parseProxy('tokens:[" the",', tok)).rejects.toThrow(/not valid JSON/);
    await expect(parseProxy("tokens:[1,2]", tok)).rejects.toThrow(/array of strings/);
  });
});

describe("LLR", () => {
  // V = 4, α = 0.5 (αV = 2). Proxy = the set {0, 1}. Counts c = [3, 1, 0, 4]: N = 8, N_p = 4.
  //   LLR(t ∈ {0,1}) = log((c+0.5)/(4+2)) − log((c+0.5)/(8+2)) = log(10/6)
  //   LLR(2) = log(0.5/6) − log(0.5/10) = log(10/6);  LLR(3) = log(0.5/6) − log(4.5/10) = log(5/27)
  const expected = [Math.log(10 / 6), Math.log(10 / 6), Math.log(10 / 6), Math.log(5 / 27)];
  const setScores = Float32Array.from([1, 1, 0, 0]);

  it("streaming counts of a binary proxy", () => {
    const stats = new ProxyTokenStats(4);
    for (const seq of [[0, 0, 3, 1], [3, 3, 0, 3]]) stats.add(seq, seq.map((id) => setScores[id]!));
    expect(stats.tokens).toBe(8);
    expect(stats.proxyTokens).toBe(4);
    expect([0, 1, 2, 3].map((t) => stats.count(t))).toEqual([3, 1, 0, 4]);
    expectClose(stats.llr(), expected, 1e-6);
  });

  it("fromUnigram and TokenSetLlr give the same numbers", () => {
    const counts = Uint32Array.from([3, 1, 0, 4]);
    const stats = ProxyTokenStats.fromUnigram(counts, setScores);
    expect(stats.proxyTokens).toBe(4);
    expectClose(stats.llr(), expected, 1e-6);
    // Two units: the set {0, 1} (given with a repeat) and the empty set.
    const sets = new TokenSetLlr(counts, [[1, 0, 1], []]);
    expect(sets.total).toBe(8);
    expect(Array.from(sets.proxyTokens)).toEqual([4, 0]);
    expect([0, 1, 2, 3].map((t) => sets.has(0, t))).toEqual([true, true, false, false]);
    expectClose([0, 1, 2, 3].map((t) => sets.llr(0, t)), expected, 1e-12);
    expect(sets.has(1, 0)).toBe(false);
    expect(() => new TokenSetLlr(counts, [[4]])).toThrow(/token id 4 of set 0 is outside/);
  });

  it("graded scores and another α", () => {
    // One sequence [0, 1] scored [0.5, 1]: c = [1, 1, 0, 0], c_p = [0.5, 1, 0, 0], N = 2, N_p = 1.5.
    const stats = new ProxyTokenStats(4);
    stats.add(Int32Array.from([0, 1]), Float32Array.from([0.5, 1]));
    expect(stats.proxyCount(0)).toBe(0.5);
    // α = 0.5: LLR(0) = log(1/3.5) − log(1.5/4); LLR(1) = log(1.5/3.5) − log(1.5/4); LLR(2) = log(0.5/3.5) − log(0.5/4).
    const a = Math.log(1 / 3.5) - Math.log(1.5 / 4);
    const b = Math.log(1.5 / 3.5) - Math.log(1.5 / 4);
    expectClose(stats.llr(), [a, b, Math.log(4 / 3.5), Math.log(4 / 3.5)], 1e-6);
    // α = 1 (αV = 4): LLR(0) = log(1.5/5.5) − log(2/6).
    const one = ProxyTokenStats.fromUnigram(Float64Array.from([1, 1, 0, 0]), Float32Array.from([0.5, 1, 0, 0]), 1);
    expectClose([one.llr()[0]!], [Math.log(1.5 / 5.5) - Math.log(2 / 6)], 1e-6);
  });

  it("a bad sequence throws before anything is counted", () => {
    const stats = new ProxyTokenStats(4);
    stats.add([0], [1]);
    expect(() => stats.add([1, 4], [0, 0])).toThrow(/token id 4 at position 1 is outside 0\.\.3/);
    expect(() => stats.add([1, 2], [0, 1.5])).toThrow(/score 1.5 at position 1/);
    expect(() => stats.add([1, 2], [0])).toThrow(/2 tokens but 1 scores/);
    expect(stats.tokens).toBe(1);
    expect(stats.count(1)).toBe(0);
    expect(() => new ProxyTokenStats(4, 0)).toThrow(/alpha must be a positive number/);
    expect(() => ProxyTokenStats.fromUnigram(new Float64Array(3), new Float32Array(4))).toThrow(/3 unigram counts but 4 token scores/);
  });
});

describe("proxyReport", () => {
  it("bins, masses, specificity and sensitivity by hand", () => {
    const a4 = Math.fround(3.999);
    const r = proxyReport({
      spec: "tokens:x",
      description: "d",
      activations: Float32Array.from([0.5, 1, 2.5, 4, a4]),
      scores: Float32Array.from([1, 0, 0.5, 1, 0]),
      llr: Float32Array.from([0.5, 0.25, -1, 2, 1]),
      max: 4,
      bins: 4,
      proxyTokens: 10,
    });
    expect(r.bins.map((b) => [b.lo, b.hi])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    // 1 is an edge: it opens bin 1. 4 = max goes to the last bin.
    expect(r.bins.map((b) => b.count)).toEqual([1, 1, 1, 2]);
    expect(r.bins.map((b) => b.proxyCount)).toEqual([1, 0, 0.5, 1]);
    expectClose(r.bins.map((b) => b.proxyMassShare!), [0.5 / 0.5, 0 / 1, 1.25 / 2.5, 4 / (4 + a4)], 1e-12);
    expect(r.bins.map((b) => b.meanLlr)).toEqual([0.5, 0.25, -1, 1.5]);
    // Σ a·s = 5.75, Σ a = 8 + a4; Σ s = 2.5 over 5 firing tokens; N_p = 10.
    expect(r.specificity).toBeCloseTo(5.75 / (8 + a4), 12);
    expect(r.specificityFiring).toBe(0.5);
    expect(r.sensitivity).toBe(0.25);
    expect(r.proxyTokens).toBe(10);
    expect(r.spec).toBe("tokens:x");
    expect(r.description).toBe("d");
  });

  it("bin edges that are not exact in binary, and max itself", () => {
    const max = 0.3;
    const e1 = (max * 1) / 3;
    const e2 = (max * 2) / 3;
    const below = (x: number) => x - x * 2 ** -52; // a double one or two ulps below x
    const acts = [below(e1), e1, below(e2), e2, max];
    const r = proxyReport({
      spec: "s", description: "d", activations: acts, scores: [1, 1, 1, 1, 1], llr: [0, 0, 0, 0, 0], max, bins: 3, proxyTokens: 5,
    });
    expect(r.bins.map((b) => [b.lo, b.hi])).toEqual([[0, e1], [e1, e2], [e2, max]]);
    expect(r.bins.map((b) => b.count)).toEqual([1, 2, 2]);
    for (const a of acts) {
      const bin = r.bins.find((b) => b.lo <= a && (a < b.hi || (b === r.bins[2] && a === max)))!;
      expect(bin).toBeDefined();
    }
    expect(r.specificity).toBe(1);
    expect(r.sensitivity).toBe(1);
  });

  it("a unit that never fires, a proxy that never holds, and bad input", () => {
    const r = proxyReport({ spec: "s", description: "d", activations: [], scores: [], llr: [], max: 0, bins: 2, proxyTokens: 0 });
    expect(r.bins).toEqual([
      { lo: 0, hi: 0, count: 0, proxyCount: 0, proxyMassShare: null, meanLlr: null },
      { lo: 0, hi: 0, count: 0, proxyCount: 0, proxyMassShare: null, meanLlr: null },
    ]);
    expect([r.specificity, r.specificityFiring, r.sensitivity]).toEqual([0, 0, 0]);
    const never = proxyReport({ spec: "s", description: "d", activations: [1], scores: [0], llr: [-2], max: 1, bins: 2, proxyTokens: 0 });
    expect([never.specificity, never.specificityFiring, never.sensitivity]).toEqual([0, 0, 0]);
    expect(never.bins.map((b) => b.meanLlr)).toEqual([null, -2]);
    const base = { spec: "s", description: "d", scores: [1], llr: [0], max: 1, bins: 2, proxyTokens: 1 };
    expect(() => proxyReport({ ...base, activations: [1.5] })).toThrow(/activation 1.5 at firing token 0 is not in \(0, max = 1\]/);
    expect(() => proxyReport({ ...base, activations: [0] })).toThrow(ProxyError);
    expect(() => proxyReport({ ...base, activations: [0.5, 0.5] })).toThrow(/2 activations, 1 scores and 1 LLRs/);
    expect(() => proxyReport({ ...base, activations: [0.5], bins: 0 })).toThrow(/bins must be a positive integer/);
  });
});
