/**
 * Model weights as a TransformerLens state dict: TL key → float32 tensor with TL's shape (docs/conventions.md).
 * Keeping TL's names and shapes end to end means a checkpoint round-trips to Python without a conversion table.
 */
import type { Rng } from "../core/rng.js";
import { sameShape, shapeToString, Tensor } from "../core/tensor.js";
import { outputVocabSize, type ModelConfig } from "./config.js";

export type ModelWeights = Map<string, Tensor>;

/** Every weight the config implies, in TL state-dict order, with its TL shape. */
export function weightShapes(cfg: ModelConfig): Map<string, number[]> {
  const { d_model, d_head, n_heads, d_mlp, d_vocab, n_ctx } = cfg;
  const hasLnWeights = cfg.normalization_type === "LN"; // LNPre and null have no parameters
  const shapes = new Map<string, number[]>();
  shapes.set("embed.W_E", [d_vocab, d_model]);
  shapes.set("pos_embed.W_pos", [n_ctx, d_model]);
  for (let l = 0; l < cfg.n_layers; l++) {
    const b = `blocks.${l}`;
    if (hasLnWeights) {
      shapes.set(`${b}.ln1.w`, [d_model]);
      shapes.set(`${b}.ln1.b`, [d_model]);
      shapes.set(`${b}.ln2.w`, [d_model]);
      shapes.set(`${b}.ln2.b`, [d_model]);
    }
    for (const m of ["Q", "K", "V"]) shapes.set(`${b}.attn.W_${m}`, [n_heads, d_model, d_head]);
    shapes.set(`${b}.attn.W_O`, [n_heads, d_head, d_model]);
    for (const m of ["Q", "K", "V"]) shapes.set(`${b}.attn.b_${m}`, [n_heads, d_head]);
    shapes.set(`${b}.attn.b_O`, [d_model]);
    shapes.set(`${b}.mlp.W_in`, [d_model, d_mlp]);
    shapes.set(`${b}.mlp.b_in`, [d_mlp]);
    shapes.set(`${b}.mlp.W_out`, [d_mlp, d_model]);
    shapes.set(`${b}.mlp.b_out`, [d_model]);
  }
  if (hasLnWeights) {
    shapes.set("ln_final.w", [d_model]);
    shapes.set("ln_final.b", [d_model]);
  }
  shapes.set("unembed.W_U", [d_model, outputVocabSize(cfg)]);
  shapes.set("unembed.b_U", [outputVocabSize(cfg)]);
  return shapes;
}

/** Number of scalar parameters of a config. */
export function parameterCount(cfg: ModelConfig): number {
  let n = 0;
  for (const shape of weightShapes(cfg).values()) n += shape.reduce((a, d) => a * d, 1);
  return n;
}

/** Standard deviation of the GPT-2-style initialisation. */
export const INIT_STD = 0.02;

/**
 * Fresh weights, GPT-2 style (Radford et al. 2019; also nanoGPT): every matrix and embedding ~ N(0, 0.02²);
 * the matrices that write into the residual stream (attn.W_O, mlp.W_out) use 0.02/sqrt(2·n_layers), so the
 * residual's variance does not grow with depth (each layer adds two such writes); biases 0; LayerNorm w = 1,
 * b = 0. Deterministic given the Rng state: weights are drawn in weightShapes order.
 */
export function initWeights(cfg: ModelConfig, rng: Rng): ModelWeights {
  const residualStd = INIT_STD / Math.sqrt(2 * cfg.n_layers);
  const weights: ModelWeights = new Map();
  for (const [name, shape] of weightShapes(cfg)) {
    const tensor = Tensor.zeros(shape);
    const leaf = name.slice(name.lastIndexOf(".") + 1);
    if (/(^|\.)ln(1|2|_final)\.w$/.test(name)) tensor.data.fill(1);
    else if (leaf === "W_O" || leaf === "W_out") rng.fillNormal(tensor.data, 0, residualStd);
    else if (leaf.startsWith("W_")) rng.fillNormal(tensor.data, 0, INIT_STD);
    // biases and LayerNorm b stay 0
    weights.set(name, tensor);
  }
  return weights;
}

export class ModelWeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelWeightsError";
  }
}

/**
 * Throws unless `weights` holds exactly the config's keys with its shapes. `source` (a file) is named in the
 * error, which lists every missing, unexpected and mis-shaped key (not only the first).
 */
export function checkWeights(cfg: ModelConfig, weights: ReadonlyMap<string, Tensor>, source: string): void {
  const expected = weightShapes(cfg);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = weights.get(name);
    if (tensor === undefined) problems.push(`missing tensor "${name}" (expected shape ${shapeToString(shape)})`);
    else if (!sameShape(tensor.shape, shape)) {
      problems.push(`tensor "${name}" has shape ${shapeToString(tensor.shape)}, expected ${shapeToString(shape)}`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) problems.push(`unexpected tensor "${name}" (not a weight of this config)`);
  }
  if (problems.length > 0) throw new ModelWeightsError(`${source}: ${problems.join("; ")}`);
}
