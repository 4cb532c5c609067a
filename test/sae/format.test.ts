import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { ATOMIC_TEMP_PATTERN } from "../../src/io/atomic.js";
import {
  bfloat16BitsToFloat32Array,
  float16BitsToFloat32Array,
  float32ArrayToBfloat16Bits,
  float32ArrayToFloat16Bits,
  openSafetensors,
  saveSafetensors,
  type SafetensorsTensorToSave,
} from "../../src/io/safetensors.js";
import {
  layerFromHookName,
  loadSaeFolder,
  SAELENS_LAYOUT_VERSION,
  saveSaeFolder,
  SaeFormatError,
  transposeMatrix,
  type SaeMetadata,
} from "../../src/sae/format.js";
import { Sae, type SaeSpec } from "../../src/sae/sae.js";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-format-"));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

// --- fixtures ----------------------------------------------------------------------------------

const META: SaeMetadata = {
  modelName: "saekit/A",
  hookName: "blocks.0.mlp.hook_post",
  hookLayer: 0,
  hookHeadIndex: null,
  contextSize: 128,
  prependBos: true,
  datasetPath: "saekit-default (sotu+brown+moby-dick+cpython-stdlib)",
  normalizeActivations: "expected_average_only_in",
  extra: { normScalingFactor: 1.75, seeds: [1, 2], training: { steps: 1000, l0: 12.5, note: "ünïcode" } },
};

function randomSae(spec: Partial<SaeSpec> = {}, seed = 1): Sae {
  const full: SaeSpec = { architecture: "standard", dIn: 8, dSae: 16, k: null, applyBDecToInput: true, ...spec };
  const rng = new Rng(seed);
  const rand = (n: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillUniform(a, -1, 1);
    return a;
  };
  return new Sae(full, {
    encT: rand(full.dSae * full.dIn),
    bEnc: rand(full.dSae),
    dec: rand(full.dSae * full.dIn),
    bDec: rand(full.dIn),
  });
}

/** W_enc [d_in, d_sae] from encT [d_sae, d_in], by the definition (independent of transposeMatrix). */
function naiveWEnc(sae: Sae): Float32Array {
  const { dIn, dSae } = sae;
  const out = new Float32Array(dIn * dSae);
  for (let i = 0; i < dIn; i++) for (let j = 0; j < dSae; j++) out[i * dSae + j] = sae.encT[j * dIn + i]!;
  return out;
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameWeights(a: Sae, b: Sae): void {
  expect(bytes(b.encT).equals(bytes(a.encT))).toBe(true);
  expect(bytes(b.bEnc).equals(bytes(a.bEnc))).toBe(true);
  expect(bytes(b.dec).equals(bytes(a.dec))).toBe(true);
  expect(bytes(b.bDec).equals(bytes(a.bDec))).toBe(true);
}

/** Write a SAELens-layout weights file by hand, W_enc given as [d_in, d_sae]. */
function writeSaelensWeights(file: string, sae: Sae, overrides: Record<string, SafetensorsTensorToSave | undefined> = {}): void {
  const tensors: Record<string, SafetensorsTensorToSave> = {};
  const base: Record<string, SafetensorsTensorToSave> = {
    W_enc: { dtype: "F32", shape: [sae.dIn, sae.dSae], data: naiveWEnc(sae) },
    b_enc: { dtype: "F32", shape: [sae.dSae], data: sae.bEnc },
    W_dec: { dtype: "F32", shape: [sae.dSae, sae.dIn], data: sae.dec },
    b_dec: { dtype: "F32", shape: [sae.dIn], data: sae.bDec },
  };
  for (const [name, t] of Object.entries({ ...base, ...overrides })) if (t !== undefined) tensors[name] = t;
  saveSafetensors(file, tensors);
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value));
}

/** Runs fn, expects a SaeFormatError whose message contains every fragment. */
function expectFormatError(fn: () => unknown, ...fragments: string[]): SaeFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SaeFormatError);
  const err = caught as SaeFormatError;
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

