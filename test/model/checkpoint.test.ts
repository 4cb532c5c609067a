/** Model folders: config.json + model.safetensors with TransformerLens names, shapes and dtypes. */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  saveSafetensors,
  type SafetensorsTensorToSave,
} from "../../src/io/safetensors.js";
import { isWeightlessTlBuffer, loadModelFolder, saveModelFolder } from "../../src/model/checkpoint.js";
import { GELU_1L_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights, weightShapes, type ModelWeights } from "../../src/model/weights.js";

const CFG: ModelConfig = {
  n_layers: 2, d_model: 16, d_head: 4, n_heads: 4, d_mlp: 32, d_vocab: 50, n_ctx: 12, act_fn: "gelu",
  normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5, seed: 7,
  model_name: "tiny",
};

let root: string;
let counter = 0;
const freshDir = () => join(root, `m${counter++}`);

beforeAll(() => {
  root = fs.mkdtempSync(join(os.tmpdir(), "saekit-checkpoint-"));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** Weights with every entry random (biases and LN too), so a dropped or swapped tensor shows. */
function randomWeights(cfg: ModelConfig, seed: number): ModelWeights {
  const rng = new Rng(seed);
  const weights = initWeights(cfg, rng);
  for (const t of weights.values()) rng.fillNormal(t.data, 0, 0.5);
  return weights;
}

/** The tensors of a weights map as safetensors F32 entries (for hand-built files). */
function asSafetensors(weights: ModelWeights): Map<string, SafetensorsTensorToSave> {
  return new Map([...weights].map(([name, t]) => [name, { dtype: "F32", shape: t.shape, data: t.data as Float32Array }]));
}

function writeConfig(dir: string, cfg: unknown): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
}

describe("saveModelFolder / loadModelFolder", () => {
  it("round-trips F32 exactly, with the config", () => {
    const dir = freshDir();
    const weights = randomWeights(CFG, 1);
    saveModelFolder(dir, CFG, weights);
    expect(fs.readdirSync(dir).sort()).toEqual(["config.json", "model.safetensors"]);
    const loaded = loadModelFolder(dir);
    expect(loaded.cfg).toEqual(CFG);
    expect([...loaded.weights.keys()]).toEqual([...weightShapes(CFG).keys()]);
    for (const [name, t] of weights) {
      expect(loaded.weights.get(name)!.shape).toEqual(t.shape);
      expect(loaded.weights.get(name)!.data).toEqual(t.data);
    }
    expect(loaded.metadata).toMatchObject({ format: "pt", saekit_format: "transformer_lens", saekit_format_version: "1" });
  });

  it.each([
    ["F16", float32ToFloat16Bits, float16BitsToFloat32, 2 ** -11],
    ["BF16", float32ToBfloat16Bits, bfloat16BitsToFloat32, 2 ** -8],
  ] as const)("round-trips %s to the nearest representable value", (dtype, toBits, fromBits, relError) => {
    const dir = freshDir();
    const weights = randomWeights(CFG, 2);
    saveModelFolder(dir, CFG, weights, { dtype, metadata: { trained_by: "test" } });
    const loaded = loadModelFolder(dir);
    expect(loaded.metadata?.trained_by).toBe("test");
    for (const [name, t] of weights) {
      const got = loaded.weights.get(name)!.data;
      expect(got).toBeInstanceOf(Float32Array);
      for (let i = 0; i < t.size; i++) {
        const x = t.data[i]!;
        expect(got[i]).toBe(fromBits(toBits(x)));
        expect(Math.abs(got[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * relError + 2 ** -24);
      }
    }
    const bytes = fs.statSync(join(dir, "model.safetensors")).size;
    const params = [...weights.values()].reduce((n, t) => n + t.size, 0);
    expect(bytes).toBeLessThan(params * 2 + 8000); // 16-bit storage
  });

  it("writes a safetensors header with TL names, TL shapes and the chosen dtype, and a TL config.json", () => {
    const dir = freshDir();
    saveModelFolder(dir, CFG, randomWeights(CFG, 3), { dtype: "BF16" });
    const file = fs.readFileSync(join(dir, "model.safetensors"));
    const headerLength = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    const { __metadata__: metadata, ...tensors } = header;
    expect(metadata).toEqual({ format: "pt", saekit_format: "transformer_lens", saekit_format_version: "1" });
    const expected = weightShapes(CFG);
    expect(Object.keys(tensors).sort()).toEqual([...expected.keys()].sort());
    expect(tensors["blocks.1.attn.W_Q"]).toMatchObject({ dtype: "BF16", shape: [4, 16, 4] });
    expect(tensors["blocks.0.attn.W_O"]).toMatchObject({ dtype: "BF16", shape: [4, 4, 16] });
    expect(tensors["unembed.W_U"]).toMatchObject({ dtype: "BF16", shape: [16, 50] });
    for (const [name, info] of Object.entries(tensors)) {
      expect(info.shape).toEqual(expected.get(name));
      expect(info.data_offsets[1]! - info.data_offsets[0]!).toBe(2 * info.shape.reduce((a, d) => a * d, 1));
    }
    const json = JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    expect(json).toEqual({
      model_name: "tiny", n_layers: 2, d_model: 16, d_head: 4, n_heads: 4, d_mlp: 32, d_vocab: 50, n_ctx: 12,
      act_fn: "gelu", normalization_type: "LN", positional_embedding_type: "standard", eps: 1e-5,
      tokenizer_name: "gpt2", seed: 7,
    });
  });

  it("saves and loads LNPre models without LayerNorm weights", () => {
    const dir = freshDir();
    const cfg: ModelConfig = { ...CFG, normalization_type: "LNPre" };
    saveModelFolder(dir, cfg, randomWeights(cfg, 4));
    const loaded = loadModelFolder(dir);
    expect(loaded.cfg.normalization_type).toBe("LNPre");
    expect([...loaded.weights.keys()].filter((k) => k.includes("ln"))).toEqual([]);
  });

  it("refuses to save weights that do not match the config, writing nothing", () => {
    const dir = freshDir();
    const weights = randomWeights(CFG, 5);
    weights.delete("unembed.b_U");
    expect(() => saveModelFolder(dir, CFG, weights)).toThrow(/missing tensor "unembed\.b_U"/);
    expect(fs.existsSync(dir)).toBe(false);
    expect(() => saveModelFolder(dir, { ...CFG, act_fn: "solu_ln" }, randomWeights(CFG, 5))).toThrow(/not supported yet/);
  });

  it("skips TransformerLens' weightless buffers (attn.IGNORE, attn.mask) and reads F64 and any single *.safetensors", () => {
    const dir = freshDir();
    writeConfig(dir, CFG);
    const weights = randomWeights(CFG, 6);
    const tensors = asSafetensors(weights);
    const w64 = Float64Array.from(weights.get("embed.W_E")!.data);
    tensors.set("embed.W_E", { dtype: "F64", shape: [50, 16], data: w64 });
    for (let l = 0; l < CFG.n_layers; l++) {
      tensors.set(`blocks.${l}.attn.IGNORE`, { dtype: "F32", shape: [], data: new Float32Array([-1e5]) });
      tensors.set(`blocks.${l}.attn.mask`, { dtype: "BOOL", shape: [12, 12], data: new Uint8Array(144).fill(1) });
    }
    saveSafetensors(join(dir, "pytorch_model.safetensors"), tensors);
    const loaded = loadModelFolder(dir);
    expect(loaded.weightsPath).toBe(join(dir, "pytorch_model.safetensors"));
    expect(loaded.weights.has("blocks.0.attn.IGNORE")).toBe(false);
    expect(loaded.weights.get("embed.W_E")!.data).toEqual(weights.get("embed.W_E")!.data);
    expect(loaded.weights.get("blocks.1.mlp.W_out")!.data).toEqual(weights.get("blocks.1.mlp.W_out")!.data);
    expect(isWeightlessTlBuffer("blocks.3.attn.mask")).toBe(true);
    expect(isWeightlessTlBuffer("blocks.3.attn.W_Q")).toBe(false);
  });
});

describe("loadModelFolder errors", () => {
  it("names a missing folder, a file given as a folder, and a missing config.json", () => {
    const missing = join(root, "does-not-exist");
    expect(() => loadModelFolder(missing)).toThrow(`model folder ${missing} does not exist`);
    const file = join(root, "a-file");
    fs.writeFileSync(file, "x");
    expect(() => loadModelFolder(file)).toThrow(`model folder ${file} is not a directory`);
    const dir = freshDir();
    fs.mkdirSync(dir);
    expect(() => loadModelFolder(dir)).toThrow(`model folder ${dir} has no config.json`);
  });

  it("names config.json and the parser's message for bad JSON, and the field for a bad config", () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, "config.json"), "{ \"n_layers\": 1,, }");
    expect(() => loadModelFolder(dir)).toThrow(new RegExp(`^${join(dir, "config.json")}: invalid JSON: .+`));
    writeConfig(dir, { ...CFG, d_mlp: -4 });
    expect(() => loadModelFolder(dir)).toThrow(`${join(dir, "config.json")}: field "d_mlp" must be a positive integer, got -4`);
  });

  it("names the folder when there is no weights file, or several candidates", () => {
    const dir = freshDir();
    writeConfig(dir, CFG);
    expect(() => loadModelFolder(dir)).toThrow(`model folder ${dir} has no model.safetensors (nor any *.safetensors file)`);
    const tensors = asSafetensors(randomWeights(CFG, 7));
    saveSafetensors(join(dir, "a.safetensors"), tensors);
    saveSafetensors(join(dir, "b.safetensors"), tensors);
    expect(() => loadModelFolder(dir)).toThrow(/several \*\.safetensors files \(a\.safetensors, b\.safetensors\)/);
  });

  it("names missing, mis-shaped, unexpected and non-float tensors with the file", () => {
    const dir = freshDir();
    writeConfig(dir, CFG);
    const path = join(dir, "model.safetensors");
    const weights = randomWeights(CFG, 8);

    let tensors = asSafetensors(weights);
    tensors.delete("blocks.1.attn.b_V");
    saveSafetensors(path, tensors);
    expect(() => loadModelFolder(dir)).toThrow(`${path}: missing tensor "blocks.1.attn.b_V" (expected shape [4, 4])`);

    tensors = asSafetensors(weights);
    // A HF-GPT-2-style fused/transposed layout is not TL's: the error says what was expected.
    tensors.set("blocks.0.attn.W_Q", { dtype: "F32", shape: [16, 16], data: weights.get("blocks.0.attn.W_Q")!.data as Float32Array });
    saveSafetensors(path, tensors);
    expect(() => loadModelFolder(dir)).toThrow(`${path}: tensor "blocks.0.attn.W_Q" has shape [16, 16], expected [4, 16, 4]`);

    tensors = asSafetensors(weights);
    tensors.set("blocks.0.attn.W_QKV", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    saveSafetensors(path, tensors);
    expect(() => loadModelFolder(dir)).toThrow(`${path}: unexpected tensor "blocks.0.attn.W_QKV" [2] (not a weight of this config)`);

    tensors = asSafetensors(weights);
    tensors.set("unembed.b_U", { dtype: "I32", shape: [50], data: new Int32Array(50) });
    saveSafetensors(path, tensors);
    expect(() => loadModelFolder(dir)).toThrow(`${path}: tensor "unembed.b_U" has dtype I32, expected a float dtype`);
  });
});

describe("a checkpoint in gelu-1l's layout", () => {
  it("saves as F16, loads, and runs a forward pass with logits [seq, 48262]", () => {
    const cfg = GELU_1L_CONFIG;
    const dir = freshDir();
    const weights = initWeights(cfg, new Rng(42));
    saveModelFolder(dir, cfg, weights, { dtype: "F16" });
    weights.clear(); // let the 200 MB go before loading the copy

    const loaded = loadModelFolder(dir);
    expect(loaded.cfg).toEqual(cfg);
    expect(loaded.weights.get("embed.W_E")!.shape).toEqual([48262, 512]);
    expect(loaded.weights.get("blocks.0.attn.W_Q")!.shape).toEqual([8, 512, 64]);
    expect(loaded.weights.get("blocks.0.mlp.W_in")!.shape).toEqual([512, 2048]);

    const model = new HookedTransformer(loaded.cfg, loaded.weights);
    const tokens = Int32Array.from([0, 17, 48261, 1000, 5]);
    const { logits, cache } = model.forward(Tape.noGrad(), tokens, 1, tokens.length, { cache: ["blocks.0.mlp.hook_post"] });
    expect(logits!.shape).toEqual([5, 48262]);
    expect(cache.get("blocks.0.mlp.hook_post")!.shape).toEqual([5, 2048]);
    expect(logits!.data.every(Number.isFinite)).toBe(true);
    // Distinct positions give distinct logits (the weights are really in use).
    expect(logits!.data[0]).not.toBe(logits!.data[48262]);
  });
});

// Guard against accidental sharing: loading returns fresh arrays the caller may train in place.
describe("loaded weights", () => {
  it("are independent copies", () => {
    const dir = freshDir();
    const weights = randomWeights(CFG, 9);
    saveModelFolder(dir, CFG, weights);
    const a = loadModelFolder(dir).weights.get("embed.W_E")!;
    a.data[0] = 123;
    expect(loadModelFolder(dir).weights.get("embed.W_E")!.data[0]).toBe(weights.get("embed.W_E")!.data[0]);
  });
});
