/**
 * The transformer's configuration, named exactly as TransformerLens' `HookedTransformerConfig` so that a
 * `config.json` written by saekit reads as a TL config and the relevant part of a TL `cfg.to_dict()` reads here.
 *
 * Activation functions (as TransformerLens defines them, `components/mlps` + `utils.gelu_new`):
 *   - "gelu"     = torch's `F.gelu`, the exact GeLU x·Φ(x) = ½x(1 + erf(x/√2)). gelu-1l uses this one.
 *   - "gelu_new" = the tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))) of GPT-2.
 *   - "relu".
 *   - "solu_ln" (SoLU followed by a LayerNorm) is a valid TL name but is not implemented here yet.
 */

export type ActFn = "gelu" | "gelu_new" | "relu" | "solu_ln";
export type NormalizationType = "LN" | "LNPre" | null;
export type PositionalEmbeddingType = "standard";

export interface ModelConfig {
  n_layers: number;
  d_model: number;
  d_head: number;
  n_heads: number;
  d_mlp: number;
  d_vocab: number;
  n_ctx: number;
  act_fn: ActFn;
  /** "LN": LayerNorm with weight and bias; "LNPre": normalisation only (weights folded away); null: none. */
  normalization_type: NormalizationType;
  positional_embedding_type: PositionalEmbeddingType;
  /** "gpt2", or a Hugging Face tokenizer name (its `tokenizer.json` then sits in the model folder). */
  tokenizer_name: string;
  /** LayerNorm epsilon (TL default 1e-5). */
  eps: number;
  /** Output vocabulary when it differs from the input one (TL writes -1 for "same as d_vocab"). */
  d_vocab_out?: number;
  seed?: number;
  model_name?: string;
}

/** The shipped default model (models A and B): 1 layer, GPT-2's tokenizer, small enough to train on a CPU. */
export const DEFAULT_MODEL_CONFIG: Readonly<ModelConfig> = Object.freeze({
  n_layers: 1,
  d_model: 128,
  d_head: 32,
  n_heads: 4,
  d_mlp: 512,
  d_vocab: 50257,
  n_ctx: 128,
  act_fn: "gelu",
  normalization_type: "LN",
  positional_embedding_type: "standard",
  tokenizer_name: "gpt2",
  eps: 1e-5,
});

/** TransformerLens' `gelu-1l` (Neel Nanda), the model of the seed's SAEs: same layout, for loading real checkpoints. */
export const GELU_1L_CONFIG: Readonly<ModelConfig> = Object.freeze({
  n_layers: 1,
  d_model: 512,
  d_head: 64,
  n_heads: 8,
  d_mlp: 2048,
  d_vocab: 48262,
  n_ctx: 1024,
  act_fn: "gelu",
  normalization_type: "LN",
  positional_embedding_type: "standard",
  tokenizer_name: "NeelNanda/gpt-neox-tokenizer-digits",
  eps: 1e-5,
  model_name: "gelu-1l",
});

/** The width of the logits: d_vocab_out when set, else d_vocab. */
export function outputVocabSize(cfg: ModelConfig): number {
  return cfg.d_vocab_out ?? cfg.d_vocab;
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelConfigError";
  }
}

const POSITIVE_INT_FIELDS = ["n_layers", "d_model", "d_head", "n_heads", "d_mlp", "d_vocab", "n_ctx"] as const;
const ACT_FNS: readonly string[] = ["gelu", "gelu_new", "relu", "solu_ln"];
const SUPPORTED_ACT_FNS: readonly string[] = ["gelu", "gelu_new", "relu"];
const NORMALIZATION_TYPES: readonly (string | null)[] = ["LN", "LNPre", null];

/**
 * TL architecture switches a full `cfg.to_dict()` carries. At their TL default they change nothing and are
 * ignored; any other value describes a model this forward pass does not compute, so it is rejected rather
 * than silently mis-run. Other unknown keys (device, dtype, n_params, …) are ignored.
 */
const ARCHITECTURE_FLAGS: Readonly<Record<string, unknown>> = {
  attn_only: false,
  parallel_attn_mlp: false,
  gated_mlp: false,
  final_rms: false,
  use_attn_scale: true,
  use_local_attn: false,
  rotary_dim: null,
  n_key_value_heads: null,
  attention_dir: "causal",
  use_split_qkv_input: false,
  use_hook_mlp_in: false,
  scale_attn_by_inverse_layer_idx: false,
};

/**
 * Checks a parsed `config.json` and fills TL defaults (eps 1e-5, normalization_type "LN",
 * positional_embedding_type "standard"). `source` (the file) is named in every error.
 */
