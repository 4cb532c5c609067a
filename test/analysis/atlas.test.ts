import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { computeAtlas, type AtlasRunInput } from "../../src/analysis/atlas.js";
import { cosineNeighbours } from "../../src/analysis/atlas-knn.js";
import { ATLAS_FILE, decoderSha256, encodeAtlas, readAtlas } from "../../src/analysis/atlas-store.js";

const D = 32;
const CLUSTERS = 6;

/**
 * Three runs of one model whose decoder rows are planted around CLUSTERS directions (centre + noise, norms
 * varied): the atlas must put rows of one direction together, whatever run they come from.
 */
function plantedRuns(seed = 3): { runs: AtlasRunInput[]; cluster: number[] } {
  const rng = new Rng(seed);
  const centres = Array.from({ length: CLUSTERS }, () => Float32Array.from({ length: D }, () => rng.normal()));
  const cluster: number[] = [];
  const runs = [40, 80, 120].map((units, r) => {
    const decoder = new Float32Array(units * D);
    for (let u = 0; u < units; u++) {
      const c = (u * 7 + r) % CLUSTERS;
      cluster.push(c);
      const scale = 0.5 + rng.uniform();
      for (let j = 0; j < D; j++) decoder[u * D + j] = scale * (centres[c]![j]! + 0.25 * rng.normal());
    }
    return { name: `A/${r}`, decoder, units, dIn: D };
  });
  return { runs, cluster };
}

describe("cosineNeighbours", () => {
  it("equals a brute-force cosine ranking, the row itself first at distance 0", () => {
    const rng = new Rng(5);
    const n = 70;
    const x = Float32Array.from({ length: n * D }, () => rng.normal());
    for (let i = 0; i < n; i++) {
      const row = x.subarray(i * D, (i + 1) * D);
      const norm = Math.hypot(...row);
      for (let j = 0; j < D; j++) row[j]! /= norm;
    }
    const k = 6;
    const nn = cosineNeighbours(x, n, D, k);
    expect(nn.width).toBe(k + 1);
    for (let i = 0; i < n; i++) {
      const cos = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let t = 0; t < D; t++) s += x[i * D + t]! * x[j * D + t]!;
        return { j, d: 1 - s };
      }).filter((e) => e.j !== i);
      cos.sort((a, b) => a.d - b.d || a.j - b.j);
      expect(nn.indices[i * (k + 1)]).toBe(i);
      expect(nn.distances[i * (k + 1)]).toBe(0);
      for (let t = 0; t < k; t++) {
        expect(nn.indices[i * (k + 1) + 1 + t]).toBe(cos[t]!.j);
        expect(nn.distances[i * (k + 1) + 1 + t]).toBeCloseTo(cos[t]!.d, 5);
      }
    }
  });

  it("refuses a k that leaves no neighbours to pick or rows that do not fit", () => {
    expect(() => cosineNeighbours(new Float32Array(10 * D), 10, D, 10)).toThrow(/k must be an integer in \[1, 9\]/);
    expect(() => cosineNeighbours(new Float32Array(10 * D - 1), 10, D, 3)).toThrow(/are not 10 rows of 32/);
  });
});

