/**
 * Exact-token search (store/search.ts, DashboardService.search, `saekit search`) on the shipped investigations:
 * leading space kept, case folding on request, every top token searchable (beyond the 8 older search tables keep),
 * one ranked list across runs with the true count and pages.
 */
import { afterAll, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { searchUnits } from "../../src/analysis/store/search.js";
import { SEARCH_TOP_TOKENS_CAP } from "../../src/analysis/store/reader.js";
import { dashboardService } from "../../src/vis/service.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

const ws = openWorkspace();
/** A/1's broad " United" feature (its index changes with each retraining). */
const UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
const svc = dashboardService(ws);
afterAll(() => ws.close());
const out = captureCliOutput();

describe("exact-token search", () => {
  it("keeps the leading space and the case unless told to fold it", () => {
    const r = svc.search(" United", "A/1", 500);
    expect(r.total).toBe(r.hits.length);
    expect(r.hits[0]).toMatchObject({ field: "top token", text: " United", match: "exact" });
    expect(r.hits.map((h) => h.name)).toContain(UNITED.name);
    // Every exact top-token hit has exactly " United"; "United" without the space is at best "trimmed".
    for (const h of r.hits.filter((x) => x.match === "exact")) expect(h.text).toBe(" United");
    const bare = svc.search("United", "A/1", 500, { exact: true });
    expect(bare.hits.every((h) => h.text === "United" || h.field === "name")).toBe(true);
    expect(bare.hits.map((h) => h.name)).not.toContain(UNITED.name);
    const lower = svc.search(" united", "A/1", 500, { exact: true });
    expect(lower.hits.map((h) => h.name)).not.toContain(UNITED.name);
    const folded = svc.search(" united", "A/1", 500, { exact: true, ignoreCase: true });
    expect(folded.hits.map((h) => h.name)).toContain(UNITED.name);
  });

  it("finds a top token beyond the eighth, and completes an older store's search table (8 kept) from the records", () => {
    const store = ws.store("A/1");
    const all = store.allTopTokens();
    const i = all.findIndex((list) => list.length > SEARCH_TOP_TOKENS_CAP);
    expect(i).toBeGreaterThanOrEqual(0);
    const token = all[i]![SEARCH_TOP_TOKENS_CAP]!;
    // A store written since 2026-12 keeps every top token in its search table.
    expect(store.searchTable[i]!.topTokens).toEqual(all[i]);
    expect(searchUnits(store, token, { exact: true }).find((h) => h.index === i)).toMatchObject({ field: "top token", text: token, match: "exact" });
    // The record's own proxy token list is that list.
    expect(store.unit(i).proxy!.spec).toBe(`tokens:${JSON.stringify(all[i])}`);
    // An older store kept the first 8 only: the reader completes such a list from the unit's record.
    const older = openWorkspace();
    try {
      const old = older.store("A/1");
      expect(old).not.toBe(store);
      old.searchTable[i]!.topTokens = all[i]!.slice(0, SEARCH_TOP_TOKENS_CAP);
      expect(old.allTopTokens()[i]).toEqual(all[i]);
      expect(searchUnits(old, token, { exact: true }).find((h) => h.index === i)).toMatchObject({ field: "top token", text: token, match: "exact" });
    } finally {
      older.close();
    }
  });

  it("one ranked list across runs with the true count, paged", () => {
    const first = svc.search(" the", undefined, 20);
    expect(first.total).toBeGreaterThan(40);
    const second = svc.search(" the", undefined, 20, { offset: 20 });
    expect(second.total).toBe(first.total);
    const names = [...first.hits, ...second.hits].map((h) => h.name);
    expect(new Set(names).size).toBe(40);
    expect(svc.search(" the", undefined, 40).hits.map((h) => h.name)).toEqual(names);
    // Ranked by kind of match, not interleaved by run: exact matches precede every other kind.
    const kinds = svc.search(" the", undefined, 500).hits.map((h) => h.match);
    expect(kinds.lastIndexOf("exact")).toBeLessThan(kinds.indexOf("trimmed") === -1 ? Infinity : kinds.indexOf("trimmed"));
    expect(new Set(svc.search(" the", "B/1", 500).hits.map((h) => h.run))).toEqual(new Set(["B/1"]));
  });

  it("saekit search --json and the text list with · for spaces", async () => {
    await runCli("search", " United", "--run", "A/1", "--exact", "--limit", "3", "--json");
    const r = JSON.parse(out.text()) as { total: number; hits: { name: string; text: string }[] };
    expect(r.hits).toHaveLength(3);
    expect(r.total).toBe(svc.search(" United", "A/1", 500, { exact: true }).total);
    expect(r.hits.every((h) => h.text === " United")).toBe(true);
    out.clear();
    await runCli("search", " United", "--run", "A/1", "--limit", "2", "--offset", "1");
    expect(out.text()).toMatch(/^\d+ matches for " United" \(shown ·United\); 2–3\n/);
    expect(out.text()).toContain("·United");
  });
});
