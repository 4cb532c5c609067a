/**
 * Transformer training on a tiny model (d_model 16, one head, d_mlp 32, n_ctx 16) and a tiny generated corpus with
 * a character tokenizer: the loss goes down, resuming is bit-identical to an uninterrupted run (also after a crash
 * mid-checkpoint), bad arguments and unusable corpora or out dirs fail with clear errors, and the CLI wires it up.
 */
import fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { Rng } from "../../src/core/rng.js";
import { buildTokenShards, type TokenShards } from "../../src/data/shards.js";
import type { Tokenizer } from "../../src/data/tokenizer.js";
import { loadModelFolder, saveModelFolder } from "../../src/model/checkpoint.js";
import type { ModelConfig } from "../../src/model/config.js";
import { readLatestCheckpoint } from "../../src/model/train-checkpoint.js";
import { trainModel, type TrainEvent, type TrainModelOptions } from "../../src/model/train.js";

/** One token per character of a small alphabet (others map to "?"), end-of-text last. */
function charTokenizer(): Tokenizer {
  const alphabet = "\n abcdefghijklmnopqrstuvwxyz.,:()=_+-0123456789?";
  const ids = new Map([...alphabet].map((ch, i) => [ch, i]));
  return {
    name: "test-chars",
    vocabSize: alphabet.length + 1,
    eotId: alphabet.length,
    fingerprint: "test-chars-v1",
    encode: (text) => Int32Array.from([...text.toLowerCase()].map((ch) => ids.get(ch) ?? ids.get("?")!)),
    decode: (tokens) => Array.from(tokens, (t) => alphabet[t] ?? "").join(""),
    tokenText: (t) => alphabet[t] ?? "<eot>",
  };
}

const WORDS = ["the", "whale", "ship", "sea", "captain", "sailed", "over", "a", "grey", "wave", "and", "crew"];
const IDENTS = ["x", "total", "value", "item", "count", "result"];

/** Patterned prose and code documents (learnable structure, so the loss visibly falls). */
function corpusLines(rng: Rng, docsPerDomain: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < docsPerDomain; i++) {
    const sentences = Array.from({ length: 8 }, () =>
      Array.from({ length: 6 }, () => WORDS[rng.int(WORDS.length)]).join(" ") + ".");
    lines.push(JSON.stringify({ id: `prose-${i}`, domain: "prose", text: sentences.join(" ") }));
    const code = Array.from({ length: 8 }, () => {
      const a = IDENTS[rng.int(IDENTS.length)]!;
      const b = IDENTS[rng.int(IDENTS.length)]!;
      return `def f_${a}(${b}):\n    ${a} = ${b} + ${rng.int(10)}\n    return ${a}\n`;
    });
    lines.push(JSON.stringify({ id: `code-${i}`, domain: "code", text: code.join("\n") }));
  }
  return lines;
}

const TINY: Partial<ModelConfig> = { n_layers: 1, d_model: 16, n_heads: 1, d_head: 16, d_mlp: 32, n_ctx: 16 };

let root: string;
let cacheDir: string;
let corpusFile: string;
let shards: TokenShards;
let outCounter = 0;
const newOut = () => join(root, `run-${++outCounter}`);

beforeAll(() => {
  root = fs.mkdtempSync(join(tmpdir(), "saekit-train-"));
  cacheDir = join(root, "cache");
  corpusFile = join(root, "corpus.jsonl");
  fs.writeFileSync(corpusFile, corpusLines(new Rng(3), 30).join("\n"));
  shards = buildTokenShards({ tokenizer: charTokenizer(), sources: [{ kind: "jsonl", path: corpusFile }], nCtx: 16, cacheDir });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Options shared by the resume tests: 24 steps of 2 micro-batches × 4 sequences. */
function resumable(out: string, extra: Partial<TrainModelOptions> = {}): TrainModelOptions {
  return {
    out, shards, model: TINY, seed: 11, steps: 24, batchSize: 4, accumSteps: 2, lr: 1e-2, warmupSteps: 4,
    evalEvery: 8, evalTokens: 64, checkpointEvery: 5, ...extra,
  };
}

/** Runs until `stopAt` steps, as if interrupted (the abort writes a checkpoint). */
async function runUntil(out: string, stopAt: number): Promise<void> {
  const controller = new AbortController();
  const result = await trainModel({
    ...resumable(out),
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === "step" && e.step === stopAt) controller.abort();
    },
  });
  expect(result.completed).toBe(false);
  expect(result.step).toBe(stopAt);
}