function rows(x: number[][]): Float32Array {
  return Float32Array.from(x.flat());
}

// --- transposition -----------------------------------------------------------------------------

describe("transposeMatrix", () => {
  it("transposes a 4096×512 matrix (blocked loop, edges included)", () => {
    const r = 4096;
    const c = 512;
    const src = new Float32Array(r * c);
    for (let i = 0; i < src.length; i++) src[i] = i; // exact in float32 (< 2^24)
    const t = transposeMatrix(src, r, c);
    expect(t.length).toBe(r * c);
    for (const [i, j] of [[0, 0], [0, 511], [4095, 0], [4095, 511], [63, 64], [64, 63], [1234, 321]] as const) {
      expect(t[j * r + i]).toBe(i * c + j);
    }
    expect(bytes(transposeMatrix(t, c, r)).equals(bytes(src))).toBe(true);
  });

  it("handles shapes that are not multiples of the block size", () => {
    const src = Float32Array.from({ length: 70 * 3 }, (_, i) => i);
    const t = transposeMatrix(src, 70, 3);
    expect(Array.from(t.subarray(0, 4))).toEqual([0, 3, 6, 9]);
    expect(t[2 * 70 + 69]).toBe(69 * 3 + 2);
  });

  it("layerFromHookName reads blocks.N / layers.N", () => {
    expect(layerFromHookName("blocks.12.hook_resid_pre")).toBe(12);
    expect(layerFromHookName("blocks.0.mlp.hook_post")).toBe(0);
    expect(layerFromHookName("layers.6")).toBe(6);
    expect(layerFromHookName("hook_embed")).toBe(0);
  });
});

// --- round trips -------------------------------------------------------------------------------

