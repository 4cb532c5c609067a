/**
 * Steering: generate text while chosen SAE features are clamped, shifted or scaled at the SAE's hook point (e.g.
 * blocks.0.mlp.hook_post), side by side with the unsteered text, and the shift of the next-token distribution at a
 * chosen position of the prompt.
 *
 * The intervention leaves the SAE's reconstruction error in place: at every position (prompt and generated tokens)
 * the hook computes the feature's activation a = ReLU((x − b_dec)·W_enc[:, f] + b_enc[f]) and adds
 * (target − a)·W_dec[f] to the activation x, where target is
 *   `N=8`   clamp:  8           (the feature reads 8 everywhere, also where it did not fire)
 *   `N=+8`  add:    a + 8       (a signed number: `N=-3` is a − 3)
 *   `N=*2`  scale:  a · 2       (`N=*0` zero-ablates the feature where it fires)
 * Generation is greedy at temperature 0, else sampled from softmax(logits / T) with a seeded RNG (core/rng.ts), so a
 * (prompt, features, T, seed) always gives the same text. Both texts use the same seed.
 */
import { constant, Tape, type Var } from "../core/autograd.js";
import { Rng } from "../core/rng.js";
import { Tensor } from "../core/tensor.js";
import type { Tokenizer } from "../data/tokenizer.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae } from "../sae/sae.js";
import { PromptError } from "./prompt.js";

import type { NextTokenShift, SteerMode, SteerResult } from "./steering-types.js";

export type { NextTokenShift, SteerMode, SteerResult };

export interface SteerFeature {
  /** Feature index in the SAE. */
  index: number;
  mode: SteerMode;
  value: number;
}

export class SteerSpecError extends Error {
  override name = "SteerSpecError";
}

/**
 * `A/1/617=+8`, `617=*2` or `617=8` → the feature and its intervention. `set` (e.g. "A/1") is the SAE's unit set:
 * a name from another set is refused; `units` bounds the index.
 */
