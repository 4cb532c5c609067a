/**
 * The loops analyze moved into the numeric core leave the stores unchanged: the same tiny analysis written twice,
 * once with the native kernels and once with the TS references patched in (logit-weight summaries:
 * kernels-analyze.ts logitRowSummariesJs; encoding: one [rows, d_sae] product instead of row blocks), gives
 * byte-identical files (the manifests compared without their timings).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { analyzeRun } from "../../src/analysis/analyze.js";
import type { EvaluationTokens } from "../../src/analysis/eval-tokens.js";
import { kernels } from "../../src/core/backend.js";
import { logitRowSummariesJs } from "../../src/core/kernels-analyze.js";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer } from "../../src/data/tokenizer.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { initSae } from "../../src/sae/init.js";
import { Sae } from "../../src/sae/sae.js";

const HOOK = "blocks.0.mlp.hook_post";
const L = 16;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-analyze-kernels-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function analyzeInto(dir: string, model: HookedTransformer, sae: Sae, ev: EvaluationTokens): Promise<void> {
  await analyzeRun({
    run: "T/1", modelName: "T", model, sae, hook: HOOK, tokenizer: loadGpt2Tokenizer(), evaluation: ev,
    featureDir: path.join(dir, "T", "1", "investigation"), neuronDir: path.join(dir, "T", "investigation"),
    options: { batchSequences: 5, topK: 6, intervalCount: 3, intervalSamples: 2, windowBefore: 3, windowAfter: 2, histogramBins: 8 },
  });
}

/** Every file under dir, manifests without their timing. */
function contents(dir: string): Map<string, Buffer | unknown> {
  const out = new Map<string, Buffer | unknown>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "manifest.json") {
        const m = JSON.parse(fs.readFileSync(p, "utf8")) as Record<string, unknown>;
        delete m.timing;
        delete m.createdAt;
        out.set(path.relative(dir, p), m);
      } else out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe("analyze with the native per-feature kernels", () => {
  it("writes the same stores as with the TS reference loops", async () => {
    const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: L };
    const model = new HookedTransformer(cfg, initWeights(cfg, new Rng(7)));
    const sae = new Sae({ architecture: "standard", dIn: 32, dSae: 48, k: null, applyBDecToInput: true });
    initSae(sae, new Rng(8), null);
    for (let f = 0; f < 48; f++) sae.bEnc[f] = f % 3 === 0 ? 0.2 : -0.1;
    const tokenizer = loadGpt2Tokenizer();
    const text = tokenizer.encode("The people of the nation are free, and the state of the union is strong. def f(x): return x ".repeat(12));
    const tokens = Int32Array.from(text).subarray(0, 10 * L);
    const ev: EvaluationTokens = { tokens, seqLen: L, sequences: 10, domains: [{ domain: "prose", firstSequence: 0, sequences: 10, validationSequences: 10 }] };
    await analyzeInto(path.join(root, "core"), model, sae, ev);
    const k = kernels();
    const summaries = vi.spyOn(k, "logitRowSummaries").mockImplementation(logitRowSummariesJs);
    // The unblocked encoder: one pre-activation matrix over all rows, as before the row blocks.
    const encode = vi.spyOn(sae, "encode").mockImplementation((x, rows) => sae.codesFromPre(sae.preActivations(sae.centred(x, rows), rows), rows));
    try {
      await analyzeInto(path.join(root, "reference"), model, sae, ev);
      expect(summaries).toHaveBeenCalled();
      expect(encode).toHaveBeenCalled();
    } finally {
      summaries.mockRestore();
      encode.mockRestore();
    }
    const a = contents(path.join(root, "core"));
    const b = contents(path.join(root, "reference"));
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBeGreaterThan(3);
    for (const [name, v] of a) expect(b.get(name), name).toEqual(v);
  });
});
