/**
 * SAE training's resume contract (issue 13): a resume never overwrites what it cannot continue, refuses changed
 * settings naming each one, continues bit-for-bit through the shuffle buffer, records the final metrics even when the
 * checkpoint was taken at the last step, and two runs cannot write one folder at once.
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import type { TokenSequences } from "../../src/model/baselines.js";
import type { ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { ModelActivationStore } from "../../src/sae/activations.js";
import type { SaeMetadata } from "../../src/sae/format.js";
import { trainSae, type TrainSaeOptions } from "../../src/sae/train.js";

const HOOK = "blocks.0.mlp.hook_post";
const CFG: ModelConfig = {
  n_layers: 1, d_model: 16, d_head: 8, n_heads: 2, d_mlp: 32, d_vocab: 50, n_ctx: 8, act_fn: "gelu",
  normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
};
const MODEL = new HookedTransformer(CFG, initWeights(CFG, new Rng(1)));

function sequences(count: number, seed: number): TokenSequences {
  const rng = new Rng(seed);
  const tokens = new Int32Array(count * CFG.n_ctx);
  for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(CFG.d_vocab);
  return { tokens, nCtx: CFG.n_ctx };
}
const SETS = [sequences(40, 5), sequences(30, 6)];

const META: SaeMetadata = {
  modelName: "test/tiny", hookName: HOOK, hookLayer: 0, hookHeadIndex: null, contextSize: 8,
  prependBos: false, datasetPath: "synthetic", normalizeActivations: "expected_average_only_in",
};

const tmp = fs.mkdtempSync(join(os.tmpdir(), "saekit-sae-resume-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A real shuffled stream: the tiny model's activations through a 200-row buffer (half served per refill). */
function options(out: string, extra: Partial<TrainSaeOptions> = {}): TrainSaeOptions {
  return {
    out, meta: META, architecture: "standard", dSae: 64, seed: 3, tokens: 64 * 40, batchSize: 64, lr: 3e-3,
    l1Coefficient: 0.3, checkpointEvery: 0, deadWindowTokens: 64 * 10, resampleRows: 256, resample: "paper",
    source: (start) => new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 9, bufferRows: 200, startSequence: start, forwardBatch: 4 }),
    ...extra,
  };
}

