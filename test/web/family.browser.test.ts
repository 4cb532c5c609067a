/**
 * Families and run-level figures in Chromium, on the planted A/0 → A/1 → A/2 splits (test/analysis/family-fixture.ts):
 * the feature page's family panel shows the parent and both children with the workspace's cosines and r, a child's
 * link opens its page whose parent is the feature; the home page draws the share-by-size bars and the universality
 * histogram with the stored numbers. Screenshots go to test-artifacts/ and, when SAEKIT_SCREENSHOTS is set, there.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { densitySummary } from "../../src/sae/density.js";
import { buildFamilyFixture, type FamilyFixture } from "../analysis/family-fixture.js";
import { saveScreenshot, startBrowserSession, type BrowserSession } from "../helpers/browser.js";

let fx: FamilyFixture;
let ws: Workspace;
let session: BrowserSession;
let url: string;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fx = await buildFamilyFixture();
  ws = openWorkspace(fx.root);
  session = await startBrowserSession(ws, { pageErrors, consoleErrors: true });
  ({ url, page } = session);
}, 120_000);
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const shot = (name: string) => saveScreenshot(page, `${name}.png`);

/** The app's fmt(x, 3) for the numbers in the fixture's range (|x| in [0.001, 1]). */
const three = (x: number) => Number(x.toPrecision(3)).toString().replace("-", "−");

describe("family panel", () => {
  it("shows the parent in A/0 and the two children in A/2 with the workspace's cosines and r", async () => {
    const fam = ws.unit("A/1/5").family!;
    await page.goto(`${url}feature/A/1/5`);
    const panel = page.locator('[data-testid="panel-family"]');
    await panel.waitFor();
    const parent = panel.locator('[data-testid="family-smaller"] [data-testid="family-member"][data-relation="parent"]');
    expect(await parent.getAttribute("data-unit")).toBe("A/0/2");
    const p = fam.sides[0]!.members[0]!;
    expect(await parent.locator('[data-testid="family-cos"]').textContent()).toBe(three(p.cos!));
    expect(await parent.locator('[data-testid="family-r"]').textContent()).toBe(three(p.r!));
    const children = panel.locator('[data-testid="family-larger"] [data-testid="family-member"][data-relation="child"]');
    expect(await children.evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { unit: string } }).dataset.unit).sort())).toEqual(["A/2/10", "A/2/11"]);
    const first = fam.sides[1]!.members[0]!;
    const row = panel.locator(`[data-testid="family-member"][data-unit="${first.name}"]`);
    expect(await row.locator('[data-testid="family-cos"]').textContent()).toBe(three(first.cos!));
    expect(await row.locator(".token-chip").count()).toBe(first.topTokens.length);
    await panel.scrollIntoViewIfNeeded();
    await shot("family-panel");
    // A child's link opens its page, whose parent is A/1/5.
    await row.locator('[data-testid="family-link"]').click();
    await page.waitForURL(new RegExp(`feature/${first.name}$`));
    const back = page.locator('[data-testid="panel-family"] [data-testid="family-member"][data-relation="parent"]');
    await expect.poll(() => back.getAttribute("data-unit")).toBe("A/1/5");
    // A run analysed without --family says how to get it.
    await page.goto(`${url}feature/B/1/0`);
    await expect.poll(() => page.locator('[data-testid="panel-family"]').textContent()).toContain("--family");
    expect(pageErrors).toEqual([]);
  });
});

describe("home page figures", () => {
  it("draws the dead / low-density share by dictionary size and the universality histogram with the stored numbers", async () => {
    await page.goto(url);
    const chart = page.locator('[data-testid="size-share"][data-model="A"] canvas');
    await expect.poll(() => chart.getAttribute("data-series")).not.toBeNull();
    expect(JSON.parse((await chart.getAttribute("data-labels"))!)).toEqual(["A/0 · 8", "A/1 · 16", "A/2 · 32"]);
    const series = JSON.parse((await chart.getAttribute("data-series"))!) as { label: string; data: number[] }[];
    expect(series.map((s) => s.label)).toEqual(["dead (never fired)", "density < 1e-4", "density < 1e-5"]);
    ["A/0", "A/1", "A/2"].forEach((run, i) => {
      const cols = ws.store(run).columns.density;
      const s = densitySummary(cols, [1e-4, 1e-5]);
      expect(series[0]!.data[i]).toBeCloseTo(s.dead / cols.length, 9);
      expect(series[1]!.data[i]).toBeCloseTo(s.below[0]!.count / cols.length, 9);
      expect(series[2]!.data[i]).toBeCloseTo(s.below[1]!.count / cols.length, 9);
    });
    const card = page.locator('[data-testid="run-card"][data-run="A/1"]');
    const uni = card.locator('[data-testid="universality-histogram"] canvas');
    await expect.poll(() => uni.getAttribute("data-series")).not.toBeNull();
    const useries = JSON.parse((await uni.getAttribute("data-series"))!) as { label: string; data: number[] }[];
    const stored = fx.resultA1.runFigures.universality[0]!;
    expect(useries.map((s) => s.label)).toEqual(["features vs B/1", "neurons vs B/neuron"]);
    expect(useries[0]!.data).toEqual(stored.features.counts.map((c) => c / stored.features.units));
    expect(useries[1]!.data).toEqual(stored.neurons!.counts.map((c) => c / stored.neurons!.units));
    expect(JSON.parse((await uni.getAttribute("data-labels"))!)).toHaveLength(20);
    await shot("home-figures");
    expect(pageErrors).toEqual([]);
  });
});
