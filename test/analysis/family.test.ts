import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CodeStore } from "../../src/analysis/code-store.js";
import { encodeFamily, readFamily } from "../../src/analysis/family-store.js";
import { FamilyError, familyContext, familyNeighbours, familySide, nearestRows, unitRows } from "../../src/analysis/family.js";
import { Rng } from "../../src/core/rng.js";

const D_IN = 16;
const SMALL = 6;
/** Each small feature i splits into large features 2i and 2i + 1 (decoder = parent + noise, firing split by context). */
const LARGE = 2 * SMALL;
const TOKENS = 3000;

function normalRows(rng: Rng, rows: number): Float32Array {
  const w = new Float32Array(rows * D_IN);
  rng.fillNormal(w, 0, 1);
  return w;
}

interface Planted {
  smallDec: Float32Array;
  largeDec: Float32Array;
  /** Dense [TOKENS × units] codes (the test's reference only). */
  smallCodes: Float32Array;
  largeCodes: Float32Array;
}

/**
 * Small feature i fires on ~4 % of tokens; on each firing token exactly one of its children fires (child 2i on
 * "even-context" tokens, 2i + 1 on the others) with a value near the parent's. Large feature 11 also fires alone on
 * its own tokens, so it is a noisier child. Small feature 5 never fires (a dead parent: r undefined).
 */
function planted(seed: number): Planted {
  const rng = new Rng(seed);
  const smallDec = normalRows(rng, SMALL);
  const largeDec = new Float32Array(LARGE * D_IN);
  for (let i = 0; i < SMALL; i++) {
    const base = unitRows(smallDec.subarray(i * D_IN, (i + 1) * D_IN), 1, D_IN);
    for (const c of [2 * i, 2 * i + 1]) for (let d = 0; d < D_IN; d++) largeDec[c * D_IN + d] = base[d]! + 0.08 * rng.normal();
  }
  const smallCodes = new Float32Array(TOKENS * SMALL);
  const largeCodes = new Float32Array(TOKENS * LARGE);
  for (let t = 0; t < TOKENS; t++) {
    for (let i = 0; i < SMALL - 1; i++) {
      if (rng.uniform() >= 0.04) continue;
      const v = 0.5 + rng.uniform();
      smallCodes[t * SMALL + i] = v;
      largeCodes[t * LARGE + 2 * i + (t % 2)] = v * (0.8 + 0.4 * rng.uniform());
    }
    if (rng.uniform() < 0.02) largeCodes[t * LARGE + 11] = 1;
  }
  return { smallDec, largeDec, smallCodes, largeCodes };
}

function store(dense: Float32Array, units: number): CodeStore {
  const s = new CodeStore(TOKENS, 4);
  const rows = 100;
  for (let t0 = 0; t0 < TOKENS; t0 += rows) {
    const indices = new Int32Array(rows * units).fill(-1);
    const values = new Float32Array(rows * units);
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < units; f++) {
        const v = dense[(t0 + r) * units + f]!;
        if (v !== 0) {
          indices[r * units + f] = f;
          values[r * units + f] = v;
        }
      }
    }
    s.append({ rows, k: units, indices, values });
  }
  return s;
}

function pearson(a: Float32Array, da: number, i: number, b: Float32Array, db: number, j: number): number {
  let sx = 0, sy = 0;
  for (let t = 0; t < TOKENS; t++) {
    sx += a[t * da + i]!;
    sy += b[t * db + j]!;
  }
  const mx = sx / TOKENS;
  const my = sy / TOKENS;
  let cxy = 0, cxx = 0, cyy = 0;
  for (let t = 0; t < TOKENS; t++) {
    const x = a[t * da + i]! - mx;
    const y = b[t * db + j]! - my;
    cxy += x * y;
    cxx += x * x;
    cyy += y * y;
  }
  return cxx > 0 && cyy > 0 ? cxy / Math.sqrt(cxx * cyy) : Number.NaN;
}

