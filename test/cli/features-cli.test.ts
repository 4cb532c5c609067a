/** `saekit features` on the shipped A/1 investigation: JSON equal to the store's columns, text table, refusals. */
import { describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";

const out = captureCliOutput();

describe("saekit features", () => {
  it("--sort density --desc --json: the densest units of A/1, as the store holds them", async () => {
    await runCli("features", "--run", "A/1", "--sort", "density", "--desc", "--limit", "5", "--offset", "2", "--json");
    expect(process.exitCode ?? 0).toBe(0);
    const t = JSON.parse(out.text()) as { total: number; units: number; rows: { index: number; density: number; match: string | null }[] };
    const ws = openWorkspace();
    try {
      const d = ws.store("A/1").columns.density;
      const order = Array.from(d, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
      expect(t.units).toBe(d.length);
      expect(t.rows.map((r) => r.index)).toEqual(order.slice(2, 7));
      expect(t.rows[0]!.density).toBe(d[order[2]!]);
      expect(t.rows[0]!.match).toMatch(/^B\/1\/\d+$/);
    } finally {
      ws.close();
    }
  });

  it("a density range as a text table with the count; --domain filters, or is refused on a store without code shares", async () => {
    await runCli("features", "--run", "A/1", "--density-min", "0.01", "--density-max", "0.02", "--limit", "3");
    expect(out.text()).toMatch(/^A\/1: \d+ of 4096 units match; rows 1–3, sorted by index ascending\n/);
    out.clear();
    const ws = openWorkspace();
    const share = ws.store("A/1").columns.codeShare;
    ws.close();
    await runCli("features", "--run", "A/1", "--domain", "code", "--limit", "1000", "--json");
    if (share && share.some((v) => !Number.isNaN(v))) {
      // A store analysed with code shares (after the shipped stores are re-analysed).
      const t = JSON.parse(out.text()) as { total: number };
      expect(t.total).toBe(Array.from(share).filter((v) => v >= 0.5).length);
    } else {
      expect(process.exitCode).toBe(1);
      expect(out.text()).toMatch(/no per-unit code share \(written before it\).*re-run `saekit analyze`/);
    }
    out.clear();
    await runCli("features", "--run", "A/1", "--domain", "rust").catch(() => undefined);
    expect(out.text()).toContain('--domain must be one of code, prose, any, got "rust"');
  });
});
