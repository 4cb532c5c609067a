/**
 * One Chromium session against `createServer(ws)` on 127.0.0.1 for the browser tests: Debian's chromium through
 * playwright-core (never a download), a 1280×900 page whose uncaught errors (and, on request, console errors) are
 * collected, and test-artifacts/ for screenshots.
 */
import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { chromium, type Browser, type Page } from "playwright-core";
import type { Workspace } from "../../src/analysis/workspace.js";
import { createServer, listen } from "../../src/web/server.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = path.resolve("test-artifacts");

export interface BrowserSession {
  server: FastifyInstance;
  /** The server's base URL, ending in "/". */
  url: string;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function startBrowserSession(
  ws: Workspace,
  opts: { pageErrors: string[]; consoleErrors?: boolean; timeoutMs?: number },
): Promise<BrowserSession> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const server = createServer(ws);
  const url = await listen(server, { port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => opts.pageErrors.push(`page error: ${e.message}`));
  if (opts.consoleErrors) {
    page.on("console", (m) => {
      if (m.type() === "error") opts.pageErrors.push(`console error: ${m.text()}`);
    });
  }
  page.setDefaultTimeout(opts.timeoutMs ?? 20_000);
  return {
    server, url, browser, page,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * A full-page screenshot into test-artifacts/, copied into $SAEKIT_SCREENSHOTS too when it is set (the pictures a
 * session note lists). `file` includes its extension, e.g. "atlas-A-hover.png".
 */
export async function saveScreenshot(page: Page, file: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
  const dir = process.env.SAEKIT_SCREENSHOTS;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(ARTIFACTS, file), path.join(dir, file));
  }
}
