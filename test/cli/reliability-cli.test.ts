/**
 * The CLI as a careless or hostile user drives it (issue 13): empty corpora are refused naming the folder and the
 * token count, `sae eval --split all` scores a user's whole folder, cfg.json records the real corpus and no second
 * normalisation, token text cannot drive the terminal, and an empty or matchless --proxy is refused up front.
 */
import fs from "node:fs";
import os from "node:os";
import path, { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { initWeights } from "../../src/model/weights.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { buildFixture, LIVE, type Fixture } from "../web/fixture.js";

const cli = captureCliOutput();
let root: string;
let modelDir: string;
let textDir: string;
let emptyDir: string;
let fx: Fixture;

beforeAll(async () => {
  root = fs.mkdtempSync(join(os.tmpdir(), "saekit-reliability-cli-"));
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 16 };
  modelDir = join(root, "model");
  saveModelFolder(modelDir, cfg, initWeights(cfg, new Rng(4)));
  // One document: a domain needs two documents before one is moved into validation, so this one is all train.
  textDir = join(root, "texts");
  fs.mkdirSync(textDir);
  const rng = new Rng(2);
  const words = ["the", "state", "of", "union", "nation", "people", "congress", "war", "peace", "law"];
  fs.writeFileSync(join(textDir, "speech.txt"), Array.from({ length: 3000 }, () => words[rng.int(words.length)]).join(" "));
  emptyDir = join(root, "empty");
  fs.mkdirSync(emptyDir);
  fx = await buildFixture();
}, 120_000);
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fx?.cleanup();
});

async function fails(pattern: RegExp, ...args: string[]): Promise<void> {
  cli.clear();
  process.exitCode = undefined;
  await runCli(...args);
  expect(process.exitCode, cli.text()).toBeGreaterThan(0);
  expect(cli.text()).toMatch(pattern);
}

describe("saekit sae train / eval on a user's folder", () => {
  it("cfg.json names the --text folder and says normalize_activations none (the scale is folded); eval refuses an empty folder and --split all scores every document", async () => {
    const sae = join(root, "sae");
    const tokenCache = join(root, "tokens");
    await runCli("sae", "train", "--model", modelDir, "--out", sae, "--text", textDir, "--cache-dir", tokenCache, "--tokens", "4096",
      "--batch", "512", "--d-sae", "64", "--buffer-rows", "2048", "--checkpoint-every", "0");
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(join(sae, "cfg.json"), "utf8"));
    expect(cfg.metadata.dataset_path).toContain(`text:${path.resolve(textDir)}`);
    expect(cfg.normalize_activations).toBe("none");

    const json = join(root, "eval.json");
    await fails(new RegExp(`validation split of --text ${path.resolve(textDir)} holds 0 tokens.*--split all`), "sae", "eval", "--sae", sae,
      "--text", textDir, "--cache-dir", tokenCache, "--json", json);
    expect(fs.existsSync(json)).toBe(false);
    await fails(new RegExp(`--text ${path.resolve(emptyDir)}`), "sae", "eval", "--sae", sae, "--text", emptyDir, "--cache-dir", tokenCache, "--split", "all", "--json", json);
    expect(fs.existsSync(json)).toBe(false);

    cli.clear();
    process.exitCode = undefined;
    await runCli("sae", "eval", "--sae", sae, "--text", textDir, "--cache-dir", tokenCache, "--split", "all", "--tokens", "4096", "--json", json);
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const r = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(r.overall.tokens).toBeGreaterThan(2000);
    expect(Number.isFinite(r.overall.lossRecovered)).toBe(true);
    expect(r.overall.explainedVariance).toBeLessThan(1);
  }, 120_000);
});

describe("saekit analyze / investigate / prompt", () => {
  it("analyze refuses an empty corpus naming the folder, and leaves the existing investigation untouched", async () => {
    const store = join(fx.root, "A", "1", "investigation");
    const before = fs.readdirSync(store).map((n) => [n, fs.statSync(join(store, n)).mtimeMs]);
    await fails(new RegExp(`--text ${path.resolve(emptyDir)} holds 0 tokens`), "analyze", "--sae", join(fx.root, "A", "1"), "--text", emptyDir,
      "--cache-dir", join(root, "tokens-fx"), "--no-neurons");
    expect(fs.readdirSync(store).map((n) => [n, fs.statSync(join(store, n)).mtimeMs])).toEqual(before);
  }, 60_000);

  it("prints control characters of token text as visible escapes", async () => {
    cli.clear();
    await runCli("prompt", "--sae", join(fx.root, "A", "1"), "--text", "red\x1b[31malert\x07 done\x9b");
    expect(process.exitCode ?? 0, cli.text()).toBe(0);
    const out = cli.text();
    expect(out).not.toMatch(/[\x07\x1b\x9b]/);
    expect(out).toContain("\\x1b");
    expect(out).toContain("\\x07");
    await fails(/nowhere\\x1b\[31m/, "prompt", "--sae", join(root, "nowhere\x1b[31m"), "--text", "x");
    expect(cli.text()).not.toMatch(/\x1b/);
  }, 60_000);

  it("refuses an empty --proxy and a proxy that matches no vocabulary token before scoring anything", async () => {
    await fails(/--proxy is empty/, "investigate", `A/1/${LIVE}`, "--models", fx.root, "--proxy", "");
    await fails(/matches no token of the vocabulary/, "investigate", `A/1/${LIVE}`, "--models", fx.root, "--proxy", "tokens:no such token here");
    expect(cli.text()).not.toMatch(/0 proxy tokens/);
  }, 60_000);

  it("serve refuses an empty --host (an unset $HOST) instead of listening on every interface", async () => {
    await fails(/--host is empty/, "serve", "--models", fx.root, "--host", "", "--port", "0");
  });
});
