/** `saekit sae train / cache / eval` end to end on a tiny GPT-2-vocabulary model and a small JSONL corpus. */
import fs from "node:fs";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import os from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { initWeights } from "../../src/model/weights.js";
import { loadSaeFolder } from "../../src/sae/format.js";

const cli = captureCliOutput();
let root: string;
let modelDir: string;
let corpus: string;
let tokenCache: string;

beforeAll(() => {
  root = fs.mkdtempSync(join(os.tmpdir(), "saekit-sae-cli-"));
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 16 };
  modelDir = join(root, "model");
  saveModelFolder(modelDir, cfg, initWeights(cfg, new Rng(4)));
  const rng = new Rng(9);
  const words = ["the", "state", "of", "union", "nation", "people", "congress", "war", "peace", "law"];
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const prose = Array.from({ length: 60 }, () => words[rng.int(words.length)]).join(" ");
    lines.push(JSON.stringify({ id: `p${i}`, domain: "prose", text: prose }));
    lines.push(JSON.stringify({ id: `c${i}`, domain: "code", text: `def f${i}(x):\n    return x * ${i} + ${rng.int(99)}\n`.repeat(6) }));
  }
  corpus = join(root, "corpus.jsonl");
  fs.writeFileSync(corpus, lines.join("\n"));
  tokenCache = join(root, "tokens");
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));


const run = runCli;
const corpusFlags = () => ["--jsonl", corpus, "--cache-dir", tokenCache];

describe("saekit sae", () => {
  it("train writes an SAELens folder; eval reports per-domain metrics as a table and JSON", async () => {
    const out = join(root, "sae");
    await run("sae", "train", "--model", modelDir, "--out", out, ...corpusFlags(), "--tokens", "16384", "--batch", "512",
      "--d-sae", "64", "--l1", "0.5", "--buffer-rows", "4096", "--checkpoint-every", "0", "--lr", "2e-3");
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    expect(cli.text()).toMatch(/trained 16\.4k tokens/);
    const loaded = loadSaeFolder(out);
    expect(loaded.sae.spec).toMatchObject({ architecture: "standard", dIn: 32, dSae: 64 });
    expect(loaded.meta.hookName).toBe("blocks.0.mlp.hook_post");
    expect(fs.existsSync(join(out, "training.json"))).toBe(true);

    const json = join(root, "eval.json");
    cli.clear();
    await run("sae", "eval", "--sae", out, ...corpusFlags(), "--tokens", "2000", "--json", json);
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    expect(cli.text()).toMatch(/CE loss recovered/);
    const r = JSON.parse(fs.readFileSync(json, "utf8"));
    for (const d of ["prose", "code"]) {
      expect(r.domains[d].tokens).toBeGreaterThan(0);
      expect(r.domains[d].ceZeroAblation).toBeGreaterThan(0);
      expect(Number.isFinite(r.domains[d].lossRecovered)).toBe(true);
    }
    expect(r.density).toHaveLength(64);
    // the record names its folders relative to itself (eval.json in root/), never as this machine's absolute paths
    expect(r.sae).toBe("sae");
    expect(r.model).toBe(relative(root, modelDir));
    expect(isAbsolute(r.model)).toBe(false);
  });

  it("cache stores activations that train --activations reads", async () => {
    const cache = join(root, "acts");
    await run("sae", "cache", "--model", modelDir, "--out", cache, ...corpusFlags(), "--tokens", "8192", "--dtype", "F16");
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(join(cache, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ hookName: "blocks.0.mlp.hook_post", dIn: 32, dtype: "F16", rows: 8192 });
    // The manifest names the corpus as cfg.json's dataset_path does (here the --jsonl file).
    expect(manifest.source.corpus).toBe(`jsonl:${corpus}, train split`);
    cli.clear();
    const out = join(root, "sae-topk");
    await run("sae", "train", "--model", modelDir, "--out", out, "--activations", cache, "--architecture", "topk", "--k", "4",
      "--tokens", "8192", "--batch", "512", "--d-sae", "64", "--buffer-rows", "2048", "--checkpoint-every", "0");
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const trained = loadSaeFolder(out);
    expect(trained.sae.spec).toMatchObject({ architecture: "topk", k: 4 });
    // dataset_path: the cache's folder name and its corpus, not the cache's absolute path.
    expect(trained.meta.datasetPath).toBe(`activations (saekit sae cache acts) of jsonl:${corpus}, train split`);
    expect(JSON.parse(fs.readFileSync(join(out, "training.json"), "utf8")).backend.addon).toMatch(/^(built here|prebuilt|missing)$/);
  });

  it("clear errors: unknown hook, missing model folder, d_sae given twice wrong", async () => {
    await run("sae", "train", "--model", modelDir, "--out", join(root, "x"), "--hook", "blocks.0.mlp.hook_nope", ...corpusFlags());
    expect(process.exitCode).toBe(1);
    expect(cli.text()).toMatch(/blocks\.0\.mlp\.hook_nope.*not a hook point/);
    cli.clear();
    process.exitCode = undefined;
    await run("sae", "eval", "--sae", join(root, "missing"));
    expect(process.exitCode).toBe(1);
    expect(cli.text()).toMatch(/missing/);
    cli.clear();
    process.exitCode = undefined;
    await run("sae", "train", "--model", modelDir, "--out", join(root, "y"), "--d-sae", "0");
    expect(process.exitCode).not.toBe(0);
    expect(cli.text()).toMatch(/--d-sae must be a positive integer/);
  });
});
