/**
 * The prompt page's per-token prediction, token details panel, keyboard reach, byte-level text and dark theme in
 * Chromium against `createServer` on the shipped A/1: every figure shown is checked against the service's own
 * analysis (DashboardService.prompt, the same code /api/prompt runs). Screenshots: test-artifacts/prompt-*.png and,
 * when SAEKIT_SCREENSHOTS is set, that folder.
 */
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import type { PromptAnalysis } from "../../src/analysis/unit-record.js";
import { renderStaticPage } from "../../src/vis/html.js";
import { dashboardService } from "../../src/vis/service.js";
import { fmt, signed, tokenLabel } from "../../web/src/format.js";
import { ARTIFACTS, saveScreenshot, startBrowserSession, type BrowserSession } from "../helpers/browser.js";
import { densestFeatureWithTopToken, type ShippedFeature } from "../helpers/shipped-features.js";

/** A/1's broad " United" feature (its index changes with each retraining). */
let UNITED: ShippedFeature;
let ws: Workspace;
let session: BrowserSession;
let url: string;
let page: Page;
const pageErrors: string[] = [];
const TEXT = "France and the United States";

beforeAll(async () => {
  ws = openWorkspace();
  UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
  session = await startBrowserSession(ws, { pageErrors, consoleErrors: true, timeoutMs: 30_000 });
  ({ url, page } = session);
});
afterAll(async () => {
  await session?.close();
  ws?.close();
});

const shot = saveScreenshot;

const pctProb = (p: number) => `${(100 * p).toFixed(p >= 0.0995 ? 1 : 2)} %`;
const byTestId = (id: string, p: Page = page) => p.locator(`[data-testid="${id}"]`);
const promptUrl = (text: string, feature = UNITED.name) => `${url}prompt?run=A/1&text=${encodeURIComponent(text)}&feature=${feature}`;

/** The rows of the prediction panel: next tokens and the ranked features, as shown. */
async function shownPrediction(p: Page = page) {
  const next = await byTestId("next-token-row", p).evaluateAll((rows) => rows.map((r) => ({ id: Number(r.getAttribute("data-token-id")), cells: [...r.querySelectorAll("td")].map((td) => td.textContent) })));
  const feats = await byTestId("prediction-feature", p).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].slice(1).map((td) => td.querySelector('[data-testid="feature-link"]')?.textContent ?? td.textContent)));
  return { next, feats };
}

