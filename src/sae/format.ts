/**
 * SAE folders on disk, in SAELens format (see docs/conventions.md, "SAE folders (SAELens)").
 *
 * Writing produces one layout, SAELens v6:
 *
 *   DIR/cfg.json                 {d_in, d_sae, dtype, device, apply_b_dec_to_input, normalize_activations,
 *                                 reshape_activations, metadata: {model_name, hook_name, hook_layer, hook_head_index,
 *                                 prepend_bos, context_size, dataset_path, sae_lens_version,
 *                                 sae_lens_training_version, saekit_version}, k (topk only), architecture,
 *                                 saekit (SaeMetadata.extra, when given)}
 *   DIR/sae_weights.safetensors  W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
 *   DIR/sparsity.safetensors     sparsity [d_sae] (log10 feature density, F32), only when given
 *
 * Key order follows SAELens' `SAEConfig.to_dict()` (dataclass fields, then the architecture's own fields,
 * then `architecture`). Every file is replaced atomically; cfg.json is written last.
 *
 * Reading accepts three layouts:
 *   - "saelens-v6":   the layout above, also as written by SAELens ≥ 6 (unknown fields ignored; the 6.0 release
 *                     candidates called `metadata` `meta`, which is accepted too);
 *   - "saelens-flat": SAELens < 6, every field at the top level; `hook_point`, `hook_point_layer` and
 *                     `hook_point_head_index` are the old names of `hook_name`, `hook_layer` and `hook_head_index`;
 *                     `activation_fn_str` (or `activation_fn`) "topk" with `activation_fn_kwargs.k` means topk;
 *                     a missing `architecture` means "standard"; `normalize_activations` may be a boolean;
 *   - "sparsify":     EleutherAI sparsify (`cfg.json` = SparseCoderConfig + `d_in`, `sae.safetensors` with
 *                     `encoder.weight` [d_sae, d_in], `encoder.bias`, `W_dec` [d_sae, d_in], `b_dec`): a TopK SAE
 *                     that subtracts b_dec from its input.
 *
 * Metadata a file lacks gets these defaults (listed in `LoadedSae.defaulted`), chosen to mean "unknown" rather
 * than to guess: model_name "", hook_name "", hook_layer = N from a "blocks.N." (or sparsify "layers.N") hook
 * name, else 0; hook_head_index null; context_size 0 (unknown: use the model's n_ctx); prepend_bos true (SAELens'
 * own default); dataset_path ""; normalize_activations "none". On writing, "" and 0 go back out as null.
 */
import fs from "node:fs";
import path from "node:path";
import { firstNonFinite } from "../core/finite.js";
import { packageInfo } from "../package-info.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import {
  openSafetensors,
  saveSafetensors,
  SafetensorsError,
  type SafetensorsReader,
} from "../io/safetensors.js";
import { Sae, type SaeArchitecture, type SaeSpec } from "./sae.js";

// ---------------------------------------------------------------------------------------------
// Public API

/** What the SAE was trained on, with SAELens' field meanings. */
export interface SaeMetadata {
  /** SAELens metadata.model_name, e.g. "saekit/A". */
  modelName: string;
  /** e.g. "blocks.0.mlp.hook_post". */
  hookName: string;
  hookLayer: number;
  hookHeadIndex: number | null;
  /** n_ctx the activations were taken at, e.g. 128 (0: unknown). */
  contextSize: number;
  prependBos: boolean;
  /** e.g. "saekit-default (sotu+brown+moby-dick+cpython-stdlib)". */
  datasetPath: string;
  normalizeActivations: "none" | "expected_average_only_in";
  /** saekit-only extras (training record, norm scaling factor, seeds, ...), written under cfg.json "saekit". */
  extra?: Record<string, unknown>;
}

export type SaeFolderLayout = "saelens-v6" | "saelens-flat" | "sparsify";

export interface LoadedSae {
  sae: Sae;
  meta: SaeMetadata;
  /** log10 feature density [d_sae] from sparsity.safetensors, or null when the folder has none. */
  sparsity: Float32Array | null;
  /** The folder, as an absolute path. */
  dir: string;
  layout: SaeFolderLayout;
  /** cfg.json fields the file lacked (or had as null) and that got the documented default. */
  defaulted: string[];
}

