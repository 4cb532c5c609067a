/** `saekit model train`: train the transformer on the default corpus (or the user's text) into a model folder. */
import { Option, type Command } from "commander";
import { join } from "node:path";
import { DOMAINS } from "../data/document.js";
import type { ModelStorageDtype } from "../model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ActFn, type ModelConfig } from "../model/config.js";
import { TRAIN_DEFAULTS, trainModel, type TrainEvent, type TrainingSummary, type TrainModelOptions } from "../model/train.js";
import { modelCommand } from "./model-command.js";
import { DEFAULT_CORPUS_VERSION } from "../data/corpus.js";
import { collect, corpusSources, integerFlag, numberFlag } from "./flags.js";
import { formatCount, formatDuration, ProgressLine } from "./progress.js";

interface ModelTrainFlags {
  out: string;
  seed?: number;
  tokens?: number;
  steps?: number;
  batch?: number;
  accum?: number;
  lr?: number;
  warmup?: number;
  minLrRatio?: number;
  weightDecay?: number;
  clip?: number;
  evalEvery?: number;
  evalTokens?: number;
  checkpointEvery?: number;
  resume?: boolean;
  dtype?: ModelStorageDtype;
  discardCheckpoint?: boolean;
  nCtx?: number;
  dModel?: number;
  dMlp?: number;
  nHeads?: number;
  dHead?: number;
  nLayers?: number;
  actFn?: ActFn;
  text: string[];
  jsonl: string[];
  corpus?: string;
  cacheDir?: string;
}



/**
 * Model overrides from the flags. A changed width keeps the default's proportions unless given: d_head =
 * d_model / n_heads, d_mlp = 4 · d_model.
 */
export function modelOverrides(f: Partial<ModelTrainFlags>): Partial<ModelConfig> {
  const m: Partial<ModelConfig> = {};
  if (f.nLayers !== undefined) m.n_layers = f.nLayers;
  if (f.nCtx !== undefined) m.n_ctx = f.nCtx;
  if (f.actFn !== undefined) m.act_fn = f.actFn;
  if (f.dModel !== undefined) m.d_model = f.dModel;
  if (f.nHeads !== undefined) m.n_heads = f.nHeads;
  if (f.dHead !== undefined) m.d_head = f.dHead;
  else if (f.dModel !== undefined || f.nHeads !== undefined) {
    const dModel = f.dModel ?? DEFAULT_MODEL_CONFIG.d_model;
    const nHeads = f.nHeads ?? DEFAULT_MODEL_CONFIG.n_heads;
    if (dModel % nHeads !== 0) {
      // A plain Error: thrown from the action, a CommanderError would be swallowed without its message.
      throw new Error(`--d-model ${dModel} is not divisible by --n-heads ${nHeads}; pass --d-head explicitly`);
    }
    m.d_head = dModel / nHeads;
  }
  if (f.dMlp !== undefined) m.d_mlp = f.dMlp;
  else if (f.dModel !== undefined) m.d_mlp = 4 * f.dModel;
  return m;
}

/** The library options a parsed command line stands for. */
export function trainOptionsFromFlags(f: ModelTrainFlags): TrainModelOptions {
  return {
    out: f.out,
    model: modelOverrides(f),
    sources: corpusSources(f),
    cacheDir: f.cacheDir,
    seed: f.seed,
    tokens: f.tokens,
    steps: f.steps,
    batchSize: f.batch,
    accumSteps: f.accum,
    lr: f.lr,
    warmupSteps: f.warmup,
    minLrRatio: f.minLrRatio,
    weightDecay: f.weightDecay,
    clipNorm: f.clip,
    evalEvery: f.evalEvery,
    evalTokens: f.evalTokens,
    checkpointEvery: f.checkpointEvery,
    resume: f.resume ?? false,
    dtype: f.dtype,
    keepCheckpoint: !(f.discardCheckpoint ?? false),
  };
}

const fmtLoss = (x: number | null) => (x === null ? "—" : x.toFixed(3));

