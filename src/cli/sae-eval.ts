/** `saekit sae eval`: L0, MSE, FVU, dead/dense features, density histogram and CE loss recovered, per domain. */
import { Option, type Command } from "commander";
import fs from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";
import { loadCorpusSplits } from "../model/corpus-splits.js";
import type { TokenSequences } from "../model/baselines.js";
import type { CorpusSplits } from "../model/corpus-splits.js";
import { evaluateSae, formatSaeEval, MIN_EVAL_TOKENS } from "../sae/eval.js";
import { loadSaeFolder } from "../sae/format.js";
import { SAE_EVAL_FILE } from "../sae/run-folder.js";
import { LOW_DENSITY_THRESHOLDS } from "../sae/density.js";
import { describeCorpus } from "./corpus-label.js";
import { corpusOptions, corpusSources, densityListFlag, integerFlag } from "./flags.js";
import { ProgressLine } from "./progress.js";
import { loadHookedModel, saeCommand } from "./sae-command.js";

interface SaeEvalFlags {
  sae: string;
  model?: string;
  tokens: number;
  batch: number;
  json?: string;
  save?: boolean;
  split: "validation" | "train" | "all";
  lowDensity: number[];
  densityTokens?: number;
  cacheDir?: string;
  text: string[];
  jsonl: string[];
}

export function registerSaeEval(program: Command): void {
  corpusOptions(saeCommand(program).command("eval"))
    .description("evaluate an SAE on the validation split (prose and code): L0, MSE, explained variance, CE loss recovered, dead/dense features")
    .requiredOption("--sae <dir>", "SAE folder (SAELens layout)")
    .option("--model <dir>", "model folder (default: the one recorded in the SAE's cfg.json)")
    .option("--tokens <n>", "evaluation tokens per domain", integerFlag("--tokens", 1), 131_072)
    .option("--batch <n>", "sequences per forward pass", integerFlag("--batch", 1), 32)
    .option("--json <file>", "also write the metrics as JSON (per-feature density included)")
    .option("--save", `write the metrics to SAE/${SAE_EVAL_FILE}, where analyze reads the SAE's headline figures (same content as --json)`)
    .option("--low-density <list>", "densities below which the share of features is reported (the ultra-low-density cluster)", densityListFlag("--low-density"), [...LOW_DENSITY_THRESHOLDS])
    .option("--density-tokens <n>", "count feature densities over this many tokens per domain (model run only to the hook; default: --tokens)", integerFlag("--density-tokens", 1))
    .addOption(new Option("--split <name>", "documents to score: validation (text the model and SAE never trained on; ~5 % of a --text folder's documents), train, or all").choices(["validation", "train", "all"]).default("validation"))
    .action((f: SaeEvalFlags) => {
      const { sae, meta } = loadSaeFolder(f.sae);
      // cfg.json records the model folder relative to the SAE folder (absolute paths are accepted too).
      const recorded = typeof meta.extra?.model === "string" ? resolve(f.sae, meta.extra.model) : undefined;
      const modelDir = f.model ?? recorded;
      if (!modelDir || !fs.existsSync(modelDir)) {
        throw new Error(`sae eval: no model folder${modelDir ? ` (${modelDir} from ${f.sae}/cfg.json does not exist)` : ""}; pass --model DIR`);
      }
      const { model } = loadHookedModel(modelDir, meta.hookName);
      const sources = corpusSources(f, modelDir);
      const splits = loadCorpusSplits(model.cfg, { cacheDir: f.cacheDir, sources });
      const data = evaluationSplit(splits, f.split);
      const tokens = Object.values(data).reduce((s, d) => s + d.tokens.length, 0);
      if (tokens < MIN_EVAL_TOKENS) {
        const hint = f.split === "validation" ? "; each document falls into validation with ~5 % chance: --split all scores every document" : "";
        throw new Error(`sae eval: the ${f.split} split of ${describeCorpus(sources)} holds ${tokens} tokens; at least ${MIN_EVAL_TOKENS} are needed${hint}`);
      }
      let bar: ProgressLine | undefined;
      const result = evaluateSae({
        model, sae, hookName: meta.hookName, data, tokensPerDomain: f.tokens, batch: f.batch, lowDensityThresholds: f.lowDensity, densityTokensPerDomain: f.densityTokens,
        onProgress: (done, total) => {
          bar ??= new ProgressLine({ total, unit: "seq" });
          bar.update(done, []);
        },
      });
      bar?.finish();
      console.log(formatSaeEval(result));
      for (const file of [f.json, f.save ? join(f.sae, SAE_EVAL_FILE) : undefined]) {
        if (file === undefined) continue;
        // Folders relative to the JSON file itself, so the record stays true wherever the files are copied.
        const from = dirname(resolve(file));
        const at = (dir: string) => relative(from, resolve(dir)).split(sep).join("/") || ".";
        const record = { sae: at(f.sae), model: at(modelDir), ...result, density: Array.from(result.density) };
        writeFileAtomicSync(file, `${JSON.stringify(record, null, 1)}\n`);
        console.log(`wrote ${file}`);
      }
    });
}

/** The sequences of one split per domain, or of both (train then validation) for "all". */
function evaluationSplit(splits: CorpusSplits, split: "validation" | "train" | "all"): Record<string, TokenSequences> {
  if (split !== "all") return splits[split];
  const both: Record<string, TokenSequences> = {};
  for (const [domain, train] of Object.entries(splits.train)) {
    const validation = splits.validation[domain as keyof CorpusSplits["validation"]];
    const tokens = new Int32Array(train.tokens.length + validation.tokens.length);
    tokens.set(train.tokens, 0);
    tokens.set(validation.tokens, train.tokens.length);
    both[domain] = { tokens, nCtx: train.nCtx };
  }
  return both;
}