describe("the prompt page's prediction at a token", () => {
  let a: PromptAnalysis;

  it("clicking a token shows the model's top next tokens and the features active there, ranked as the API ranks them", async () => {
    a = dashboardService(ws).prompt("A/1", TEXT);
    const i = a.tokens.findIndex((t) => t.text === " United");
    expect(i).toBe(3);
    await page.goto(promptUrl(TEXT));
    await byTestId("prediction-features").waitFor();
    // The last token is picked first: its target is the model's own top prediction.
    expect(await byTestId("prediction-title").textContent()).toBe(`Prediction at token #${a.tokens.length - 1} ·States`);
    expect(await byTestId("prediction-target").textContent()).toContain("Last token");
    await byTestId("prompt-token").nth(i).click();
    await expect.poll(() => byTestId("prediction-title").textContent()).toBe(`Prediction at token #${i} ·United`);
    const pred = a.tokens[i]!.prediction!;
    expect(pred.target).toMatchObject({ text: " States", actual: true });
    expect(await byTestId("prediction-target").textContent()).toBe(`The actual next token is ·States (P = ${pctProb(pred.target.prob)}).`);
    const shown = await shownPrediction();
    expect(shown.next.map((r) => r.id)).toEqual(pred.top.map((x) => x.id));
    expect(shown.next.map((r) => r.cells[2])).toEqual(pred.top.map((x) => pctProb(x.prob)));
    expect(shown.next[0]!.cells[1]).toBe("·States actual");
    // Ranked by activation (the default), every active feature with its three figures.
    const row = (f: (typeof pred.features)[number]) => [f.name, fmt(f.activation), signed(f.logitEffect), signed(f.lossEffect)];
    expect(shown.feats.map((r) => [r[0], r[1], r[2], r[3]])).toEqual(pred.features.map(row));
    expect(shown.feats[0]![0]).toBe(UNITED.name);
    expect(pred.features.length).toBeGreaterThan(10);
    // By direct logit effect on " States", then by loss effect.
    for (const key of ["logitEffect", "lossEffect"] as const) {
      await page.locator(`[data-testid="prediction-panel"] button[data-order="${key}"]`).click();
      await expect.poll(() => byTestId("prediction-features").getAttribute("data-order")).toBe(key);
      const sorted = [...pred.features].sort((x, y) => y[key] - x[key] || x.index - y.index);
      expect((await shownPrediction()).feats.map((r) => r[0])).toEqual(sorted.map((f) => f.name));
    }
    expect(await page.locator('[data-testid="prediction-panel"] th').allTextContents()).toContain("logit ·States");
    // A ranking's "at" chip picks that token too.
    const top = a.rankings.maxActivation[0]!;
    await byTestId("ranking-maxActivation").locator("tbody tr").first().locator("button").click();
    await expect.poll(() => byTestId("prediction-title").textContent()).toContain(`token #${top.position} `);
    await shot(page, "prompt-prediction-light.png");
  }, 400_000); // the session's first page: the app bundle is built and the model loaded

  it("tokens are reached by keyboard: Tab lands on the token list, arrows move the focus and the details panel, Enter picks", async () => {
    await byTestId("prompt-token").nth(2).click(); // the list's tab stop is now token 2
    await byTestId("selected-feature-link").focus();
    await page.keyboard.press("Tab");
    const focused = () => page.evaluate<string | null>(`document.activeElement?.getAttribute("data-index") ?? null`);
    expect(await focused()).toBe("2");
    const tip = byTestId("token-tooltip");
    await expect.poll(() => tip.isVisible()).toBe(true);
    await page.keyboard.press("ArrowRight");
    expect(await focused()).toBe("3");
    const t3 = a.tokens[3]!;
    await expect.poll(() => tip.textContent()).toContain(`token id${t3.id}`);
    expect(await tip.textContent()).toContain(`bytes${t3.bytes!.map((b) => b.toString(16).padStart(2, "0")).join(" ")}`);
    expect(await byTestId("tip-activation").textContent()).toBe(`activation ${fmt(t3.prediction!.features.find((f) => f.name === UNITED.name)!.activation)}`);
    const part = t3.prediction!.features.find((f) => f.name === UNITED.name)!;
    expect(await byTestId("tip-delta").textContent()).toBe(`${signed(-part.lossEffect)} when zeroed here`);
    expect(await page.evaluate(`document.activeElement?.getAttribute("aria-describedby")`)).toBe("token-tooltip");
    await page.keyboard.press("End");
    expect(await focused()).toBe(String(a.tokens.length - 1));
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Enter");
    await expect.poll(() => byTestId("prediction-title").textContent()).toBe(`Prediction at token #1 ${tokenLabel(a.tokens[1]!.text)}`);
    await page.keyboard.press("Escape");
    await expect.poll(() => tip.isVisible()).toBe(false);
  });

  it("a Cyrillic prompt reads as text: characters split between tokens are merged, each token's bytes in its panel", async () => {
    const text = "Привет, мир";
    const c = dashboardService(ws).prompt("A/1", text);
    expect(c.tokens[0]!.text).toBe("\ufffd");
    await page.goto(promptUrl(text, "A/1/0"));
    await byTestId("prediction-features").waitFor();
    const shown = await byTestId("prompt-token").allTextContents();
    expect(shown).toHaveLength(c.tokens.length);
    expect(shown.join("")).toBe(text);
    expect(shown.slice(0, 3)).toEqual(["П", "", "р"]);
    expect(await byTestId("prompt-text").textContent()).not.toContain("\ufffd");
    await byTestId("prompt-token").nth(1).hover();
    await expect.poll(() => byTestId("tip-bytes").textContent()).toBe("9f");
    expect(await byTestId("token-tooltip").textContent()).toContain("decoded withtokens #0–#1 as “П”");
    expect(await byTestId("prompt-token").nth(0).getAttribute("data-run")).toBe("0-1");
    await shot(page, "prompt-cyrillic.png");
  });

  it("picking a token sets the steering panel's position, and the shift shown is the service's at that token", async () => {
    await page.goto(promptUrl(TEXT));
    await byTestId("prediction-features").waitFor();
    await byTestId("prompt-token").nth(2).click();
    const panel = byTestId("steer-panel");
    expect(await panel.locator('[data-testid="steer-position"]').inputValue()).toBe("2");
    await panel.locator('[data-testid="steer-tokens"]').fill("2");
    await panel.locator('[data-testid="steer-submit"]').click();
    await expect.poll(() => byTestId("steer-shift-caption").getAttribute("data-position")).toBe("2");
    const want = dashboardService(ws).steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 2, position: 2 });
    expect(await byTestId("steer-shift-caption").textContent()).toContain(`after “·the” (prompt token #2 of ${want.promptTokens.length})`);
    const rows = await panel.locator('[data-testid="steer-raised"] [data-testid="steer-shift-row"]').evaluateAll((r) => r.map((x) => x.getAttribute("data-token")));
    expect(rows).toEqual(want.nextToken.raised.slice(0, 8).map((s) => s.text));
    // The last token's shift differs: the position was used.
    const last = dashboardService(ws).steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 2 });
    expect(last.nextToken.raised.map((s) => s.id)).not.toEqual(want.nextToken.raised.map((s) => s.id));
  });
});

