/**
 * A TransformerLens-style hooked transformer on saekit's autograd tape.
 *
 * Weights use TransformerLens names and shapes (docs/conventions.md) and are trained in place. Every hook point can be
 * read (`cache`) and written (`hooks`: a function that returns a replacement activation, e.g. an SAE
 * reconstruction spliced into `blocks.0.mlp.hook_post` or an ablated neuron). `stopAt` ends the forward pass at
 * a hook point, so SAE training pays only for the layers it reads.
 *
 * Activations are stored as rows: [batch·seq, d] for residual/MLP hooks, [batch·seq, nHeads·dHead] for
 * hook_q/k/v/z (the memory layout of TL's [batch, pos, head, d_head]), [batch, nHeads, seq, seq] for
 * hook_attn_scores / hook_pattern, and [batch·seq, 1] for LayerNorm hook_scale.
 */
import { param, Tape, Var } from "../core/autograd.js";
import { kernelsFor } from "../core/backend.js";
import { allocate, Tensor } from "../core/tensor.js";
import type { GeluApprox } from "../core/kernels.js";
import type { ModelConfig } from "./config.js";
import type { ModelWeights } from "./weights.js";

/** A hook sees the activation and may return a replacement of the same shape (or nothing to keep it). */
export type HookFn = (activation: Var, tape: Tape, name: string) => Var | void;

export interface ForwardOptions {
  /** Hook points to record in the returned cache ("all" records every one). */
  cache?: Iterable<string> | "all";
  /** Functions run at hook points; a returned Var replaces the activation downstream. */
  hooks?: Readonly<Record<string, HookFn>>;
  /** Stop right after this hook point (logits are then null). */
  stopAt?: string;
}

export interface ForwardResult {
  /** [batch·seq, d_vocab], or null when stopAt ended the pass early. */
  logits: Var | null;
  cache: Map<string, Var>;
}

/** Thrown internally to end a forward pass at `stopAt`. */
class StopForward {}

/** Applies hooks/caching at a hook point; `wants` tells whether anyone reads a point (to skip optional work). */
interface HookRunner {
  point(name: string, value: Var): Var;
  wants(name: string): boolean;
}

/** Hook points whose value is derived for reading only (a replacement would not reach the computation). */
const READ_ONLY_HOOK = /\.hook_scale$/;

export class HookedTransformer {
  readonly cfg: ModelConfig;
  /** TL state-dict key → trainable parameter (sharing the weights' Float32Arrays). */
  readonly params: Record<string, Var>;
  private readonly hookNameSet: Set<string>;

  constructor(cfg: ModelConfig, weights: ModelWeights) {
    this.cfg = cfg;
    this.params = {};
    for (const [name, tensor] of weights) this.params[name] = param(tensor, name);
    this.hookNameSet = new Set(HookedTransformer.hookNames(cfg));
  }

  /** Every hook point of a model with this config, in forward order (TransformerLens names). */
  static hookNames(cfg: ModelConfig): string[] {
    const names = ["hook_embed", "hook_pos_embed"];
    const hasLn = cfg.normalization_type !== null;
    for (let l = 0; l < cfg.n_layers; l++) {
      const b = `blocks.${l}`;
      names.push(`${b}.hook_resid_pre`);
      if (hasLn) names.push(`${b}.ln1.hook_scale`, `${b}.ln1.hook_normalized`);
      names.push(
        `${b}.attn.hook_q`, `${b}.attn.hook_k`, `${b}.attn.hook_v`, `${b}.attn.hook_attn_scores`,
        `${b}.attn.hook_pattern`, `${b}.attn.hook_z`, `${b}.hook_attn_out`, `${b}.hook_resid_mid`,
      );
      if (hasLn) names.push(`${b}.ln2.hook_scale`, `${b}.ln2.hook_normalized`);
      names.push(`${b}.mlp.hook_pre`, `${b}.mlp.hook_post`, `${b}.hook_mlp_out`, `${b}.hook_resid_post`);
    }
    if (hasLn) names.push("ln_final.hook_scale", "ln_final.hook_normalized");
    return names;
  }

  hookNames(): string[] {
    return [...this.hookNameSet];
  }

  /** Trainable parameters as a list (for optimisers and gradient clipping). */
  parameterList(): Var[] {
    return Object.values(this.params);
  }

