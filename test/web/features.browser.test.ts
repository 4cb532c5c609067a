/**
 * The feature table (/features/A/1) in Chromium against `createServer` on the fixture workspace: the link from the
 * home card, rows and values from the store's columns, sorting by a column heading, the density-range filter and
 * a click on a density-histogram bar filtering the table to that bin. Screenshots in test-artifacts/features-*.png.
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { log10Bin } from "../../src/analysis/feature-table.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { buildFixture, D_SAE, LIVE, type Fixture } from "./fixture.js";
import { ARTIFACTS, startBrowserSession, type BrowserSession } from "../helpers/browser.js";

let fx: Fixture;
let ws: Workspace;
let session: BrowserSession;
let server: FastifyInstance;
let url: string;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  session = await startBrowserSession(ws, { pageErrors });
  ({ server, url, page } = session);
});
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const rowUnits = () => page.locator('[data-testid="features-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-unit")));
const count = () => page.locator('[data-testid="features-count"]').first().textContent();

describe("feature table API", () => {
  it("pages server-side and answers bad queries with 400 naming the field", async () => {
    const res = await server.inject({ url: "/api/features/A/1?sort=max&limit=10&offset=20" });
    expect(res.statusCode).toBe(200);
    const t = res.json() as { total: number; offset: number; rows: { max: number }[] };
    expect([t.total, t.offset, t.rows.length]).toEqual([D_SAE, 20, 10]);
    const maxes = Array.from(ws.store("A/1").columns.maxActivation).sort((a, b) => b - a);
    expect(t.rows.map((r) => r.max)).toEqual(maxes.slice(20, 30));
    for (const [q, msg] of [["domain=python", /domain "python" is not one of code, prose, any/], ["minCodeShare=2", /minCodeShare must be a share/], ["sort=bogus", /sort must be one of/], ["limit=x", /limit must be/], ["limit=5000", /limit must be/]] as const) {
      const bad = await server.inject({ url: `/api/features/A/1?${q}` });
      expect(bad.statusCode).toBe(400);
      expect((bad.json() as { error: string }).error).toMatch(msg);
    }
    expect((await server.inject({ url: "/api/features/Z/9" })).statusCode).toBe(404);
  });
});

describe("feature table in chromium", () => {
  it("opens from the home card and lists every unit with the store's values", async () => {
    await page.goto(url);
    await page.locator('[data-testid="run-card"][data-run="A/1"] [data-testid="run-features-link"]').click();
    await page.waitForURL(/\/features\/A\/1$/);
    await expect.poll(count).toBe(`rows 1–${D_SAE} of ${D_SAE}`);
    expect(await rowUnits()).toEqual(Array.from({ length: D_SAE }, (_, i) => `A/1/${i}`));
    const cols = ws.store("A/1").columns;
    // Row 5: max activation and best match as the store holds them.
    const row = page.locator('[data-testid="features-row"][data-unit="A/1/5"]');
    const max = Number((await row.locator(".col-max").textContent())!.replace(/,/g, ""));
    expect(max).toBeCloseTo(cols.maxActivation[5]!, 2);
    expect(await row.locator(".col-matchR").textContent()).toContain(`B/1/${cols.match[5]}`);
    expect(await row.locator(".col-neuronR").textContent()).toContain(String(cols.bestNeuron[5]));
    await page.screenshot({ path: path.join(ARTIFACTS, "features-table.png"), fullPage: true });
  });

  it("sorts by a column heading, and a second click flips the order", async () => {
    const cols = ws.store("A/1").columns;
    const byDensity = Array.from({ length: D_SAE }, (_, i) => i).sort((i, j) => cols.density[j]! - cols.density[i]! || i - j);
    await page.locator('[data-testid="sort-density"]').click();
    await page.waitForURL(/sort=density/);
    await expect.poll(rowUnits).toEqual(byDensity.map((i) => `A/1/${i}`));
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toContain("density");
    await page.locator('[data-testid="sort-density"]').click();
    await page.waitForURL(/desc=0/);
    const ascending = Array.from({ length: D_SAE }, (_, i) => i).sort((i, j) => cols.density[i]! - cols.density[j]! || i - j);
    await expect.poll(rowUnits).toEqual(ascending.map((i) => `A/1/${i}`));
  });

  it("filters by a density range typed in the form", async () => {
    const cols = ws.store("A/1").columns;
    const want = Array.from(cols.density).filter((d) => d >= 0.01 && d <= 0.2).length;
    expect(want).toBeGreaterThan(0);
    await page.locator('[data-testid="density-min"]').fill("0.01");
    await page.locator('[data-testid="density-max"]').fill("0.2");
    await page.locator('[data-testid="density-apply"]').click();
    await page.waitForURL(/densityMin=0.01/);
    await expect.poll(count).toBe(`rows 1–${want} of ${want}`);
    for (const u of await rowUnits()) {
      const d = cols.density[Number(u!.split("/")[2])]!;
      expect(d >= 0.01 && d <= 0.2).toBe(true);
    }
    await page.locator('[data-testid="density-min"]').fill("two");
    await page.locator('[data-testid="density-apply"]').click();
    await expect.poll(() => page.locator(".features-filter .form-error").textContent()).toContain("between 0 and 1");
  });

  it("a click on a density-histogram bar filters the table to that bin", async () => {
    await page.goto(`${url}features/A/1`);
    const run = ws.runInfoOf("A/1");
    const cols = ws.store("A/1").columns;
    const counts = run.densityHistogram.counts;
    const bin = counts.indexOf(Math.max(...counts));
    const canvas = page.locator('[data-testid="features-histogram"] canvas');
    await expect.poll(() => canvas.getAttribute("data-bar-x")).not.toBeNull();
    const xs = (await canvas.getAttribute("data-bar-x"))!.split(",").map(Number);
    const [top, bottom] = (await canvas.getAttribute("data-area-y"))!.split(",").map(Number);
    await canvas.click({ position: { x: xs[bin]!, y: (top! + bottom!) / 2 } });
    await page.waitForURL(new RegExp(`bin=${bin}`));
    await expect.poll(count).toBe(`rows 1–${counts[bin]} of ${counts[bin]}`);
    const units = await rowUnits();
    for (const u of units) expect(log10Bin(cols.density[Number(u!.split("/")[2])]!, run.densityHistogram.edges)).toBe(bin);
    await page.screenshot({ path: path.join(ARTIFACTS, "features-bin-filter.png"), fullPage: true });
    // Clear filters: every unit again.
    await page.locator('[data-testid="features-clear"]').click();
    await expect.poll(count).toBe(`rows 1–${D_SAE} of ${D_SAE}`);
    expect(pageErrors).toEqual([]);
  });
});

describe("activation histogram view (issue 15)", () => {
  it("opens in the log-density view with its own legend; linear brings the 'proxy does not hold' legend", async () => {
    await page.goto(`${url}feature/A/1/${LIVE}`);
    const panel = page.locator('[data-testid="panel-activations"]');
    await expect.poll(() => panel.locator('[data-testid="histogram-log"]').getAttribute("class")).toBe("active");
    expect(await panel.locator('[data-testid="histogram-linear"]').getAttribute("class")).toBe("");
    expect(await panel.locator('[data-testid="legend-log"]').textContent()).toContain("share of all tokens");
    expect(await panel.textContent()).not.toContain("proxy does not hold");
    await panel.locator('[data-testid="histogram-linear"]').click();
    await expect.poll(() => panel.textContent()).toContain("proxy does not hold");
    expect(await panel.locator('[data-testid="legend-log"]').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
