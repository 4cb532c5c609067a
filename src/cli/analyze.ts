/** `saekit analyze`: the detailed investigation of every feature of an SAE run (and its model's neurons). */
import path from "node:path";
import type { Command } from "commander";
import { ANALYZE_DEFAULTS, analyzeRun } from "../analysis/analyze.js";
import { EvaluationTokensError, evaluationTokens } from "../analysis/eval-tokens.js";
import { loadGpt2Tokenizer } from "../data/tokenizer.js";
import { loadCorpusSplits } from "../model/corpus-splits.js";
import { featureStoreDir, loadSaeRun, neuronStoreDir } from "../sae/run-folder.js";
import { formatDensityBands, LOW_DENSITY_THRESHOLDS } from "../sae/density.js";
import { describeCorpus } from "./corpus-label.js";
import { collect, corpusOptions, corpusSources, densityListFlag, integerFlag } from "./flags.js";
import { ProgressLine, formatDuration } from "./progress.js";
import { runFiguresReport } from "./run-figures-report.js";

interface AnalyzeFlags {
  sae: string;
  model?: string;
  compare: string[];
  family: string[];
  atlas?: string[] | boolean;
  atlasSeed: number;
  tokens: number;
  batch: number;
  topK: number;
  neurons: boolean;
  lowDensity: number[];
  cacheDir?: string;
  text: string[];
  jsonl: string[];
}

