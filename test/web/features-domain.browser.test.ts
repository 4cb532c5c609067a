/**
 * The feature table's domain filter (/features/A/1) in Chromium on the fixture workspace: the code-share column shows
 * the store's codeShare, and choosing code / prose or a minimum code share shows exactly the units the column puts
 * there; the API refuses a bad domain. Screenshots go to test-artifacts/ and, when SAEKIT_SCREENSHOTS is set, to that
 * folder too.
 */
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { buildFixture, D_SAE, DEAD, type Fixture } from "./fixture.js";
import { saveScreenshot, startBrowserSession, type BrowserSession } from "../helpers/browser.js";

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
}, 120_000);
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const shot = (name: string) => saveScreenshot(page, name);

const rowUnits = () => page.locator('[data-testid="features-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-unit")));
const count = () => page.locator('[data-testid="features-count"]').first().textContent();
/** Units (in index order) whose code share passes `keep`; dead units (NaN) never do. */
const unitsWhere = (keep: (share: number) => boolean) =>
  Array.from(ws.store("A/1").columns.codeShare!).flatMap((s, i) => (!Number.isNaN(s) && keep(s) ? [`A/1/${i}`] : []));

describe("feature table domain filter in chromium", () => {
  it("shows each unit's code share from the store", async () => {
    await page.goto(`${url}features/A/1`);
    await expect.poll(count).toBe(`rows 1–${D_SAE} of ${D_SAE}`);
    const col = ws.store("A/1").columns.codeShare!;
    const live = Array.from({ length: D_SAE }, (_, i) => i).find((i) => !DEAD.includes(i))!;
    const shown = await page.locator(`[data-testid="features-row"][data-unit="A/1/${live}"] .col-codeShare [data-code-share]`).getAttribute("data-code-share");
    expect(Number(shown)).toBeCloseTo(col[live]!, 4);
    expect(await page.locator(`[data-testid="features-row"][data-unit="A/1/${DEAD[0]}"] .col-codeShare`).textContent()).toBe("—");
    expect(await page.locator('[data-testid="code-share-missing"]').count()).toBe(0);
  });

  it("domain code, then prose, then a minimum code share show exactly the expected units", async () => {
    const code = unitsWhere((s) => s >= 0.5);
    const prose = unitsWhere((s) => s < 0.5);
    // The fixture's two halves (prose, Python) differ enough that both sides are populated.
    expect(code.length).toBeGreaterThan(0);
    expect(prose.length).toBeGreaterThan(0);
    expect(code.length + prose.length).toBe(D_SAE - DEAD.length);

    await page.locator('[data-testid="domain-select"]').selectOption("code");
    await page.locator('[data-testid="density-apply"]').click();
    await page.waitForURL(/domain=code/);
    await expect.poll(rowUnits).toEqual(code);
    expect(await count()).toBe(`rows 1–${code.length} of ${code.length}`);
    expect(await page.locator('[data-testid="features-filters"]').textContent()).toContain("domain code (code share ≥ 0.5)");

    await page.locator('[data-testid="domain-select"]').selectOption("prose");
    await page.locator('[data-testid="density-apply"]').click();
    await page.waitForURL(/domain=prose/);
    await expect.poll(rowUnits).toEqual(prose);

    const strong = unitsWhere((s) => s >= 0.8);
    await page.locator('[data-testid="domain-select"]').selectOption("any");
    await page.locator('[data-testid="min-code-share"]').fill("0.8");
    await page.locator('[data-testid="density-apply"]').click();
    await page.waitForURL(/minCodeShare=0.8/);
    await expect.poll(rowUnits).toEqual(strong);
    expect(page.url()).not.toMatch(/domain=/);

    // Sorted by code share, descending: the column's order.
    await page.goto(`${url}features/A/1?sort=codeShare&domain=code`);
    const col = ws.store("A/1").columns.codeShare!;
    const sorted = [...code].sort((a, b) => col[Number(b.split("/")[2])]! - col[Number(a.split("/")[2])]! || Number(a.split("/")[2]) - Number(b.split("/")[2]));
    await expect.poll(rowUnits).toEqual(sorted);
    await shot("features-domain-code.png");

    await page.locator('[data-testid="min-code-share"]').fill("1.5");
    await page.locator('[data-testid="density-apply"]').click();
    await expect.poll(() => page.locator(".features-filter .form-error").textContent()).toContain("between 0 and 1");
    expect(pageErrors).toEqual([]);
  });

  it("the API filters the same way and refuses bad values by name", async () => {
    const res = await server.inject({ url: "/api/features/A/1?domain=prose&limit=1000" });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { rows: { name: string }[] }).rows.map((r) => r.name)).toEqual(unitsWhere((s) => s < 0.5));
    const bad = await server.inject({ url: "/api/features/A/1?domain=rust" });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as { error: string }).error).toMatch(/domain "rust" is not one of code, prose, any/);
  });
});
