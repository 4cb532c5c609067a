#!/usr/bin/env node
// Prints the frontier of scripts/l1-sweep.sh as a Markdown table: one row per SAE folder, from its training.json,
// eval.json (`saekit sae eval --save`) and investigation/summary.json (`saekit analyze`); a run inside a model folder
// is labelled MODEL/RUN (A/1), with its dictionary size and training tokens.
// Usage: node scripts/frontier-table.mjs SAE_DIR…   (ReLU+L1 rows by λ, then TopK rows by k)
import fs from "node:fs";
import path from "node:path";

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw new Error(`${file}: ${error.message}`);
  }
}
const pct = (x) => (x == null || !Number.isFinite(x) ? "—" : `${(100 * x).toFixed(1)} %`);
const tokensOf = (t) => {
  const n = t.tokensSeen ?? t.tokens ?? t.config?.tokens;
  return Number.isFinite(n) ? `${(n / 1e6).toFixed(0)} M` : "—";
};
const num = (x, d = 1) => (x == null || !Number.isFinite(x) ? "—" : x.toFixed(d));

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error("usage: node scripts/frontier-table.mjs SAE_DIR…");
  process.exit(2);
}
const pending = dirs.filter((dir) => !fs.existsSync(path.join(dir, "cfg.json")));
const rows = dirs.filter((dir) => !pending.includes(dir)).map((dir) => {
  const cfg = readJson(path.join(dir, "cfg.json"));
  const training = readJson(path.join(dir, "training.json"));
  const ev = readJson(path.join(dir, "eval.json")) ?? readJson(`${dir}.eval.json`);
  const interp = readJson(path.join(dir, "investigation", "summary.json"))?.interpretability?.features;
  const t = training ?? cfg.saekit?.training ?? {};
  const topk = (t.architecture ?? cfg.architecture) === "topk";
  const l1 = t.l1Coefficient ?? t.config?.l1Coefficient ?? cfg.l1_coefficient ?? NaN;
  const k = t.k ?? cfg.k ?? NaN;
  // A run inside a model folder (config.json beside it) is named MODEL/RUN, as in the paper: A/1.
  const parent = path.dirname(path.resolve(dir));
  const label = fs.existsSync(path.join(parent, "config.json")) ? `${path.basename(parent)}/${path.basename(dir)}` : path.basename(dir);
  const below = (t) => ev?.lowDensity?.below?.find((b) => b.threshold === t)?.share;
  return {
    order: topk ? 1e6 + k : l1,
    label,
    cells: [
      label, num(cfg.d_sae, 0), tokensOf(t), topk ? `TopK k = ${k}` : `ReLU+L1 λ = ${num(l1, 2)}`, num(ev?.overall?.l0), num(ev?.domains?.prose?.l0), num(ev?.domains?.code?.l0),
      pct(ev?.domains?.prose?.lossRecovered), pct(ev?.domains?.code?.lossRecovered), pct(ev?.deadFraction),
      pct(below(1e-4)), pct(below(1e-5)), num(interp?.median, 3), pct(interp?.share_spec_sens_ge_0_8),
    ],
  };
});
rows.sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
const head = ["run", "features", "tokens", "recipe", "L0", "L0 prose", "L0 code", "CE rec. prose", "CE rec. code", "dead", "< 1e-4", "< 1e-5", "score median", "spec&sens ≥ 0.8"];
console.log(`| ${head.join(" | ")} |`);
console.log(`|${head.map(() => "---").join("|")}|`);
for (const r of rows) console.log(`| ${r.cells.join(" | ")} |`);
if (pending.length) console.log(`\nnot finished (no cfg.json yet): ${pending.map((d) => path.basename(d)).join(", ")}`);