export function registerAnalyze(program: Command): void {
  corpusOptions(program.command("analyze"))
    .description("investigate every feature of an SAE run: activation statistics, examples, logit weights, ablations, proxies, neurons, universality")
    .requiredOption("--sae <dir>", "SAE run folder (e.g. models/A/1); the store goes to DIR/investigation")
    .option("--model <dir>", "model folder (default: the one recorded in the SAE's cfg.json)")
    .option("--compare <dir>", "another SAE run (another seed, or on model B) to match features against (repeatable)", collect, [])
    .option("--family <dirs...>", "runs of the same model at other dictionary sizes (e.g. models/A/0 models/A/2): link each feature to its nearest features in the next smaller and larger one (decoder cosine, activation r)", [])
    .option("--atlas [dirs...]", "store the feature atlas: a 2-D UMAP map of the decoder directions of this run and these runs of the same model (alone: the --family runs)")
    .option("--atlas-seed <n>", "seed of the atlas layout (same weights and seed: identical coordinates)", integerFlag("--atlas-seed", 0), 0)
    .option("--tokens <n>", "evaluation tokens (validation prose + code first, then training text)", integerFlag("--tokens", 128), ANALYZE_DEFAULTS.evaluationTokens)
    .option("--batch <n>", "sequences per forward pass", integerFlag("--batch", 1), ANALYZE_DEFAULTS.batchSequences)
    .option("--top-k <n>", "max-activating examples per feature", integerFlag("--top-k", 1), ANALYZE_DEFAULTS.topK)
    .option("--no-neurons", "skip the model's neuron store (MODEL/investigation)")
    .option("--low-density <list>", "densities below which the share of units is reported and stored (the ultra-low-density cluster)", densityListFlag("--low-density"), [...LOW_DENSITY_THRESHOLDS])
    .action(async (f: AnalyzeFlags) => {
      const run = loadSaeRun(f.sae, f.model ? { model: f.model } : {});
      const compare = f.compare.map((dir) => {
        const c = loadSaeRun(dir);
        return { name: c.name, model: c.model, sae: c.sae, hook: c.hook };
      });
      const family = f.family.map((dir) => {
        const r = loadSaeRun(dir);
        if (path.resolve(r.modelDir) !== path.resolve(run.modelDir)) {
          throw new Error(`analyze --family ${dir}: its model is ${r.modelDir}, not ${run.modelDir}; families link runs of one model (use --compare across models)`);
        }
        return { name: r.name, sae: r.sae, hook: r.hook, dir: path.resolve(dir) };
      });
      // --atlas alone maps the --family runs; runs named in both are loaded once.
      const atlasRuns = f.atlas === undefined ? null : (f.atlas === true ? f.family : (f.atlas as string[])).map((dir) => {
        const known = family.find((r) => r.dir === path.resolve(dir));
        if (known) return { name: known.name, decoder: known.sae.dec, units: known.sae.dSae, dIn: known.sae.dIn };
        const r = loadSaeRun(dir);
        if (path.resolve(r.modelDir) !== path.resolve(run.modelDir)) {
          throw new Error(`analyze --atlas ${dir}: its model is ${r.modelDir}, not ${run.modelDir}; an atlas maps the runs of one model`);
        }
        return { name: r.name, decoder: r.sae.dec, units: r.sae.dSae, dIn: r.sae.dIn };
      });
      const sources = corpusSources(f, run.modelDir);
      const splits = loadCorpusSplits(run.model.cfg, { cacheDir: f.cacheDir, sources });
      let evaluation: ReturnType<typeof evaluationTokens>;
      try {
        evaluation = evaluationTokens(splits, f.tokens);
      } catch (error) {
        // Refused before anything is written: an existing investigation stays as it is.
        if (error instanceof EvaluationTokensError) throw new Error(`analyze: ${describeCorpus(sources)} holds ${error.tokens} tokens; ${error.message.replace(/^.*; /, "")}. The investigation of ${f.sae} is left unchanged`);
        throw error;
      }
      const featureDir = featureStoreDir(f.sae);
      const neuronDir = f.neurons ? neuronStoreDir(run.modelDir) : null;
      console.log(
        `analyze ${run.name}: ${run.sae.dSae} features${neuronDir ? ` + ${run.model.cfg.d_mlp} neurons` : ""} over ${evaluation.sequences * evaluation.seqLen} tokens` +
          (compare.length ? `, matched against ${compare.map((c) => c.name).join(", ")}` : ""),
      );
      let bar: ProgressLine | undefined;
      let stage = "";
      const result = await analyzeRun({
        run: run.name, modelName: run.modelName, model: run.model, sae: run.sae, hook: run.hook, tokenizer: loadGpt2Tokenizer(),
        evaluation, featureDir, neuronDir, compare, family, saeSummary: run.evalSummary,
        ...(atlasRuns ? { atlas: { runs: atlasRuns, options: { seed: f.atlasSeed } } } : {}),
        // The compared and family runs' stores hold the same tokens when analysed the same way: point at one of them.
        shareTokensWith: [...f.compare, ...f.family].map((dir) => featureStoreDir(dir)), options: { batchSequences: f.batch, topK: f.topK, lowDensityThresholds: f.lowDensity },
        onProgress: (p) => {
          if (p.stage !== stage) {
            bar?.finish();
            stage = p.stage;
            console.error(stage);
            bar = new ProgressLine({ total: p.total, unit: "tok" });
          }
          bar!.update(p.done, []);
        },
      });
      bar?.finish();
      const t = result.timing;
      console.log(
        `done in ${formatDuration(t.total!)} (${Math.round(t.tokensPerSecond!).toLocaleString("en-US")} tokens/s): ` +
          `pass 1 ${t.pass1!.toFixed(1)} s, pass 2 ${t.pass2!.toFixed(1)} s, ablations ${t.pass3!.toFixed(1)} s, weights ${t.weights!.toFixed(1)} s, write ${t.write!.toFixed(1)} s`,
      );
      console.log(`features: dead (never fired) ${result.lowDensity.dead}; ultra-low density (dead included): ${formatDensityBands(result.lowDensity)}; median density ${result.lowDensity.median.toPrecision(2)}`);
      if (result.neuronLowDensity) {
        console.log(`neurons: dead ${result.neuronLowDensity.dead}; density ${formatDensityBands(result.neuronLowDensity)}`);
      }
      const ip = result.interpretability;
      const figures = (s: typeof ip.features) => `median ${s.median.toFixed(3)}, mean ${s.mean.toFixed(3)}, ${(100 * s.share_spec_sens_ge_0_8).toFixed(1)}% with spec and sens ≥ 0.8 (${s.live} live)`;
      console.log(`interpretability (best automatic proxy, F1 of spec and sens): features ${figures(ip.features)}` +
        (ip.neurons ? `; neurons ${figures(ip.neurons)}; feature/neuron median ${(ip.features.median / ip.neurons.median).toFixed(2)}×` : ""));
      for (const u of [...result.universality, ...result.neuronUniversality]) {
        const what = u.name.endsWith("/neuron") ? "neurons" : "features";
        console.log(`universality vs ${u.name}: ${u.thresholds.map((th) => `${(100 * th.fraction).toFixed(1)}% of live ${what} have a match with r > ${th.threshold}`).join("; ")}`);
        for (const band of u.byDensity ?? []) {
          console.log(`  of the ${band.features} ${what} with density ≥ ${band.minDensity}: ${band.thresholds.map((th) => `${(100 * th.fraction).toFixed(1)}% with r > ${th.threshold}`).join(", ")}`);
        }
      }
      for (const line of runFiguresReport(result)) console.log(line);
      if (atlasRuns && t.atlas !== undefined) {
        const names = [run.name, ...atlasRuns.map((r) => r.name).filter((n) => n !== run.name)];
        const points = run.sae.dSae + atlasRuns.filter((r) => r.name !== run.name).reduce((s, r) => s + r.units, 0);
        console.log(`atlas: ${points.toLocaleString("en-US")} decoder directions of ${names.join(", ")} laid out in ${t.atlas.toFixed(1)} s (UMAP, cosine, seed ${f.atlasSeed}); view it at /atlas/${run.modelName}`);
      }
      console.log(`wrote ${featureDir}${neuronDir ? ` and ${neuronDir}` : ""}`);
    });
}
