/** `saekit sae train`: train an SAE on a model's hook activations (streamed, or from `saekit sae cache`). */
import { Option, type Command } from "commander";
import { basename, join, relative, resolve } from "node:path";
import { DOMAINS } from "../data/document.js";
import { loadCorpusSplits } from "../model/corpus-splits.js";
import { CachedActivationStore, DEFAULT_BUFFER_ROWS, hookActivationWidth, ModelActivationStore, readActivationCacheManifest, type ActivationSource } from "../sae/activations.js";
import type { SaeArchitecture } from "../sae/sae.js";
import { SAE_TRAIN_DEFAULTS, trainSae, type SaeTrainEvent } from "../sae/train.js";
import { formatThreshold, LOW_DENSITY_THRESHOLDS } from "../sae/density.js";
import { RESAMPLE_MODES, type ResampleMode } from "../sae/resample.js";
import { corpusDatasetPath } from "./corpus-label.js";
import { corpusOptions, corpusSources, densityListFlag, integerFlag, numberFlag } from "./flags.js";
import { formatCount, formatDuration, ProgressLine } from "./progress.js";
import { DEFAULT_HOOK, loadHookedModel, saeCommand } from "./sae-command.js";

interface SaeTrainFlags {
  model: string;
  out: string;
  hook: string;
  architecture: SaeArchitecture;
  dSae?: number;
  expansion?: number;
  k: number;
  l1: number;
  lr?: number;
  tokens: number;
  batch: number;
  seed: number;
  activations?: string;
  bufferRows: number;
  resampleAt?: string;
  resample: ResampleMode;
  resampleThreshold: number;
  resampleEvery?: number;
  resampleWindow?: number;
  auxCoefficient?: number;
  auxK?: number;
  lowDensity: number[];
  deadWindow: number;
  normalize: boolean;
  checkpointEvery: number;
  resume?: boolean;
  dtype: "F32" | "F16" | "BF16";
  discardCheckpoint?: boolean;
  cacheDir?: string;
  text: string[];
  jsonl: string[];
}

function reporter() {
  let bar: ProgressLine | undefined;
  const log = (m: string) => (bar ? bar.log(m) : process.stderr.write(`${m}\n`));
  const onEvent = (e: SaeTrainEvent) => {
    switch (e.type) {
      case "start":
        log(`${e.totalSteps} steps, ${formatCount(e.totalTokens)} tokens; activation scale ${e.normScale.toPrecision(4)}` + (e.resumedFrom !== null ? `; resuming at step ${e.resumedFrom}` : ""));
        bar = new ProgressLine({ total: e.totalTokens, unit: "tok" });
        break;
      case "step":
        bar?.update(e.tokens, [
          `step ${e.step}/${e.totalSteps}`, `MSE ${e.mse.toPrecision(3)}`, `FVU ${e.fvu.toFixed(3)}`, `L0 ${e.l0.toFixed(1)}`,
          `dead ${(100 * e.deadFraction).toFixed(1)}%`,
          ...e.lowDensity.map((b) => `<${formatThreshold(b.threshold)} ${Number.isFinite(b.share) ? `${(100 * b.share).toFixed(1)}%` : "—"}`),
        ]);
        break;
      case "resample":
        log(e.mode === "paper" ? `step ${e.step}: resampled ${e.dead} dead features`
          : `step ${e.step}: resampled ${e.resampled} features below the density threshold (${e.dead} of them dead)`);
        break;
      case "checkpoint":
      case "done":
        break;
    }
  };
  return { onEvent, finish: () => bar?.finish() };
}

