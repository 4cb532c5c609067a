/** ModelConfig validation and the GPT-2-style initialisation of weights. */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";
import {
  DEFAULT_MODEL_CONFIG,
  GELU_1L_CONFIG,
  ModelConfigError,
  validateModelConfig,
  type ModelConfig,
} from "../../src/model/config.js";
import { checkWeights, initWeights, INIT_STD, parameterCount, weightShapes } from "../../src/model/weights.js";

const SOURCE = "/models/x/config.json";

function rawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    n_layers: 2, d_model: 16, d_head: 4, n_heads: 4, d_mlp: 64, d_vocab: 100, n_ctx: 32, act_fn: "gelu",
    tokenizer_name: "gpt2", ...overrides,
  };
  for (const [k, v] of Object.entries(raw)) if (v === undefined) delete raw[k];
  return raw;
}

function errorOf(obj: unknown): string {
  try {
    validateModelConfig(obj, SOURCE);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelConfigError);
    return (e as Error).message;
  }
  throw new Error("expected validateModelConfig to throw");
}

describe("validateModelConfig", () => {
  it("fills TransformerLens defaults", () => {
    const cfg = validateModelConfig(rawConfig(), SOURCE);
    expect(cfg).toEqual({
      n_layers: 2, d_model: 16, d_head: 4, n_heads: 4, d_mlp: 64, d_vocab: 100, n_ctx: 32, act_fn: "gelu",
      normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
    });
  });

  it("accepts the shipped configs unchanged", () => {
    expect(validateModelConfig({ ...DEFAULT_MODEL_CONFIG }, SOURCE)).toEqual(DEFAULT_MODEL_CONFIG);
    expect(validateModelConfig({ ...GELU_1L_CONFIG }, SOURCE)).toEqual(GELU_1L_CONFIG);
    expect(DEFAULT_MODEL_CONFIG).toMatchObject({ n_layers: 1, d_model: 128, d_mlp: 512, n_heads: 4, d_head: 32, n_ctx: 128, d_vocab: 50257 });
  });

  it("reads a TransformerLens cfg.to_dict() with its extra fields and sentinel values", () => {
    const cfg = validateModelConfig(
      rawConfig({
        normalization_type: "LNPre", d_vocab_out: -1, attn_scale: -1, seed: null, model_name: "custom",
        device: "cpu", dtype: "torch.float32", n_params: 12345, attn_only: false, use_attn_scale: true,
        original_architecture: null, init_mode: "gpt2", eps: 1e-6,
      }),
      SOURCE,
    );
    expect(cfg.normalization_type).toBe("LNPre");
    expect(cfg.d_vocab_out).toBeUndefined();
    expect(cfg.seed).toBeUndefined();
    expect(cfg.model_name).toBe("custom");
    expect(cfg.eps).toBe(1e-6);
    expect(validateModelConfig(rawConfig({ normalization_type: null }), SOURCE).normalization_type).toBeNull();
    expect(validateModelConfig(rawConfig({ d_vocab_out: 7, seed: 3 }), SOURCE)).toMatchObject({ d_vocab_out: 7, seed: 3 });
  });

  it("names the file and the field of a missing or ill-typed field", () => {
    expect(errorOf(rawConfig({ d_model: undefined }))).toBe(`${SOURCE}: missing field "d_model" (a positive integer)`);
    expect(errorOf(rawConfig({ n_heads: 0 }))).toContain(`${SOURCE}: field "n_heads" must be a positive integer, got 0`);
    expect(errorOf(rawConfig({ d_head: 2.5 }))).toContain(`field "d_head"`);
    expect(errorOf(rawConfig({ n_ctx: "32" }))).toContain(`field "n_ctx" must be a positive integer, got "32"`);
    expect(errorOf(rawConfig({ act_fn: undefined }))).toContain(`missing field "act_fn"`);
    expect(errorOf(rawConfig({ act_fn: "swish" }))).toContain(`field "act_fn" must be one of gelu, gelu_new, relu, solu_ln`);
    expect(errorOf(rawConfig({ tokenizer_name: undefined }))).toContain(`missing field "tokenizer_name"`);
    expect(errorOf(rawConfig({ tokenizer_name: 3 }))).toContain(`field "tokenizer_name" must be a non-empty string`);
    expect(errorOf(rawConfig({ eps: -1 }))).toContain(`field "eps" must be a positive number`);
    expect(errorOf(rawConfig({ normalization_type: "BN" }))).toContain(`field "normalization_type"`);
    expect(errorOf(rawConfig({ d_vocab_out: 0 }))).toContain(`field "d_vocab_out"`);
    expect(errorOf(rawConfig({ seed: 1.5 }))).toContain(`field "seed"`);
    expect(errorOf([1, 2])).toBe(`${SOURCE}: model config must be a JSON object`);
    expect(errorOf(null)).toContain("must be a JSON object");
  });

  it("rejects TL features it does not compute as 'not supported yet'", () => {
    expect(errorOf(rawConfig({ act_fn: "solu_ln" }))).toBe(
      `${SOURCE}: act_fn "solu_ln" is not supported yet (supported: gelu, gelu_new, relu)`,
    );
    expect(errorOf(rawConfig({ positional_embedding_type: "rotary" }))).toContain(`positional_embedding_type "rotary" is not supported yet`);
    expect(errorOf(rawConfig({ normalization_type: "RMS" }))).toContain(`normalization_type "RMS" is not supported yet`);
    expect(errorOf(rawConfig({ attn_only: true }))).toContain("attn_only=true is not supported yet");
    expect(errorOf(rawConfig({ parallel_attn_mlp: true }))).toContain("parallel_attn_mlp=true is not supported yet");
    expect(errorOf(rawConfig({ attn_scale: 3 }))).toContain("attn_scale=3 is not supported yet");
    expect(validateModelConfig(rawConfig({ attn_scale: 2 }), SOURCE).d_head).toBe(4); // sqrt(d_head) is fine
  });

  it("allows n_heads·d_head ≠ d_model (as TransformerLens does)", () => {
    const cfg = validateModelConfig(rawConfig({ d_model: 16, n_heads: 3, d_head: 7 }), SOURCE);
    expect(weightShapes(cfg).get("blocks.0.attn.W_O")).toEqual([3, 7, 16]);
  });
});

