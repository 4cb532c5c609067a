/**
 * Model folders: `config.json` (a ModelConfig, TransformerLens field names) + `model.safetensors` (a TL state
 * dict: TL keys and shapes). Python reads them with
 *   `HookedTransformer(HookedTransformerConfig(**json.load(open("config.json"))))` and
 *   `model.load_state_dict(safetensors.torch.load_file("model.safetensors"), strict=False)`
 * (strict=False because TL's state dict also holds the weightless `attn.IGNORE` / `attn.mask` buffers).
 *
 * The safetensors `__metadata__` carries `format: "pt"` (Hugging Face's loaders refuse other values) plus
 * `saekit_format: "transformer_lens"` and `saekit_format_version`, so a reader can tell what layout it holds.
 */
import fs from "node:fs";
import { join } from "node:path";
import { firstNonFinite } from "../core/finite.js";
import { Tensor, shapeToString, sameShape } from "../core/tensor.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { openSafetensors, saveSafetensors, type SafetensorsReader, type SafetensorsTensorToSave } from "../io/safetensors.js";
import { outputVocabSize, validateModelConfig, type ModelConfig } from "./config.js";
import { checkWeights, weightShapes, type ModelWeights } from "./weights.js";

export const MODEL_CONFIG_FILE = "config.json";
export const MODEL_WEIGHTS_FILE = "model.safetensors";
export const MODEL_FORMAT = "transformer_lens";
export const MODEL_FORMAT_VERSION = "1";

/** Storage dtypes for weights; float32 is exact, the 16-bit ones halve the file. */
export type ModelStorageDtype = "F32" | "F16" | "BF16";

export interface SaveModelOptions {
  /** Storage dtype of every weight (default F32). */
  dtype?: ModelStorageDtype;
  /** Extra `__metadata__` entries (strings), e.g. the training command. */
  metadata?: Readonly<Record<string, string>>;
}

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFolderError";
  }
}

/**
 * TransformerLens state dicts hold buffers that are not weights (the causal mask and the masked-score
 * constant); skipped on load without complaint.
 */
export function isWeightlessTlBuffer(name: string): boolean {
  return /(^|\.)attn\.(IGNORE|mask)$/.test(name);
}

/** The config as written to config.json: TL names, in a stable order, no undefined fields. */
function configJson(cfg: ModelConfig): string {
  const ordered: Record<string, unknown> = {
    model_name: cfg.model_name,
    n_layers: cfg.n_layers,
    d_model: cfg.d_model,
    d_head: cfg.d_head,
    n_heads: cfg.n_heads,
    d_mlp: cfg.d_mlp,
    d_vocab: cfg.d_vocab,
    d_vocab_out: cfg.d_vocab_out,
    n_ctx: cfg.n_ctx,
    act_fn: cfg.act_fn,
    normalization_type: cfg.normalization_type,
    positional_embedding_type: cfg.positional_embedding_type,
    eps: cfg.eps,
    tokenizer_name: cfg.tokenizer_name,
    seed: cfg.seed,
  };
  for (const key of Object.keys(ordered)) if (ordered[key] === undefined) delete ordered[key];
  return JSON.stringify(ordered, null, 2) + "\n";
}

/**
 * Writes `dir/config.json` and `dir/model.safetensors` (each atomically; `dir` is created). The config and
 * weights are checked first, so a bad call leaves no files behind.
 */
export function saveModelFolder(dir: string, cfg: ModelConfig, weights: ModelWeights, options: SaveModelOptions = {}): void {
  const dtype = options.dtype ?? "F32";
  if (!["F32", "F16", "BF16"].includes(dtype)) {
    throw new ModelFolderError(`saveModelFolder: dtype must be F32, F16 or BF16, got ${JSON.stringify(dtype)}`);
  }
  const configPath = join(dir, MODEL_CONFIG_FILE);
  const weightsPath = join(dir, MODEL_WEIGHTS_FILE);
  const json = configJson(validateModelConfig(cfg, `${configPath} (to be written)`));
  checkWeights(cfg, weights, `${weightsPath} (to be written)`);

  const tensors = new Map<string, SafetensorsTensorToSave>();
  for (const name of weightShapes(cfg).keys()) {
    const t = weights.get(name)!;
    // float64 weights (gradient checks) are narrowed to float32 first; F16/BF16 conversion happens on write.
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    tensors.set(name, { dtype, shape: t.shape, data });
  }
  fs.mkdirSync(dir, { recursive: true });
  saveSafetensors(weightsPath, tensors, {
    format: "pt",
    saekit_format: MODEL_FORMAT,
    saekit_format_version: MODEL_FORMAT_VERSION,
    ...options.metadata,
  });
  writeFileAtomicSync(configPath, json);
}

export interface LoadedModelFolder {
  cfg: ModelConfig;
  /** float32 weights with TL keys and shapes, whatever the stored dtype. */
  weights: ModelWeights;
  /** The safetensors file the weights came from. */
  weightsPath: string;
  metadata: Readonly<Record<string, string>> | undefined;
}