  /** The forward pass up to ln_final's output [batch·seq, d_model] (null when stopAt ended it). */
  private forwardToFinal(
    tape: Tape, tokens: Int32Array, batch: number, seq: number, options: ForwardOptions,
  ): { final: Var | null; cache: Map<string, Var> } {
    this.checkInputs(tokens, batch, seq);
    const cacheAll = options.cache === "all";
    const cacheSet = new Set(cacheAll || !options.cache ? [] : [...(options.cache as Iterable<string>)]);
    this.checkHookNames("cache", cacheSet);
    const hooks = options.hooks ?? {};
    this.checkHookNames("hooks", Object.keys(hooks));
    if (options.stopAt !== undefined) this.checkHookNames("stopAt", [options.stopAt]);
    const cache = new Map<string, Var>();

    const point = (name: string, value: Var): Var => {
      const hook = hooks[name];
      if (hook) {
        const replaced = hook(value, tape, name);
        if (replaced) {
          if (READ_ONLY_HOOK.test(name)) throw new Error(`hook ${name} is read-only: it cannot replace the activation`);
          if (replaced.value.size !== value.value.size) {
            throw new RangeError(
              `hook ${name} returned shape [${replaced.shape.join(", ")}], expected [${value.shape.join(", ")}]`,
            );
          }
          value = replaced.shape.length === value.shape.length ? replaced : tape.reshape(replaced, value.shape);
        }
      }
      if (cacheAll || cacheSet.has(name)) cache.set(name, value);
      if (options.stopAt === name) throw new StopForward();
      return value;
    };

    const wants = (name: string) => cacheAll || cacheSet.has(name) || name in hooks || options.stopAt === name;
    try {
      const final = this.throughBlocks(tape, tokens, batch, seq, { point, wants });
      return { final, cache };
    } catch (e) {
      if (e instanceof StopForward) return { final: null, cache };
      throw e;
    }
  }

  /**
   * Runs the model on tokens [batch, seq] (row-major). Records onto `tape` (use Tape.noGrad() for inference).
   */
  forward(tape: Tape, tokens: Int32Array, batch: number, seq: number, options: ForwardOptions = {}): ForwardResult {
    const { final, cache } = this.forwardToFinal(tape, tokens, batch, seq, options);
    if (final === null) return { logits: null, cache };
    const p = this.params;
    return { logits: tape.addBias(tape.matmul(final, p["unembed.W_U"]!), p["unembed.b_U"]!), cache };
  }

  /**
   * Mean next-token cross-entropy for `targets` (one per position, `ignoreIndex` = unscored), through the fused
   * chunked unembedding (Tape.unembedCrossEntropy): the [batch·seq, d_vocab] logits are never held, which makes
   * training several times faster and smaller. `perToken` receives each position's loss. stopAt is not allowed.
   */
  forwardLoss(
    tape: Tape, tokens: Int32Array, batch: number, seq: number, targets: Int32Array,
    options: Omit<ForwardOptions, "stopAt"> & { ignoreIndex?: number; perToken?: Float32Array } = {},
  ): { loss: Var; cache: Map<string, Var> } {
    const { ignoreIndex, perToken, ...forwardOptions } = options;
    const { final, cache } = this.forwardToFinal(tape, tokens, batch, seq, forwardOptions);
    const p = this.params;
    const loss = tape.unembedCrossEntropy(final!, p["unembed.W_U"]!, p["unembed.b_U"]!, targets, {
      ...(ignoreIndex !== undefined ? { ignoreIndex } : {}),
      ...(perToken !== undefined ? { perToken } : {}),
    });
    return { loss, cache };
  }