export function parseSteerFeature(text: string, set: string, units: number): SteerFeature {
  const m = /^\s*(?:(.+)\/)?(\d+)\s*=\s*([*+-]?)\s*([0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*$/i.exec(text);
  if (!m) {
    throw new SteerSpecError(`feature ${JSON.stringify(text)}: expected UNIT=VALUE, e.g. ${set}/617=+8 (add 8), ${set}/617=*2 (scale by 2) or ${set}/617=8 (clamp to 8)`);
  }
  const [, prefix, idx, op, num] = m as unknown as [string, string | undefined, string, string, string];
  if (prefix !== undefined && prefix !== set) throw new SteerSpecError(`feature ${JSON.stringify(text)}: ${prefix} is not the steered SAE's set ${set}`);
  const index = Number(idx);
  if (index >= units) throw new SteerSpecError(`feature ${JSON.stringify(text)}: ${set} has ${units} features (0–${units - 1})`);
  const v = Number(num);
  if (!Number.isFinite(v) || v > 1e4) throw new SteerSpecError(`feature ${JSON.stringify(text)}: the value must be a finite number up to 10000`);
  if (op === "*") return { index, mode: "scale", value: v };
  if (op === "+") return { index, mode: "add", value: v };
  if (op === "-") return { index, mode: "add", value: -v };
  return { index, mode: "clamp", value: v };
}

/** How a steer spec reads: "+8", "−3", "×2", "= 8". */
export function steerLabel(f: SteerFeature): string {
  return f.mode === "scale" ? `×${f.value}` : f.mode === "add" ? (f.value >= 0 ? `+${f.value}` : `−${-f.value}`) : `= ${f.value}`;
}

/** The activations with the features steered ([rows, d_in], a new array). */
export function steerActivations(sae: Sae, x: Float32Array, rows: number, features: readonly SteerFeature[]): Float32Array {
  const d = sae.dIn;
  const out = x.slice();
  for (const f of features) {
    const a = sae.featureActivation(x, rows, f.index);
    const w = sae.dec.subarray(f.index * d, (f.index + 1) * d);
    for (let r = 0; r < rows; r++) {
      const target = f.mode === "clamp" ? f.value : f.mode === "add" ? a[r]! + f.value : a[r]! * f.value;
      const delta = target - a[r]!;
      if (delta === 0) continue;
      const o = r * d;
      for (let j = 0; j < d; j++) out[o + j]! += delta * w[j]!;
    }
  }
  return out;
}

export interface SteerContext {
  model: HookedTransformer;
  sae: Sae;
  hook: string;
  tokenizer: Tokenizer;
  /** The SAE's unit set, e.g. "A/1". */
  run: string;
}

export interface SteerOptions {
  /** Tokens to generate (default 40; prompt + tokens must fit the model's context). */
  tokens?: number;
  /** 0 (default): greedy; else the softmax temperature. */
  temperature?: number;
  seed?: number;
  /** Prompt position whose next-token distribution is compared (default the last). */
  position?: number;
  /** Tokens listed per side of the distribution shift (default 10). */
  top?: number;
}

export const STEER_MAX_TOKENS = 128;

/** Log-softmax-free softmax of one logit row (float64 sums). */
function softmax(logits: Float32Array, temperature = 1): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp((logits[i]! - max) / temperature);
  for (let i = 0; i < p.length; i++) p[i]! /= s;
  return p;
}

/** Logits [seq, d_vocab] of `ids` with an optional hook replacing the SAE hook's activation. */
function logitsOf(ctx: SteerContext, ids: Int32Array, features: readonly SteerFeature[] | null): Float32Array {
  const hooks = features && features.length > 0
    ? { [ctx.hook]: (x: Var) => constant(new Tensor(steerActivations(ctx.sae, x.value.data as Float32Array, ids.length, features), x.value.shape)) }
    : {};
  const { logits } = ctx.model.forward(Tape.noGrad(), ids, 1, ids.length, { hooks });
  return logits!.value.data as Float32Array;
}

function generate(ctx: SteerContext, prompt: Int32Array, features: readonly SteerFeature[] | null, n: number, temperature: number, seed: number): number[] {
  const V = ctx.model.cfg.d_vocab;
  const rng = new Rng(seed);
  const ids = Array.from(prompt);
  const out: number[] = [];
  for (let step = 0; step < n; step++) {
    const logits = logitsOf(ctx, Int32Array.from(ids), features);
    const last = logits.subarray((ids.length - 1) * V, ids.length * V);
    let next = 0;
    if (temperature <= 0) {
      for (let i = 1; i < V; i++) if (last[i]! > last[next]!) next = i;
    } else {
      const p = softmax(last, temperature);
      let u = rng.uniform();
      next = V - 1;
      for (let i = 0; i < V; i++) if ((u -= p[i]!) <= 0) {
        next = i;
        break;
      }
    }
    ids.push(next);
    out.push(next);
  }
  return out;
}

/** Generates with and without steering and compares the next-token distribution at `position`. */
export function steer(ctx: SteerContext, text: string, features: readonly SteerFeature[], options: SteerOptions = {}): SteerResult {
  if (typeof text !== "string" || text.trim() === "") throw new PromptError("the prompt is empty");
  if (features.length === 0) throw new SteerSpecError("no feature to steer: give at least one, e.g. A/1/617=+8");
  const { model, tokenizer } = ctx;
  const nCtx = model.cfg.n_ctx;
  const n = options.tokens ?? 40;
  if (!Number.isInteger(n) || n < 0 || n > STEER_MAX_TOKENS) throw new SteerSpecError(`tokens must be an integer in [0, ${STEER_MAX_TOKENS}], got ${n}`);
  const temperature = options.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 10) throw new SteerSpecError(`temperature must be in [0, 10], got ${temperature}`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new SteerSpecError(`seed must be a non-negative integer, got ${seed}`);
  const prompt = Int32Array.from(tokenizer.encode(text));
  if (prompt.length === 0) throw new PromptError("the prompt has no tokens");
  if (prompt.length + n > nCtx) {
    throw new PromptError(`the prompt has ${prompt.length} tokens and ${n} more are asked for; at most ${nCtx} fit (the model's context)`);
  }
  const position = options.position ?? prompt.length - 1;
  if (!Number.isInteger(position) || position < 0 || position >= prompt.length) {
    throw new SteerSpecError(`position must be a prompt token index in [0, ${prompt.length - 1}], got ${position}`);
  }
  const V = model.cfg.d_vocab;
  const row = (logits: Float32Array) => softmax(logits.subarray(position * V, (position + 1) * V));
  const before = row(logitsOf(ctx, prompt, null));
  const after = row(logitsOf(ctx, prompt, features));
  const top = options.top ?? 10;
  const shift = (id: number): NextTokenShift => ({ id, text: tokenizer.tokenText(id), before: before[id]!, after: after[id]! });
  const ranked = (key: (i: number) => number) => {
    const ids = Array.from({ length: V }, (_, i) => i);
    ids.sort((i, j) => key(j) - key(i) || i - j);
    return ids.slice(0, top).map(shift);
  };
  const texts = (ids: number[]) => ids.map((id) => tokenizer.tokenText(id));
  const plain = generate(ctx, prompt, null, n, temperature, seed);
  const steered = generate(ctx, prompt, features, n, temperature, seed);
  return {
    run: ctx.run,
    prompt: text,
    promptTokens: texts(Array.from(prompt)),
    ...(tokenizer.tokenBytes ? { promptTokenBytes: Array.from(prompt, (id) => Array.from(tokenizer.tokenBytes!(id))) } : {}),
    features: features.map((f) => ({ name: `${ctx.run}/${f.index}`, index: f.index, mode: f.mode, value: f.value, label: steerLabel(f) })),
    temperature,
    seed,
    unsteered: { text: tokenizer.decode(plain), tokens: texts(plain) },
    steered: { text: tokenizer.decode(steered), tokens: texts(steered) },
    nextToken: {
      position,
      token: tokenizer.tokenText(prompt[position]!),
      topBefore: ranked((i) => before[i]!),
      topAfter: ranked((i) => after[i]!),
      raised: ranked((i) => after[i]! - before[i]!),
      lowered: ranked((i) => before[i]! - after[i]!),
    },
  };
}