/** The closing table: validation loss per domain next to the n-gram baselines, and throughput. */
export function formatTrainingSummary(summary: TrainingSummary, out: string): string {
  const r = summary.result;
  const rows = DOMAINS.map((d) => {
    const v = summary.validation[d];
    const train = summary.train?.[d]?.loss ?? null;
    return `  ${`${d} (${formatCount(v.targets)} tokens)`.padEnd(24)}${fmtLoss(v.loss).padStart(8)}${fmtLoss(train).padStart(8)}${fmtLoss(v.bigram).padStart(9)}${fmtLoss(v.unigram).padStart(9)}`;
  });
  return [
    `trained ${formatCount(r.tokensSeen)} tokens in ${r.steps} steps (${r.epochs.toFixed(2)} epochs, ${r.skippedSteps} skipped): ` +
      `${formatCount(r.tokensPerSecond)} tokens/s, ${formatDuration(r.trainSeconds)} training, ${formatDuration(r.wallSeconds)} wall`,
    `validation loss, nats/token (${summary.validation.dtype} weights)`,
    `  ${"".padEnd(24)}${"model".padStart(8)}${"(train)".padStart(8)}${"bigram".padStart(9)}${"unigram".padStart(9)}`,
    ...rows,
    `wrote ${out}: config.json, model.safetensors (${summary.hyperparameters.dtype}), training.json`,
  ].join("\n");
}

/** Turns training events into a progress line and log messages. */
function progressReporter(): { onEvent: (e: TrainEvent) => void; bar: () => ProgressLine | undefined } {
  let bar: ProgressLine | undefined;
  const log = (message: string) => (bar ? bar.log(message) : process.stderr.write(`${message}\n`));
  const onEvent = (e: TrainEvent) => {
    switch (e.type) {
      case "tokenize":
        if (e.progress.documentsDone === e.progress.documentsTotal) {
          log(`tokenised ${e.progress.domain} ${e.progress.split}: ${e.progress.documentsTotal} documents`);
        }
        break;
      case "data": {
        const seqs = (r: Record<string, number>) => DOMAINS.map((d) => `${r[d]} ${d}`).join(" + ");
        log(`data: ${seqs(e.train)} train and ${seqs(e.validation)} validation sequences of ${e.manifest.nCtx} tokens` +
          `${e.fromCache ? " (token cache)" : ""}`);
        break;
      }
      case "cleanup":
        log(`removed unfinished checkpoint ${e.removed.join(", ")}`);
        break;
      case "start":
        log(`model: ${formatCount(e.parameters)} parameters (${e.cfg.n_layers} layer, d_model ${e.cfg.d_model}, d_mlp ${e.cfg.d_mlp}, ` +
          `${e.cfg.n_heads}×${e.cfg.d_head} heads, n_ctx ${e.cfg.n_ctx}); ${e.totalSteps} steps of ${e.tokensPerStep} tokens` +
          (e.resumedFrom ? `; resuming at step ${e.step} from ${e.resumedFrom}` : ""));
        bar = new ProgressLine({ total: e.totalTokens, unit: "tok" });
        bar.update(e.step * e.tokensPerStep, [`step ${e.step}/${e.totalSteps}`], true);
        break;
      case "step":
        bar?.update(e.tokens, [`step ${e.step}/${e.totalSteps}`, `loss ${e.loss.toFixed(3)}`, `lr ${e.lr.toExponential(1)}`]);
        break;
      case "skip":
        log(`step ${e.step}: skipped (loss ${e.loss}, gradient norm ${e.gradNorm}; ${e.streak} in a row)`);
        break;
      case "eval":
        log(`step ${e.step}: validation (train) loss ${DOMAINS.map((d) => `${d} ${fmtLoss(e.losses[d])} (${fmtLoss(e.trainLosses[d])})`).join(", ")}`);
        break;
      case "checkpoint":
        break;
      case "phase":
        bar?.finish();
        bar = undefined;
        log(e.message);
        break;
    }
  };
  return { onEvent, bar: () => bar };
}

