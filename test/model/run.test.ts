/** `saekit model run` and its library function: tokens, logits and hook activations of a text, saved as safetensors. */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { main } from "../../src/cli/main.js";
import { loadGpt2Tokenizer, loadTokenizerJson, type Tokenizer } from "../../src/data/index.js";
import { loadSafetensors, openSafetensors } from "../../src/io/safetensors.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import type { ModelConfig } from "../../src/model/config.js";
import { loadModelTokenizer, runModelFolderOnText, runModelOnText } from "../../src/model/run.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights, type ModelWeights } from "../../src/model/weights.js";

const CFG: ModelConfig = {
  n_layers: 1, d_model: 16, d_head: 4, n_heads: 4, d_mlp: 24, d_vocab: 50257, n_ctx: 32, act_fn: "gelu",
  normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
};
const TEXT = "The cat sat on the mat, and then it ran.";
const HOOKS = [
  "blocks.0.mlp.hook_post", "blocks.0.attn.hook_q", "blocks.0.attn.hook_pattern", "blocks.0.ln1.hook_scale", "blocks.0.hook_resid_post",
];

let root: string;
let modelDir: string;
let weights: ModelWeights;
let gpt2: Tokenizer;

/** Random weights with non-trivial biases and LN parameters, so every hook's value is distinctive. */
function randomWeights(cfg: ModelConfig, seed: number): ModelWeights {
  const rng = new Rng(seed);
  const w = initWeights(cfg, rng);
  for (const [name, t] of w) rng.fillNormal(t.data, name.endsWith(".w") ? 1 : 0, 0.3);
  return w;
}

