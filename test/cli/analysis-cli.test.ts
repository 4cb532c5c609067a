/** `saekit analyze / investigate / prompt` on the fixture workspace (tiny models A and B with analysed SAE runs). */
import fs from "node:fs";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import path from "node:path";
import { ATLAS_FILE, readAtlas } from "../../src/analysis/atlas-store.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openInvestigation } from "../../src/analysis/store.js";
import { buildFixture, LIVE, type Fixture } from "../web/fixture.js";

let fx: Fixture;
const cli = captureCliOutput();

beforeAll(async () => {
  fx = await buildFixture();
}, 60_000);
afterAll(() => fx?.cleanup());


const run = runCli;
const text = () => cli.text();

describe("saekit investigate", () => {
  it("prints the whole investigation of a feature and writes it as JSON", async () => {
    const json = path.join(fx.root, "inv.json");
    await run("investigate", `A/1/${LIVE}`, "--models", fx.root, "--json", json);
    const out = text();
    for (const part of ["A/1/5", "density", "proxy tokens:", "specificity", "logit weights", "ablation", "not a neuron", "universality  B/1:", "top activations"]) {
      expect(out).toContain(part);
    }
    const saved = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(saved.unit.name).toBe("A/1/5");
    expect(saved.unit.top.length).toBeGreaterThan(0);
  });

  it("re-scores the stored top-token proxy live with the same figures, and reports a user proxy", async () => {
    const store = openInvestigation(path.join(fx.root, "A", "1", "investigation"), fx.tokenizer);
    const stored = store.unit(LIVE).proxy!;
    store.close();
    const json = path.join(fx.root, "proxy.json");
    await run("investigate", `A/1/${LIVE}`, "--models", fx.root, "--proxy", stored.spec, "--json", json);
    const live = JSON.parse(fs.readFileSync(json, "utf8")).proxy;
    expect(live.proxyTokens).toBe(stored.proxyTokens);
    expect(live.sensitivity).toBeCloseTo(stored.sensitivity, 3);
    expect(live.specificity).toBeCloseTo(stored.specificity, 3);
    expect(live.specificityFiring).toBeCloseTo(stored.specificityFiring, 3);
    cli.clear();
    await run("investigate", "A/neuron/3", "--models", fx.root, "--proxy", "regex:^\\s*[a-z_]+$");
    expect(text()).toContain("proxy regex:");
    expect(text()).toMatch(/sensitivity \d/);
  });

  it("names the problem for a malformed or unknown unit", async () => {
    const fails = async (pattern: RegExp, ...args: string[]) => {
      cli.clear();
      process.exitCode = undefined;
      await run(...args);
      expect(process.exitCode).not.toBe(0);
      expect(process.exitCode).toBeDefined();
      expect(text()).toMatch(pattern);
    };
    await fails(/index must be a non-negative integer/, "investigate", "A/1/x", "--models", fx.root);
    await fails(/9999/, "investigate", "A/1/9999", "--models", fx.root);
    await fails(/tokens:/, "investigate", "A/1/5", "--models", fx.root, "--proxy", "bogus:1");
  });
});

describe("saekit prompt", () => {
  it("lists the features per token and the three rankings", async () => {
    const json = path.join(fx.root, "prompt.json");
    await run("prompt", "--sae", path.join(fx.root, "A", "1"), "--text", "def f(x):\n    return x", "--json", json);
    const out = text();
    expect(out).toContain("prompt on A/1:");
    expect(out).toContain("by max activation");
    expect(out).toContain("by loss effect when ablated");
    expect(out).toContain("by direct logit effect");
    const saved = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(saved.tokens.map((t: { text: string }) => t.text).join("")).toBe("def f(x):\n    return x");
    expect(saved.rankings.maxActivation[0].label).not.toBeNull();
  });
});

describe("saekit analyze", () => {
  it("analyses a run over a user corpus and writes both stores", async () => {
    const corpus = path.join(fx.root, "corpus.jsonl");
    const lines = [];
    for (let i = 0; i < 30; i++) {
      lines.push(JSON.stringify({ domain: "prose", text: `The people of the nation ${i} met on the river bank and spoke of peace. `.repeat(4) }));
      lines.push(JSON.stringify({ domain: "code", text: `def f${i}(x):\n    return x * ${i}\n`.repeat(4) }));
    }
    fs.writeFileSync(corpus, lines.join("\n"));
    const copy = path.join(fx.root, "copy");
    fs.cpSync(path.join(fx.root, "B"), copy, { recursive: true });
    await run("analyze", "--sae", path.join(copy, "1"), "--compare", path.join(fx.root, "A", "1"), "--tokens", "512", "--jsonl", corpus, "--cache-dir", path.join(fx.root, "tokens"));
    const out = text();
    expect(out).toMatch(/analyze copy\/1: 64 features \+ 32 neurons over 512 tokens, matched against A\/1/);
    expect(out).toMatch(/universality vs A\/1: [\d.]+% of live features/);
    const store = openInvestigation(path.join(copy, "1", "investigation"), fx.tokenizer);
    expect(store.manifest).toMatchObject({ name: "copy/1", tokens: 512, units: 64 });
    expect(store.manifest.domains.map((d) => d.domain)).toEqual(["prose", "code"]);
    store.close();
    expect(fs.existsSync(path.join(copy, "investigation", "manifest.json"))).toBe(true);
  });

  it("stores the feature atlas with --atlas: every feature of the run and the named run, checksummed, reproducible", async () => {
    const copy = path.join(fx.root, "atlas-copy");
    fs.cpSync(path.join(fx.root, "B"), copy, { recursive: true });
    fs.cpSync(path.join(copy, "1"), path.join(copy, "2"), { recursive: true });
    fs.rmSync(path.join(copy, "2", "investigation"), { recursive: true, force: true });
    const corpus = path.join(fx.root, "atlas-corpus.jsonl");
    fs.writeFileSync(corpus, Array.from({ length: 60 }, (_, i) => JSON.stringify(i % 2
      ? { domain: "code", text: `def g${i}(x):\n    return x + ${i}\n`.repeat(4) }
      : { domain: "prose", text: `The river ${i} rose over its banks and the farmers moved their cattle. `.repeat(4) })).join("\n"));
    const store = path.join(copy, "1", "investigation");
    const analyze = () => run("analyze", "--sae", path.join(copy, "1"), "--atlas", path.join(copy, "2"), "--no-neurons", "--tokens", "256", "--jsonl", corpus, "--cache-dir", path.join(fx.root, "atlas-tokens"));
    await analyze();
    expect(text()).toMatch(/atlas: 128 decoder directions of atlas-copy\/1, atlas-copy\/2 laid out in [\d.]+ s \(UMAP, cosine, seed 0\); view it at \/atlas\/atlas-copy/);
    const manifest = JSON.parse(fs.readFileSync(path.join(store, "manifest.json"), "utf8")) as { checksums: Record<string, string> };
    const first = readAtlas(store, manifest.checksums[ATLAS_FILE])!;
    expect(manifest.checksums[ATLAS_FILE]).toMatch(/^[0-9a-f]{64}$/);
    expect(first.runs.map((r) => [r.name, r.units])).toEqual([["atlas-copy/1", 64], ["atlas-copy/2", 64]]);
    // Both runs hold the same weights: their decoder hashes agree, and each feature's two points are neighbours.
    expect(first.runs[0]!.decoderSha256).toBe(first.runs[1]!.decoderSha256);
    // Analysed again: byte-identical coordinates.
    await analyze();
    expect(Buffer.from(readAtlas(store)!.coords.buffer).equals(Buffer.from(first.coords.buffer))).toBe(true);
  });
});
