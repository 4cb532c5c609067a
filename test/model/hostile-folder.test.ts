/**
 * Hostile model folders (issue 13 item 7): non-finite weights are refused naming the tensor, and a config.json
 * whose sizes do not match the weights fails at once, naming the field, before anything is allocated for it.
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { loadModelFolder, saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { initWeights } from "../../src/model/weights.js";

const CFG: ModelConfig = { ...DEFAULT_MODEL_CONFIG, n_layers: 1, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 16, d_vocab: 60 };
const root = fs.mkdtempSync(join(os.tmpdir(), "saekit-hostile-model-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

function folder(mutate: (w: ReturnType<typeof initWeights>) => void = () => {}): string {
  const dir = join(root, `m${n++}`);
  const weights = initWeights(CFG, new Rng(1));
  mutate(weights);
  saveModelFolder(dir, CFG, weights);
  return dir;
}

function patchConfig(dir: string, fields: Record<string, unknown>): void {
  const path = join(dir, "config.json");
  fs.writeFileSync(path, JSON.stringify({ ...JSON.parse(fs.readFileSync(path, "utf8")), ...fields }));
}

describe("model folders from a hostile source", () => {
  it("refuses NaN and ±Inf weights, naming the tensor and the position", () => {
    const nan = folder((w) => void (w.get("blocks.0.mlp.W_out")!.data[37] = NaN));
    expect(() => loadModelFolder(nan)).toThrow(/tensor "blocks\.0\.mlp\.W_out" has a non-finite value NaN at flat index 37/);
    const inf = folder((w) => void (w.get("unembed.W_U")!.data[5] = -Infinity));
    expect(() => loadModelFolder(inf)).toThrow(/model\.safetensors: tensor "unembed\.W_U" has a non-finite value -Infinity at flat index 5/);
  });

  it("bounds every config size against the weights before allocating (n_layers: 1e9 fails at once)", () => {
    const dir = folder();
    patchConfig(dir, { n_layers: 1e9 });
    const t0 = performance.now();
    expect(() => loadModelFolder(dir)).toThrow(/config\.json: n_layers is 1000000000 but .*model\.safetensors holds 1 layer/);
    expect(performance.now() - t0).toBeLessThan(2000);
    for (const [field, value, tensor] of [["d_model", 4096, "embed.W_E"], ["d_vocab", 1e8, "embed.W_E"], ["n_ctx", 1 << 30, "pos_embed.W_pos"], ["d_mlp", 1e7, "blocks.0.mlp.W_in"], ["n_heads", 4096, "blocks.0.attn.W_Q"], ["d_head", 4096, "blocks.0.attn.W_Q"]] as const) {
      const d = folder();
      patchConfig(d, { [field]: value });
      expect(() => loadModelFolder(d), field).toThrow(new RegExp(`config\\.json: ${field} is ${value} but .*has "${tensor.replace(/\./g, "\\.")}" with shape`));
    }
  });
});
