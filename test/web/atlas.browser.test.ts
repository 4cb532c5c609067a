/**
 * The feature atlas in Chromium.
 *   /atlas/A: the planted families A/0 → A/1 → A/2 (test/analysis/family-fixture.ts, every run analysed), laid out by
 *   computeAtlas and stored in A/1's store as `analyze --atlas` does (atlas.safetensors + its manifest checksum);
 *   every point is drawn, hovering a point shows its unit's name, top tokens and density from the workspace, a
 *   click opens its feature page; colourings without data are disabled with a note.
 *   /atlas/B: 20,496 points (B/1 analysed plus two mapped runs B/2 4,096 and B/3 16,384 without stores, as the
 *   shipped sizes will be), drawn within 2 s of navigation.
 * Screenshots go to test-artifacts/ and, when SAEKIT_SCREENSHOTS is set, there too.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeAtlas, type Atlas } from "../../src/analysis/atlas.js";
import { ATLAS_FILE, decoderSha256, encodeAtlas } from "../../src/analysis/atlas-store.js";
import { INVESTIGATION_DIR } from "../../src/analysis/store.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { renderStaticPage } from "../../src/vis/html.js";
import { dashboardService } from "../../src/vis/service.js";
import { Rng } from "../../src/core/rng.js";
import { writeFileAtomicSync } from "../../src/io/atomic.js";
import { density as fmtDensity, tokenLabel } from "../../web/src/format.js";
import { buildFamilyFixture, type FamilyFixture } from "../analysis/family-fixture.js";
import { saveScreenshot, startBrowserSession, type BrowserSession } from "../helpers/browser.js";
import { atlasPointOnPage } from "../helpers/atlas-view.js";

let fx: FamilyFixture;
let ws: Workspace;
let session: BrowserSession;
let url: string;
let page: Page;
let atlasA: Atlas;
const pageErrors: string[] = [];
const BIG = { "B/1": 16, "B/2": 4096, "B/3": 16384 } as const;

/** Adds atlas.safetensors to a finished store the way the writer's addFile does: the file, then its checksum. */
function storeAtlas(storeDir: string, bytes: Uint8Array): void {
  writeFileAtomicSync(path.join(storeDir, ATLAS_FILE), bytes);
  const manifestPath = path.join(storeDir, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { checksums: Record<string, string> };
  manifest.checksums[ATLAS_FILE] = crypto.createHash("sha256").update(bytes).digest("hex");
  writeFileAtomicSync(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);
}

beforeAll(async () => {
  fx = await buildFamilyFixture();
  const runs = (["A/0", "A/1", "A/2"] as const).map((name) => ({ name, decoder: fx.saes[name]!.dec, units: fx.saes[name]!.dSae, dIn: fx.saes[name]!.dIn }));
  atlasA = computeAtlas(runs, { seed: 0, neighbors: 8 });
  storeAtlas(path.join(fx.root, "A", "1", INVESTIGATION_DIR), encodeAtlas(atlasA, (n) => decoderSha256(runs.find((r) => r.name === n)!.decoder)));
  // A map of the size of the shipped runs: coordinates in blobs (the layout itself is atlas.test.ts' business).
  const rng = new Rng(9);
  const n = Object.values(BIG).reduce((s, u) => s + u, 0);
  const coords = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const blob = rng.int(40);
    coords[2 * i] = Math.cos(blob) * 10 + rng.normal();
    coords[2 * i + 1] = Math.sin(blob * 1.7) * 10 + rng.normal();
  }
  const big: Atlas = { runs: Object.entries(BIG).map(([name, units]) => ({ name, units })), coords, params: { ...atlasA.params, epochs: 200 }, timing: { knn: 0, umap: 0 } };
  storeAtlas(path.join(fx.root, "B", "1", INVESTIGATION_DIR), encodeAtlas(big, () => "0".repeat(64)));
  ws = openWorkspace(fx.root);
  session = await startBrowserSession(ws, { pageErrors, consoleErrors: true });
  ({ url, page } = session);
}, 180_000);
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const shot = (name: string) => saveScreenshot(page, `${name}.png`);

const canvas = () => page.locator('[data-testid="atlas"] canvas.atlas-canvas');

/** The canvas position of a point of A's atlas. */
const pointOnPage = (index: number) => atlasPointOnPage(canvas(), atlasA.coords, index);

