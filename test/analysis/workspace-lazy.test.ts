/** The workspace opens stores lazily: listing reads manifests only, one unit opens one store (`investigate A/1/N`). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { buildFixture, LIVE, type Fixture } from "../web/fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.cleanup());

describe("lazy workspace", () => {
  it("opens no store to start, one store for one unit, every store only to list them all", () => {
    const ws = openWorkspace(fx.root);
    try {
      expect(ws.loader.openedStores()).toEqual([]);
      expect(ws.unit(`A/1/${LIVE}`).name).toBe(`A/1/${LIVE}`);
      expect(ws.loader.openedStores()).toEqual(["A/1"]);
      ws.unit("A/neuron/3");
      expect(ws.loader.openedStores()).toEqual(["A/1", "A/neuron"]);
      expect(ws.runs().map((r) => r.name)).toEqual(["A/1", "A/neuron", "B/1", "B/neuron"]);
      expect(ws.loader.openedStores().sort()).toEqual(["A/1", "A/neuron", "B/1", "B/neuron"]);
    } finally {
      ws.close();
    }
  });

  it("a live unit for a new proxy opens only its own store", () => {
    const ws = openWorkspace(fx.root);
    try {
      const { store, unit } = ws.liveUnit(`B/1/${LIVE}`);
      expect(store.manifest.name).toBe("B/1");
      expect(unit.index).toBe(LIVE);
      expect(ws.loader.openedStores()).toEqual(["B/1"]);
    } finally {
      ws.close();
    }
  });
});
