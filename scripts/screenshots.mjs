#!/usr/bin/env node
// Full-page PNGs of saekit's dashboards for notes and cards: serves a models folder on 127.0.0.1 (the server
// `saekit serve` runs) and opens each page in Debian's Chromium through playwright-core (never a download).
// A page is a path of the web app: a unit (A/1/617 → feature/A/1/617, A/neuron/3 → neuron/A/3 as the app routes
// them: give the path as the app shows it), "" for the home page, "atlas/A" and so on.
// Usage: node scripts/screenshots.mjs --models DIR --out DIR PAGE… [--wait SELECTOR] [--width 1280]
//   e.g. node scripts/screenshots.mjs --models models --out /tmp/shots feature/A/1/617 feature/A/2/100 ""
// Needs `npm run build` (dist/) and chromium (CHROMIUM_PATH overrides /usr/bin/chromium).
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const { values: o, positionals: pages } = parseArgs({
  allowPositionals: true,
  options: { models: { type: "string" }, out: { type: "string" }, wait: { type: "string", default: "main" }, width: { type: "string", default: "1280" } },
});
if (!o.models || !o.out || pages.length === 0) {
  console.error("usage: node scripts/screenshots.mjs --models DIR --out DIR PAGE… [--wait SELECTOR] [--width 1280]");
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!fs.existsSync(chromiumPath)) {
  console.error(`no chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`);
  process.exit(1);
}
const dist = new URL("../dist/src/", import.meta.url);
const { openWorkspace } = await import(new URL("analysis/workspace.js", dist).href);
const { createServer, listen } = await import(new URL("web/server.js", dist).href);
const { chromium } = await import("playwright-core");

fs.mkdirSync(o.out, { recursive: true });
const server = createServer(openWorkspace(path.resolve(o.models)));
const url = await listen(server, { port: 0 });
const browser = await chromium.launch({ executablePath: chromiumPath });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: Number(o.width), height: 900 } });
  page.on("pageerror", (e) => errors.push(e.message));
  page.setDefaultTimeout(60_000);
  for (const p of pages) {
    await page.goto(`${url}${p.replace(/^\//, "")}`);
    await page.locator(o.wait).first().waitFor();
    await page.waitForLoadState("networkidle");
    const file = path.join(o.out, `${(p || "home").replace(/[^A-Za-z0-9_.-]+/g, "-")}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${file}`);
  }
} finally {
  await browser.close();
  await server.close();
}
if (errors.length) {
  console.error(`page errors:\n${errors.join("\n")}`);
  process.exit(1);
}
