/**
 * Sae.encode works through row blocks of ENCODE_BLOCK_VALUES pre-activations (no [rows, d_sae] matrix): its codes are
 * exactly those of one product over all rows, for ReLU (padding to the densest row, at least 32 slots) and TopK.
 */
import { describe, expect, it } from "vitest";
import { kernels, setPrecision } from "../../src/core/backend.js";
import { Rng } from "../../src/core/rng.js";
import { concatCodes, ENCODE_BLOCK_VALUES, Sae, type SaeArchitecture } from "../../src/sae/sae.js";

function randomSae(architecture: SaeArchitecture, dIn: number, dSae: number, bias: number): Sae {
  const rng = new Rng(7);
  const sae = new Sae({ architecture, dIn, dSae, k: architecture === "topk" ? 5 : null, applyBDecToInput: true });
  rng.fillNormal(sae.encT, 0, 1);
  rng.fillNormal(sae.bDec, 0, 0.1);
  sae.bEnc.fill(bias);
  return sae;
}

describe("Sae.encode in row blocks", () => {
  // Blocks of 16 rows (blockValues 16 · d_sae), so 53 rows span four blocks (the last one partial).
  const dSae = 4096;
  const dIn = 8;
  const rows = 53;
  it.each([["standard", -9.5, "fp32"], ["topk", 0, "fp32"], ["standard", -9.5, "bf16"], ["topk", 0, "bf16"]] as const)(
    "gives the codes of one product over all rows (%s, %s products)", (arch, bias, precision) => {
    expect(ENCODE_BLOCK_VALUES).toBe(1 << 24);
    setPrecision(precision);
    try {
    const sae = randomSae(arch, dIn, dSae, bias);
    const x = new Float32Array(rows * dIn);
    new Rng(3).fillNormal(x, 0, 1);
    x.fill(3, 20 * dIn, 21 * dIn); // row 20: a denser row (~550 active features for ReLU, the others ~1)
    const blocked = sae.encode(x, rows, 16 * dSae);
    const whole = sae.codesFromPre(sae.preActivations(sae.centred(x, rows), rows), rows);
    expect(blocked.k).toBe(whole.k);
    // Byte comparisons (toEqual walks large typed arrays element by element).
    expect(Buffer.from(blocked.indices.buffer).equals(Buffer.from(whole.indices.buffer))).toBe(true);
    expect(Buffer.from(blocked.values.buffer).equals(Buffer.from(whole.values.buffer))).toBe(true);
    expect(blocked.indices.length).toBe(rows * whole.k);
    if (arch === "standard") expect(whole.k).toBeGreaterThan(32);
    expect(kernels().precision).toBe(precision);
    } finally {
      setPrecision("auto");
    }
  });

  it("concatCodes pads narrower blocks with index −1, value 0", () => {
    const a = { rows: 1, k: 1, indices: Int32Array.of(4), values: Float32Array.of(0.5) };
    const b = { rows: 2, k: 2, indices: Int32Array.of(1, 2, -1, -1), values: Float32Array.of(1, 2, 0, 0) };
    const c = concatCodes([a, b], 3);
    expect(c.k).toBe(2);
    expect(Array.from(c.indices)).toEqual([4, -1, 1, 2, -1, -1]);
    expect(Array.from(c.values)).toEqual([0.5, 0, 1, 2, 0, 0]);
  });
});