describe("saveSaeFolder / loadSaeFolder round trip", () => {
  it("F32 standard: byte-exact weights, metadata, sparsity", () => {
    const sae = randomSae();
    const sparsity = Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? -Infinity : -1 - i / 8));
    const dir = path.join(tmp, "nested", "sae"); // created if missing
    saveSaeFolder(dir, sae, META, { sparsity });
    const loaded = loadSaeFolder(dir);
    expect(loaded.layout).toBe("saelens-v6");
    expect(loaded.dir).toBe(path.resolve(dir));
    expect(loaded.sae.spec).toEqual(sae.spec);
    expectSameWeights(sae, loaded.sae);
    expect(loaded.meta).toEqual(META);
    expect(loaded.defaulted).toEqual([]);
    expect(loaded.sparsity).toBeInstanceOf(Float32Array);
    expect(bytes(loaded.sparsity!).equals(bytes(sparsity))).toBe(true);
    // Atomic writes leave no temp files behind.
    expect(fs.readdirSync(dir).sort()).toEqual(["cfg.json", "sae_weights.safetensors", "sparsity.safetensors"]);
    expect(fs.readdirSync(dir).some((n) => ATOMIC_TEMP_PATTERN.test(n))).toBe(false);
  });

  it("F32 topk: k and extra survive, and the loaded SAE encodes identically", () => {
    const sae = randomSae({ architecture: "topk", k: 3 }, 7);
    const dir = path.join(tmp, "topk");
    saveSaeFolder(dir, sae, META);
    const loaded = loadSaeFolder(dir);
    expect(loaded.sae.spec).toEqual({ architecture: "topk", dIn: 8, dSae: 16, k: 3, applyBDecToInput: true });
    expect(loaded.meta.extra).toEqual(META.extra);
    expect(loaded.sparsity).toBeNull();
    expectSameWeights(sae, loaded.sae);
    const x = new Float32Array(5 * 8);
    new Rng(3).fillUniform(x, -2, 2);
    expect(loaded.sae.encodeDense(x, 5)).toEqual(sae.encodeDense(x, 5));
  });

  it("applyBDecToInput false and unknown metadata ('' / 0) round-trip (written as null)", () => {
    const sae = randomSae({ applyBDecToInput: false });
    const meta: SaeMetadata = { ...META, modelName: "", datasetPath: "", contextSize: 0, hookHeadIndex: 2, extra: undefined };
    delete meta.extra;
    saveSaeFolder(tmp, sae, meta);
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, "cfg.json"), "utf8"));
    expect(cfg.metadata.model_name).toBeNull();
    expect(cfg.metadata.context_size).toBeNull();
    expect(cfg.metadata.dataset_path).toBeNull();
    expect(cfg.metadata.hook_head_index).toBe(2);
    expect("saekit" in cfg).toBe(false);
    const loaded = loadSaeFolder(tmp);
    expect(loaded.sae.spec.applyBDecToInput).toBe(false);
    expect(loaded.meta).toEqual(meta);
    expect(loaded.defaulted.sort()).toEqual(["context_size", "dataset_path", "model_name"]);
  });

  for (const [dtype, name, toBits, fromBits, relTol] of [
    ["BF16", "bfloat16", float32ArrayToBfloat16Bits, bfloat16BitsToFloat32Array, 2 ** -8],
    ["F16", "float16", float32ArrayToFloat16Bits, float16BitsToFloat32Array, 2 ** -11],
  ] as const) {
    it(`${dtype}: stored as ${dtype}, loaded as Float32 within ${name} precision`, () => {
      const sae = randomSae({ architecture: "topk", k: 4 }, 11);
      saveSaeFolder(tmp, sae, META, { dtype });
      const cfg = JSON.parse(fs.readFileSync(path.join(tmp, "cfg.json"), "utf8"));
      expect(cfg.dtype).toBe(name);
      const reader = openSafetensors(path.join(tmp, "sae_weights.safetensors"));
      try {
        for (const t of ["W_enc", "b_enc", "W_dec", "b_dec"]) expect(reader.info(t).dtype).toBe(dtype);
      } finally {
        reader.close();
      }
      const loaded = loadSaeFolder(tmp).sae;
      const pairs: Array<[Float32Array, Float32Array]> = [
        [sae.encT, loaded.encT], [sae.bEnc, loaded.bEnc], [sae.dec, loaded.dec], [sae.bDec, loaded.bDec],
      ];
      for (const [orig, got] of pairs) {
        expect(got).toBeInstanceOf(Float32Array);
        // Exactly the round-to-nearest-even value of each weight...
        expect(got).toEqual(fromBits(toBits(orig)));
        // ...which is within half an ulp of the format (values in [-1, 1], far from subnormals).
        for (let i = 0; i < orig.length; i++) {
          expect(Math.abs(got[i]! - orig[i]!)).toBeLessThanOrEqual(relTol * Math.abs(orig[i]!));
        }
      }
    });
  }

  it("re-saving without sparsity removes a stale sparsity file", () => {
    const sae = randomSae();
    saveSaeFolder(tmp, sae, META, { sparsity: new Float32Array(16).fill(-2) });
    saveSaeFolder(tmp, randomSae({}, 2), META);
    expect(fs.existsSync(path.join(tmp, "sparsity.safetensors"))).toBe(false);
    expect(loadSaeFolder(tmp).sparsity).toBeNull();
  });
});

// --- what is written ---------------------------------------------------------------------------