describe("computeAtlas", () => {
  const { runs, cluster } = plantedRuns();
  const atlas = computeAtlas(runs, { seed: 11 });

  it("gives every decoder row of every run one finite 2-D point, runs in order", () => {
    expect(atlas.runs).toEqual([{ name: "A/0", units: 40 }, { name: "A/1", units: 80 }, { name: "A/2", units: 120 }]);
    expect(atlas.coords.length).toBe(2 * 240);
    expect(atlas.coords.every(Number.isFinite)).toBe(true);
    expect(atlas.params).toEqual({ seed: 11, neighbors: 15, minDist: 0.1, epochs: 500, metric: "cosine", knn: "exact" });
  });

  it("is reproducible: the same rows and seed give byte-identical coordinates, another seed others", () => {
    const again = computeAtlas(plantedRuns().runs, { seed: 11 });
    expect(Buffer.from(again.coords.buffer).equals(Buffer.from(atlas.coords.buffer))).toBe(true);
    const other = computeAtlas(runs, { seed: 12 });
    expect(Buffer.from(other.coords.buffer).equals(Buffer.from(atlas.coords.buffer))).toBe(false);
  });

  it("puts rows of one planted direction together and the directions apart (whatever the run or the row's norm)", () => {
    const n = cluster.length;
    const xy = (i: number) => [atlas.coords[2 * i]!, atlas.coords[2 * i + 1]!] as const;
    // Each point's nearest point on the map belongs to its own cluster.
    let same = 0;
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const d = Math.hypot(xy(i)[0] - xy(j)[0], xy(i)[1] - xy(j)[1]);
        if (d < bestD) [best, bestD] = [j, d];
      }
      if (cluster[best] === cluster[i]) same++;
    }
    expect(same / n).toBeGreaterThanOrEqual(0.98);
    // Every cluster's spread is small next to the distance to the nearest other cluster.
    const centre = Array.from({ length: CLUSTERS }, (_, c) => {
      const members = cluster.map((k, i) => (k === c ? i : -1)).filter((i) => i >= 0);
      const mx = members.reduce((s, i) => s + xy(i)[0], 0) / members.length;
      const my = members.reduce((s, i) => s + xy(i)[1], 0) / members.length;
      const spread = Math.max(...members.map((i) => Math.hypot(xy(i)[0] - mx, xy(i)[1] - my)));
      return { mx, my, spread };
    });
    for (let a = 0; a < CLUSTERS; a++) {
      const gap = Math.min(...centre.filter((_, b) => b !== a).map((o) => Math.hypot(o.mx - centre[a]!.mx, o.my - centre[a]!.my)));
      expect(centre[a]!.spread).toBeLessThan(gap / 2);
    }
  });

  it("refuses runs that cannot share a map, naming them", () => {
    expect(() => computeAtlas([])).toThrow(/no runs/);
    expect(() => computeAtlas([runs[0]!, { ...runs[1]!, dIn: 16, decoder: new Float32Array(80 * 16) }])).toThrow(/A\/1 has d_in 16 but A\/0 has 32/);
    expect(() => computeAtlas([runs[0]!, runs[0]!])).toThrow(/A\/0 is given twice/);
    expect(() => computeAtlas([{ ...runs[0]!, units: 41 }])).toThrow(/decoder has 1280 values, expected 41 × 32/);
    expect(() => computeAtlas([{ ...runs[0]!, decoder: runs[0]!.decoder.subarray(0, 10 * D), units: 10 }])).toThrow(/10 points are too few for 15 neighbours/);
  });
});

describe("atlas.safetensors", () => {
  const { runs } = plantedRuns();
  const atlas = computeAtlas(runs, { seed: 1, epochs: 50 });

  it("round-trips coordinates, runs with their decoder hashes and parameters", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-atlas-"));
    try {
      const bytes = encodeAtlas(atlas, (name) => decoderSha256(runs.find((r) => r.name === name)!.decoder));
      fs.writeFileSync(path.join(dir, ATLAS_FILE), bytes);
      const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");
      const back = readAtlas(dir, sha(bytes))!;
      expect(Buffer.from(back.coords.buffer, back.coords.byteOffset, back.coords.byteLength).equals(Buffer.from(atlas.coords.buffer))).toBe(true);
      expect(back.runs.map((r) => [r.name, r.units])).toEqual([["A/0", 40], ["A/1", 80], ["A/2", 120]]);
      expect(back.runs[1]!.decoderSha256).toBe(decoderSha256(runs[1]!.decoder));
      expect(back.params).toEqual(atlas.params);
      // A file that is not the one the manifest recorded is refused, by name.
      expect(() => readAtlas(dir, "0".repeat(64))).toThrow(new RegExp(`${ATLAS_FILE}: its SHA-256 differs`));
      fs.writeFileSync(path.join(dir, ATLAS_FILE), bytes.subarray(0, bytes.length - 8));
      expect(() => readAtlas(dir)).toThrow(/atlas\.safetensors.*the atlas is damaged/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is absent (null) from a store without one", () => {
    expect(readAtlas(os.tmpdir() + "/no-such-store-here")).toBeNull();
  });
});