export function validateModelConfig(obj: unknown, source: string): ModelConfig {
  const fail = (message: string): never => {
    throw new ModelConfigError(`${source}: ${message}`);
  };
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) fail("model config must be a JSON object");
  const raw = obj as Record<string, unknown>;

  const ints: Record<string, number> = {};
  for (const field of POSITIVE_INT_FIELDS) {
    const value = raw[field];
    if (value === undefined || value === null) fail(`missing field "${field}" (a positive integer)`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      fail(`field "${field}" must be a positive integer, got ${JSON.stringify(value)}`);
    }
    ints[field] = value as number;
  }

  const actFn = raw.act_fn;
  if (actFn === undefined || actFn === null) fail(`missing field "act_fn" (one of ${ACT_FNS.join(", ")})`);
  if (typeof actFn !== "string" || !ACT_FNS.includes(actFn)) {
    fail(`field "act_fn" must be one of ${ACT_FNS.join(", ")}, got ${JSON.stringify(actFn)}`);
  }
  if (!SUPPORTED_ACT_FNS.includes(actFn as string)) {
    fail(`act_fn "${actFn as string}" is not supported yet (supported: ${SUPPORTED_ACT_FNS.join(", ")})`);
  }

  const normalization = raw.normalization_type === undefined ? "LN" : raw.normalization_type;
  if (!NORMALIZATION_TYPES.includes(normalization as string | null)) {
    const known = typeof normalization === "string" && ["RMS", "RMSPre"].includes(normalization);
    fail(
      known
        ? `normalization_type "${normalization as string}" is not supported yet (supported: "LN", "LNPre", null)`
        : `field "normalization_type" must be "LN", "LNPre" or null, got ${JSON.stringify(normalization)}`,
    );
  }

  const positional = raw.positional_embedding_type ?? "standard";
  if (positional !== "standard") {
    fail(`positional_embedding_type ${JSON.stringify(positional)} is not supported yet (only "standard")`);
  }

  const tokenizerName = raw.tokenizer_name;
  if (tokenizerName === undefined || tokenizerName === null) {
    fail(`missing field "tokenizer_name" ("gpt2", or the name of the tokenizer.json shipped in the model folder)`);
  }
  if (typeof tokenizerName !== "string" || tokenizerName.length === 0) {
    fail(`field "tokenizer_name" must be a non-empty string, got ${JSON.stringify(tokenizerName)}`);
  }

  const eps = raw.eps ?? 1e-5;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps <= 0) {
    fail(`field "eps" must be a positive number, got ${JSON.stringify(eps)}`);
  }

  for (const [flag, neutral] of Object.entries(ARCHITECTURE_FLAGS)) {
    if (!(flag in raw)) continue;
    if (raw[flag] !== neutral) {
      fail(`${flag}=${JSON.stringify(raw[flag])} is not supported yet (saekit computes ${flag}=${JSON.stringify(neutral)})`);
    }
  }
  // TL writes attn_scale = -1 for "sqrt(d_head)"; an explicit value must be that same scale.
  if (typeof raw.attn_scale === "number" && raw.attn_scale !== -1 && Math.abs(raw.attn_scale - Math.sqrt(ints.d_head!)) > 1e-6 * raw.attn_scale) {
    fail(`attn_scale=${raw.attn_scale} is not supported yet (saekit scales attention by sqrt(d_head)=${Math.sqrt(ints.d_head!)})`);
  }

  const cfg: ModelConfig = {
    n_layers: ints.n_layers!,
    d_model: ints.d_model!,
    d_head: ints.d_head!,
    n_heads: ints.n_heads!,
    d_mlp: ints.d_mlp!,
    d_vocab: ints.d_vocab!,
    n_ctx: ints.n_ctx!,
    act_fn: actFn as ActFn,
    normalization_type: normalization as NormalizationType,
    positional_embedding_type: "standard",
    tokenizer_name: tokenizerName as string,
    eps: eps as number,
  };

  // TL writes d_vocab_out = -1 for "same as d_vocab"; keep the field only when it says something.
  const vocabOut = raw.d_vocab_out;
  if (vocabOut !== undefined && vocabOut !== null && vocabOut !== -1) {
    if (typeof vocabOut !== "number" || !Number.isInteger(vocabOut) || vocabOut < 1) {
      fail(`field "d_vocab_out" must be a positive integer or -1, got ${JSON.stringify(vocabOut)}`);
    }
    if (vocabOut !== cfg.d_vocab) cfg.d_vocab_out = vocabOut as number;
  }

  if (raw.seed !== undefined && raw.seed !== null) {
    if (typeof raw.seed !== "number" || !Number.isSafeInteger(raw.seed)) {
      fail(`field "seed" must be an integer or null, got ${JSON.stringify(raw.seed)}`);
    }
    cfg.seed = raw.seed as number;
  }
  if (raw.model_name !== undefined && raw.model_name !== null) {
    if (typeof raw.model_name !== "string") fail(`field "model_name" must be a string, got ${JSON.stringify(raw.model_name)}`);
    cfg.model_name = raw.model_name as string;
  }
  return cfg;
}