describe("written files", () => {
  it("cfg.json has exactly the SAELens v6 fields, in SAELens' key order", () => {
    saveSaeFolder(tmp, randomSae({ architecture: "topk", k: 5 }), META, { dtype: "BF16" });
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, "cfg.json"), "utf8"));
    expect(Object.keys(cfg)).toEqual([
      "d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input", "normalize_activations", "reshape_activations",
      "metadata", "k", "architecture", "saekit",
    ]);
    expect(cfg.d_in).toBe(8);
    expect(cfg.d_sae).toBe(16);
    expect(cfg.dtype).toBe("bfloat16");
    expect(cfg.device).toBe("cpu");
    expect(cfg.apply_b_dec_to_input).toBe(true);
    expect(cfg.normalize_activations).toBe("expected_average_only_in");
    expect(cfg.reshape_activations).toBe("none");
    expect(cfg.k).toBe(5);
    expect(cfg.architecture).toBe("topk");
    expect(cfg.saekit).toEqual(META.extra);
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(cfg.metadata).toEqual({
      model_name: "saekit/A",
      hook_name: "blocks.0.mlp.hook_post",
      hook_layer: 0,
      hook_head_index: null,
      prepend_bos: true,
      context_size: 128,
      dataset_path: "saekit-default (sotu+brown+moby-dick+cpython-stdlib)",
      // SAELens ≥ 6 parses configs with a missing/null or < 6 version as pre-6 and would drop `metadata`.
      sae_lens_version: SAELENS_LAYOUT_VERSION,
      sae_lens_training_version: null,
      saekit_version: pkg.version,
    });
    expect(SAELENS_LAYOUT_VERSION).toBe("6.0.0");
  });

  it("standard SAEs have no k", () => {
    saveSaeFolder(tmp, randomSae(), META);
    const cfg = JSON.parse(fs.readFileSync(path.join(tmp, "cfg.json"), "utf8"));
    expect(cfg.architecture).toBe("standard");
    expect("k" in cfg).toBe(false);
    expect(cfg.dtype).toBe("float32");
  });

  it("sae_weights.safetensors: W_enc [d_in, d_sae] is the transpose of encT; 4096×512 too", () => {
    for (const [dIn, dSae] of [[8, 16], [512, 4096]] as const) {
      const sae = randomSae({ dIn, dSae }, dSae);
      const dir = path.join(tmp, `s${dSae}`);
      saveSaeFolder(dir, sae, META);
      const reader = openSafetensors(path.join(dir, "sae_weights.safetensors"));
      try {
        expect(reader.names().sort()).toEqual(["W_dec", "W_enc", "b_dec", "b_enc"]);
        expect(reader.info("W_enc")).toMatchObject({ dtype: "F32", shape: [dIn, dSae] });
        expect(reader.info("b_enc")).toMatchObject({ dtype: "F32", shape: [dSae] });
        expect(reader.info("W_dec")).toMatchObject({ dtype: "F32", shape: [dSae, dIn] });
        expect(reader.info("b_dec")).toMatchObject({ dtype: "F32", shape: [dIn] });
        expect(reader.metadata).toBeUndefined();
        const wEnc = reader.readFloat32("W_enc");
        for (const [i, j] of [[0, 0], [dIn - 1, 0], [0, dSae - 1], [dIn - 1, dSae - 1], [3, 5], [5, 3]] as const) {
          expect(wEnc[i * dSae + j]).toBe(sae.encT[j * dIn + i]);
        }
        expect(bytes(wEnc).equals(bytes(naiveWEnc(sae)))).toBe(true);
        expect(bytes(reader.readFloat32("W_dec")).equals(bytes(sae.dec))).toBe(true);
      } finally {
        reader.close();
      }
      expectSameWeights(sae, loadSaeFolder(dir).sae);
    }
  });
});

// --- other layouts -----------------------------------------------------------------------------