/** Reads and validates `dir/config.json`. */
export function loadModelConfig(dir: string): ModelConfig {
  const configPath = join(dir, MODEL_CONFIG_FILE);
  if (!fs.existsSync(configPath)) {
    throw new ModelFolderError(`model folder ${dir} has no ${MODEL_CONFIG_FILE} (a TransformerLens config with n_layers, d_model, ...)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(configPath, "utf8"));
  } catch (e) {
    throw new ModelFolderError(`${configPath}: invalid JSON: ${(e as Error).message}`);
  }
  return validateModelConfig(parsed, configPath);
}

/** `model.safetensors`, else the only `*.safetensors` file of the folder. */
export function findWeightsFile(dir: string): string {
  const preferred = join(dir, MODEL_WEIGHTS_FILE);
  if (fs.existsSync(preferred)) return preferred;
  const candidates = fs.readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
  if (candidates.length === 1) return join(dir, candidates[0]!);
  if (candidates.length === 0) throw new ModelFolderError(`model folder ${dir} has no ${MODEL_WEIGHTS_FILE} (nor any *.safetensors file)`);
  throw new ModelFolderError(
    `model folder ${dir} has no ${MODEL_WEIGHTS_FILE} and several *.safetensors files (${candidates.join(", ")}); ` +
      `rename the one to load to ${MODEL_WEIGHTS_FILE}`,
  );
}

/** The tensor (and axis) that carries each config size; the layer count is the number of blocks.N in the file. */
const SIZE_CARRIERS: ReadonlyArray<[field: "d_vocab" | "d_model" | "n_ctx" | "d_mlp" | "n_heads" | "d_head", tensor: string, axis: number]> = [
  ["d_vocab", "embed.W_E", 0], ["d_model", "embed.W_E", 1], ["n_ctx", "pos_embed.W_pos", 0], ["d_mlp", "blocks.0.mlp.W_in", 1],
  ["n_heads", "blocks.0.attn.W_Q", 0], ["d_head", "blocks.0.attn.W_Q", 2],
];

const weightRank = (tensor: string) => (tensor.includes(".attn.W_") ? 3 : 2);

function checkConfigAgainstTensors(cfg: ModelConfig, reader: SafetensorsReader, configPath: string, weightsPath: string): void {
  const fail = (field: string, value: number, what: string): never => {
    throw new ModelFolderError(`${configPath}: ${field} is ${value} but ${weightsPath} ${what}`);
  };
  const layers = new Set<number>();
  for (const name of reader.names()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  if (cfg.n_layers !== layers.size) {
    const sorted = [...layers].sort((a, b) => a - b);
    fail("n_layers", cfg.n_layers, `holds ${layers.size} layer${layers.size === 1 ? "" : "s"}${sorted.length ? ` (blocks.${sorted[0]} … blocks.${sorted[sorted.length - 1]})` : ""}`);
  }
  for (const [field, tensor, axis] of SIZE_CARRIERS) {
    if (!reader.has(tensor)) continue; // reported with the other missing tensors
    const shape = reader.info(tensor).shape;
    // Another layout (another rank) is reported with the other mis-shaped tensors.
    if (shape.length === weightRank(tensor) && shape[axis] !== cfg[field]) fail(field, cfg[field], `has "${tensor}" with shape ${shapeToString(shape)} (axis ${axis} is ${field})`);
  }
  if (reader.has("unembed.W_U")) {
    const shape = reader.info("unembed.W_U").shape;
    if (shape.length === 2 && shape[1] !== outputVocabSize(cfg)) fail("d_vocab_out", outputVocabSize(cfg), `has "unembed.W_U" with shape ${shapeToString(shape)}`);
  }
}

/**
 * Loads a model folder: validates config.json, reads the weights as float32 (F16/BF16/F64 are converted),
 * skips TL's weightless buffers, and reports every missing, unexpected or mis-shaped tensor at once.
 */
export function loadModelFolder(dir: string): LoadedModelFolder {
  if (!fs.existsSync(dir)) throw new ModelFolderError(`model folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new ModelFolderError(`model folder ${dir} is not a directory`);
  const cfg = loadModelConfig(dir);
  const weightsPath = findWeightsFile(dir);
  const reader = openSafetensors(weightsPath);
  try {
    // Before weightShapes allocates per layer: a hostile config.json (n_layers: 1e9) fails here, naming the field.
    checkConfigAgainstTensors(cfg, reader, join(dir, "config.json"), weightsPath);
    const expected = weightShapes(cfg);
    const problems: string[] = [];
    for (const name of reader.names()) {
      if (isWeightlessTlBuffer(name)) continue;
      const info = reader.info(name);
      const shape = expected.get(name);
      if (shape === undefined) problems.push(`unexpected tensor "${name}" ${shapeToString(info.shape)} (not a weight of this config)`);
      else if (!sameShape(info.shape, shape)) {
        problems.push(`tensor "${name}" has shape ${shapeToString(info.shape)}, expected ${shapeToString(shape)}`);
      } else if (!["F32", "F16", "BF16", "F64"].includes(info.dtype)) {
        problems.push(`tensor "${name}" has dtype ${info.dtype}, expected a float dtype (F32, F16, BF16 or F64)`);
      }
    }
    for (const [name, shape] of expected) {
      if (!reader.has(name)) problems.push(`missing tensor "${name}" (expected shape ${shapeToString(shape)})`);
    }
    if (problems.length > 0) throw new ModelFolderError(`${weightsPath}: ${problems.join("; ")}`);

    // Only now read the data: a wrong file fails before paying for a large read.
    const weights: ModelWeights = new Map();
    for (const [name, shape] of expected) {
      const data = reader.readFloat32(name);
      const bad = firstNonFinite(data);
      // A NaN or Inf weight would make every logit NaN without an error.
      if (bad >= 0) throw new ModelFolderError(`${weightsPath}: tensor "${name}" has a non-finite value ${data[bad]} at flat index ${bad}`);
      weights.set(name, new Tensor(data, shape));
    }
    checkWeights(cfg, weights, weightsPath);
    return { cfg, weights, weightsPath, metadata: reader.metadata };
  } finally {
    reader.close();
  }
}