describe("atlas page", () => {
  it("draws every feature of A/0, A/1 and A/2, with hover labels from the stores and a click through to the feature page", async () => {
    await page.goto(`${url}atlas/A`);
    await expect.poll(() => canvas().getAttribute("data-points-drawn")).toBe("56");
    expect(await page.locator('[data-testid="atlas"]').getAttribute("data-points")).toBe("56");
    expect(await page.locator('[data-testid="atlas-legend"]').textContent()).toContain("A/2 · 32");
    // Hover a point of A/2: its name, top tokens and density are the store's.
    const target = 8 + 16 + 11; // A/2/11
    const store = ws.store("A/2");
    const p = await pointOnPage(target);
    await page.mouse.move(p.x, p.y);
    const tip = page.locator('[data-testid="atlas-tip"]');
    await expect.poll(() => tip.getAttribute("data-unit")).not.toBeNull();
    // Several points can sit within the hover radius: the tip names the one nearest the cursor, which is ours
    // unless another lies on top of it.
    const shown = (await tip.getAttribute("data-unit"))!;
    const [, run, idx] = /^(A\/\d)\/(\d+)$/.exec(shown)!;
    const shownIndex = { "A/0": 0, "A/1": 8, "A/2": 24 }[run as "A/0"]! + Number(idx);
    const dist = Math.hypot(atlasA.coords[2 * shownIndex]! - atlasA.coords[2 * target]!, atlasA.coords[2 * shownIndex + 1]! - atlasA.coords[2 * target + 1]!);
    if (shown !== "A/2/11") expect(dist).toBeLessThan(0.05);
    const shownStore = ws.store(run!);
    const tokens = shownStore.searchTable[Number(idx)]!.topTokens.slice(0, 3).map(tokenLabel);
    expect(await tip.locator(".token-chip").allTextContents()).toEqual(tokens);
    // The view sends densities to 3 significant digits.
    const density = Number(shownStore.columns.density[Number(idx)]!.toPrecision(3));
    expect(await tip.textContent()).toContain(`density ${fmtDensity(density)}`);
    expect(store.units).toBe(32);
    await shot("atlas-A-hover");
    // Click: the feature page of the hovered unit.
    await page.mouse.click(p.x, p.y);
    await page.waitForURL(new RegExp(`feature/${shown}$`));
    await page.locator('[data-testid="panel-family"]').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it("colours by density and score; code share is greyed out with a note when the stores have none", async () => {
    await page.goto(`${url}atlas/A`);
    await expect.poll(() => canvas().getAttribute("data-points-drawn")).toBe("56");
    const select = page.locator('[data-testid="atlas-colour"]');
    await select.selectOption("density");
    expect(await canvas().getAttribute("data-colour")).toBe("density");
    expect(await page.locator('[data-testid="atlas-legend"]').textContent()).toContain("density (log)");
    const hasCode = ["A/0", "A/1", "A/2"].some((r) => ws.store(r).columns.codeShare?.some(Number.isFinite));
    const codeOption = select.locator('option[value="codeShare"]');
    expect(await codeOption.isDisabled()).toBe(!hasCode);
    if (!hasCode) expect(await page.locator(".atlas-unavailable").first().textContent()).toContain("re-run `saekit analyze`");
    await select.selectOption("interpScore");
    expect(await page.locator('[data-testid="atlas-legend"]').textContent()).toContain("interpretability score");
    // Zoom in around the centre: fewer points in view, more zoom; reset shows them all again.
    const box = (await canvas().boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -1500);
    await expect.poll(async () => Number(await canvas().getAttribute("data-zoom"))).toBeGreaterThan(2);
    await shot("atlas-A-score-zoomed");
    await page.locator('[data-testid="atlas-reset"]').click();
    await expect.poll(() => canvas().getAttribute("data-points-drawn")).toBe("56");
    expect(pageErrors).toEqual([]);
  });

  it("renders all 20,496 points of a shipped-size map within 2 s and says which runs have no investigation", async () => {
    // The app bundle and the stores are built and opened on first use: warm them (the home page) first.
    const shell = await (await page.request.get(`${url}atlas/B`)).text();
    await page.request.get(new URL(/src="([^"]+)"/.exec(shell)![1]!, url).href);
    expect((await page.request.get(`${url}api/runs`)).ok()).toBe(true);
    await page.goto(`${url}atlas/B`);
    await canvas().and(page.locator('[data-points-drawn="20496"]')).waitFor({ timeout: 30_000 });
    // In-page clock: from the start of navigation to the first redraw with every point (server, JSON, draw).
    const elapsed = Number(await canvas().getAttribute("data-drawn-at"));
    const fetchMs = Number(await page.locator('[data-testid="atlas"]').getAttribute("data-fetch-ms"));
    console.log(`atlas of 20,496 points: drawn ${elapsed} ms after navigation (data ${fetchMs} ms)`);
    expect(elapsed).toBeLessThan(2000);
    const renderMs = Number(await canvas().getAttribute("data-render-ms"));
    expect(renderMs).toBeLessThan(200);
    expect(await page.locator(".atlas-unavailable").allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining("B/2 has no investigation"), expect.stringContaining("B/3 has no investigation")]),
    );
    await shot("atlas-B-20k");
    console.log(`atlas of 20,496 points: drawn ${elapsed} ms after navigation (data ${fetchMs} ms), one redraw ${renderMs} ms`);
    expect(pageErrors).toEqual([]);
  });

  it("is the same map in the self-contained export (saekit dashboard --atlas): points, hover labels, no server", async () => {
    const data = dashboardService(ws).atlasPageData("A");
    const file = path.join(fx.root, "atlas-A.html");
    fs.writeFileSync(file, renderStaticPage(data, "Atlas of A"));
    await page.goto(`file://${file}`);
    await expect.poll(() => canvas().getAttribute("data-points-drawn")).toBe("56");
    const p = await pointOnPage(0);
    await page.mouse.move(p.x, p.y);
    await expect.poll(() => page.locator('[data-testid="atlas-tip"]').getAttribute("data-unit")).toMatch(/^A\/\d\/\d+$/);
    // A click cannot open a page the file does not carry: the status line says so.
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => page.locator('[data-testid="atlas-status"]').textContent()).toContain("offline snapshot");
    await shot("atlas-A-export");
    expect(pageErrors).toEqual([]);
  });

  it("links the atlas from the home card of the run that stores it; an unknown model is a 404 naming the models", async () => {
    await page.goto(url);
    const link = page.locator('[data-testid="run-atlas-link"]');
    await expect.poll(() => link.count()).toBe(2);
    expect(await link.first().getAttribute("href")).toBe("/atlas/A");
    const res = await page.request.get(`${url}api/atlas/C`);
    expect(res.status()).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain("models: A, B");
  });
});