describe("reading SAELens folders written elsewhere", () => {
  it("pre-6 flat layout: hook_point, hook_point_layer, activation_fn_str topk, boolean normalize_activations", () => {
    const sae = randomSae({}, 5);
    writeJson(path.join(tmp, "cfg.json"), {
      model_name: "gelu-1l",
      hook_point: "blocks.0.hook_mlp_out",
      hook_point_layer: 0,
      hook_point_head_index: null,
      dataset_path: "NeelNanda/c4-tokenized-2b",
      is_dataset_tokenized: true,
      context_size: 1024,
      d_in: 8,
      d_sae: 16,
      b_dec_init_method: "geometric_median",
      expansion_factor: 2,
      activation_fn_str: "topk",
      activation_fn_kwargs: { k: 3 },
      apply_b_dec_to_input: true,
      normalize_activations: true,
      lr: 0.0004,
      l1_coefficient: 8e-5,
      dtype: "torch.float32",
      device: "cuda",
      prepend_bos: false,
      sae_lens_version: "3.13.0",
      sae_lens_training_version: "3.13.0",
    });
    writeSaelensWeights(path.join(tmp, "sae_weights.safetensors"), sae);
    const loaded = loadSaeFolder(tmp);
    expect(loaded.layout).toBe("saelens-flat");
    expect(loaded.sae.spec).toEqual({ architecture: "topk", dIn: 8, dSae: 16, k: 3, applyBDecToInput: true });
    expectSameWeights(sae, loaded.sae);
    expect(loaded.meta).toEqual({
      modelName: "gelu-1l",
      hookName: "blocks.0.hook_mlp_out",
      hookLayer: 0,
      hookHeadIndex: null,
      contextSize: 1024,
      prependBos: false,
      datasetPath: "NeelNanda/c4-tokenized-2b",
      normalizeActivations: "expected_average_only_in",
    });
    expect(loaded.defaulted).toEqual([]);
  });

  it("pre-6 flat layout without architecture or activation is standard; missing fields get defaults", () => {
    const sae = randomSae({}, 6);
    writeJson(path.join(tmp, "cfg.json"), { d_in: 8, d_sae: 16, hook_point: "blocks.2.hook_resid_pre", dtype: "float32" });
    writeSaelensWeights(path.join(tmp, "sae_weights.safetensors"), sae, {
      scaling_factor: { dtype: "F32", shape: [16], data: new Float32Array(16).fill(1) }, // all ones: ignorable
    });
    const loaded = loadSaeFolder(tmp);
    expect(loaded.sae.spec).toEqual({ architecture: "standard", dIn: 8, dSae: 16, k: null, applyBDecToInput: true });
    expect(loaded.meta).toEqual({
      modelName: "",
      hookName: "blocks.2.hook_resid_pre",
      hookLayer: 2,
      hookHeadIndex: null,
      contextSize: 0,
      prependBos: true,
      datasetPath: "",
      normalizeActivations: "none",
    });
    expect(loaded.defaulted.sort()).toEqual([
      "apply_b_dec_to_input", "context_size", "dataset_path", "hook_layer", "model_name", "normalize_activations", "prepend_bos",
    ]);
  });

  it("v6 as SAELens writes it: unknown fields ignored, hook_layer parsed from the hook name, sparsity read", () => {
    const sae = randomSae({ architecture: "topk", k: 2 }, 8);
    writeJson(path.join(tmp, "cfg.json"), {
      d_in: 8, d_sae: 16, dtype: "float32", device: "cuda", apply_b_dec_to_input: true,
      normalize_activations: "none", reshape_activations: "none",
      metadata: {
        sae_lens_version: "6.5.1", sae_lens_training_version: "6.5.1", model_name: "gpt2",
        hook_name: "blocks.3.hook_resid_pre", hook_head_index: null, context_size: 128, prepend_bos: true,
        seqpos_slice: [null], model_from_pretrained_kwargs: { center_writing_weights: false },
        neuronpedia_id: null, model_class_name: "HookedTransformer", exclude_special_tokens: false,
      },
      k: 2,
      architecture: "topk",
    });
    writeSaelensWeights(path.join(tmp, "sae_weights.safetensors"), sae);
    saveSafetensors(path.join(tmp, "sparsity.safetensors"), {
      sparsity: { dtype: "F32", shape: [16], data: new Float32Array(16).fill(-3.5) },
    });
    const loaded = loadSaeFolder(tmp);
    expect(loaded.layout).toBe("saelens-v6");
    expect(loaded.sae.spec.k).toBe(2);
    expectSameWeights(sae, loaded.sae);
    expect(loaded.meta.hookLayer).toBe(3);
    expect(loaded.meta.modelName).toBe("gpt2");
    expect(loaded.meta.extra).toBeUndefined();
    expect(loaded.defaulted.sort()).toEqual(["dataset_path", "hook_layer"]);
    expect(Array.from(loaded.sparsity!)).toEqual(new Array(16).fill(-3.5));
  });

  it("a sparsify folder loads as TopK, and encode matches a hand computation", () => {
    const run = path.join(tmp, "pythia-run");
    const dir = path.join(run, "layers.3");
    writeJson(path.join(dir, "cfg.json"), {
      activation: "topk", expansion_factor: 32, normalize_decoder: true, num_latents: 4, k: 2,
      multi_topk: false, skip_connection: false, transcode: false, d_in: 3,
    });
    writeJson(path.join(run, "config.json"), { model: "EleutherAI/pythia-70m", dataset: "EleutherAI/SmolLM2", ctx_len: 2048 });
    // encoder.weight [d_sae, d_in] (nn.Linear layout), W_dec [d_sae, d_in]; W_dec in BF16 (values exact in bf16).
    saveSafetensors(path.join(dir, "sae.safetensors"), {
      "encoder.weight": { dtype: "F32", shape: [4, 3], data: rows([[1, 0, 0], [0, 1, 0], [1, 1, 1], [-1, 0, 2]]) },
      "encoder.bias": { dtype: "F32", shape: [4], data: rows([[0, -0.5, 0.25, 0]]) },
      W_dec: { dtype: "BF16", shape: [4, 3], data: rows([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 1, 1]]) },
      b_dec: { dtype: "F32", shape: [3], data: rows([[0.5, 0, -1]]) },
    });
    const loaded = loadSaeFolder(dir);
    expect(loaded.layout).toBe("sparsify");
    expect(loaded.sae.spec).toEqual({ architecture: "topk", dIn: 3, dSae: 4, k: 2, applyBDecToInput: true });
    expect(loaded.meta).toEqual({
      modelName: "EleutherAI/pythia-70m",
      hookName: "blocks.3.hook_resid_post",
      hookLayer: 3,
      hookHeadIndex: null,
      contextSize: 2048,
      prependBos: true,
      datasetPath: "EleutherAI/SmolLM2",
      normalizeActivations: "none",
    });
    // Row 0: x − b_dec = [1, 2, 1]; pre = [1, 2 − 0.5, 1+1+1 + 0.25, −1+2] = [1, 1.5, 4.25, 1]; top 2: f2, f1.
    // Row 1: x − b_dec = 0; pre = bias = [0, −0.5, 0.25, 0]; top 2 = f2 (0.25) and a zero, which ReLU drops.
    const x = rows([[1.5, 2, 0], [0.5, 0, -1]]);
    expect(Array.from(loaded.sae.encodeDense(x, 2))).toEqual([0, 1.5, 4.25, 0, 0, 0, 0.25, 0]);
    // Decode row 0: 1.5·W_dec[1] + 4.25·W_dec[2] + b_dec = [1.5, 4.25, 0] + [0.5, 0, −1].
    expect(Array.from(loaded.sae.reconstruct(x, 2).subarray(0, 3))).toEqual([2, 4.25, -1]);
  });

  it("sparsify: num_latents 0 means d_in × expansion_factor; no run config means unknown metadata", () => {
    const dir = path.join(tmp, "custom.hook");
    writeJson(path.join(dir, "cfg.json"), { expansion_factor: 2, num_latents: 0, k: 1, d_in: 2 });
    saveSafetensors(path.join(dir, "sae.safetensors"), {
      "encoder.weight": { dtype: "F32", shape: [4, 2], data: new Float32Array(8) },
      "encoder.bias": { dtype: "F32", shape: [4], data: new Float32Array(4) },
      W_dec: { dtype: "F32", shape: [4, 2], data: new Float32Array(8) },
      b_dec: { dtype: "F32", shape: [2], data: new Float32Array(2) },
    });
    const loaded = loadSaeFolder(dir);
    expect(loaded.sae.dSae).toBe(4);
    expect(loaded.meta.hookName).toBe("custom.hook");
    expect(loaded.meta.modelName).toBe("");
    expect(loaded.meta.contextSize).toBe(0);
  });
});

