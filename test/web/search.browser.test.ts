/**
 * Exact-token search in Chromium against `createServer` on the fixture workspace: the query keeps its leading space
 * (shown ·), the list and its true count are the service's, ignore case and exact toggles, the run filter and the
 * pager. Screenshot: test-artifacts/search-exact.png.
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { dashboardService, type DashboardService } from "../../src/vis/service.js";
import { buildFixture, type Fixture } from "./fixture.js";
import { ARTIFACTS, startBrowserSession, type BrowserSession } from "../helpers/browser.js";

let fx: Fixture;
let ws: Workspace;
let svc: DashboardService;
let session: BrowserSession;
let server: FastifyInstance;
let url: string;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  svc = dashboardService(ws);
  session = await startBrowserSession(ws, { pageErrors });
  ({ server, url, page } = session);
});
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const shown = () => page.locator('[data-testid="search-result"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-unit")));
const countText = () => page.locator('[data-testid="search-count"]').first().textContent();

describe("search in chromium", () => {
  it("a query with a leading space: exact matches first, the service's list and true count", async () => {
    await page.goto(url);
    await page.locator('[data-testid="search-input"]').fill(" the");
    await page.locator('[data-testid="search-input"]').press("Enter");
    await page.waitForURL(/\/search\?q=\+the|\/search\?q=%20the/);
    const want = svc.search(" the", undefined, 50);
    expect(want.total).toBeGreaterThan(0);
    await expect.poll(countText).toBe(`1–${Math.min(50, want.total!)} of ${want.total} result${want.total === 1 ? "" : "s"}`);
    expect(await shown()).toEqual(want.hits.map((h) => h.name));
    expect(await page.locator('[data-testid="search-query"]').textContent()).toBe("“·the”");
    const first = page.locator('[data-testid="search-result"]').first();
    expect(await first.locator(".chip").textContent()).toBe(want.hits[0]!.field === "label" ? want.hits[0]!.text : want.hits[0]!.text.replace(/ /g, "·"));
    await page.screenshot({ path: path.join(ARTIFACTS, "search-exact.png"), fullPage: true });
  });

  it("exact-only and ignore-case toggles and the run filter change the list as the service does", async () => {
    await page.locator('[data-testid="search-exact"]').check();
    await page.waitForURL(/exact=1/);
    const exact = svc.search(" the", undefined, 50, { exact: true });
    await expect.poll(shown).toEqual(exact.hits.map((h) => h.name));
    expect(await page.locator('[data-testid="hit-match"]').evaluateAll((els) => els.map((e) => e.textContent))).toEqual(exact.hits.map((h) => h.match));
    await page.locator('[data-testid="search-filter"]', { hasText: "B/1" }).click();
    await page.waitForURL(/run=B%2F1/);
    const inB = svc.search(" the", "B/1", 50, { exact: true });
    await expect.poll(shown).toEqual(inB.hits.map((h) => h.name));
    await page.goto(`${url}search?q=${encodeURIComponent(" THE")}&exact=1`);
    await expect.poll(countText).toBe("no results");
    await page.locator('[data-testid="search-ignoreCase"]').check();
    await page.waitForURL(/ignoreCase=1/);
    const folded = svc.search(" THE", undefined, 50, { exact: true, ignoreCase: true });
    // Case folded: " the" and " The" both count, so at least the exact case-sensitive matches.
    expect(folded.total).toBeGreaterThanOrEqual(exact.total!);
    expect(folded.hits.every((h) => h.field === "name" || h.text.toLowerCase() === " the")).toBe(true);
    await expect.poll(shown).toEqual(folded.hits.map((h) => h.name));
  });

  it("pages through a long list", async () => {
    const all = svc.search("e", undefined, 500);
    expect(all.total).toBeGreaterThan(50);
    await page.goto(`${url}search?q=e`);
    await expect.poll(countText).toBe(`1–50 of ${all.total} results`);
    await page.locator('[data-testid="search-next"]').first().click();
    await page.waitForURL(/offset=50/);
    await expect.poll(shown).toEqual(all.hits.slice(50, 100).map((h) => h.name));
    expect(await countText()).toBe(`51–${Math.min(100, all.total!)} of ${all.total} results`);
    expect(pageErrors).toEqual([]);
  });
});
