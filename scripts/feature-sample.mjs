#!/usr/bin/env node
// The features of an analysed run with the highest interpretability score and a seeded random sample of its live
// features, as a Markdown table: score, spec, sens of the best automatic proxy (stores written before the score: the
// stored top-token proxy's spec and sens), the proxy, density, top activating tokens,
// top promoted logits, mean ablation effect, best B match and most correlated neuron (what a note or card shows).
// Usage: node scripts/feature-sample.mjs --run A/1 [--models DIR] [--top 10] [--random 10] [--seed 1]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: { run: { type: "string" }, models: { type: "string" }, top: { type: "string", default: "10" }, random: { type: "string", default: "10" }, seed: { type: "string", default: "1" } },
});
if (!o.run) {
  console.error("usage: node scripts/feature-sample.mjs --run A/1 [--models DIR] [--top 10] [--random 10] [--seed 1]");
  process.exit(2);
}
const bin = new URL("../bin/saekit.js", import.meta.url).pathname;
const models = o.models ? ["--models", o.models] : [];
const saekit = (...args) => execFileSync(process.execPath, [bin, ...args, ...models], { encoding: "utf8", maxBuffer: 1 << 30 });
const page = (...args) => JSON.parse(saekit("features", "--run", o.run, "--json", ...args));
/** Every row the filters keep, 1,000 per call (the features command's page limit). */
function allRows(...args) {
  const rows = [];
  for (let offset = 0; ; offset += 1000) {
    const p = page(...args, "--limit", "1000", "--offset", String(offset));
    rows.push(...p.rows);
    if (p.rows.length === 0 || rows.length >= p.total) return rows;
  }
}

// The project's seeded generator (src/core/rng.ts), so the random sample is the same on every machine.
const { Rng } = await import(new URL("../dist/src/core/rng.js", import.meta.url).href);

const top = page("--sort", "score", "--desc", "--limit", o.top).rows;
const live = allRows("--sort", "index", "--density-min", "1e-12");
const random = new Rng(Number(o.seed));
const pool = [...live];
const sample = [];
for (let i = 0; i < Number(o.random) && pool.length > 0; i++) sample.push(pool.splice(random.int(pool.length), 1)[0]);
sample.sort((a, b) => a.index - b.index);

const tmp = fs.mkdtempSync(join(os.tmpdir(), "saekit-sample-"));
const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(d));
const sci = (x) => (x > 0 ? x.toExponential(1) : "0");
const quote = (s) => s.replace(/\|/g, "\\|").replace(/\n/g, "⏎");
function row(r) {
  const file = join(tmp, `${r.index}.json`);
  saekit("investigate", r.name, "--json", file, "--examples", "0");
  const u = JSON.parse(fs.readFileSync(file, "utf8")).unit;
  const it = u.interpretability ?? null;
  const logits = (u.logits?.top ?? []).slice(0, 4).map((t) => JSON.stringify(t.text)).join(" ");
  const ablation = u.ablation?.mean ?? r.lossEffect;
  return `| ${r.name} | ${fmt(r.score)} | ${fmt(it?.spec ?? r.specificity)} / ${fmt(it?.sens ?? r.sensitivity)} | ${quote(it?.proxy ?? "—")} | ${sci(r.density)} | ${quote(r.label ?? "")} | ${quote(logits)} | ${fmt(ablation, 4)} | ${r.match ? `${r.match} (${fmt(r.matchR, 2)})` : "—"} | ${r.neuron ? `${r.neuron} (${fmt(r.neuronR, 2)})` : "—"} |`;
}
const header = "| feature | score | spec / sens | best proxy | density | top tokens | top logits | loss effect | best match (r) | neuron (r) |\n|---|---|---|---|---|---|---|---|---|---|";
console.log(`### ${o.run}: the ${top.length} features with the highest score\n\n${header}\n${top.map(row).join("\n")}\n`);
console.log(`### ${o.run}: ${sample.length} live features at random (seed ${o.seed}, of ${live.length})\n\n${header}\n${sample.map(row).join("\n")}`);
fs.rmSync(tmp, { recursive: true, force: true });