// --- errors ------------------------------------------------------------------------------------

describe("errors name the file and the field", () => {
  /** A valid v6 folder in tmp, then `mutate` edits the parsed cfg.json. */
  function folderWith(mutate: (cfg: Record<string, any>) => void, sae = randomSae()): string {
    saveSaeFolder(tmp, sae, META);
    const file = path.join(tmp, "cfg.json");
    const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
    mutate(cfg);
    fs.writeFileSync(file, JSON.stringify(cfg));
    return file;
  }

  it("missing folder, cfg.json and weights", () => {
    const gone = path.join(tmp, "nope");
    expectFormatError(() => loadSaeFolder(gone), gone, "does not exist");
    fs.mkdirSync(gone);
    expectFormatError(() => loadSaeFolder(gone), path.join(gone, "cfg.json"), "missing cfg.json");
    writeJson(path.join(gone, "cfg.json"), { d_in: 8, d_sae: 16 });
    expectFormatError(() => loadSaeFolder(gone), path.join(gone, "sae_weights.safetensors"), "missing weights file");
  });

  it("invalid JSON and non-object JSON", () => {
    const file = path.join(tmp, "cfg.json");
    fs.writeFileSync(file, "{\"d_in\": 8,");
    expectFormatError(() => loadSaeFolder(tmp), file, "invalid JSON");
    fs.writeFileSync(file, "[1, 2]");
    expectFormatError(() => loadSaeFolder(tmp), file, "expected a JSON object", "array");
  });

  it("missing and ill-typed fields", () => {
    let file = folderWith((c) => delete c.d_in);
    expectFormatError(() => loadSaeFolder(tmp), file, `field "d_in"`, "missing");
    file = folderWith((c) => (c.d_sae = "16"));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "d_sae"`, `string "16"`);
    file = folderWith((c) => (c.metadata.hook_name = 7));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "metadata.hook_name"`, "expected a string");
    file = folderWith((c) => (c.metadata.context_size = 12.5));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "metadata.context_size"`, "integer");
    file = folderWith((c) => (c.apply_b_dec_to_input = "yes"));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "apply_b_dec_to_input"`, "boolean");
    file = folderWith((c) => (c.metadata = "gpt2"));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "metadata"`, "JSON object");
    file = folderWith((c) => (c.saekit = [1]));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "saekit"`, "JSON object");
  });

  it("unsupported architectures and encoder options", () => {
    for (const arch of ["jumprelu", "gated"]) {
      const file = folderWith((c) => (c.architecture = arch));
      expectFormatError(() => loadSaeFolder(tmp), file, `field "architecture"`, `"${arch}"`, "not supported yet");
    }
    let file = folderWith((c) => (c.architecture = "matryoshka_batchtopk"));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "architecture"`, "unknown or unsupported");
    file = folderWith((c) => (c.normalize_activations = "layer_norm"));
    expectFormatError(() => loadSaeFolder(tmp), file, `field "normalize_activations"`, "layer_norm");
    file = folderWith((c) => {
      c.architecture = "topk";
      delete c.k;
    });
    expectFormatError(() => loadSaeFolder(tmp), file, `field "k"`, "missing");
    file = folderWith((c) => {
      c.architecture = "topk";
      c.k = 17;
    });
    expectFormatError(() => loadSaeFolder(tmp), file, `field "k"`, "exceeds d_sae = 16");
  });

  it("tensor missing, wrong shape, cfg/tensor size mismatch, non-finite, corrupt file", () => {
    const sae = randomSae();
    saveSaeFolder(tmp, sae, META);
    const weights = path.join(tmp, "sae_weights.safetensors");
    const cfgFile = path.join(tmp, "cfg.json");

    writeSaelensWeights(weights, sae, { b_enc: undefined });
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "b_enc" is missing`);

    writeSaelensWeights(weights, sae, { W_enc: { dtype: "F32", shape: [16, 8], data: sae.encT } });
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "W_enc"`, "shape [16, 8], expected [8, 16]");

    // cfg says d_sae 32, tensors have 16.
    writeSaelensWeights(weights, sae);
    const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, d_sae: 32 }));
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "W_enc"`, "expected [8, 32]", cfgFile);
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));

    const bad = sae.dec.slice();
    bad[21] = NaN;
    writeSaelensWeights(weights, sae, { W_dec: { dtype: "F32", shape: [16, 8], data: bad } });
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "W_dec"`, "non-finite", "index 21");

    writeSaelensWeights(weights, sae, { threshold: { dtype: "F32", shape: [16], data: new Float32Array(16) } });
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "threshold"`, "JumpReLU");

    writeSaelensWeights(weights, sae, { b_dec: { dtype: "I32", shape: [8], data: new Int32Array(8) } });
    expectFormatError(() => loadSaeFolder(tmp), weights, `tensor "b_dec"`, "not a float dtype");

    fs.writeFileSync(weights, Buffer.from([1, 2, 3]));
    expectFormatError(() => loadSaeFolder(tmp), weights, "shorter than the 8-byte header");
  });

  it("bad sparsity file", () => {
    saveSaeFolder(tmp, randomSae(), META);
    const file = path.join(tmp, "sparsity.safetensors");
    saveSafetensors(file, { sparsity: { dtype: "F32", shape: [15], data: new Float32Array(15) } });
    expectFormatError(() => loadSaeFolder(tmp), file, `tensor "sparsity"`, "[15], expected [16]");
    saveSafetensors(file, { density: { dtype: "F32", shape: [16], data: new Float32Array(16) } });
    expectFormatError(() => loadSaeFolder(tmp), file, `tensor "sparsity" is missing`);
  });

  it("unsupported sparsify options", () => {
    const dir = path.join(tmp, "layers.0");
    const base = { num_latents: 4, k: 2, d_in: 2 };
    for (const [extra, field] of [
      [{ transcode: true }, "transcode"],
      [{ skip_connection: true }, "skip_connection"],
      [{ activation: "groupmax" }, "activation"],
      [{ k: undefined }, "k"],
    ] as const) {
      writeJson(path.join(dir, "cfg.json"), { ...base, ...extra });
      saveSafetensors(path.join(dir, "sae.safetensors"), { b_dec: { dtype: "F32", shape: [2], data: new Float32Array(2) } });
      expectFormatError(() => loadSaeFolder(dir), path.join(dir, "cfg.json"), `field "${field}"`);
    }
    writeJson(path.join(dir, "cfg.json"), base);
    expectFormatError(() => loadSaeFolder(dir), path.join(dir, "sae.safetensors"), `tensor "encoder.weight" is missing`);
  });

  it("bad save requests fail before anything is written", () => {
    const dir = path.join(tmp, "never");
    expectFormatError(() => saveSaeFolder(dir, randomSae(), { ...META, hookLayer: -1 }), path.join(dir, "cfg.json"), "hookLayer");
    expectFormatError(
      () => saveSaeFolder(dir, randomSae(), { ...META, normalizeActivations: "layer_norm" as never }),
      "normalizeActivations",
    );
    expectFormatError(
      () => saveSaeFolder(dir, randomSae(), META, { sparsity: new Float32Array(3) }),
      path.join(dir, "sparsity.safetensors"),
      "d_sae = 16",
    );
    const nan = randomSae();
    nan.bEnc[4] = Infinity;
    expectFormatError(() => saveSaeFolder(dir, nan, META), path.join(dir, "sae_weights.safetensors"), `tensor "b_enc"`, "index 4");
    expectFormatError(() => saveSaeFolder(dir, randomSae(), META, { dtype: "F64" as never }), "dtype");
    expect(fs.existsSync(dir)).toBe(false);
  });
});