export type SaeWeightDtype = "F32" | "F16" | "BF16";

export interface SaveSaeOptions {
  /** Storage dtype of the weights (default F32). Sparsity is always F32. */
  dtype?: SaeWeightDtype;
  /** log10 feature density [d_sae]; without it an existing sparsity.safetensors is removed (it would be stale). */
  sparsity?: Float32Array;
}

/** A bad SAE folder or save request; the message names the file (full path) and the field or tensor at fault. */
export class SaeFormatError extends Error {
  override name = "SaeFormatError";
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
  }
}

export const SAE_CFG_FILE = "cfg.json";
export const SAE_WEIGHTS_FILE = "sae_weights.safetensors";
export const SAE_SPARSITY_FILE = "sparsity.safetensors";
export const SPARSIFY_WEIGHTS_FILE = "sae.safetensors";

/**
 * SAELens ≥ 6 chooses its cfg parser by `sae_lens_version`: absent, null or below "6.0.0-rc.0" selects the
 * pre-6 parser, which rebuilds `metadata` from top-level keys only and would silently drop ours (hook name,
 * model, context size). So we state the layout version we write; `saekit_version` records the real writer.
 */
export const SAELENS_LAYOUT_VERSION = "6.0.0";

// ---------------------------------------------------------------------------------------------
// Matrix transposition

const TRANSPOSE_BLOCK = 64;

/**
 * out [cols, rows] = transpose of src [rows, cols], row-major. Blocked so both sides stay in cache
 * (131072×512 takes a few hundred ms; this is I/O-time code).
 */
