/** `saekit sae cache`: run the model once and store a hook's activations as safetensors shards for several SAE runs. */
import { Option, type Command } from "commander";
import { resolve } from "node:path";
import { DOMAINS } from "../data/document.js";
import { loadCorpusSplits } from "../model/corpus-splits.js";
import { writeActivationCache } from "../sae/activations.js";
import { corpusDatasetPath } from "./corpus-label.js";
import { corpusOptions, corpusSources, integerFlag } from "./flags.js";
import { formatCount, ProgressLine } from "./progress.js";
import { DEFAULT_HOOK, loadHookedModel, saeCommand } from "./sae-command.js";

interface SaeCacheFlags {
  model: string;
  out: string;
  hook: string;
  tokens: number;
  seed: number;
  dtype: "F32" | "F16" | "BF16";
  cacheDir?: string;
  text: string[];
  jsonl: string[];
}

export function registerSaeCache(program: Command): void {
  corpusOptions(saeCommand(program).command("cache"))
    .description("store a hook's activations over the train split as safetensors shards (+ manifest.json) for `sae train --activations`")
    .requiredOption("--model <dir>", "model folder")
    .requiredOption("--out <dir>", "cache folder")
    .option("--hook <name>", "hook point", DEFAULT_HOOK)
    .option("--tokens <n>", "activation rows to store, e.g. 4M", integerFlag("--tokens", 1), 4_000_000)
    .option("--seed <n>", "seed of the sequence order", integerFlag("--seed", 0), 0)
    .addOption(new Option("--dtype <dtype>", "storage dtype").choices(["F32", "F16", "BF16"]).default("BF16"))
    .action((f: SaeCacheFlags) => {
      const { model, name } = loadHookedModel(f.model, f.hook);
      const sources = corpusSources(f, f.model);
      const splits = loadCorpusSplits(model.cfg, { cacheDir: f.cacheDir, sources });
      const bar = new ProgressLine({ total: f.tokens, unit: "tok" });
      const manifest = writeActivationCache(
        { model, hookName: f.hook, sequences: DOMAINS.map((d) => splits.train[d]), seed: f.seed },
        resolve(f.out),
        {
          rows: f.tokens, dtype: f.dtype, model: { dir: resolve(f.model), name, n_ctx: model.cfg.n_ctx },
          // The corpus as cfg.json's dataset_path names it: an SAE trained from this cache records it.
          sourceInfo: { corpus: corpusDatasetPath(sources), split: "train", domains: DOMAINS },
          onProgress: (done) => bar.update(done, []),
        },
      );
      bar.finish();
      console.log(`wrote ${formatCount(manifest.rows)} rows of ${manifest.hookName} (d_in ${manifest.dIn}, ${manifest.dtype}) in ${manifest.shards.length} shards to ${f.out}`);
    });
}
