/**
 * The shipped atlas in Chromium (issue 16's "done when"): /atlas/A draws every feature of the shipped A/0, A/1 and
 * A/2 (512 + 4,096 + 16,384 = 20,992 points, stored in A/1's investigation by `analyze --atlas`) within 2 s of
 * navigation; a hovered point is named from the stores and a click opens its feature page with its family panel.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAtlas, type StoredAtlas } from "../../src/analysis/atlas-store.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { saveScreenshot, startBrowserSession, type BrowserSession } from "../helpers/browser.js";
import { atlasPointOnPage } from "../helpers/atlas-view.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

let ws: Workspace;
let session: BrowserSession;
let url: string;
let page: Page;
let atlas: StoredAtlas;
const pageErrors: string[] = [];
const SIZES = { "A/0": 512, "A/1": 4096, "A/2": 16384 } as const;
const POINTS = 512 + 4096 + 16384;

beforeAll(async () => {
  ws = openWorkspace();
  atlas = readAtlas(ws.store("A/1").dir)!;
  session = await startBrowserSession(ws, { pageErrors, timeoutMs: 30_000 });
  ({ url, page } = session);
}, 180_000);
afterAll(async () => {
  await session?.close();
  ws?.close();
});

const canvas = () => page.locator('[data-testid="atlas"] canvas.atlas-canvas');

const pointOnPage = (index: number) => atlasPointOnPage(canvas(), atlas.coords, index);

describe("the shipped atlas of model A", () => {
  it("holds A/0, A/1 and A/2 whole", () => {
    expect(atlas.runs.map((r) => [r.name, r.units])).toEqual(Object.entries(SIZES));
    expect(atlas.coords.length).toBe(2 * POINTS);
    expect(atlas.coords.every(Number.isFinite)).toBe(true);
  });

  it("draws all 20,992 points within 2 s of navigation; a hovered point clicks through to its feature page", async () => {
    // The app bundle and the stores are built and opened on first use: warm them first, as a returning user has.
    const shell = await (await page.request.get(`${url}atlas/A`)).text();
    await page.request.get(new URL(/src="([^"]+)"/.exec(shell)![1]!, url).href);
    expect((await page.request.get(`${url}api/runs`)).ok()).toBe(true);
    expect((await page.request.get(`${url}api/atlas/A`)).ok()).toBe(true);
    await page.goto(`${url}atlas/A`);
    await canvas().and(page.locator(`[data-points-drawn="${POINTS}"]`)).waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid="atlas"]').getAttribute("data-points")).toBe(String(POINTS));
    const elapsed = Number(await canvas().getAttribute("data-drawn-at"));
    const renderMs = Number(await canvas().getAttribute("data-render-ms"));
    console.log(`shipped atlas of ${POINTS} points: drawn ${elapsed} ms after navigation, one redraw ${renderMs} ms`);
    expect(elapsed).toBeLessThan(2000);
    const legend = await page.locator('[data-testid="atlas-legend"]').textContent();
    for (const [run, units] of Object.entries(SIZES)) expect(legend).toContain(`${run} · ${units.toLocaleString("en-US")}`);
    // Every shipped store has code shares, so that colouring is offered.
    expect(await page.locator('[data-testid="atlas-colour"] option[value="codeShare"]').isDisabled()).toBe(false);
    await saveScreenshot(page, "atlas-shipped-A.png");
    // Hover A/1's " United" feature's point; the tip names the nearest unit under the cursor, from the stores.
    const united = densestFeatureWithTopToken(ws, "A/1", " United");
    const p = await pointOnPage(SIZES["A/0"] + united.index);
    await page.mouse.move(p.x, p.y);
    const tip = page.locator('[data-testid="atlas-tip"]');
    await expect.poll(() => tip.getAttribute("data-unit")).toMatch(/^A\/[012]\/\d+$/);
    const shown = (await tip.getAttribute("data-unit"))!;
    const [, run, idx] = /^(A\/[012])\/(\d+)$/.exec(shown)!;
    const top = ws.store(run!).searchTable[Number(idx)]!.topTokens[0]!;
    expect(await tip.textContent()).toContain(top.trim());
    await page.mouse.click(p.x, p.y);
    await page.waitForURL(new RegExp(`feature/${shown}$`));
    await page.locator('[data-testid="panel-family"]').waitFor();
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
