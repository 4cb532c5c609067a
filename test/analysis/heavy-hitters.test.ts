import { describe, expect, it } from "vitest";
import { ExactTokenMass, MassHeavyHitters, pairKeys, positionKeys } from "../../src/analysis/heavy-hitters.js";
import { mulberry32 as rng } from "../helpers/random.js";

describe("weighted space-saving sketch", () => {
  // Two units, interleaved: unit 0's mass is on ids 3, 17, 42 (weights ~2, ~1.5, ~1 per hit, 300 hits each) over a
  // tail of 200 ids (4,000 hits, weight ≤ 0.3); unit 1's on id 99 only, plus the same kind of tail.
  const K = 16;
  const sketch = new MassHeavyHitters(2, K);
  const exact = [new Map<number, number>(), new Map<number, number>()];
  const add = (u: number, id: number, w: number) => {
    sketch.add(u, id, w);
    exact[u]!.set(id, (exact[u]!.get(id) ?? 0) + w);
  };
  const r = rng(7);
  const stream: [number, number, number][] = [];
  for (let i = 0; i < 300; i++) for (const [id, w] of [[3, 2], [17, 1.5], [42, 1]] as const) stream.push([0, id, w * (0.9 + 0.2 * r())]);
  for (let i = 0; i < 300; i++) stream.push([1, 99, 1 + r()]);
  for (let i = 0; i < 4000; i++) stream.push([i % 2, 100 + Math.floor(r() * 200), 0.3 * r()]);
  for (let i = stream.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [stream[i], stream[j]] = [stream[j]!, stream[i]!];
  }
  for (const [u, id, w] of stream) add(u, id, w);

  it("finds the heavy hitters in order of true weight, each unit on its own", () => {
    expect(sketch.top(0, 3)).toEqual([3, 17, 42]);
    expect(sketch.top(1, 1)).toEqual([99]);
    expect(sketch.top(1, 3)).not.toContain(3);
  });

  it("keeps its guarantee against the exact weights: count − error ≤ true ≤ count, min ≤ W/K, every id over W/K tracked", () => {
    for (const u of [0, 1]) {
      const entries = sketch.entries(u);
      expect(entries).toHaveLength(K);
      const W = [...exact[u]!.values()].reduce((a, b) => a + b, 0);
      expect(sketch.totalWeight(u)).toBeCloseTo(W, 9);
      for (const e of entries) {
        const t = exact[u]!.get(e.id)!;
        expect(t).toBeLessThanOrEqual(e.count + 1e-9);
        expect(t).toBeGreaterThanOrEqual(e.count - e.error - 1e-9);
      }
      const min = Math.min(...entries.map((e) => e.count));
      expect(min).toBeLessThanOrEqual(W / K + 1e-9);
      const tracked = new Set(entries.map((e) => e.id));
      for (const [id, t] of exact[u]!) {
        if (t > W / K) expect(tracked.has(id)).toBe(true);
        if (!tracked.has(id)) expect(t).toBeLessThanOrEqual(min + 1e-9);
      }
      // On this stream the heavy ids are never evicted, so their estimates are exact (error 0 is not guaranteed in general).
      for (const e of entries.filter((x) => x.id < 100)) (expect(e.error).toBe(0), expect(e.count).toBeCloseTo(exact[u]!.get(e.id)!, 9));
    }
  });

  it("addRows: codes k per row, −1 indices and −1 keys skipped, non-positive values ignored", () => {
    const s = new MassHeavyHitters(3, 4);
    // Rows: keys 5, −1, 6; k = 2.
    s.addRows(Int32Array.of(5, -1, 6), 3, 2, Int32Array.of(0, 2, 0, 1, 1, -1), Float32Array.of(1, 2, 9, 9, 0.5, 7));
    expect(s.entries(0)).toEqual([{ id: 5, count: 1, error: 0 }]);
    expect(s.entries(1)).toEqual([{ id: 6, count: 0.5, error: 0 }]);
    expect(s.entries(2)).toEqual([{ id: 5, count: 2, error: 0 }]);
    s.add(0, 7, 0);
    s.add(0, 7, -1);
    expect(s.top(0, 5)).toEqual([5]);
    expect(() => s.entries(3)).toThrow("unit 3 is not in 0..2");
    expect(() => new MassHeavyHitters(2, 0)).toThrow("counters must be a positive integer, got 0");
  });

  it("replaces the smallest counter, carrying its count as the error", () => {
    const s = new MassHeavyHitters(1, 2);
    s.add(0, 1, 5);
    s.add(0, 2, 1);
    s.add(0, 3, 2); // evicts id 2 (count 1): count 1 + 2, error 1
    expect(s.entries(0)).toEqual([{ id: 1, count: 5, error: 0 }, { id: 3, count: 3, error: 1 }]);
  });
});

describe("exact token mass (neurons)", () => {
  it("top ids by summed positive activation, against a naive count", () => {
    const U = 3, V = 20, rows = 200;
    const r = rng(3);
    const keys = Int32Array.from({ length: rows }, (_, i) => (i % 10 === 0 ? -1 : Math.floor(r() * V)));
    const x = Float32Array.from({ length: rows * U }, () => r() * 2 - 1);
    const m = new ExactTokenMass(U, V);
    m.addDense(keys, rows, x);
    for (let u = 0; u < U; u++) {
      const naive = new Float64Array(V);
      for (let i = 0; i < rows; i++) if (keys[i]! >= 0 && x[i * U + u]! > 0) naive[keys[i]!]! += x[i * U + u]!;
      const order = Array.from({ length: V }, (_, t) => t).filter((t) => naive[t]! > 0).sort((a, b) => naive[b]! - naive[a]! || a - b);
      expect(m.top(u, 5)).toEqual(order.slice(0, 5));
      expect(m.massOf(u, order[0]!)).toBeCloseTo(naive[order[0]!]!, 4);
    }
    expect(m.top(0, 0)).toEqual([]);
    expect(() => m.addDense(Int32Array.of(20), 1, new Float32Array(3))).toThrow("token id 20 is outside the vocabulary 0..19");
  });

  it("position keys: the token before, −1 at each sequence's start", () => {
    expect([...positionKeys(Int32Array.of(4, 5, 6, 7, 8, 9), 3, true)]).toEqual([-1, 4, 5, -1, 7, 8]);
    expect([...positionKeys(Int32Array.of(4, 5), 2, false)]).toEqual([4, 5]);
    expect([...pairKeys(Int32Array.of(4, 5, 6, 7), 2, 50257)]).toEqual([-1, 4 * 50257 + 5, -1, 6 * 50257 + 7]);
    // Keys beyond 2³¹ (V² ≈ 2.5·10⁹) are kept exactly by the sketch.
    const s = new MassHeavyHitters(1, 2);
    s.add(0, 50256 * 50257 + 50256, 1);
    expect(s.top(0, 1)).toEqual([50256 * 50257 + 50256]);
  });
});