describe("the self-contained prompt page", () => {
  it("shows the same prediction panel and merged text offline (saekit dashboard --prompt)", async () => {
    const text = "Привет, мир";
    const data = dashboardService(ws).promptPageData("A/1", text);
    const file = path.join(ARTIFACTS, "prompt-static.html");
    fs.writeFileSync(file, renderStaticPage(data, "static prompt"));
    await page.goto(`file://${file}`);
    await byTestId("prediction-features").waitFor();
    expect((await byTestId("prompt-token").allTextContents()).join("")).toBe(text);
    // A whole letter whose actual next token is below the top 10: that token gets a row of its own after them.
    const at = data.prompt.tokens.findIndex((t) => !t.text.includes("\ufffd") && t.prediction !== undefined && !t.prediction.top.some((x) => x.id === t.prediction!.target.id));
    expect(at).toBeGreaterThan(0);
    await byTestId("prompt-token").nth(at).click();
    await expect.poll(() => byTestId("prediction-title").textContent()).toBe(`Prediction at token #${at} ${data.prompt.tokens[at]!.text}`);
    const pred = data.prompt.tokens[at]!.prediction!;
    const shown = await shownPrediction();
    expect(shown.next.map((r) => r.id)).toEqual([...pred.top.map((x) => x.id), pred.target.id]);
    expect(shown.next.at(-1)!.cells).toEqual(["…", `${tokenLabel(pred.target.text)} actual`, pctProb(pred.target.prob)]);
    expect(shown.feats.map((r) => r[0])).toEqual(pred.features.map((f) => f.name));
  });
});

describe("feature pages", () => {
  it("j / ] and k / [ open the next and previous feature; example tokens have the details panel", async () => {
    await page.goto(`${url}feature/${UNITED.name}`);
    // The first page of a session also waits for the app bundle to be built.
    await byTestId("unit-next").waitFor({ timeout: 90_000 });
    const i = UNITED.index;
    expect(i > 0 && i < 4095).toBe(true); // j and k below step to both neighbours
    for (const [key, unit] of [["j", i + 1], ["[", i], ["k", i - 1], ["]", i]] as const) {
      await page.keyboard.press(key);
      await page.waitForURL(new RegExp(`/feature/A/1/${unit}$`));
      await expect.poll(() => byTestId("unit-name").textContent()).toContain(`A/1/${unit}`);
    }
    await byTestId("panel-examples").locator('[data-testid="token"]').first().waitFor();
    // Typing in a field is not a shortcut.
    await page.locator(".search-form input").fill("j");
    expect(page.url()).toMatch(new RegExp(`/feature/A/1/${UNITED.index}$`));
    const unit = ws.unit(UNITED.name);
    const centre = byTestId("panel-examples").locator(".tok.centre").first();
    await centre.hover();
    const act = unit.top[0]!.tokens[unit.top[0]!.position - unit.top[0]!.start]!.activation;
    await expect.poll(() => byTestId("tip-activation").textContent()).toBe(`${fmt(act)}  (100 % of max)`);
    // Keyboard: the list's tab stop, arrows within a window, down to the next window's centre token.
    await centre.focus();
    await page.keyboard.press("ArrowDown");
    const active = await page.evaluate(`({ centre: document.activeElement?.classList.contains("centre"), act: document.activeElement?.getAttribute("data-activation") })`);
    const second = unit.top[1]!;
    expect(active).toEqual({ centre: true, act: String(second.tokens[second.position - second.start]!.activation) });
  });
});

describe("dark theme", () => {
  it("follows prefers-color-scheme: dark surfaces, light text, chart colours from the theme", async () => {
    const dark = await session.browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
    dark.on("pageerror", (e) => pageErrors.push(`page error: ${e.message}`));
    await dark.goto(promptUrl(TEXT));
    await byTestId("prediction-features", dark).waitFor();
    await byTestId("prompt-token", dark).nth(3).click();
    await byTestId("prompt-token", dark).nth(3).hover();
    // A string: the test project compiles without the DOM library.
    const colours = await dark.evaluate(`(() => {
      const bg = (sel) => getComputedStyle(document.querySelector(sel)).backgroundColor;
      return {
        body: bg("body"),
        text: getComputedStyle(document.body).color,
        panel: bg('[data-testid="prediction-panel"]'),
        textarea: bg('[data-testid="prompt-input"]'),
        tooltip: bg('[data-testid="token-tooltip"]'),
        chartText: getComputedStyle(document.documentElement).getPropertyValue("--chart-text").trim(),
      };
    })()`);
    expect(colours).toEqual({ body: "rgb(17, 20, 24)", text: "rgb(227, 230, 234)", panel: "rgb(27, 31, 36)", textarea: "rgb(20, 24, 28)", tooltip: "rgb(36, 42, 49)", chartText: "#b4bcc6" });
    await shot(dark, "prompt-prediction-dark.png");
    // The light page keeps the light theme.
    expect(await page.evaluate(`getComputedStyle(document.body).backgroundColor`)).toBe("rgb(245, 246, 248)");
    await dark.goto(`${url}feature/${UNITED.name}`);
    await byTestId("panel-activations", dark).locator("canvas").first().waitFor();
    await shot(dark, "feature-dark.png");
    await dark.close();
  });

  it("raised no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
