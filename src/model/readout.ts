/**
 * The model weights that the analysis reads directly (everything else it asks of the model goes through hooks):
 * the last MLP's output projection, the final LayerNorm and the unembedding — the path from an MLP unit to the
 * logits. One place that knows the TransformerLens parameter names, so the analysis never indexes `params`.
 */
import type { HookedTransformer } from "./transformer.js";

export class ReadoutError extends Error {
  override name = "ReadoutError";
}

function weight(model: HookedTransformer, name: string, expected: number, why: string): Float32Array {
  const p = model.params[name];
  if (!p) throw new ReadoutError(`the model has no parameter ${name} (needed for ${why})`);
  const data = p.value.data;
  if (!(data instanceof Float32Array)) throw new ReadoutError(`${name}: expected float32 weights for ${why}`);
  if (data.length !== expected) throw new ReadoutError(`${name} has ${data.length} values, expected ${expected} (needed for ${why})`);
  return data;
}

/** The last block's MLP post-activation hook: where ablations and logit weights of MLP units are defined. */
export function lastMlpHook(model: HookedTransformer): string {
  return `blocks.${model.cfg.n_layers - 1}.mlp.hook_post`;
}

/** The last block's residual stream after attention (the MLP adds to it). */
export function lastResidMidHook(model: HookedTransformer): string {
  return `blocks.${model.cfg.n_layers - 1}.hook_resid_mid`;
}

/** The last block's residual stream output. */
export function lastResidPostHook(model: HookedTransformer): string {
  return `blocks.${model.cfg.n_layers - 1}.hook_resid_post`;
}

export interface MlpOut {
  /** W_out [d_mlp, d_model]: neuron n writes row n into the residual stream. */
  wOut: Float32Array;
  bOut: Float32Array;
  dMlp: number;
  dModel: number;
}

/** The last block's MLP output projection. */
export function mlpOut(model: HookedTransformer): MlpOut {
  const { d_mlp: dMlp, d_model: dModel, n_layers: n } = model.cfg;
  const why = "reading MLP units out of the residual stream";
  return {
    wOut: weight(model, `blocks.${n - 1}.mlp.W_out`, dMlp * dModel, why),
    bOut: weight(model, `blocks.${n - 1}.mlp.b_out`, dModel, why),
    dMlp,
    dModel,
  };
}

export interface Unembed {
  /** W_U [d_model, d_vocab]. */
  wU: Float32Array;
  bU: Float32Array;
  dModel: number;
  dVocab: number;
  /** The final norm: "LN" (with weight and bias), "LNPre" (none), or null (no final norm). */
  norm: "LN" | "LNPre" | null;
  /** ln_final.w / ln_final.b for "LN", else null. */
  lnW: Float32Array | null;
  lnB: Float32Array | null;
  eps: number;
}

/** ln_final and the unembedding: how a final-residual row becomes logits. */
export function unembed(model: HookedTransformer): Unembed {
  const cfg = model.cfg;
  const { d_model: dModel, d_vocab: dVocab } = cfg;
  const norm = cfg.normalization_type;
  if (norm !== null && norm !== "LN" && norm !== "LNPre") throw new ReadoutError(`the final norm ${String(norm)} is not supported (LN, LNPre or none)`);
  const why = "the unembedding";
  const ln = norm === "LN";
  return {
    wU: weight(model, "unembed.W_U", dModel * dVocab, why),
    bU: weight(model, "unembed.b_U", dVocab, why),
    dModel,
    dVocab,
    norm,
    lnW: ln ? weight(model, "ln_final.w", dModel, why) : null,
    lnB: ln ? weight(model, "ln_final.b", dModel, why) : null,
    eps: cfg.eps,
  };
}
