/** The investigation store: round trip of records, token sharing, and clear errors for broken folders. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InvestigationManifest } from "../../src/analysis/unit-record.js";
import { InvestigationStoreError, InvestigationWriter, openInvestigation, roundTo, type StoredUnit } from "../../src/analysis/store.js";

let root: string;
const texts = { tokenText: (id: number) => `t${id}` };
const L = 8;
const tokens = Int32Array.from({ length: 4 * L }, (_, i) => (i * 37) % 1000);

function unit(i: number): StoredUnit {
  const max = 2 + i;
  return {
    label: `"t${i}"`,
    firing: 3 + i,
    max,
    mean: 1.2345678,
    hist: [1, 0, 2 + i, 0],
    top: [{ s: 1, p: 3, a: max, w: [[-2, 0.5 * max, -0.0123456], [0, max, 0.25], [2, 0.001, null]] }],
    intervals: [{ lo: 0, hi: max / 2, fraction: 0.75, examples: [{ s: 3, p: L - 1, a: 0.4, w: [[0, 0.4, null]] }] }],
    logits: { top: [[5, 0.123456]], bottom: [[6, -0.2]], range: [-0.2, 0.123456], counts: [1, 0, 3], mean: 0.01, std: 0.05 },
    ablation: { meanLossEffect: 0.0314159, sampled: 1 },
    proxy: {
      // Unit 0 carries an explicit proxy; the others the automatic one (rebuilt from the top examples on read).
      ...(i === 0 ? { spec: 'regex:^t', description: "starts with t" } : {}),
      specificity: 0.5, specificityFiring: 0.25, sensitivity: 0.125, proxyTokens: 8, proxyCount: [1, 0, 1, 0], massShare: [1, null, 0.4, null], llr: [0.7, null, 0.3, null],
    },
    neurons: { alignment: [[7, 0.5, 0.1, 0.5]], correlated: [[9, 0.8123]] },
    matches: { "B/1": [i + 1, 0.91, 0.52] },
  };
}

function manifest(name: string, units: number): Omit<InvestigationManifest, "tokensFile" | "tokensSha256"> {
  return {
    format: "saekit-investigation", version: 1, kind: "feature", name, model: name.split("/")[0]!, run: "1", hook: "blocks.0.mlp.hook_post",
    tokenizer: "gpt2", units, tokens: tokens.length, tokenDtype: "U16", sequences: 4, seqLen: L,
    domains: [{ domain: "prose", firstSequence: 0, sequences: 2 }, { domain: "code", firstSequence: 2, sequences: 2 }],
    createdAt: "2026-11-26T00:00:00Z",
    options: { topK: 1, histogramBins: 4, intervalCount: 1, intervalSamples: 1, windowBefore: 2, windowAfter: 2, logitTop: 1, proxy: "p", seed: 0 },
    sae: null, compare: [], densityHistogram: { edges: [0, 1], counts: [0], dead: 0 }, timing: {},
  };
}

function write(dir: string, units: number, share?: string | string[]): void {
  const w = new InvestigationWriter({ dir, units, tokens, seqLen: L, vocabSize: 50257, ...(share ? { shareTokensWith: share } : {}) });
  for (let i = 0; i < units; i++) w.add(unit(i), { topTokens: [`t${i}`], logitTop: ["t5"], logitBottom: ["t6"] }, tokens.length, "B/1");
  w.finish(manifest(path.basename(path.dirname(dir)) === "1" ? "A/1" : "X/1", units));
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-store-"));
  write(path.join(root, "A", "1", "investigation"), 3);
  write(path.join(root, "B", "1", "investigation"), 2, path.join(root, "A", "1", "investigation"));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("investigation store", () => {
  it("round-trips records: exact ids and counts, floats to 4 digits, window activations to 1/255 of the max", () => {
    const inv = openInvestigation(path.join(root, "A", "1", "investigation"), texts);
    const u = inv.unit(2);
    expect(u.name).toBe("A/1/2");
    expect(u.firing).toBe(5);
    expect(u.density).toBeCloseTo(5 / tokens.length, 9);
    expect(u.meanActivation).toBe(roundTo(1.2345678, 4));
    expect(u.histogram).toEqual({ edges: [0, 1, 2, 3, 4], counts: [1, 0, 4, 0] });
    const e = u.top[0]!;
    expect(e).toMatchObject({ sequence: 1, position: 3, activation: 4, domain: "prose", start: 1 });
    expect(e.tokens.map((t) => t.id)).toEqual([...tokens.subarray(L + 1, L + 6)]);
    expect(e.tokens.map((t) => t.text)).toEqual([...tokens.subarray(L + 1, L + 6)].map((id) => `t${id}`));
    expect(Math.abs(e.tokens[0]!.activation - 2)).toBeLessThanOrEqual(4 / 510);
    // Δlog-prob: 3 significant digits, then float16 on disk.
    expect(e.tokens[0]!.logprobDelta!).toBeCloseTo(-0.0123, 5);
    expect(e.tokens[1]!.activation).toBe(0);
    expect(e.tokens[1]!.logprobDelta).toBe(0);
    expect(e.tokens[2]!).toMatchObject({ activation: 4, logprobDelta: 0.25 });
    expect(e.tokens[4]!.logprobDelta).toBeNull();
    const iv = u.intervals[0]!;
    expect(iv.examples[0]!.tokens.at(-1)!.logprobDelta).toBeNull(); // last position: nothing to predict
    expect(u.logits.histogram.edges[0]).toBeCloseTo(-0.2, 6);
    expect(u.logits.histogram.edges.at(-1)).toBeCloseTo(0.1235, 6);
    expect(u.logits.top[0]).toEqual({ id: 5, text: "t5", weight: 0.1235 });
    expect(u.proxy!.bins.map((b) => [b.lo, b.count, b.proxyCount, b.proxyMassShare, b.meanLlr])).toEqual([[0, 1, 1, 1, 0.7], [1, 0, 0, null, null], [2, 4, 1, 0.4, 0.3], [3, 0, 0, null, null]]);
    const topToken = `t${tokens[L + 3]}`;
    expect(u.proxy!.spec).toBe(`tokens:${JSON.stringify([topToken])}`);
    expect(u.proxy!.description).toBe(`top-activating tokens: ${JSON.stringify(topToken)}`);
    expect(inv.unit(0).proxy!.spec).toBe("regex:^t");
    expect(u.neurons!.alignment[0]).toEqual({ neuron: 7, name: "A/neuron/7", value: 0.5, fractionOfL1: 0.1, cosine: 0.5 });
    expect(u.matches["B/1"]).toEqual({ name: "B/1/3", index: 3, r: 0.91, logitR: 0.52 });
    expect(u.ablation.lossEffectPerToken).toBeCloseTo(roundTo(0.0314159, 4) * u.density, 9);
    expect(inv.columns.match[2]).toBe(3);
    expect(inv.columns.bestNeuron[2]).toBe(9);
    inv.close();
  });

  it("shares the token file of a store over the same tokens, and refuses a changed one", () => {
    const b = path.join(root, "B", "1", "investigation");
    const inv = openInvestigation(b, texts);
    expect(inv.manifest.tokensFile).toBe(path.join("..", "..", "..", "A", "1", "investigation", "tokens.gz"));
    expect(fs.existsSync(path.join(b, "tokens.gz"))).toBe(false);
    expect([...inv.sequence(3)]).toEqual([...tokens.subarray(3 * L)]);
    inv.close();
    const copy = path.join(root, "copy");
    fs.cpSync(path.join(root, "A"), path.join(copy, "A"), { recursive: true });
    fs.cpSync(path.join(root, "B"), path.join(copy, "B"), { recursive: true });
    const other = Int32Array.from(tokens, (t) => t + 1);
    fs.writeFileSync(path.join(copy, "A", "1", "investigation", "tokens.gz"), zlib.gzipSync(new Uint8Array(Uint16Array.from(other).buffer)));
    expect(() => openInvestigation(path.join(copy, "B", "1", "investigation"), texts)).toThrow(/not the token stream it was analysed on/);
  });

  it("tries the candidate stores in order: a missing one and one over other tokens are passed over", () => {
    // Q/1's store holds other tokens (written alone), so it cannot be shared.
    const otherDir = path.join(root, "Q", "1", "investigation");
    const w = new InvestigationWriter({ dir: otherDir, units: 1, tokens: Int32Array.from(tokens, (t) => t + 1), seqLen: L, vocabSize: 50257 });
    w.add(unit(0), { topTokens: ["t0"], logitTop: ["t5"], logitBottom: ["t6"] }, tokens.length, "B/1");
    w.finish(manifest("Q/1", 1));
    const d = path.join(root, "D", "1", "investigation");
    write(d, 2, [path.join(root, "missing", "investigation"), otherDir, path.join(root, "B", "1", "investigation")]);
    const inv = openInvestigation(d, texts);
    // B/1 points at A/1's file, so D/1 does too: the pointer resolves through B/1's manifest.
    expect(inv.manifest.tokensFile).toBe(path.join("..", "..", "..", "A", "1", "investigation", "tokens.gz"));
    expect(fs.existsSync(path.join(d, "tokens.gz"))).toBe(false);
    expect([...inv.sequence(1)]).toEqual([...tokens.subarray(L, 2 * L)]);
    inv.close();
    // No candidate holds these tokens: the store writes its own copy.
    const e = path.join(root, "E", "1", "investigation");
    write(e, 1, [otherDir]);
    expect(openInvestigation(e, texts).manifest.tokensFile).toBe("tokens.gz");
  });

  it("names the folder and the problem for missing or foreign folders and out-of-range units", () => {
    expect(() => openInvestigation(path.join(root, "nope"), texts)).toThrow(InvestigationStoreError);
    expect(() => openInvestigation(path.join(root, "nope"), texts)).toThrow(/no manifest.json/);
    const bad = path.join(root, "bad");
    fs.cpSync(path.join(root, "A", "1", "investigation"), bad, { recursive: true });
    const m = JSON.parse(fs.readFileSync(path.join(bad, "manifest.json"), "utf8"));
    fs.writeFileSync(path.join(bad, "manifest.json"), JSON.stringify({ ...m, version: 9 }));
    expect(() => openInvestigation(bad, texts)).toThrow(/version 9 is not supported/);
    const inv = openInvestigation(path.join(root, "A", "1", "investigation"), texts);
    expect(() => inv.unit(3)).toThrow(/unit 3 is out of range \[0, 3\)/);
    inv.close();
  });

  it("searches by exact name, token and logit token", () => {
    const inv = openInvestigation(path.join(root, "A", "1", "investigation"), texts);
    expect(inv.search("A/1/1")).toEqual([expect.objectContaining({ index: 1, field: "name" })]);
    expect(inv.search("t2")[0]).toMatchObject({ index: 2, field: "top token" });
    expect(inv.search("\"t2")[0]).toMatchObject({ index: 2, field: "label" });
    expect(inv.search("t5").map((h) => h.field)).toEqual(["top logit", "top logit", "top logit"]);
    inv.close();
  });
});


describe("investigation writer", () => {
  it("removes the folders an interrupted run left, and leaves the old store intact until it finishes", () => {
    const parent = path.join(root, "C", "1");
    fs.mkdirSync(path.join(parent, "investigation.tmp-123-abc"), { recursive: true });
    fs.mkdirSync(path.join(parent, "investigation.old-9-zz"), { recursive: true });
    fs.mkdirSync(path.join(parent, "investigation.tmp-notours"), { recursive: true });
    const w = new InvestigationWriter({ dir: path.join(parent, "investigation"), units: 1, tokens, seqLen: L, vocabSize: 50257 });
    expect(fs.readdirSync(parent).sort()).toEqual([expect.stringMatching(/^investigation\.tmp-\d+-/), "investigation.tmp-notours"].sort());
    w.abort();
    expect(fs.readdirSync(parent)).toEqual(["investigation.tmp-notours"]);
  });
});