  private throughBlocks(tape: Tape, tokens: Int32Array, batch: number, seq: number, hooks: HookRunner): Var {
    const cfg = this.cfg;
    const point = hooks.point;
    const p = this.params;
    const positions = new Int32Array(batch * seq);
    for (let i = 0; i < positions.length; i++) positions[i] = i % seq;
    const embed = point("hook_embed", tape.embedding(p["embed.W_E"]!, tokens));
    const posEmbed = point("hook_pos_embed", tape.embedding(p["pos_embed.W_pos"]!, positions));
    let resid = tape.add(embed, posEmbed);

    for (let l = 0; l < cfg.n_layers; l++) {
      const b = `blocks.${l}`;
      resid = point(`${b}.hook_resid_pre`, resid);
      const x1 = this.layerNorm(tape, resid, `${b}.ln1`, hooks);
      const q = point(`${b}.attn.hook_q`, this.project(tape, x1, `${b}.attn`, "Q"));
      const k = point(`${b}.attn.hook_k`, this.project(tape, x1, `${b}.attn`, "K"));
      const v = point(`${b}.attn.hook_v`, this.project(tape, x1, `${b}.attn`, "V"));
      const scores = point(`${b}.attn.hook_attn_scores`, tape.attentionScores(q, k, batch, seq, cfg.n_heads, cfg.d_head));
      const pattern = point(`${b}.attn.hook_pattern`, tape.softmaxRows(scores));
      const z = point(`${b}.attn.hook_z`, tape.attentionMix(pattern, v, batch, seq, cfg.n_heads, cfg.d_head));
      const wO = tape.reshape(p[`${b}.attn.W_O`]!, [cfg.n_heads * cfg.d_head, cfg.d_model]);
      const attnOut = point(`${b}.hook_attn_out`, tape.addBias(tape.matmul(z, wO), p[`${b}.attn.b_O`]!));
      resid = point(`${b}.hook_resid_mid`, tape.add(resid, attnOut));

      const x2 = this.layerNorm(tape, resid, `${b}.ln2`, hooks);
      const pre = point(`${b}.mlp.hook_pre`, tape.addBias(tape.matmul(x2, p[`${b}.mlp.W_in`]!), p[`${b}.mlp.b_in`]!));
      const post = point(`${b}.mlp.hook_post`, this.activation(tape, pre));
      const mlpOut = point(`${b}.hook_mlp_out`, tape.addBias(tape.matmul(post, p[`${b}.mlp.W_out`]!), p[`${b}.mlp.b_out`]!));
      resid = point(`${b}.hook_resid_post`, tape.add(resid, mlpOut));
    }

    return this.layerNorm(tape, resid, "ln_final", hooks);
  }

  /** TL LayerNorm: hook_scale = sqrt(var + eps) (read-only here), hook_normalized = the affine output. */
  private layerNorm(tape: Tape, x: Var, prefix: string, hooks: HookRunner): Var {
    const kind = this.cfg.normalization_type;
    if (kind === null) return x;
    const w = kind === "LN" ? this.params[`${prefix}.w`]! : null;
    const b = kind === "LN" ? this.params[`${prefix}.b`]! : null;
    // hook_scale is only materialised when someone reads it (training never does).
    if (hooks.wants(`${prefix}.hook_scale`)) hooks.point(`${prefix}.hook_scale`, layerNormScale(x, this.cfg.eps));
    return hooks.point(`${prefix}.hook_normalized`, tape.layerNorm(x, w, b, this.cfg.eps));
  }

  private project(tape: Tape, x: Var, prefix: string, which: "Q" | "K" | "V"): Var {
    return tape.addBias(tape.headProjection(x, this.params[`${prefix}.W_${which}`]!), this.params[`${prefix}.b_${which}`]!);
  }

  private activation(tape: Tape, x: Var): Var {
    switch (this.cfg.act_fn) {
      case "gelu":
        return tape.gelu(x, "erf" satisfies GeluApprox);
      case "gelu_new":
        return tape.gelu(x, "tanh");
      case "relu":
        return tape.relu(x);
      default:
        throw new Error(`act_fn "${this.cfg.act_fn}" is not supported`);
    }
  }

  private checkInputs(tokens: Int32Array, batch: number, seq: number): void {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`forward: batch must be a positive integer, got ${batch}`);
    if (!Number.isInteger(seq) || seq < 1 || seq > this.cfg.n_ctx) {
      throw new RangeError(`forward: seq must be an integer in [1, n_ctx=${this.cfg.n_ctx}], got ${seq}`);
    }
    if (tokens.length !== batch * seq) {
      throw new RangeError(`forward: tokens has ${tokens.length} ids, expected batch·seq = ${batch}·${seq}`);
    }
  }

  private checkHookNames(option: string, names: Iterable<string>): void {
    for (const name of names) {
      if (!this.hookNameSet.has(name)) {
        throw new Error(`${option}: unknown hook point "${name}". Valid hook points: ${this.hookNames().join(", ")}`);
      }
    }
  }
}

/** sqrt(var + eps) per row, as a constant [rows, 1] (TL's LayerNorm hook_scale; for reading only). */
function layerNormScale(x: Var, eps: number): Var {
  const d = x.shape[x.shape.length - 1]!;
  const rows = x.value.size / d;
  const dtype = x.value.dtype;
  const mean = allocate(rows, dtype), rstd = allocate(rows, dtype);
  kernelsFor(x.data).layerNorm(x.data, rows, d, null, null, eps, allocate(x.value.size, dtype), mean, rstd);
  for (let r = 0; r < rows; r++) rstd[r] = 1 / rstd[r]!;
  return new Var(new Tensor(rstd, [rows, 1]), false);
}
