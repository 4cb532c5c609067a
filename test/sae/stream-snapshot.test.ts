/**
 * Activation streams resume exactly (issue 13 item 6): a fresh store restored from snapshot() serves the same rows,
 * bit for bit, as the original store continuing — for the model store and the on-disk cache, across refills, epochs
 * and a snapshot taken in the middle of a chunk.
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
import { ActivationError, CachedActivationStore, ModelActivationStore, writeActivationCache, type ActivationSource } from "../../src/sae/activations.js";

const HOOK = "blocks.0.mlp.hook_post";
const CFG: ModelConfig = {
  n_layers: 1, d_model: 16, d_head: 8, n_heads: 2, d_mlp: 32, d_vocab: 50, n_ctx: 8, act_fn: "gelu",
  normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
};
const MODEL = new HookedTransformer(CFG, initWeights(CFG, new Rng(1)));
const rng = new Rng(3);
const SETS: TokenSequences[] = [7, 5].map((n) => ({ tokens: Int32Array.from({ length: n * 8 }, () => rng.int(50)), nCtx: 8 }));
const root = fs.mkdtempSync(join(os.tmpdir(), "saekit-stream-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Reads `before` rows in uneven pulls, snapshots, then compares the next `after` rows with a restored twin's. */
function expectExactResume(make: () => ActivationSource, before: number, after: number): void {
  const a = make();
  for (let done = 0; done < before; ) {
    const n = Math.min(before - done, 1 + ((done * 7) % 23));
    a.next(n);
    done += n;
  }
  const snap = a.snapshot!();
  const b = make();
  b.restore!({ state: JSON.parse(JSON.stringify(snap.state)), rows: snap.rows.slice() });
  expect(b.served).toBe(a.served);
  const ra = a.next(after);
  const rb = b.next(after);
  expect(Buffer.from(rb.buffer, rb.byteOffset, rb.byteLength).equals(Buffer.from(ra.buffer, ra.byteOffset, ra.byteLength))).toBe(true);
  expect(b.epoch).toBe(a.epoch);
  expect(b.resumePosition).toBe(a.resumePosition);
}

describe("activation stream snapshots", () => {
  it("the model store (96 rows of data, a 40-row buffer, forward batches of 3 sequences) resumes exactly", () => {
    const make = () => new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 5, bufferRows: 40, forwardBatch: 3 });
    for (const before of [0, 1, 19, 20, 57, 96, 250]) expectExactResume(make, before, 300);
  });

  it("the cache store resumes exactly", () => {
    const dir = join(root, "cache");
    writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 2 }, dir, { rows: 96, shardRows: 20 });
    const make = () => new CachedActivationStore({ dir, seed: 8, bufferRows: 32 });
    for (const before of [0, 5, 16, 33, 96, 200]) expectExactResume(make, before, 250);
  });

  it("refuses a snapshot of another buffer size", () => {
    const a = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 5, bufferRows: 40 });
    a.next(10);
    const b = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 5, bufferRows: 64 });
    expect(() => b.restore(a.snapshot())).toThrow(ActivationError);
    expect(() => b.restore(a.snapshot())).toThrow(/40 buffer rows; this stream has 32 and 64/);
  });
});
