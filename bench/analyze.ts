/**
 * The investigation of a shipped run: `analyzeRun` over the evaluation tokens (default 1,048,576: validation prose +
 * code, then training text) for every feature of models/A/1 and every neuron of model A, matched against models/B/1
 * (issue 5's budget: all 4,096 features over 1M tokens in ≤ 5 minutes on the 2-core machine). Then the store's read
 * side: one unit's full record, and a search, which the dashboards do per page. Writes to a temporary folder.
 * Set SAEKIT_BENCH_ANALYZE_TOKENS to bench a smaller stream.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeRun } from "../src/analysis/analyze.js";
import { DEFAULT_EVALUATION_TOKENS, evaluationTokens } from "../src/analysis/eval-tokens.js";
import { openInvestigation } from "../src/analysis/store.js";
import { loadGpt2Tokenizer } from "../src/data/tokenizer.js";
import { loadCorpusSplits } from "../src/model/corpus-splits.js";
import { loadSaeRun } from "../src/sae/run-folder.js";
import { kernels } from "../src/core/backend.js";
import { table } from "./timing.js";

export async function benchAnalyze(): Promise<void> {
  // The repository root, from dist/bench (npm run bench) or bench/ (vite-node).
  const here = path.dirname(new URL(import.meta.url).pathname);
  const root = [path.resolve(here, ".."), path.resolve(here, "..", "..")].find((r) => fs.existsSync(path.join(r, "models", "A", "1")))
    ?? path.resolve(here, "..", "..");
  const a = loadSaeRun(path.join(root, "models", "A", "1"));
  const b = loadSaeRun(path.join(root, "models", "B", "1"));
  const tokens = Number(process.env.SAEKIT_BENCH_ANALYZE_TOKENS ?? DEFAULT_EVALUATION_TOKENS);
  const evaluation = evaluationTokens(loadCorpusSplits(a.model.cfg), tokens);
  const tokenizer = loadGpt2Tokenizer();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-bench-analyze-"));
  try {
    const result = await analyzeRun({
      run: a.name, modelName: a.modelName, model: a.model, sae: a.sae, hook: a.hook, tokenizer, evaluation,
      featureDir: path.join(out, "A", "1", "investigation"), neuronDir: path.join(out, "A", "investigation"),
      compare: [{ name: b.name, model: b.model, sae: b.sae, hook: b.hook }],
    });
    const t = result.timing;
    const T = result.tokens;
    const b16 = kernels();
    console.log(
      `\n## analysis: A/1 (4,096 features) + A's 512 neurons over ${T.toLocaleString("en-US")} tokens, matched against B/1; ` +
        `${b16.precision} products${b16.precision === "bf16" ? ` (${b16.bf16Path})` : ""} (SAEKIT_PRECISION)\n`,
    );
    console.log(table(
      ["stage", "seconds", "tokens/s"],
      [
        ["pass 1: forward A and B, encode, stats, correlations", t.pass1!.toFixed(1), Math.round(T / t.pass1!).toLocaleString("en-US")],
        ["pass 2: histograms, intervals, proxy bins", t.pass2!.toFixed(1), Math.round(T / t.pass2!).toLocaleString("en-US")],
        ["pass 3: ablations of the examples", t.pass3!.toFixed(1), ""],
        ["logit weights, universality logit r", t.weights!.toFixed(1), ""],
        ["write the stores", t.write!.toFixed(1), ""],
        ["total", t.total!.toFixed(1), Math.round(t.tokensPerSecond!).toLocaleString("en-US")],
      ],
    ));
    console.log(`budget: 300 s for 1M tokens → ${(t.total! * (1_048_576 / T)).toFixed(0)} s scaled to 1,048,576 tokens`);
    const store = openInvestigation(path.join(out, "A", "1", "investigation"), tokenizer);
    const units = Array.from({ length: 200 }, (_, i) => (i * 2053) % store.units);
    let t0 = performance.now();
    for (const u of units) store.unit(u);
    const perUnit = (performance.now() - t0) / units.length;
    t0 = performance.now();
    for (const q of [" the", "def", "Arabic", "self", " (", "A/1/3450"]) store.search(q);
    const perSearch = (performance.now() - t0) / 6;
    console.log(`store: one unit's full record ${perUnit.toFixed(2)} ms (target < 50 ms), a search over ${store.units} features ${perSearch.toFixed(2)} ms`);
    const size = fs.readdirSync(store.dir).reduce((s, f) => s + fs.statSync(path.join(store.dir, f)).size, 0);
    console.log(`store size: ${(size / 1e6).toFixed(1)} MB for ${store.units} features`);
    store.close();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