export function registerModelTrain(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const c = DEFAULT_MODEL_CONFIG;
  modelCommand(program)
    .command("train")
    .description("train the 1-layer transformer on the default corpus (or --text / --jsonl) into a model folder with training.json")
    .requiredOption("--out <dir>", "output model folder (new or empty, or the same run with --resume)")
    .option("--seed <n>", `random seed of the weights and the data order (default ${d.seed})`, integerFlag("--seed", 0))
    .option("--tokens <n>", "training tokens, e.g. 20M (default: one epoch of the train split)", integerFlag("--tokens", 1))
    .option("--steps <n>", "optimizer steps instead of --tokens", integerFlag("--steps", 1))
    .option("--batch <n>", `sequences per micro-batch (default ${d.batchSize})`, integerFlag("--batch", 1))
    .option("--accum <n>", `micro-batches per optimizer step (default ${d.accumSteps})`, integerFlag("--accum", 1))
    .option("--lr <x>", `peak learning rate (default ${d.lr})`, numberFlag("--lr", 0))
    .option("--warmup <n>", `linear warm-up steps (default min(${d.maxWarmupSteps}, 10% of the steps))`, integerFlag("--warmup", 0))
    .option("--min-lr-ratio <x>", `final lr of the cosine decay / peak lr (default ${d.minLrRatio})`, numberFlag("--min-lr-ratio", 0, 1, true))
    .option("--weight-decay <x>", `AdamW weight decay on matrices (default ${d.weightDecay})`, numberFlag("--weight-decay", 0, Infinity, true))
    .option("--clip <x>", `gradient-norm clip (default ${d.clipNorm})`, numberFlag("--clip", 0))
    .option("--eval-every <n>", `validate every n steps, 0 = only at the end (default ${d.evalEvery})`, integerFlag("--eval-every", 0))
    .option("--eval-tokens <n>", `tokens per domain in periodic validation (default ${d.evalTokens})`, integerFlag("--eval-tokens", 1))
    .option("--checkpoint-every <n>", `checkpoint every n steps, 0 = only at the end (default ${d.checkpointEvery})`, integerFlag("--checkpoint-every", 0))
    .option("--resume", "continue the run in --out from its last checkpoint")
    .addOption(new Option("--dtype <dtype>", `storage dtype of the final model.safetensors (default ${d.dtype})`).choices(["F32", "F16", "BF16"]))
    .option("--discard-checkpoint", "remove checkpoint/ once the final model is written (smaller folder; no further --resume)")
    .option("--n-ctx <n>", `context length (default ${c.n_ctx})`, integerFlag("--n-ctx", 2))
    .option("--d-model <n>", `residual width (default ${c.d_model})`, integerFlag("--d-model", 1))
    .option("--d-mlp <n>", `MLP width (default 4·d_model = ${c.d_mlp})`, integerFlag("--d-mlp", 1))
    .option("--n-heads <n>", `attention heads (default ${c.n_heads})`, integerFlag("--n-heads", 1))
    .option("--d-head <n>", `head width (default d_model / n_heads = ${c.d_head})`, integerFlag("--d-head", 1))
    .option("--n-layers <n>", `layers (default ${c.n_layers})`, integerFlag("--n-layers", 1))
    .addOption(new Option("--act-fn <name>", `MLP activation (default ${c.act_fn})`).choices(["gelu", "gelu_new", "relu"]))
    .option("--corpus <version>", `the packaged corpus: v1 or v2 (v1 plus more prose and Python; docs/data.md) (default ${DEFAULT_CORPUS_VERSION})`)
    .option("--text <dir>", "train on the .txt/.md (prose) and code files under this folder instead of the default corpus (repeatable)", collect, [])
    .option("--jsonl <file>", 'train on {"text", "domain"?} lines of this file instead of the default corpus (repeatable)', collect, [])
    .option("--cache-dir <dir>", "token cache folder (default ~/.cache/saekit/tokens)")
    .action(async (flags: ModelTrainFlags) => {
      const options = trainOptionsFromFlags(flags);
      const reporter = progressReporter();
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        controller.abort();
        const message = "stopping after this step and writing a checkpoint (Ctrl-C again to quit at once)";
        const bar = reporter.bar();
        if (bar) bar.log(message);
        else process.stderr.write(`${message}\n`);
      };
      // Only while the step loop runs (it yields to the event loop between steps); before and after, Ctrl-C
      // keeps its default meaning, since a handler could not run during the long synchronous phases anyway.
      const onProgress = (e: TrainEvent) => {
        if (e.type === "start") process.on("SIGINT", onSigint);
        if (e.type === "phase") process.removeListener("SIGINT", onSigint);
        reporter.onEvent(e);
      };
      try {
        const result = await trainModel({ ...options, signal: controller.signal, onProgress });
        reporter.bar()?.finish();
        if (!result.completed) {
          console.log(`stopped at step ${result.step}/${result.totalSteps}; checkpoint in ${join(result.out, "checkpoint")}. ` +
            "Run the same command with --resume to continue.");
          process.exitCode = 130;
          return;
        }
        console.log(formatTrainingSummary(result.summary!, result.out));
      } finally {
        reporter.bar()?.finish();
        process.removeListener("SIGINT", onSigint);
      }
    });
}