function cosine(a: Float32Array, i: number, b: Float32Array, j: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let d = 0; d < D_IN; d++) {
    const x = a[i * D_IN + d]!;
    const y = b[j * D_IN + d]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

describe("feature families across dictionary sizes", () => {
  const p = planted(3);
  const small = store(p.smallCodes, SMALL);
  const large = store(p.largeCodes, LARGE);

  it("finds each planted parent's two children, with their exact cosines and activation r", () => {
    const ctx = familyContext(small, p.smallDec, SMALL, D_IN);
    const side = familySide(ctx, "larger", { run: "A/2", decoder: p.largeDec, units: LARGE, codes: large });
    expect(side).toMatchObject({ side: "larger", run: "A/2", units: LARGE, k: 3 });
    for (let i = 0; i < SMALL; i++) {
      const a = side.inverseStart[i]!;
      const b = side.inverseStart[i + 1]!;
      const children = Array.from(side.inverseIndex.subarray(a, b));
      expect(children.sort((x, y) => x - y)).toEqual([2 * i, 2 * i + 1]);
      for (let e = a; e < b; e++) {
        const g = side.inverseIndex[e]!;
        expect(side.inverseCos[e]).toBeCloseTo(cosine(p.smallDec, i, p.largeDec, g), 5);
        const r = pearson(p.smallCodes, SMALL, i, p.largeCodes, LARGE, g);
        if (i === SMALL - 1) expect(side.inverseR[e]).toBeNaN();
        else expect(side.inverseR[e]).toBeCloseTo(r, 5);
      }
      // Children listed by cosine, descending.
      if (b - a === 2) expect(side.inverseCos[a]!).toBeGreaterThanOrEqual(side.inverseCos[a + 1]!);
      // The forward cosine list starts with the two children, and matches a brute-force ranking.
      const ranked = Array.from({ length: LARGE }, (_, g) => g).sort((x, y) => cosine(p.smallDec, i, p.largeDec, y) - cosine(p.smallDec, i, p.largeDec, x));
      expect(Array.from(side.cosIndex.subarray(i * 3, i * 3 + 3))).toEqual(ranked.slice(0, 3));
      expect(new Set(ranked.slice(0, 2))).toEqual(new Set([2 * i, 2 * i + 1]));
      for (let j = 0; j < 3; j++) expect(side.cosValue[i * 3 + j]).toBeCloseTo(cosine(p.smallDec, i, p.largeDec, ranked[j]!), 5);
    }
    // By activation r: live parent i's best matches are its two children (each fires on half its tokens), r ≈ 0.7.
    for (let i = 0; i < SMALL - 1; i++) {
      const best = Array.from(side.rIndex.subarray(i * 3, i * 3 + 2)).sort((x, y) => x - y);
      expect(best).toEqual([2 * i, 2 * i + 1]);
      for (let j = 0; j < 3; j++) {
        const g = side.rIndex[i * 3 + j]!;
        if (g < 0) continue;
        expect(side.rValue[i * 3 + j]).toBeCloseTo(pearson(p.smallCodes, SMALL, i, p.largeCodes, LARGE, g), 5);
        expect(side.rCos[i * 3 + j]).toBeCloseTo(cosine(p.smallDec, i, p.largeDec, g), 5);
      }
      expect(side.rValue[i * 3]!).toBeGreaterThan(0.6);
      expect(side.rValue[i * 3]!).toBeLessThan(0.8);
    }
    // The dead parent has no r match at all.
    expect(Array.from(side.rIndex.subarray((SMALL - 1) * 3, SMALL * 3))).toEqual([-1, -1, -1]);
  });

  it("finds each child's parent from the larger run's side", () => {
    const ctx = familyContext(large, p.largeDec, LARGE, D_IN);
    const side = familySide(ctx, "smaller", { run: "A/0", decoder: p.smallDec, units: SMALL, codes: small }, 2);
    expect(side.k).toBe(2);
    for (let g = 0; g < LARGE; g++) {
      const parent = Math.floor(g / 2);
      expect(side.cosIndex[g * 2]).toBe(parent);
      expect(side.cosValue[g * 2]).toBeCloseTo(cosine(p.largeDec, g, p.smallDec, parent), 5);
      const r = pearson(p.largeCodes, LARGE, g, p.smallCodes, SMALL, parent);
      if (parent === SMALL - 1) expect(side.cosR[g * 2]).toBeNaN();
      else expect(side.cosR[g * 2]).toBeCloseTo(r, 5);
      if (parent !== SMALL - 1) expect(side.rIndex[g * 2]).toBe(parent);
    }
    // Every small feature is the nearest of some large feature here except by chance; the lists partition the small run.
    expect(side.inverseStart[LARGE]).toBe(SMALL);
  });

  it("round-trips through family.safetensors and checks its checksum", () => {
    const ctx = familyContext(small, p.smallDec, SMALL, D_IN);
    const side = familySide(ctx, "larger", { run: "A/2", decoder: p.largeDec, units: LARGE, codes: large });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-family-"));
    try {
      const bytes = encodeFamily([side]);
      fs.writeFileSync(path.join(dir, "family.safetensors"), bytes);
      const back = readFamily(dir, SMALL)!;
      expect(back).toHaveLength(1);
      expect(back[0]!.run).toBe("A/2");
      expect(Array.from(back[0]!.inverseIndex)).toEqual(Array.from(side.inverseIndex));
      expect(Array.from(back[0]!.cosR)).toEqual(Array.from(side.cosR));
      expect(() => readFamily(dir, SMALL, "0".repeat(64))).toThrow(/family\.safetensors: its SHA-256 differs/);
      expect(() => readFamily(dir, SMALL + 1)).toThrow(/larger\.cos\.index is not Int32Array of 21/);
      expect(readFamily(path.join(dir, "none"), SMALL)).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("picks the next smaller and larger run by size and refuses a run of the same size", () => {
    const runs = [{ run: "A/3", units: 32768 }, { run: "A/0", units: 512 }, { run: "A/2", units: 16384 }];
    const n = familyNeighbours({ run: "A/1", units: 4096 }, runs);
    expect(n.smaller?.run).toBe("A/0");
    expect(n.larger?.run).toBe("A/2");
    expect(familyNeighbours({ run: "A/0", units: 512 }, runs.slice(0, 1)).smaller).toBeNull();
    expect(() => familyNeighbours({ run: "A/1", units: 4096 }, [{ run: "B/1", units: 4096 }])).toThrow(FamilyError);
  });

  it("nearestRows equals a brute-force top-k over blocks", () => {
    const rng = new Rng(9);
    const a = unitRows(normalRows(rng, 50), 50, D_IN);
    const b = unitRows(normalRows(rng, 70), 70, D_IN);
    const { index, value } = nearestRows(a, 50, b, 70, D_IN, 4);
    for (let i = 0; i < 50; i++) {
      const ranked = Array.from({ length: 70 }, (_, j) => j).sort((x, y) => cosine(a, i, b, y) - cosine(a, i, b, x));
      expect(Array.from(index.subarray(i * 4, i * 4 + 4))).toEqual(ranked.slice(0, 4));
      expect(value[i * 4]).toBeCloseTo(cosine(a, i, b, ranked[0]!), 5);
    }
    expect(() => nearestRows(a, 50, b, 70, D_IN, 71)).toThrow(/k must be an integer in \[1, 70\]/);
  });
});