describe("weightShapes / initWeights / checkWeights", () => {
  const cfg = validateModelConfig(rawConfig(), SOURCE);

  it("lists TL keys and shapes for every layer; LNPre has no LayerNorm weights", () => {
    const shapes = weightShapes(cfg);
    expect(shapes.get("embed.W_E")).toEqual([100, 16]);
    expect(shapes.get("pos_embed.W_pos")).toEqual([32, 16]);
    expect(shapes.get("blocks.1.attn.W_Q")).toEqual([4, 16, 4]);
    expect(shapes.get("blocks.1.attn.b_K")).toEqual([4, 4]);
    expect(shapes.get("blocks.1.attn.W_O")).toEqual([4, 4, 16]);
    expect(shapes.get("blocks.1.mlp.W_in")).toEqual([16, 64]);
    expect(shapes.get("blocks.1.mlp.W_out")).toEqual([64, 16]);
    expect(shapes.get("blocks.0.ln2.b")).toEqual([16]);
    expect(shapes.get("ln_final.w")).toEqual([16]);
    expect(shapes.get("unembed.W_U")).toEqual([16, 100]);
    expect(shapes.get("unembed.b_U")).toEqual([100]);
    expect(shapes.size).toBe(4 + 2 * 16 + 2);
    const pre = weightShapes({ ...cfg, normalization_type: "LNPre" });
    expect([...pre.keys()].some((k) => k.includes("ln"))).toBe(false);
    expect(weightShapes({ ...cfg, d_vocab_out: 7 }).get("unembed.W_U")).toEqual([16, 7]);
  });

  it("counts gelu-1l's parameters (~53 M, 49 M of them in W_E and W_U)", () => {
    const embed = 48262 * 512, pos = 1024 * 512, attn = 4 * 8 * 512 * 64 + 3 * 8 * 64 + 512;
    const mlp = 2 * 512 * 2048 + 2048 + 512, ln = 3 * 2 * 512, unembedBias = 48262;
    expect(parameterCount(GELU_1L_CONFIG)).toBe(2 * embed + pos + attn + mlp + ln + unembedBias);
  });

  it("initialises GPT-2 style: N(0, 0.02), residual writes scaled by 1/sqrt(2·n_layers), zero biases, LN = identity", () => {
    const big = { ...cfg, d_model: 64, d_mlp: 256, d_head: 16 };
    const w = initWeights(big, new Rng(1));
    checkWeights(big, w, "init");
    const stats = (name: string) => {
      const d = w.get(name)!.data;
      let s = 0, s2 = 0;
      for (const v of d) { s += v; s2 += v * v; }
      const mean = s / d.length;
      return { mean, std: Math.sqrt(s2 / d.length - mean * mean) };
    };
    for (const name of ["embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_Q", "blocks.1.mlp.W_in", "unembed.W_U"]) {
      const { mean, std } = stats(name);
      expect(Math.abs(mean)).toBeLessThan(0.003);
      expect(std).toBeGreaterThan(INIT_STD * 0.93);
      expect(std).toBeLessThan(INIT_STD * 1.07);
    }
    for (const name of ["blocks.0.attn.W_O", "blocks.1.mlp.W_out"]) {
      expect(stats(name).std / (INIT_STD / Math.sqrt(4))).toBeCloseTo(1, 1);
    }
    for (const name of ["blocks.0.attn.b_Q", "blocks.0.attn.b_O", "blocks.1.mlp.b_in", "unembed.b_U", "blocks.0.ln1.b", "ln_final.b"]) {
      expect(w.get(name)!.data.every((v) => v === 0)).toBe(true);
    }
    for (const name of ["blocks.0.ln1.w", "blocks.1.ln2.w", "ln_final.w"]) {
      expect(w.get(name)!.data.every((v) => v === 1)).toBe(true);
    }
    // Deterministic in the seed.
    expect(initWeights(big, new Rng(1)).get("embed.W_E")!.data).toEqual(w.get("embed.W_E")!.data);
    expect(initWeights(big, new Rng(2)).get("embed.W_E")!.data).not.toEqual(w.get("embed.W_E")!.data);
  });

  it("checkWeights names the source and every missing, extra and mis-shaped key", () => {
    const w = initWeights(cfg, new Rng(0));
    w.delete("blocks.1.mlp.b_out");
    w.set("blocks.0.attn.W_K", Tensor.zeros([16, 4, 4]));
    w.set("blocks.0.attn.W_QKV", Tensor.zeros([1]));
    expect(() => checkWeights(cfg as ModelConfig, w, "m.safetensors")).toThrow(
      'm.safetensors: tensor "blocks.0.attn.W_K" has shape [16, 4, 4], expected [4, 16, 4]; ' +
        'missing tensor "blocks.1.mlp.b_out" (expected shape [16]); ' +
        'unexpected tensor "blocks.0.attn.W_QKV" (not a weight of this config)',
    );
  });
});
