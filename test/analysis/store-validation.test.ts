/**
 * The store reader trusts nothing (issue 13.8): checksums per file, offsets, lengths and column sizes are checked
 * when a store is opened, and every damage is reported as such, naming the file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvestigationStoreError, InvestigationWriter, openInvestigation, type StoredUnit } from "../../src/analysis/store.js";
import { openSafetensors, saveSafetensors } from "../../src/io/safetensors.js";

const texts = { tokenText: (id: number) => `t${id}` };
const L = 8;
const tokens = Int32Array.from({ length: 4 * L }, (_, i) => (i * 37) % 1000);
let root: string;
let good: string;

function unit(i: number): StoredUnit {
  return {
    label: `"t${i}"`, firing: 3 + i, max: 2 + i, mean: 1, hist: [1, 0, 2, 0],
    top: [{ s: i, p: 3, a: 2 + i, w: [[0, 2 + i, 0.25]] }], intervals: [],
    logits: { top: [[5, 0.1]], bottom: [[6, -0.2]], range: [-0.2, 0.1], counts: [1, 1], mean: 0, std: 0.1 },
    ablation: { meanLossEffect: 0.03, sampled: 1 }, proxy: null, neurons: null, matches: {},
  };
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-store-validation-"));
  good = path.join(root, "A", "1", "investigation");
  const w = new InvestigationWriter({ dir: good, units: 4, tokens, seqLen: L, vocabSize: 50257 });
  for (let i = 0; i < 4; i++) w.add(unit(i), { topTokens: [`t${i}`], logitTop: ["t5"], logitBottom: ["t6"] }, tokens.length, null);
  w.finish({
    format: "saekit-investigation", version: 1, kind: "feature", name: "A/1", model: "A", run: "1", hook: "blocks.0.mlp.hook_post",
    tokenizer: "gpt2", units: 4, tokens: tokens.length, tokenDtype: "U16", sequences: 4, seqLen: L, domains: [], createdAt: "2026-12-01T00:00:00Z",
    options: { topK: 1, histogramBins: 4, intervalCount: 1, intervalSamples: 1, windowBefore: 2, windowAfter: 2, logitTop: 1, proxy: "p", seed: 0 },
    sae: null, compare: [], densityHistogram: { edges: [0, 1], counts: [0], dead: 0 }, timing: {},
  });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let copies = 0;
/** A copy of the good store, damaged by `damage`; `checksums: false` drops manifest.checksums (an older store). */
function damaged(damage: (dir: string) => void, checksums = true): string {
  const dir = path.join(root, `copy-${copies++}`, "investigation");
  fs.cpSync(good, dir, { recursive: true });
  if (!checksums) {
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    delete m.checksums;
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));
  }
  damage(dir);
  return dir;
}

/** Rewrites index.safetensors with `change` applied to its tensors. */
function rewriteIndex(dir: string, change: (t: Record<string, { dtype: "I64" | "F32" | "I32"; shape: number[]; data: BigInt64Array | Float32Array | Int32Array }>) => void): void {
  const file = path.join(dir, "index.safetensors");
  const r = openSafetensors(file);
  const t = Object.fromEntries(r.names().map((n) => [n, r.tensor(n)])) as Parameters<typeof change>[0];
  r.close();
  change(t);
  saveSafetensors(file, t);
}

function expectDamage(dir: string, file: string, what: RegExp): void {
  let error: unknown;
  try {
    openInvestigation(dir, texts).close();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvestigationStoreError);
  const message = (error as Error).message;
  expect(message).toContain(path.join(dir, file));
  expect(message).toMatch(what);
}

describe("investigation store validation", () => {
  it("writes a SHA-256 of each of its files into the manifest, and opens cleanly", () => {
    const m = JSON.parse(fs.readFileSync(path.join(good, "manifest.json"), "utf8"));
    expect(Object.keys(m.checksums).sort()).toEqual(["dictionary.bin", "index.safetensors", "search.json.gz", "tokens.gz", "units.bin"]);
    for (const v of Object.values(m.checksums)) expect(v).toMatch(/^[0-9a-f]{64}$/);
    const inv = openInvestigation(good, texts);
    expect(inv.unit(2).top[0]!.sequence).toBe(2);
    inv.close();
  });

  it("reports a changed byte in any file by its checksum, naming the file", () => {
    for (const file of ["units.bin", "dictionary.bin", "index.safetensors", "search.json.gz", "tokens.gz"]) {
      const dir = damaged((d) => {
        const buf = fs.readFileSync(path.join(d, file));
        buf[buf.length >> 1] ^= 0x40;
        fs.writeFileSync(path.join(d, file), buf);
      });
      expectDamage(dir, file, /SHA-256 differs from the manifest's checksum/);
    }
  });

  it("without checksums: reversed offsets, a short search table, garbage units.bin and wrong column sizes are each refused", () => {
    // Reversed offsets used to serve unit 0's record for A/1/2.
    expectDamage(damaged((d) => rewriteIndex(d, (t) => {
      const o = t.offsets!.data as BigInt64Array;
      [o[2], o[3]] = [o[3]!, o[2]!];
    }), false), "index.safetensors", /offsets decrease at unit/);
    // A short search table used to make every search a 500 TypeError.
    expectDamage(damaged((d) => fs.writeFileSync(path.join(d, "search.json.gz"), zlib.gzipSync(JSON.stringify([{ label: "x", topTokens: [], logitTop: [], logitBottom: [] }]))), false),
      "search.json.gz", /expected 4 entries, got 1/);
    // Garbage units.bin used to fail with "invalid block type" naming no file.
    expectDamage(damaged((d) => fs.writeFileSync(path.join(d, "units.bin"), Buffer.alloc(9, 0xff)), false), "units.bin", /9 bytes, but the offsets end at/);
    expectDamage(damaged((d) => rewriteIndex(d, (t) => {
      t.density = { dtype: "F32", shape: [3], data: new Float32Array(3) };
    }), false), "index.safetensors", /column density is Float32Array of 3, expected Float32Array of 4/);
    expectDamage(damaged((d) => fs.writeFileSync(path.join(d, "search.json.gz"), "not gzip"), false), "search.json.gz", /not gzip'd JSON/);
  });

  it("a record that does not inflate is reported on read, naming units.bin and the unit", () => {
    const dir = damaged((d) => {
      const buf = fs.readFileSync(path.join(d, "units.bin"));
      buf.fill(0xff, 0, 4);
      fs.writeFileSync(path.join(d, "units.bin"), buf);
    }, false);
    const inv = openInvestigation(dir, texts);
    expect(() => inv.unit(0)).toThrow(InvestigationStoreError);
    expect(() => inv.unit(0)).toThrow(/units\.bin: the record of unit 0 cannot be decoded/);
    inv.close();
  });

  it("a manifest with missing or mistyped fields is refused, naming manifest.json", () => {
    const dir = damaged((d) => {
      const m = JSON.parse(fs.readFileSync(path.join(d, "manifest.json"), "utf8"));
      fs.writeFileSync(path.join(d, "manifest.json"), JSON.stringify({ ...m, units: "4" }));
    });
    expectDamage(dir, "manifest.json", /units is "4", expected a non-negative integer/);
    const dir2 = damaged((d) => fs.writeFileSync(path.join(d, "manifest.json"), "{"));
    expectDamage(dir2, "manifest.json", /not valid JSON/);
  });
});