describe("SAE training: resume", () => {
  it("a run stopped mid-way (and one killed after a checkpoint) resume to exactly the uninterrupted weights", async () => {
    const straight = await trainSae(options(join(tmp, "straight")));
    const stopped = join(tmp, "stopped");
    const controller = new AbortController();
    const first = await trainSae(options(stopped, {
      signal: controller.signal, onProgress: (e) => { if (e.type === "step" && e.step === 10) controller.abort(); },
    }));
    expect(first.completed).toBe(false);
    const resumed = await trainSae(options(stopped, { resume: true }));
    expect(resumed.completed).toBe(true);
    expect(Buffer.from(resumed.sae.dec.buffer).equals(Buffer.from(straight.sae.dec.buffer))).toBe(true);
    expect(Buffer.from(resumed.sae.encT.buffer).equals(Buffer.from(straight.sae.encT.buffer))).toBe(true);
    expect(Buffer.from(resumed.sae.bEnc.buffer).equals(Buffer.from(straight.sae.bEnc.buffer))).toBe(true);

    // "Killed": the process dies after the checkpoint at step 15 (resampling at step 8, 16 and 24 lies around it).
    const killed = join(tmp, "killed");
    await expect(trainSae(options(killed, {
      checkpointEvery: 15, onProgress: (e) => { if (e.type === "step" && e.step === 20) throw new Error("SIGKILL"); },
    }))).rejects.toThrow("SIGKILL");
    const again = await trainSae(options(killed, { resume: true }));
    expect(Buffer.from(again.sae.dec.buffer).equals(Buffer.from(straight.sae.dec.buffer))).toBe(true);
    expect(fs.readFileSync(join(killed, "sae_weights.safetensors")).equals(fs.readFileSync(join(tmp, "straight", "sae_weights.safetensors")))).toBe(true);
  }, 60_000);

  it("--resume refuses a non-empty folder without a checkpoint, and a finished run whose checkpoint was discarded", async () => {
    const other = join(tmp, "other");
    fs.mkdirSync(other);
    fs.writeFileSync(join(other, "training.json"), '{"keep": true}\n');
    await expect(trainSae(options(other, { resume: true }))).rejects.toThrow(/has no checkpoint to resume.*training\.json/);
    expect(fs.readFileSync(join(other, "training.json"), "utf8")).toBe('{"keep": true}\n');

    const done = join(tmp, "discarded");
    await trainSae(options(done, { tokens: 64 * 4, discardCheckpoint: true }));
    const before = fs.readFileSync(join(done, "training.json"), "utf8");
    await expect(trainSae(options(done, { tokens: 64 * 4, resume: true }))).rejects.toThrow(/finished run whose checkpoint was discarded/);
    expect(fs.readFileSync(join(done, "training.json"), "utf8")).toBe(before);
  }, 60_000);

  it("--resume refuses changed settings, naming each one", async () => {
    const out = join(tmp, "settings");
    const controller = new AbortController();
    await trainSae(options(out, { signal: controller.signal, onProgress: (e) => { if (e.type === "step" && e.step === 10) controller.abort(); } }));
    const error = await trainSae(options(out, {
      resume: true, l1Coefficient: 0.5, lr: 1e-3, normalize: false, resampleRows: 512, deadWindowTokens: 64 * 11,
      meta: { ...META, datasetPath: "text:/somewhere/else" },
    })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    for (const name of ["l1Coefficient (0.3 → 0.5)", "lr (0.003 → 0.001)", "normalize (true → false)", "resampleRows (256 → 512)", "deadWindowTokens", "datasetPath"]) {
      expect(message).toContain(name);
    }
    // The same settings still resume.
    expect((await trainSae(options(out, { resume: true }))).completed).toBe(true);
  }, 60_000);

  it("resuming from the checkpoint taken at the last step writes the final metrics, not nulls", async () => {
    const out = join(tmp, "last-step");
    const done = await trainSae(options(out, { tokens: 64 * 12 }));
    const before = JSON.parse(fs.readFileSync(join(out, "training.json"), "utf8"));
    expect(before.final.mse).toBeCloseTo(done.final.mse, 12);
    const again = await trainSae(options(out, { tokens: 64 * 12, resume: true }));
    const after = JSON.parse(fs.readFileSync(join(out, "training.json"), "utf8"));
    expect(after.final).toEqual(before.final);
    expect(again.final.mse).toBe(done.final.mse);
    expect(after.final.mse).toBeGreaterThan(0);
  }, 60_000);

  it("a second run into the same folder is refused while the first holds it", async () => {
    const out = join(tmp, "locked");
    let second: Promise<Error | null> | null = null;
    const first = trainSae(options(out, {
      onProgress: (e) => {
        if (e.type === "step" && e.step === 10 && second === null) second = trainSae(options(out, { resume: true })).then(() => null, (err: Error) => err);
      },
    }));
    await first;
    expect(second).not.toBeNull();
    expect((await second!)?.message).toMatch(new RegExp(`in use by another saekit process \\(pid ${process.pid}, sae train since`));
    // Released when done: a resume now runs.
    expect(fs.readdirSync(out).some((n) => n.includes("lock"))).toBe(false);
  }, 60_000);

  it("saved SAEs, the shipped ones included, say normalize_activations none: the scale is folded into the weights", async () => {
    const out = join(tmp, "folded");
    await trainSae(options(out, { tokens: 64 * 4 }));
    const cfg = JSON.parse(fs.readFileSync(join(out, "cfg.json"), "utf8"));
    expect(cfg.normalize_activations).toBe("none");
    expect(cfg.saekit.training.normScale).not.toBe(1);
    const models = join(import.meta.dirname, "..", "..", "models");
    for (const run of ["A/0", "A/1", "B/1"]) {
      expect(JSON.parse(fs.readFileSync(join(models, run, "cfg.json"), "utf8")).normalize_activations, run).toBe("none");
    }
  });
});