export function transposeMatrix(src: Float32Array, rows: number, cols: number, out?: Float32Array): Float32Array {
  const n = rows * cols;
  if (src.length !== n) throw new RangeError(`transposeMatrix: ${src.length} values for [${rows}, ${cols}]`);
  const dst = out ?? new Float32Array(n);
  if (dst.length !== n) throw new RangeError(`transposeMatrix: output has ${dst.length} values, need ${n}`);
  for (let r0 = 0; r0 < rows; r0 += TRANSPOSE_BLOCK) {
    const r1 = Math.min(r0 + TRANSPOSE_BLOCK, rows);
    for (let c0 = 0; c0 < cols; c0 += TRANSPOSE_BLOCK) {
      const c1 = Math.min(c0 + TRANSPOSE_BLOCK, cols);
      for (let r = r0; r < r1; r++) {
        const rowBase = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[rowBase + c]!;
      }
    }
  }
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Saving

const DTYPE_NAMES: Record<SaeWeightDtype, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" };

/** Write `sae` to `dir` (created if missing) in the SAELens v6 layout described at the top of this file. */
export function saveSaeFolder(dir: string, sae: Sae, meta: SaeMetadata, options: SaveSaeOptions = {}): void {
  const root = path.resolve(dir);
  const cfgFile = path.join(root, SAE_CFG_FILE);
  const dtype = options.dtype ?? "F32";
  if (!Object.hasOwn(DTYPE_NAMES, dtype)) {
    throw new SaeFormatError(cfgFile, `dtype must be "F32", "F16" or "BF16", got ${JSON.stringify(dtype)}`);
  }
  // Validate everything before touching the disk, so a bad request leaves the folder as it was.
  checkMetadataToSave(cfgFile, meta);
  const cfgText = `${JSON.stringify(saelensConfig(sae, meta, dtype), null, 2)}\n`;
  const weightsFile = path.join(root, SAE_WEIGHTS_FILE);
  for (const [name, data] of [["W_enc", sae.encT], ["b_enc", sae.bEnc], ["W_dec", sae.dec], ["b_dec", sae.bDec]] as const) {
    checkFinite(weightsFile, name, data);
  }
  const sparsityFile = path.join(root, SAE_SPARSITY_FILE);
  if (options.sparsity !== undefined) checkSparsity(sparsityFile, options.sparsity, sae.dSae);

  fs.mkdirSync(root, { recursive: true });
  const { dIn, dSae } = sae.spec;
  saveSafetensors(weightsFile, {
    W_enc: { dtype, shape: [dIn, dSae], data: transposeMatrix(sae.encT, dSae, dIn) },
    b_enc: { dtype, shape: [dSae], data: sae.bEnc },
    W_dec: { dtype, shape: [dSae, dIn], data: sae.dec },
    b_dec: { dtype, shape: [dIn], data: sae.bDec },
  });
  if (options.sparsity !== undefined) {
    saveSafetensors(sparsityFile, { sparsity: { dtype: "F32", shape: [dSae], data: options.sparsity } });
  } else {
    fs.rmSync(sparsityFile, { force: true });
  }
  // Last: a folder whose cfg.json is new has its new weights already in place.
  writeFileAtomicSync(cfgFile, cfgText);
}

/** The cfg.json object, in SAELens' key order. */
function saelensConfig(sae: Sae, meta: SaeMetadata, dtype: SaeWeightDtype): Record<string, unknown> {
  const spec = sae.spec;
  const cfg: Record<string, unknown> = {
    d_in: spec.dIn,
    d_sae: spec.dSae,
    dtype: DTYPE_NAMES[dtype],
    device: "cpu",
    apply_b_dec_to_input: spec.applyBDecToInput,
    normalize_activations: meta.normalizeActivations,
    reshape_activations: "none",
    metadata: metadataToCfg(meta),
  };
  if (spec.architecture === "topk") cfg.k = spec.k;
  cfg.architecture = spec.architecture;
  if (meta.extra !== undefined) cfg.saekit = meta.extra;
  return cfg;
}

function metadataToCfg(meta: SaeMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model_name: meta.modelName === "" ? null : meta.modelName,
    hook_name: meta.hookName === "" ? null : meta.hookName,
    hook_layer: meta.hookLayer,
    hook_head_index: meta.hookHeadIndex,
    prepend_bos: meta.prependBos,
    context_size: meta.contextSize === 0 ? null : meta.contextSize,
    dataset_path: meta.datasetPath === "" ? null : meta.datasetPath,
    sae_lens_version: SAELENS_LAYOUT_VERSION,
    // Not trained by SAELens: null rather than a version we did not run.
    sae_lens_training_version: null,
  };
  const version = saekitVersion();
  if (version !== undefined) out.saekit_version = version;
  return out;
}

function saekitVersion(): string | undefined {
  try {
    return packageInfo().version;
  } catch {
    return undefined; // running from an unusual layout without package.json: just omit the field
  }
}

function checkMetadataToSave(file: string, meta: SaeMetadata): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new SaeFormatError(file, `cannot save: metadata ${field} must be ${want}, got ${describe(got)}`);
  };
  if (typeof meta.modelName !== "string") bad("modelName", "a string", meta.modelName);
  if (typeof meta.hookName !== "string") bad("hookName", "a string", meta.hookName);
  if (!isIntAtLeast(meta.hookLayer, 0)) bad("hookLayer", "a non-negative integer", meta.hookLayer);
  if (meta.hookHeadIndex !== null && !isIntAtLeast(meta.hookHeadIndex, 0)) {
    bad("hookHeadIndex", "null or a non-negative integer", meta.hookHeadIndex);
  }
  if (!isIntAtLeast(meta.contextSize, 0)) bad("contextSize", "a non-negative integer (0: unknown)", meta.contextSize);
  if (typeof meta.prependBos !== "boolean") bad("prependBos", "a boolean", meta.prependBos);
  if (typeof meta.datasetPath !== "string") bad("datasetPath", "a string", meta.datasetPath);
  if (!NORMALIZE_SUPPORTED.includes(meta.normalizeActivations)) {
    bad("normalizeActivations", `one of ${NORMALIZE_SUPPORTED.map((v) => `"${v}"`).join(", ")}`, meta.normalizeActivations);
  }
  if (meta.extra !== undefined && !isPlainObject(meta.extra)) bad("extra", "a plain object", meta.extra);
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Read an SAE folder in any of the layouts described at the top of this file. */
export function loadSaeFolder(dir: string): LoadedSae {
  const root = path.resolve(dir);
  if (!fs.existsSync(root)) throw new SaeFormatError(root, "SAE folder does not exist");
  if (!fs.statSync(root).isDirectory()) throw new SaeFormatError(root, "not a folder (an SAE folder holds cfg.json and weights)");
  const cfgFile = path.join(root, SAE_CFG_FILE);
  const cfg = readJsonObject(cfgFile, `missing ${SAE_CFG_FILE} (every SAE folder has one)`);
  const saelensWeights = path.join(root, SAE_WEIGHTS_FILE);
  const sparsifyWeights = path.join(root, SPARSIFY_WEIGHTS_FILE);
  if (fs.existsSync(saelensWeights)) return loadSaelens(root, cfgFile, cfg, saelensWeights);
  if (fs.existsSync(sparsifyWeights)) return loadSparsify(root, cfgFile, cfg, sparsifyWeights);
  throw new SaeFormatError(
    saelensWeights,
    `missing weights file: neither ${SAE_WEIGHTS_FILE} (SAELens) nor ${SPARSIFY_WEIGHTS_FILE} (sparsify) is in the folder`,
  );
}

