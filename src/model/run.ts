/**
 * Run a model on a piece of text and keep its logits and chosen activations: the library behind
 * `saekit model run`. Activations are stored with TransformerLens' shapes minus the batch axis
 * ([pos, d] for residual/MLP hooks, [pos, head, d_head] for attn.hook_q/k/v/z, [head, q_pos, k_pos] for
 * attn.hook_attn_scores/hook_pattern, [pos, 1] for hook_scale), so the output file reads like one row of a
 * TL `ActivationCache`.
 */
import fs from "node:fs";
import { join } from "node:path";
import { Tape } from "../core/autograd.js";
import { shapeSize, shapeToString, Tensor } from "../core/tensor.js";
import { loadGpt2Tokenizer, loadTokenizerJson, type Tokenizer } from "../data/index.js";
import { saveSafetensors, type SafetensorsTensorToSave } from "../io/safetensors.js";
import { loadModelFolder } from "./checkpoint.js";
import { outputVocabSize, type ModelConfig } from "./config.js";
import { HookedTransformer } from "./transformer.js";

export const TOKENIZER_FILE = "tokenizer.json";

export interface ModelRun {
  /** Token ids of the text, [seq]. */
  tokens: Int32Array;
  /** [seq, d_vocab_out]. */
  logits: Tensor;
  /** Hook name → activation in TL's shape without the batch axis, in the order requested. */
  activations: Map<string, Tensor>;
}

/**
 * The tokenizer a model folder's config names: "gpt2" is built in; any other name needs the folder's
 * `tokenizer.json` (the file Hugging Face publishes for that tokenizer).
 */
export function loadModelTokenizer(dir: string, cfg: ModelConfig): Tokenizer {
  if (cfg.tokenizer_name === "gpt2") return loadGpt2Tokenizer();
  const path = join(dir, TOKENIZER_FILE);
  if (!fs.existsSync(path)) {
    throw new Error(
      `model folder ${dir}: tokenizer_name "${cfg.tokenizer_name}" needs ${TOKENIZER_FILE} in the folder ` +
        `(only "gpt2" is built in); copy that tokenizer's ${TOKENIZER_FILE} there`,
    );
  }
  return loadTokenizerJson(path, { name: cfg.tokenizer_name });
}

/** TL's shape of a hook's activation for one sequence of `seq` tokens (no batch axis). */
export function activationShape(cfg: ModelConfig, name: string, seq: number, rowWidth: number): number[] {
  if (/\.attn\.hook_(q|k|v|z)$/.test(name)) return [seq, cfg.n_heads, cfg.d_head];
  if (/\.attn\.hook_(attn_scores|pattern)$/.test(name)) return [cfg.n_heads, seq, seq];
  return [seq, rowWidth];
}

/** Throws unless every name is a hook point of the model, listing the valid ones. */
export function checkHookNames(cfg: ModelConfig, names: readonly string[]): void {
  const valid = HookedTransformer.hookNames(cfg);
  const known = new Set(valid);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`unknown hook point${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")}; valid hook points: ${valid.join(", ")}`);
  }
}

/** Tokenises `text`, runs the model without gradients on it as one sequence, and keeps the requested hooks. */
export function runModelOnText(model: HookedTransformer, tokenizer: Tokenizer, text: string, hooks: readonly string[] = []): ModelRun {
  const cfg = model.cfg;
  checkHookNames(cfg, hooks);
  const tokens = Int32Array.from(tokenizer.encode(text));
  if (tokens.length === 0) throw new Error("the text has no tokens");
  if (tokens.length > cfg.n_ctx) {
    throw new Error(`the text is ${tokens.length} tokens, longer than the model's context (n_ctx = ${cfg.n_ctx})`);
  }
  for (const id of tokens) {
    if (id >= cfg.d_vocab) {
      throw new Error(`tokenizer "${tokenizer.name}" produced token id ${id}, outside the model's vocabulary (d_vocab = ${cfg.d_vocab})`);
    }
  }

  const seq = tokens.length;
  const { logits, cache } = model.forward(Tape.noGrad(), tokens, 1, seq, { cache: hooks });
  const activations = new Map<string, Tensor>();
  for (const name of hooks) {
    const value = cache.get(name)!.value;
    const shape = activationShape(cfg, name, seq, value.lastDim);
    if (shapeSize(shape) !== value.size) {
      throw new Error(`hook ${name}: activation has shape ${shapeToString(value.shape)}, which does not fit ${shapeToString(shape)}`);
    }
    activations.set(name, new Tensor(toFloat32(value.data), shape));
  }
  return { tokens, logits: new Tensor(toFloat32(logits!.data), [seq, outputVocabSize(cfg)]), activations };
}

function toFloat32(data: Float32Array | Float64Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Writes a run as safetensors: `tokens` (I32 [seq]), `logits` (F32 [seq, vocab]) and one F32 tensor per hook. */
export function saveModelRun(path: string, run: ModelRun, metadata: Readonly<Record<string, string>> = {}): void {
  const tensors = new Map<string, SafetensorsTensorToSave>();
  tensors.set("tokens", { dtype: "I32", shape: [run.tokens.length], data: run.tokens });
  tensors.set("logits", { dtype: "F32", shape: run.logits.shape, data: toFloat32(run.logits.data) });
  for (const [name, t] of run.activations) tensors.set(name, { dtype: "F32", shape: t.shape, data: toFloat32(t.data) });
  saveSafetensors(path, tensors, { hooks: [...run.activations.keys()].join(","), ...metadata });
}

export interface RunModelFolderOptions {
  modelDir: string;
  text: string;
  hooks?: readonly string[];
  /** Output safetensors file. */
  out: string;
}

/** Everything `saekit model run` does: load the folder and its tokenizer, run, save. Returns the run. */
export function runModelFolderOnText(options: RunModelFolderOptions): ModelRun {
  const { cfg, weights } = loadModelFolder(options.modelDir);
  const hooks = options.hooks ?? [];
  checkHookNames(cfg, hooks); // before loading a tokenizer or running anything
  const tokenizer = loadModelTokenizer(options.modelDir, cfg);
  const run = runModelOnText(new HookedTransformer(cfg, weights), tokenizer, options.text, hooks);
  saveModelRun(options.out, run, {
    model_dir: options.modelDir,
    model_name: cfg.model_name ?? "",
    tokenizer_name: cfg.tokenizer_name,
    text: options.text,
  });
  return run;
}