/** A word-level tokenizer.json (Hugging Face format) small enough to write inline. */
function writeWordLevelTokenizer(path: string): void {
  const json = {
    version: "1.0", truncation: null, padding: null, normalizer: null, post_processor: null, decoder: null,
    added_tokens: [{ id: 0, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: "Whitespace" },
    model: { type: "WordLevel", vocab: { "<|endoftext|>": 0, "[UNK]": 1, the: 2, cat: 3, sat: 4, on: 5, mat: 6 }, unk_token: "[UNK]" },
  };
  fs.writeFileSync(path, JSON.stringify(json));
}

beforeAll(() => {
  root = fs.mkdtempSync(join(os.tmpdir(), "saekit-run-"));
  modelDir = join(root, "tiny");
  weights = randomWeights(CFG, 3);
  saveModelFolder(modelDir, CFG, weights);
  gpt2 = loadGpt2Tokenizer();
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("runModelFolderOnText", () => {
  it("writes tokens, logits and the requested hooks, equal to a direct forward call", () => {
    const out = join(root, "run.safetensors");
    runModelFolderOnText({ modelDir, text: TEXT, hooks: HOOKS, out });
    const file = loadSafetensors(out);

    const ids = Int32Array.from(gpt2.encode(TEXT));
    const seq = ids.length;
    expect(file.tensors.tokens).toEqual({ dtype: "I32", shape: [seq], data: ids });

    const model = new HookedTransformer(CFG, weights);
    const direct = model.forward(Tape.noGrad(), ids, 1, seq, { cache: HOOKS });
    expect(file.tensors.logits!.dtype).toBe("F32");
    expect(file.tensors.logits!.shape).toEqual([seq, 50257]);
    expect(file.tensors.logits!.data).toEqual(direct.logits!.data);

    const expectedShapes: Record<string, number[]> = {
      "blocks.0.mlp.hook_post": [seq, 24],
      "blocks.0.attn.hook_q": [seq, 4, 4],
      "blocks.0.attn.hook_pattern": [4, seq, seq],
      "blocks.0.ln1.hook_scale": [seq, 1],
      "blocks.0.hook_resid_post": [seq, 16],
    };
    for (const name of HOOKS) {
      const t = file.tensors[name]!;
      expect(t.dtype).toBe("F32");
      expect(t.shape).toEqual(expectedShapes[name]);
      expect(t.data).toEqual(direct.cache.get(name)!.data);
    }
    expect(Object.keys(file.tensors).sort()).toEqual(["logits", "tokens", ...HOOKS].sort());
    expect(file.metadata).toMatchObject({ text: TEXT, tokenizer_name: "gpt2", hooks: HOOKS.join(",") });
    // Attention rows sum to 1 and are causal: a sanity check that the layout really is [head, q_pos, k_pos].
    const pattern = file.tensors["blocks.0.attn.hook_pattern"]!.data as Float32Array;
    const row = pattern.subarray(2 * seq * seq + 3 * seq, 2 * seq * seq + 4 * seq);
    expect(row.slice(0, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect([...row.slice(4)].every((p) => p === 0)).toBe(true);
  });

  it("writes only tokens and logits when no hooks are asked for", () => {
    const out = join(root, "plain.safetensors");
    const run = runModelFolderOnText({ modelDir, text: "Hello world", out });
    expect(run.activations.size).toBe(0);
    const reader = openSafetensors(out);
    expect(reader.names().sort()).toEqual(["logits", "tokens"]);
    reader.close();
  });

  it("rejects unknown hook names, listing the valid ones, before writing anything", () => {
    const out = join(root, "never.safetensors");
    expect(() => runModelFolderOnText({ modelDir, text: TEXT, hooks: ["blocks.0.mlp.hook_post", "blocks.3.mlp.hook_post"], out })).toThrow(
      /unknown hook point "blocks\.3\.mlp\.hook_post"; valid hook points: hook_embed, hook_pos_embed, blocks\.0\.hook_resid_pre, .*blocks\.0\.mlp\.hook_post/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("runModelOnText", () => {
  const model = () => new HookedTransformer(CFG, weights);

  it("rejects empty text, text longer than n_ctx, and ids outside the vocabulary", () => {
    expect(() => runModelOnText(model(), gpt2, "")).toThrow("the text has no tokens");
    expect(() => runModelOnText(model(), gpt2, "word" + " word".repeat(39))).toThrow(/the text is 40 tokens, longer than the model's context \(n_ctx = 32\)/);
    const small = { ...CFG, d_vocab: 100 };
    expect(() => runModelOnText(new HookedTransformer(small, randomWeights(small, 1)), gpt2, "zebra")).toThrow(
      /tokenizer "gpt2" produced token id \d+, outside the model's vocabulary \(d_vocab = 100\)/,
    );
  });
});

describe("loadModelTokenizer", () => {
  it("uses the folder's tokenizer.json for non-gpt2 tokenizer names, and says what is missing otherwise", () => {
    const dir = join(root, "word-level");
    const cfg: ModelConfig = { ...CFG, d_vocab: 7, tokenizer_name: "test/word-level" };
    saveModelFolder(dir, cfg, randomWeights(cfg, 2));
    expect(() => loadModelTokenizer(dir, cfg)).toThrow(
      `model folder ${dir}: tokenizer_name "test/word-level" needs tokenizer.json in the folder (only "gpt2" is built in)`,
    );
    writeWordLevelTokenizer(join(dir, "tokenizer.json"));
    const tokenizer = loadModelTokenizer(dir, cfg);
    expect(tokenizer.name).toBe("test/word-level");
    const out = join(root, "word-level.safetensors");
    const run = runModelFolderOnText({ modelDir: dir, text: "the cat sat on the mat", hooks: ["blocks.0.mlp.hook_pre"], out });
    expect(Array.from(run.tokens)).toEqual([2, 3, 4, 5, 2, 6]);
    expect(Array.from(run.tokens)).toEqual(Array.from(loadTokenizerJson(join(dir, "tokenizer.json")).encode("the cat sat on the mat")));
    expect(run.logits.shape).toEqual([6, 7]);
    expect(run.activations.get("blocks.0.mlp.hook_pre")!.shape).toEqual([6, 24]);
  });
});

describe("saekit model run (CLI)", () => {
  let output: string[];
  beforeAll(() => {
    process.exitCode = undefined;
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
  const capture = () => {
    output = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void output.push(args.join(" ")));
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void output.push(args.join(" ")));
  };

  it("writes the same file as the library call and prints a summary", async () => {
    capture();
    const out = join(root, "cli.safetensors");
    await main(["node", "saekit", "model", "run", "--model", modelDir, "--text", TEXT, "--hooks", "blocks.0.mlp.hook_post, blocks.0.attn.hook_z", "--out", out]);
    expect(process.exitCode).toBeUndefined();
    const seq = gpt2.encode(TEXT).length;
    expect(output.join("\n")).toBe(
      `wrote ${out}: ${seq} tokens, logits [${seq}, 50257], blocks.0.mlp.hook_post [${seq}, 24], blocks.0.attn.hook_z [${seq}, 4, 4]`,
    );
    const file = loadSafetensors(out);
    const lib = runModelOnText(new HookedTransformer(CFG, weights), gpt2, TEXT, ["blocks.0.attn.hook_z"]);
    expect(file.tensors["blocks.0.attn.hook_z"]!.data).toEqual(lib.activations.get("blocks.0.attn.hook_z")!.data);
    expect(file.tensors.logits!.data).toEqual(lib.logits.data);
  });

  it("fails with exit code 1 and the list of valid hooks for an unknown hook", async () => {
    capture();
    await main(["node", "saekit", "model", "run", "--model", modelDir, "--text", TEXT, "--hooks", "mlp.hook_post", "--out", join(root, "x.safetensors")]);
    expect(process.exitCode).toBe(1);
    expect(output.join("\n")).toMatch(/^saekit: unknown hook point "mlp\.hook_post"; valid hook points: hook_embed, /);
  });
});