type Json = Record<string, unknown>;

function readJsonObject(file: string, missing: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new SaeFormatError(file, missing);
    throw new SaeFormatError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SaeFormatError(file, `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(parsed)) throw new SaeFormatError(file, `expected a JSON object, got ${describe(parsed)}`);
  return parsed;
}

/**
 * Typed, named access to cfg.json fields. A field is looked up in each source in turn (v6: `metadata`,
 * then the top level) under each of its names (current name first, then pre-6 aliases); null counts as
 * absent. A present value of the wrong type is an error naming the field as it appears in the file.
 */
class CfgFields {
  constructor(
    readonly file: string,
    private readonly sources: ReadonlyArray<{ obj: Json; prefix: string }>,
    /** Shared between the readers of one file. */
    readonly defaulted: string[] = [],
  ) {}

  private find(names: readonly string[]): { label: string; value: unknown } | undefined {
    for (const { obj, prefix } of this.sources) {
      for (const name of names) {
        const value = Object.hasOwn(obj, name) ? obj[name] : undefined;
        if (value !== undefined && value !== null) return { label: `${prefix}${name}`, value };
      }
    }
    return undefined;
  }

  fail(label: string, problem: string): never {
    throw new SaeFormatError(this.file, `field "${label}": ${problem}`);
  }

  private typed<T>(names: readonly string[], want: string, ok: (v: unknown) => boolean): T | undefined {
    const hit = this.find(names);
    if (hit === undefined) return undefined;
    if (!ok(hit.value)) this.fail(hit.label, `expected ${want}, got ${describe(hit.value)}`);
    return hit.value as T;
  }

  string(names: readonly string[]): string | undefined {
    return this.typed<string>(names, "a string", (v) => typeof v === "string");
  }

  boolean(names: readonly string[]): boolean | undefined {
    return this.typed<boolean>(names, "a boolean", (v) => typeof v === "boolean");
  }

  int(names: readonly string[], min: number): number | undefined {
    return this.typed<number>(names, `an integer ≥ ${min}`, (v) => isIntAtLeast(v, min));
  }

  object(names: readonly string[]): Json | undefined {
    return this.typed<Json>(names, "a JSON object", isPlainObject);
  }

  raw(names: readonly string[]): { label: string; value: unknown } | undefined {
    return this.find(names);
  }

  requiredInt(name: string, min: number): number {
    const v = this.int([name], min);
    if (v === undefined) this.fail(name, `missing (an integer ≥ ${min} is required)`);
    return v;
  }

  /** The value, or `fallback` with the field recorded in `defaulted`. */
  orDefault<T>(value: T | undefined, name: string, fallback: T): T {
    if (value !== undefined) return value;
    this.defaulted.push(name);
    return fallback;
  }
}

// --- SAELens ---------------------------------------------------------------------------------

function loadSaelens(root: string, cfgFile: string, cfg: Json, weightsFile: string): LoadedSae {
  // SAE fields live at the top level in both layouts; v6 nests the model/hook/dataset ones under `metadata`
  // (which is searched first, the top level second, so a partly flat v6 file still reads).
  const top: CfgFields = new CfgFields(cfgFile, [{ obj: cfg, prefix: "" }]);
  const nestedKey = ["metadata", "meta"].find((k) => cfg[k] !== undefined && cfg[k] !== null);
  const nested = nestedKey === undefined ? undefined : top.object([nestedKey]);
  const metaSources = nested === undefined ? [] : [{ obj: nested, prefix: `${nestedKey}.` }];
  const metaFields: CfgFields = new CfgFields(cfgFile, [...metaSources, { obj: cfg, prefix: "" }], top.defaulted);

  const spec = saelensSpec(top);
  const meta = metadataFromCfg(metaFields);
  const extra = top.object(["saekit"]);
  if (extra !== undefined) meta.extra = extra;

  const sae = readSaelensWeights(weightsFile, spec, cfgFile);
  const sparsity = readSparsity(path.join(root, SAE_SPARSITY_FILE), spec.dSae);
  const layout: SaeFolderLayout = nested === undefined ? "saelens-flat" : "saelens-v6";
  return { sae, meta, sparsity, dir: root, layout, defaulted: top.defaulted };
}

const UNSUPPORTED_YET = new Set(["jumprelu", "gated"]);

/** Architecture, sizes and encoder options from a SAELens cfg (either layout). */
function saelensSpec(f: CfgFields): SaeSpec {
  const dIn = f.requiredInt("d_in", 1);
  const dSae = f.requiredInt("d_sae", 1);
  const activation = f.string(["activation_fn_str", "activation_fn"]);
  let architecture = f.string(["architecture"]);
  // Pre-6 TopK SAEs are "standard" (or unlabelled) with a topk activation; SAELens 6 converts them the same way.
  if ((architecture === undefined || architecture === "standard") && activation === "topk") architecture = "topk";
  architecture ??= "standard";
  if (UNSUPPORTED_YET.has(architecture)) {
    f.fail("architecture", `"${architecture}" SAEs are not supported yet (saekit reads "standard" and "topk")`);
  }
  if (architecture !== "standard" && architecture !== "topk") {
    f.fail("architecture", `unknown or unsupported architecture ${JSON.stringify(architecture)} (saekit reads "standard" and "topk")`);
  }
  if (architecture === "standard" && activation !== undefined && activation !== "relu") {
    f.fail(f.raw(["activation_fn_str", "activation_fn"])!.label, `activation ${JSON.stringify(activation)} is not supported (standard SAEs use "relu")`);
  }
  checkEncoderOptions(f);
  const k = architecture === "topk" ? topkK(f, dSae) : null;
  const applyBDecToInput = f.orDefault(f.boolean(["apply_b_dec_to_input"]), "apply_b_dec_to_input", true);
  return { architecture: architecture as SaeArchitecture, dIn, dSae, k, applyBDecToInput };
}

/** k: v6 top-level `k`, or pre-6 `activation_fn_kwargs.k`. */
function topkK(f: CfgFields, dSae: number): number {
  let k = f.int(["k"], 1);
  let label = "k";
  if (k === undefined) {
    const kwargs = f.object(["activation_fn_kwargs"]);
    label = "activation_fn_kwargs.k";
    if (kwargs !== undefined && kwargs.k !== undefined && kwargs.k !== null) {
      if (!isIntAtLeast(kwargs.k, 1)) f.fail(label, `expected an integer ≥ 1, got ${describe(kwargs.k)}`);
      k = kwargs.k as number;
    }
  }
  if (k === undefined) f.fail("k", `missing: a topk SAE needs k (v6 "k", or pre-6 "activation_fn_kwargs": {"k": ...})`);
  if (k > dSae) f.fail(label, `k = ${k} exceeds d_sae = ${dSae}`);
  return k;
}

/** Options that change what encode computes and that saekit's Sae does not implement: refuse, never ignore. */
function checkEncoderOptions(f: CfgFields): void {
  const normalize = f.raw(["normalize_activations"]);
  if (normalize !== undefined && typeof normalize.value === "string" && !NORMALIZE_SUPPORTED.includes(normalize.value as never)) {
    f.fail(normalize.label, `${JSON.stringify(normalize.value)} is not supported (saekit reads "none" and "expected_average_only_in")`);
  }
  const reshape = f.string(["reshape_activations"]);
  // hook_z SAEs read the heads flattened row-major, which is exactly how saekit passes them: nothing to do.
  if (reshape !== undefined && reshape !== "none" && reshape !== "hook_z") {
    f.fail("reshape_activations", `${JSON.stringify(reshape)} is not supported (expected "none" or "hook_z")`);
  }
  if (f.boolean(["rescale_acts_by_decoder_norm"]) === true) {
    f.fail("rescale_acts_by_decoder_norm", "true is not supported (saekit's TopK selects on raw pre-activations)");
  }
  if (f.boolean(["finetuning_scaling_factor"]) === true) {
    f.fail("finetuning_scaling_factor", "true is not supported (a learned per-feature output scale)");
  }
}

const NORMALIZE_SUPPORTED: ReadonlyArray<SaeMetadata["normalizeActivations"]> = ["none", "expected_average_only_in"];

function metadataFromCfg(f: CfgFields): SaeMetadata {
  const hookName = f.orDefault(f.string(["hook_name", "hook_point"]), "hook_name", "");
  return {
    modelName: f.orDefault(f.string(["model_name"]), "model_name", ""),
    hookName,
    hookLayer: f.orDefault(f.int(["hook_layer", "hook_point_layer"], 0), "hook_layer", layerFromHookName(hookName)),
    hookHeadIndex: f.int(["hook_head_index", "hook_point_head_index"], 0) ?? null,
    contextSize: f.orDefault(f.int(["context_size"], 1), "context_size", 0),
    prependBos: f.orDefault(f.boolean(["prepend_bos"]), "prepend_bos", true),
    datasetPath: f.orDefault(f.string(["dataset_path"]), "dataset_path", ""),
    normalizeActivations: normalizeActivations(f),
  };
}

function normalizeActivations(f: CfgFields): SaeMetadata["normalizeActivations"] {
  const hit = f.raw(["normalize_activations"]);
  if (hit === undefined) return f.orDefault(undefined, "normalize_activations", "none");
  // Pre-6 configs stored a boolean: true meant Anthropic's "expected average norm" scaling.
  if (typeof hit.value === "boolean") return hit.value ? "expected_average_only_in" : "none";
  if (typeof hit.value !== "string") f.fail(hit.label, `expected a string or boolean, got ${describe(hit.value)}`);
  return hit.value as SaeMetadata["normalizeActivations"]; // values checked in checkEncoderOptions
}

/** N from "blocks.N." (TransformerLens) or "layers.N" (Hugging Face / sparsify); 0 when the name has none. */
export function layerFromHookName(hookName: string): number {
  const m = /(?:^|\.)(?:blocks|layers)[._](\d+)(?:\.|$)/.exec(hookName);
  return m ? Number(m[1]) : 0;
}

function readSaelensWeights(file: string, spec: SaeSpec, cfgFile: string): Sae {
  const { dIn, dSae } = spec;
  return withSafetensors(file, (reader) => {
    const wEnc = readTensor(reader, file, "W_enc", [dIn, dSae], cfgFile);
    const bEnc = readTensor(reader, file, "b_enc", [dSae], cfgFile);
    const wDec = readTensor(reader, file, "W_dec", [dSae, dIn], cfgFile);
    const bDec = readTensor(reader, file, "b_dec", [dIn], cfgFile);
    checkNoForeignTensors(reader, file);
    return new Sae(spec, { encT: transposeMatrix(wEnc, dIn, dSae), bEnc, dec: wDec, bDec });
  });
}

/**
 * Tensors that mean the cfg mislabels the SAE: a JumpReLU threshold would be silently dropped, and a
 * pre-6 `scaling_factor` that is not all ones rescales the features.
 */
function checkNoForeignTensors(reader: SafetensorsReader, file: string): void {
  if (reader.has("threshold")) {
    throw new SaeFormatError(file, `tensor "threshold" present: a JumpReLU SAE, which saekit does not support yet`);
  }
  if (reader.has("scaling_factor")) {
    const s = readFloat(reader, file, "scaling_factor");
    if (s.some((v) => v !== 1)) {
      throw new SaeFormatError(file, `tensor "scaling_factor" is not all ones: finetuning scaling is not supported`);
    }
  }
}

// --- sparsify ---------------------------------------------------------------------------------

function loadSparsify(root: string, cfgFile: string, cfg: Json, weightsFile: string): LoadedSae {
  const f: CfgFields = new CfgFields(cfgFile, [{ obj: cfg, prefix: "" }]);
  const dIn = f.requiredInt("d_in", 1);
  const activation = f.string(["activation"]) ?? "topk";
  if (activation !== "topk") f.fail("activation", `${JSON.stringify(activation)} is not supported (saekit reads "topk")`);
  if (f.boolean(["transcode"]) === true) f.fail("transcode", "true: a transcoder, not an autoencoder (not supported)");
  if (f.boolean(["skip_connection"]) === true) f.fail("skip_connection", "true: W_skip is not supported");
  const dSae = sparsifyLatents(f, dIn);
  const k = f.int(["k"], 1);
  if (k === undefined) f.fail("k", "missing (sparsify SAEs are TopK and need k)");
  if (k > dSae) f.fail("k", `k = ${k} exceeds the ${dSae} latents`);
  // sparsify's encode always subtracts b_dec from the input (unless transcoding, refused above).
  const spec: SaeSpec = { architecture: "topk", dIn, dSae, k, applyBDecToInput: true };

  const sae = withSafetensors(weightsFile, (reader) => {
    const encT = readTensor(reader, weightsFile, "encoder.weight", [dSae, dIn], cfgFile);
    const bEnc = readTensor(reader, weightsFile, "encoder.bias", [dSae], cfgFile);
    const dec = readTensor(reader, weightsFile, "W_dec", [dSae, dIn], cfgFile);
    const bDec = readTensor(reader, weightsFile, "b_dec", [dIn], cfgFile);
    return new Sae(spec, { encT, bEnc, dec, bDec });
  });
  return { sae, meta: sparsifyMetadata(root), sparsity: null, dir: root, layout: "sparsify", defaulted: [] };
}

/** `num_latents`, or d_in × `expansion_factor` when it is 0 or absent (sparsify's rule). */
function sparsifyLatents(f: CfgFields, dIn: number): number {
  const numLatents = f.int(["num_latents"], 0);
  if (numLatents !== undefined && numLatents > 0) return numLatents;
  const factor = f.int(["expansion_factor"], 1);
  if (factor === undefined) f.fail("num_latents", "missing or 0, and no expansion_factor to derive the latent count from");
  return dIn * factor;
}

/**
 * sparsify names each SAE folder after its hookpoint (a Hugging Face module path such as "layers.6") and keeps
 * the run's settings in the parent folder's config.json. As SAELens does, "layers.N" maps to TransformerLens'
 * "blocks.N.hook_resid_post" (the output of decoder layer N); other hookpoints keep their sparsify name.
 */
function sparsifyMetadata(root: string): SaeMetadata {
  const hookpoint = path.basename(root);
  const layers = /^layers\.(\d+)$/.exec(hookpoint);
  const hookName = layers ? `blocks.${layers[1]}.hook_resid_post` : hookpoint;
  const run = readRunConfig(path.join(path.dirname(root), "config.json"));
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  return {
    modelName: str(run.model),
    hookName,
    hookLayer: layerFromHookName(hookpoint),
    hookHeadIndex: null,
    contextSize: isIntAtLeast(run.ctx_len, 1) ? (run.ctx_len as number) : 0,
    prependBos: true,
    datasetPath: str(run.dataset),
    normalizeActivations: "none",
  };
}

/** The sparsify run's config.json, best-effort: it only supplies descriptive metadata. */
function readRunConfig(file: string): Json {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    return isPlainObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

// --- tensors ----------------------------------------------------------------------------------

function withSafetensors<T>(file: string, body: (reader: SafetensorsReader) => T): T {
  let reader: SafetensorsReader;
  try {
    reader = openSafetensors(file);
  } catch (err) {
    throw asFormatError(file, err);
  }
  try {
    return body(reader);
  } catch (err) {
    throw asFormatError(file, err);
  } finally {
    reader.close();
  }
}

/** safetensors errors already name the file; rewrap them so callers catch one error type. */
function asFormatError(file: string, err: unknown): unknown {
  if (err instanceof SaeFormatError) return err;
  if (err instanceof SafetensorsError) return new SaeFormatError(file, err.message, { cause: err });
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return new SaeFormatError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  return err;
}

const FLOAT_DTYPES = new Set(["F16", "BF16", "F32", "F64"]);

function readFloat(reader: SafetensorsReader, file: string, name: string): Float32Array {
  const { dtype } = reader.info(name);
  if (!FLOAT_DTYPES.has(dtype)) throw new SaeFormatError(file, `tensor "${name}": dtype ${dtype} is not a float dtype`);
  return reader.readFloat32(name);
}

/** A float tensor of exactly `shape` (d_in/d_sae taken from cfgFile), as finite float32 values. */
function readTensor(reader: SafetensorsReader, file: string, name: string, shape: number[], cfgFile: string): Float32Array {
  if (!reader.has(name)) {
    throw new SaeFormatError(file, `tensor "${name}" is missing (the file has ${reader.names().map((n) => `"${n}"`).join(", ") || "no tensors"})`);
  }
  const got = reader.info(name).shape;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    throw new SaeFormatError(
      file,
      `tensor "${name}" has shape [${got.join(", ")}], expected [${shape.join(", ")}] (d_in/d_sae from ${cfgFile})`,
    );
  }
  const data = readFloat(reader, file, name);
  checkFinite(file, name, data);
  return data;
}

function checkFinite(file: string, name: string, data: Float32Array): void {
  const i = firstNonFinite(data);
  if (i >= 0) throw new SaeFormatError(file, `tensor "${name}" has a non-finite value ${data[i]} at flat index ${i}`);
}

/** log10 densities: -Infinity is a legitimate value for a dead feature, NaN is not. */
function checkSparsity(file: string, sparsity: Float32Array, dSae: number): void {
  if (!(sparsity instanceof Float32Array) || sparsity.length !== dSae) {
    throw new SaeFormatError(file, `tensor "sparsity" must be a Float32Array of d_sae = ${dSae} values, got ${describe(sparsity)}`);
  }
  const bad = sparsity.findIndex((v) => Number.isNaN(v) || v === Infinity);
  if (bad >= 0) throw new SaeFormatError(file, `tensor "sparsity" has ${sparsity[bad]} at index ${bad}`);
}

function readSparsity(file: string, dSae: number): Float32Array | null {
  if (!fs.existsSync(file)) return null;
  return withSafetensors(file, (reader) => {
    if (!reader.has("sparsity")) throw new SaeFormatError(file, `tensor "sparsity" is missing`);
    const got = reader.info("sparsity").shape;
    if (got.length !== 1 || got[0] !== dSae) {
      throw new SaeFormatError(file, `tensor "sparsity" has shape [${got.join(", ")}], expected [${dSae}] (d_sae)`);
    }
    const data = readFloat(reader, file, "sparsity");
    checkSparsity(file, data, dSae);
    return data;
  });
}

// --- small helpers ----------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function isIntAtLeast(v: unknown, min: number): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min;
}

function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of ${(v as unknown as ArrayLike<number>).length} values`;
  const json = JSON.stringify(v);
  const shown = json === undefined ? String(v) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
  return `${Array.isArray(v) ? "array" : typeof v} ${shown}`;
}