const weightsFile = (out: string) => fs.readFileSync(join(out, "model.safetensors"));
const trainingJson = (out: string) => JSON.parse(fs.readFileSync(join(out, "training.json"), "utf8"));

describe("trainModel", () => {
  it("lowers the loss on a tiny corpus and writes the model folder, training.json and a checkpoint", async () => {
    const out = newOut();
    const events: TrainEvent[] = [];
    const result = await trainModel({
      out, model: TINY, tokenizer: charTokenizer(), sources: [{ kind: "jsonl", path: corpusFile }], cacheDir,
      seed: 1, steps: 60, batchSize: 8, accumSteps: 1, lr: 1e-2, evalEvery: 20, evalTokens: 128, checkpointEvery: 25, dtype: "BF16",
      onProgress: (e) => events.push(e),
    });
    expect(result.completed).toBe(true);
    const summary = result.summary!;
    expect(summary.model.d_vocab).toBe(charTokenizer().vocabSize);
    expect(summary.model.tokenizer_name).toBe("test-chars");
    expect(summary.result.steps).toBe(60);
    expect(summary.result.tokensSeen).toBe(60 * 8 * 16);
    expect(summary.result.tokensPerSecond).toBeGreaterThan(0);
    const v = summary.history.validation;
    expect(v.map((e) => e.step)).toEqual([0, 20, 40, 60]);
    for (const domain of ["prose", "code"] as const) {
      const initial = v[0]![domain]!;
      expect(initial).toBeGreaterThan(Math.log(charTokenizer().vocabSize) - 0.5); // ~uniform at init
      const final = summary.validation[domain];
      expect(final.loss).not.toBeNull();
      expect(final.loss!).toBeLessThan(initial - 1);
      expect(final.loss!).toBeLessThan(final.unigram!); // beats the unigram after 60 steps
      expect(final.bigram!).toBeLessThan(final.unigram!);
      expect(final.targets).toBe(final.sequences * 15);
      // Train vs validation per domain: the train sample has as many sequences and also learnt from its start.
      const onTrain = summary.train![domain];
      expect(onTrain.sequences).toBe(final.sequences);
      expect(onTrain.loss!).toBeLessThan(v[0]!.train![domain]! - 1);
      expect(v.every((e) => typeof e.train?.[domain] === "number")).toBe(true);
    }
    expect(summary.validationF32).toBeDefined();
    const train = summary.history.train;
    expect(train[train.length - 1]!.loss).toBeLessThan(train[0]!.loss - 1);
    expect(events.filter((e) => e.type === "step")).toHaveLength(60);
    expect(events.filter((e) => e.type === "checkpoint").map((e) => (e as { step: number }).step)).toEqual([25, 50, 60]);

    // The folder loads as a model; training.json matches the returned summary.
    const loaded = loadModelFolder(out);
    expect(loaded.cfg).toEqual(summary.model);
    expect(trainingJson(out).validation.prose.loss).toBe(summary.validation.prose.loss);
    expect(readLatestCheckpoint(out)!.optimizer.step).toBe(60);
  });

  it("resumes bit-for-bit: N/2 steps + resume = N steps uninterrupted", async () => {
    const straight = newOut();
    await trainModel(resumable(straight));
    const halves = newOut();
    await runUntil(halves, 12);
    const resumed = await trainModel(resumable(halves, { resume: true }));
    expect(resumed.completed).toBe(true);
    expect(weightsFile(halves).equals(weightsFile(straight))).toBe(true);
    const [a, b] = [trainingJson(straight), trainingJson(halves)];
    expect(b.history.train).toEqual(a.history.train);
    expect(b.history.validation).toEqual(a.history.validation);
    expect(b.history.resumes).toEqual([12]);
    expect(b.validation).toEqual(a.validation);
  });

  it("resumes from the last complete checkpoint after a crash mid-checkpoint", async () => {
    const straight = newOut();
    await trainModel(resumable(straight, { checkpointEvery: 0 }));

    // Crash while writing: a half-written temp folder next to the complete checkpoint.
    const crashed = newOut();
    await runUntil(crashed, 12);
    const temp = join(crashed, ".checkpoint.tmp-99999-0123456789ab");
    fs.mkdirSync(temp);
    fs.writeFileSync(join(temp, "model.safetensors"), Buffer.alloc(10));
    const events: TrainEvent[] = [];
    await trainModel(resumable(crashed, { resume: true, checkpointEvery: 0, onProgress: (e) => events.push(e) }));
    expect(events.find((e) => e.type === "cleanup")).toMatchObject({ removed: [".checkpoint.tmp-99999-0123456789ab"] });
    expect(events.find((e) => e.type === "start")).toMatchObject({ step: 12 });
    expect(fs.existsSync(temp)).toBe(false);
    expect(weightsFile(crashed).equals(weightsFile(straight))).toBe(true);

    // Crash between the two renames of the swap: only checkpoint.previous/ is left.
    const swapped = newOut();
    await runUntil(swapped, 12);
    fs.renameSync(join(swapped, "checkpoint"), join(swapped, "checkpoint.previous"));
    await trainModel(resumable(swapped, { resume: true, checkpointEvery: 0 }));
    expect(weightsFile(swapped).equals(weightsFile(straight))).toBe(true);
    expect(fs.existsSync(join(swapped, "checkpoint.previous"))).toBe(false);
  });

  it("skips non-finite steps and stops after several in a row, keeping the last good checkpoint", async () => {
    const out = newOut();
    await runUntil(out, 10);
    // Poison the checkpointed weights (finite: the loader refuses NaN/Inf weights): logits of ±3e38 make the loss overflow.
    const ckpt = readLatestCheckpoint(out)!;
    const poisoned = new Map(ckpt.weights);
    poisoned.get("unembed.b_U")!.data.forEach((_, i, a) => (a[i] = i % 2 === 0 ? 3e38 : -3e38));
    saveModelFolder(ckpt.dir, ckpt.cfg, poisoned);
    const skips: number[] = [];
    await expect(trainModel(resumable(out, {
      resume: true, maxNonFiniteSteps: 3, onProgress: (e) => e.type === "skip" && skips.push(e.step),
    }))).rejects.toThrow(/training diverged: the loss or gradient norm was not finite in 3 consecutive steps .*last good checkpoint \(step 10\)/);
    expect(skips).toEqual([11, 12, 13]);
    expect(readLatestCheckpoint(out)!.state).toMatchObject({ step: 10 });
  });

  it("rejects bad arguments, naming the argument", async () => {
    const base = { out: newOut(), shards, model: TINY, steps: 2 };
    await expect(trainModel({ ...base, batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(trainModel({ ...base, accumSteps: 1.5 })).rejects.toThrow(/accumSteps must be a positive integer/);
    await expect(trainModel({ ...base, lr: -1 })).rejects.toThrow(/lr must be a positive number, got -1/);
    await expect(trainModel({ ...base, clipNorm: 0 })).rejects.toThrow(/clipNorm must be a positive number/);
    await expect(trainModel({ ...base, minLrRatio: 2 })).rejects.toThrow(/minLrRatio must be in \[0, 1\]/);
    await expect(trainModel({ ...base, tokens: 1000 })).rejects.toThrow(/pass tokens or steps, not both/);
    await expect(trainModel({ ...base, steps: 0 })).rejects.toThrow(/steps must be a positive integer/);
    await expect(trainModel({ ...base, model: { ...TINY, n_ctx: 32 } })).rejects.toThrow(/n_ctx 32 is larger than the token shards' n_ctx \(16\)/);
    await expect(trainModel({ ...base, model: { ...TINY, act_fn: "swish" as ModelConfig["act_fn"] } })).rejects.toThrow(/act_fn/);
    await expect(trainModel({ ...base, model: { ...TINY, d_model: 0 } })).rejects.toThrow(/d_model" must be a positive integer/);
    await expect(trainModel({ ...base, model: { ...TINY, d_vocab: 10 } })).rejects.toThrow(/d_vocab 10 is smaller than the tokenizer's vocabulary/);
    expect(fs.existsSync(base.out)).toBe(false); // nothing was written
  });

  it("fails clearly on an empty corpus", async () => {
    const file = join(root, "tiny.jsonl");
    fs.writeFileSync(file, ['{"text": "hi", "domain": "prose"}', '{"text": "x = 1", "domain": "code"}'].join("\n"));
    await expect(trainModel({
      out: newOut(), model: TINY, tokenizer: charTokenizer(), sources: [{ kind: "jsonl", path: file }], cacheDir, steps: 2,
    })).rejects.toThrow(/no training sequences: the train split has \d+ prose and \d+ code tokens, fewer than n_ctx=16/);
  });

  it("refuses an out dir holding another run or other files unless resuming the same run", async () => {
    const out = newOut();
    await trainModel({ ...resumable(out), steps: 2, evalEvery: 0 });
    await expect(trainModel({ ...resumable(out), steps: 2 })).rejects.toThrow(/already contains a training run .*--resume/);
    await expect(trainModel({ ...resumable(out), steps: 2, lr: 5e-3, resume: true })).rejects.toThrow(/contains a different run; it differs in lr \(0.01 → 0.005\)/);
    await expect(trainModel({ ...resumable(out), steps: 2, evalEvery: 0, resume: true })).resolves.toMatchObject({ completed: true, step: 2 });
    const discarded = newOut();
    await trainModel({ ...resumable(discarded), steps: 2, evalEvery: 0, keepCheckpoint: false });
    expect(fs.readdirSync(discarded).sort()).toEqual(["config.json", "model.safetensors", "run.json", "training.json"]);
    await expect(trainModel({ ...resumable(discarded), steps: 2, evalEvery: 0, resume: true })).rejects.toThrow(/completed run whose checkpoint was discarded/);
    const foreign = newOut();
    fs.mkdirSync(foreign);
    fs.writeFileSync(join(foreign, "notes.txt"), "mine");
    await expect(trainModel({ ...resumable(foreign), steps: 2 })).rejects.toThrow(/is not empty \(notes.txt\) and holds no saekit training run/);
  });
});

describe("saekit model train", () => {
  let output: string[];
  const run = async (...args: string[]) => {
    output = [];
    process.exitCode = undefined;
    const capture = (chunk: string | Uint8Array) => void output.push(String(chunk));
    vi.spyOn(process.stdout, "write").mockImplementation((c) => (capture(c), true));
    vi.spyOn(process.stderr, "write").mockImplementation((c) => (capture(c), true));
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => capture(`${a.join(" ")}\n`));
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => capture(`${a.join(" ")}\n`));
    await main(["node", "saekit", "model", "train", ...args]);
    return output.join("");
  };
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it("rejects bad option values, naming the option", async () => {
    for (const [flag, value, pattern] of [
      ["--batch", "0", /--batch must be a positive integer, got "0"/],
      ["--lr", "abc", /--lr must be a number > 0, got "abc"/],
      ["--min-lr-ratio", "1.5", /--min-lr-ratio must be a number in \[0, 1\]/],
      ["--eval-every", "-3", /--eval-every must be an integer ≥ 0/],
      ["--act-fn", "swish", /--act-fn.*Allowed choices are gelu, gelu_new, relu/],
    ] as const) {
      const text = await run("--out", join(root, "never"), flag, value);
      expect(text).toMatch(pattern);
      expect(process.exitCode).toBe(1);
    }
    expect(await run("--out", join(root, "never"), "--d-model", "100", "--n-heads", "3")).toMatch(/--d-model 100 is not divisible by --n-heads 3/);
    expect(fs.existsSync(join(root, "never"))).toBe(false);
  });

  it("trains from a --jsonl corpus with GPT-2 tokens and prints the summary", async () => {
    const out = newOut();
    const text = await run(
      "--out", out, "--jsonl", corpusFile, "--cache-dir", cacheDir, "--tokens", "1k", "--batch", "4",
      "--n-ctx", "16", "--d-model", "16", "--n-heads", "1", "--eval-every", "0", "--dtype", "BF16", "--seed", "5",
    );
    expect(process.exitCode, text).toBeUndefined();
    expect(text).toMatch(/trained 1\.02k tokens in 8 steps/);
    expect(text).toMatch(/prose \(.*tokens\)\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}/);
    const summary = trainingJson(out);
    expect(summary.model).toMatchObject({ d_model: 16, d_head: 16, d_mlp: 64, n_ctx: 16, d_vocab: 50257, tokenizer_name: "gpt2", seed: 5 });
    expect(summary.hyperparameters).toMatchObject({ batchSize: 4, accumSteps: 2, totalSteps: 8, dtype: "BF16" });
  });
});