export function registerSaeTrain(program: Command): void {
  corpusOptions(saeCommand(program).command("train"))
    .description("train a sparse autoencoder on a model's activations into an SAELens folder (cfg.json, sae_weights.safetensors, sparsity.safetensors, training.json)")
    .requiredOption("--model <dir>", "model folder (config.json + model.safetensors)")
    .requiredOption("--out <dir>", "output SAE folder (new or empty, or the same run with --resume)")
    .option("--hook <name>", "hook point to read", DEFAULT_HOOK)
    .addOption(new Option("--architecture <name>", "standard (ReLU + L1, resampling) or topk (AuxK)").choices(["standard", "topk"]).default("standard"))
    .option("--d-sae <n>", "dictionary size (features)", integerFlag("--d-sae", 1))
    .option("--expansion <n>", "dictionary size as a multiple of d_in (default 8)", integerFlag("--expansion", 1))
    .option("--k <n>", "active features per token (topk)", integerFlag("--k", 1), SAE_TRAIN_DEFAULTS.k)
    .option("--l1 <x>", "L1 coefficient λ (standard; penalty averaged over the batch)", numberFlag("--l1", 0, Infinity, true), SAE_TRAIN_DEFAULTS.l1Coefficient)
    .option("--lr <x>", `Adam learning rate (default ${SAE_TRAIN_DEFAULTS.lr.standard} standard, ${SAE_TRAIN_DEFAULTS.lr.topk} topk)`, numberFlag("--lr", 0))
    .option("--tokens <n>", "training tokens, e.g. 20M", integerFlag("--tokens", 1), SAE_TRAIN_DEFAULTS.tokens)
    .option("--batch <n>", "tokens per step", integerFlag("--batch", 1), SAE_TRAIN_DEFAULTS.batchSize)
    .option("--seed <n>", "seed of the initialisation and data order", integerFlag("--seed", 0), SAE_TRAIN_DEFAULTS.seed)
    .option("--activations <dir>", "read activations from this cache (saekit sae cache) instead of running the model")
    .option("--buffer-rows <n>", "shuffle buffer rows", integerFlag("--buffer-rows", 1), DEFAULT_BUFFER_ROWS)
    .addOption(new Option("--resample <mode>", "standard: low-density (resample features below --resample-threshold over a window, every --resample-every tokens until the last 20 %), paper (Towards Monosemanticity as published: features dead for --dead-window, at 20/40/60 %), none (with AuxK, the default)").choices([...RESAMPLE_MODES]).default(SAE_TRAIN_DEFAULTS.resample))
    .option("--resample-threshold <x>", "low-density: resample features firing on fewer than this fraction of the window's tokens", numberFlag("--resample-threshold", 0, 1), SAE_TRAIN_DEFAULTS.resampleThreshold)
    .option("--resample-every <n>", "low-density: tokens between checks (default 5% of --tokens, at least 10 / threshold)", integerFlag("--resample-every", 1))
    .option("--resample-window <n>", "low-density: tokens the density is counted over before each check (default: the interval)", integerFlag("--resample-window", 1))
    .option("--resample-at <steps>", "paper: comma-separated steps at which dead features are resampled (default 20%,40%,60% of the steps)")
    .option("--aux-coefficient <x>", "α of the AuxK loss (default 1/32 for topk, 0 = off for standard; standard: the latents below --resample-threshold by moving-average density)", numberFlag("--aux-coefficient", 0, Infinity, true))
    .option("--aux-k <n>", "AuxK: dead latents per token (default d_in/2)", integerFlag("--aux-k", 1))
    .option("--low-density <list>", "densities below which progress and training.json report the share of features", densityListFlag("--low-density"), [...LOW_DENSITY_THRESHOLDS])
    .option("--dead-window <n>", "tokens without firing after which a feature counts as dead", integerFlag("--dead-window", 1), SAE_TRAIN_DEFAULTS.deadWindowTokens)
    .option("--no-normalize", "do not scale activations to E‖x‖² = d_in")
    .option("--checkpoint-every <n>", "checkpoint every n steps (0 = only when stopped)", integerFlag("--checkpoint-every", 0), SAE_TRAIN_DEFAULTS.checkpointEvery)
    .option("--resume", "continue the run in --out from its last checkpoint")
    .addOption(new Option("--dtype <dtype>", "storage dtype of sae_weights.safetensors").choices(["F32", "F16", "BF16"]).default(SAE_TRAIN_DEFAULTS.dtype))
    .option("--discard-checkpoint", "remove checkpoint/ when done")
    .action(async (f: SaeTrainFlags) => {
      const { model, name } = loadHookedModel(f.model, f.hook);
      const cfg = model.cfg;
      const dIn = hookActivationWidth(cfg, f.hook);
      const dSae = f.dSae ?? (f.expansion ?? 8) * dIn;
      const resampleSteps = f.resampleAt?.split(",").map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--resample-at: "${s}" is not a positive step number`);
        return n;
      });
      const out = resolve(f.out);
      const source = (resumeAt: number): ActivationSource => {
        if (f.activations) {
          const store = new CachedActivationStore({ dir: f.activations, seed: f.seed, bufferRows: f.bufferRows, startRow: resumeAt });
          if (store.manifest.hookName !== f.hook) throw new Error(`--activations ${f.activations} holds ${store.manifest.hookName}, not --hook ${f.hook}`);
          return store;
        }
        const splits = loadCorpusSplits(cfg, { cacheDir: f.cacheDir, sources: corpusSources(f, f.model) });
        return new ModelActivationStore({
          model, hookName: f.hook, sequences: DOMAINS.map((d) => splits.train[d]), seed: f.seed, bufferRows: f.bufferRows,
          startSequence: resumeAt,
        });
      };
      const r = reporter();
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        controller.abort();
        process.stderr.write("\nstopping after this step and writing a checkpoint (Ctrl-C again to quit at once)\n");
      };
      process.on("SIGINT", onSigint);
      try {
        const result = await trainSae({
          out, source, architecture: f.architecture, dSae, k: f.k, l1Coefficient: f.l1, lr: f.lr, tokens: f.tokens, batchSize: f.batch,
          seed: f.seed, resampleSteps, resample: f.resample, resampleThreshold: f.resampleThreshold, resampleEveryTokens: f.resampleEvery,
          resampleWindowTokens: f.resampleWindow, auxCoefficient: f.auxCoefficient, auxK: f.auxK, lowDensityThresholds: f.lowDensity, deadWindowTokens: f.deadWindow, normalize: f.normalize, checkpointEvery: f.checkpointEvery,
          resume: f.resume ?? false, dtype: f.dtype, sourceSettings: { bufferRows: f.bufferRows }, discardCheckpoint: f.discardCheckpoint ?? false, signal: controller.signal, onProgress: r.onEvent,
          meta: {
            modelName: `saekit/${name}`, hookName: f.hook, hookLayer: Number(/^blocks\.(\d+)\./.exec(f.hook)?.[1] ?? 0), hookHeadIndex: null,
            contextSize: cfg.n_ctx, prependBos: false,
            datasetPath: f.activations ? cachedDatasetPath(f.activations) : corpusDatasetPath(corpusSources(f, f.model)),
            normalizeActivations: f.normalize ? "expected_average_only_in" : "none",
            // Relative to the SAE folder, so a cloned or moved models/ tree still finds its model.
            extra: { model: relative(out, resolve(f.model)) || "." },
          },
        });
        r.finish();
        if (!result.completed) {
          console.log(`stopped at step ${result.steps}; checkpoint in ${join(out, "checkpoint")}. Run the same command with --resume to continue.`);
          process.exitCode = 130;
          return;
        }
        console.log(
          `trained ${formatCount(result.tokens)} tokens in ${formatDuration(result.seconds)} (${formatCount(result.tokensPerSecond)} tokens/s): ` +
            `MSE ${result.final.mse.toPrecision(4)}, FVU ${result.final.fvu.toFixed(3)}, L0 ${result.final.l0.toFixed(1)}, dead ${(100 * result.final.deadFraction).toFixed(1)}% (last batch)`,
        );
        if (result.density) {
          const d = result.density;
          console.log(`density over the last ${formatCount(d.tokens ?? 0)} training tokens: dead ${d.dead}; ` + d.below.map((b) => `< ${formatThreshold(b.threshold)} ${b.count} (${(100 * b.share).toFixed(1)}%)`).join(", "));
        }
        console.log(`wrote ${out}: cfg.json, sae_weights.safetensors (${f.dtype}), sparsity.safetensors, training.json`);
      } finally {
        r.finish();
        process.removeListener("SIGINT", onSigint);
      }
    });
}

/**
 * cfg.json's dataset_path for a run trained from an activation cache: the corpus the cache was made from (its
 * manifest's source.corpus, as corpusDatasetPath wrote it) and the cache's folder name — not its absolute path, which
 * names a folder on the machine that trained the run.
 */
function cachedDatasetPath(dir: string): string {
  const corpus = readActivationCacheManifest(dir).source.corpus;
  return `activations (saekit sae cache ${basename(resolve(dir))}) of ${typeof corpus === "string" ? corpus : "an unrecorded corpus"}`;
}
