/**
 * Steering and the prompt form in Chromium against `createServer` on the shipped models: the feature page of
 * A/1's " United" feature steers "The president of the" and shows the service's texts and the rise of " States"; the
 * prompt page keeps feature= after Analyse, prefills the steering panel with it, and checks empty and over-long
 * prompts before sending. Screenshots: test-artifacts/steer-feature.png, steer-prompt.png.
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { dashboardService } from "../../src/vis/service.js";
import { ARTIFACTS, startBrowserSession, type BrowserSession } from "../helpers/browser.js";
import { densestFeatureWithTopToken, type ShippedFeature } from "../helpers/shipped-features.js";

/** A/1's broad " United" feature (its index changes with each retraining). */
let UNITED: ShippedFeature;
let ws: Workspace;
let session: BrowserSession;
let server: FastifyInstance;
let url: string;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  ws = openWorkspace();
  UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
  session = await startBrowserSession(ws, { pageErrors, timeoutMs: 30_000 });
  ({ server, url, page } = session);
});
afterAll(async () => {
  await session?.close();
  ws?.close();
});

const pct = (p: number) => `${(100 * p).toFixed(2)} %`;

describe("steering in chromium", () => {
  it("the feature page of A/1's ' United' feature steers a prompt: the service's texts, and ' States' raised most", async () => {
    // +16: at the panel's default +8, likelier words (" Congress") rise more in probability than the rare " States".
    const want = dashboardService(ws).steer("A/1", "The president of the", [`${UNITED.index}=+16`], { tokens: 20 });
    await page.goto(`${url}feature/${UNITED.name}`);
    const panel = page.locator('[data-testid="steer-panel"]');
    // The session's first page also waits for the app bundle and the unit's record (slow on a loaded machine).
    await panel.locator('[data-testid="steer-features"]').waitFor({ timeout: 90_000 });
    expect(await panel.locator('[data-testid="steer-features"]').inputValue()).toBe(`${UNITED.index}=+8`);
    await panel.locator('[data-testid="steer-features"]').fill(`${UNITED.index}=+16`);
    await panel.locator('[data-testid="steer-text"]').fill("The president of the");
    await panel.locator('[data-testid="steer-tokens"]').fill("20");
    await panel.locator('[data-testid="steer-submit"]').click();
    await expect.poll(() => panel.locator('[data-testid="steer-steered"]').textContent()).toBe(`The president of the${want.steered.text}`);
    expect(await panel.locator('[data-testid="steer-unsteered"]').textContent()).toBe(`The president of the${want.unsteered.text}`);
    expect(want.steered.text).not.toBe(want.unsteered.text);
    const first = panel.locator('[data-testid="steer-raised"] [data-testid="steer-shift-row"]').first();
    expect(await first.getAttribute("data-token")).toBe(" States");
    expect(await first.locator("td").allTextContents()).toEqual(["·States", pct(want.nextToken.raised[0]!.before), pct(want.nextToken.raised[0]!.after)]);
    await page.screenshot({ path: path.join(ARTIFACTS, "steer-feature.png"), fullPage: true });
    // A bad spec is the server's 400 message, shown in the panel.
    await panel.locator('[data-testid="steer-features"]').fill(`${UNITED.index}=abc`);
    await panel.locator('[data-testid="steer-submit"]').click();
    await expect.poll(() => panel.locator('[data-testid="error"]').textContent()).toMatch(/expected UNIT=VALUE.*HTTP 400/);
  });

  it("the prompt page keeps feature= after Analyse, prefills steering with it, and checks the prompt before sending", async () => {
    await page.goto(`${url}prompt?run=A/1&text=${encodeURIComponent("France and the United States")}&feature=${UNITED.name}`);
    await expect.poll(() => page.locator('[data-testid="steer-panel"] [data-testid="steer-features"]').inputValue()).toBe(`${UNITED.index}=+8`);
    await page.locator('[data-testid="prompt-input"]').fill("Germany and the United Kingdom");
    await page.locator('[data-testid="prompt-submit"]').click();
    await page.waitForURL(/text=Germany/);
    expect(new URL(page.url()).searchParams.get("feature")).toBe(UNITED.name);
    await page.screenshot({ path: path.join(ARTIFACTS, "steer-prompt.png"), fullPage: true });
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.locator('[data-testid="prompt-input"]').fill("   ");
    await page.locator('[data-testid="prompt-submit"]').click();
    await expect.poll(() => page.locator('[data-testid="prompt-form-message"]').textContent()).toContain("the prompt is empty");
    await page.locator('[data-testid="prompt-input"]').fill("x".repeat(2001));
    await page.locator('[data-testid="prompt-submit"]').click();
    await expect.poll(() => page.locator('[data-testid="prompt-form-message"]').textContent()).toContain("2001 characters; the server takes at most 2000");
    expect(requests.filter((u) => u.includes("/api/prompt"))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
