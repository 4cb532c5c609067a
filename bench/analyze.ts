/**
 * The investigation of a shipped run: `analyzeRun` over the evaluation tokens (default 1,048,576: validation prose +
 * code, then training text) for every feature of models/A/1 and every neuron of model A, matched against models/B/1
 * (issue 5's budget: all 4,096 features over 1M tokens in ≤ 5 minutes on the 2-core machine). Then the store's read
 * side: one unit's full record, and a search, which the dashboards do per page. Writes to a temporary folder.
 * Set SAEKIT_BENCH_ANALYZE_TOKENS to bench a smaller stream.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeRun } from "../src/analysis/analyze.js";
import { DEFAULT_EVALUATION_TOKENS, evaluationTokens } from "../src/analysis/eval-tokens.js";
import { openInvestigation } from "../src/analysis/store.js";
import { loadGpt2Tokenizer } from "../src/data/tokenizer.js";
import { loadCorpusSplits } from "../src/model/corpus-splits.js";
import { loadSaeRun } from "../src/sae/run-folder.js";
import { kernels } from "../src/core/backend.js";
import { table } from "./timing.js";

export async function benchAnalyze(): Promise<void> {
  // The repository root, from dist/bench (npm run bench) or bench/ (vite-node).
  const here = path.dirname(new URL(import.meta.url).pathname);
  const root = [path.resolve(here, ".."), path.resolve(here, "..", "..")].find((r) => fs.existsSync(path.join(r, "models", "A", "1")))
    ?? path.resolve(here, "..", "..");
  const a = loadSaeRun(path.join(root, "models", "A", "1"));
  const b = loadSaeRun(path.join(root, "models", "B", "1"));
  const tokens = Number(process.env.SAEKIT_BENCH_ANALYZE_TOKENS ?? DEFAULT_EVALUATION_TOKENS);
  const evaluation = evaluationTokens(loadCorpusSplits(a.model.cfg), tokens);
  const tokenizer = loadGpt2Tokenizer();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-bench-analyze-"));
  try {
    const result = await analyzeRun({
      run: a.name, modelName: a.modelName, model: a.model, sae: a.sae, hook: a.hook, tokenizer, evaluation,
      featureDir: path.join(out, "A", "1", "investigation"), neuronDir: path.join(out, "A", "investigation"),
      compare: [{ name: b.name, model: b.model, sae: b.sae, hook: b.hook }],
    });
    const t = result.timing;
    const T = result.tokens;
    const b16 = kernels();
    console.log(
      `\n## analysis: A/1 (4,096 features) + A's 512 neurons over ${T.toLocaleString("en-US")} tokens, matched against B/1; ` +
        `${b16.precision} products${b16.precision === "bf16" ? ` (${b16.bf16Path})` : ""} (SAEKIT_PRECISION)\n`,
    );
    console.log(table(
      ["stage", "seconds", "tokens/s"],
      [
        ["pass 1: forward A and B, encode, stats, correlations", t.pass1!.toFixed(1), Math.round(T / t.pass1!).toLocaleString("en-US")],
        ["pass 2: histograms, intervals, proxy bins", t.pass2!.toFixed(1), Math.round(T / t.pass2!).toLocaleString("en-US")],
        ["pass 3: ablations of the examples", t.pass3!.toFixed(1), ""],
        ["logit weights, universality logit r", t.weights!.toFixed(1), ""],
        ["write the stores", t.write!.toFixed(1), ""],
        ["total", t.total!.toFixed(1), Math.round(t.tokensPerSecond!).toLocaleString("en-US")],
      ],
    ));
    console.log(`budget: 300 s for 1M tokens → ${(t.total! * (1_048_576 / T)).toFixed(0)} s scaled to 1,048,576 tokens`);
    const store = openInvestigation(path.join(out, "A", "1", "investigation"), tokenizer);
    const units = Array.from({ length: 200 }, (_, i) => (i * 2053) % store.units);
    let t0 = performance.now();
    for (const u of units) store.unit(u);
    const perUnit = (performance.now() - t0) / units.length;
    t0 = performance.now();
    for (const q of [" the", "def", "Arabic", "self", " (", "A/1/3450"]) store.search(q);
    const perSearch = (performance.now() - t0) / 6;
    console.log(`store: one unit's full record ${perUnit.toFixed(2)} ms (target < 50 ms), a search over ${store.units} features ${perSearch.toFixed(2)} ms`);
    const size = fs.readdirSync(store.dir).reduce((s, f) => s + fs.statSync(path.join(store.dir, f)).size, 0);
    console.log(`store size: ${(size / 1e6).toFixed(1)} MB for ${store.units} features`);
    store.close();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The 131,072-feature SAE the analyze131k section analyses (trained briefly by the documented command when missing). */
function sae131kDir(root: string): string {
  const given = process.env.SAEKIT_BENCH_SAE131K;
  if (given) return given;
  const dir = path.join(os.homedir(), ".cache", "saekit", "bench", "A-131072-topk-81920");
  if (fs.existsSync(path.join(dir, "sae_weights.safetensors"))) return dir;
  // A TopK run (k = 32) trained for 20 steps: analyze's cost depends on L0 (32, a trained SAE's order) and the
  // dictionary size, not much on training quality; a standard run this short would still be on its dense early path.
  const args = ["bin/saekit.js", "sae", "train", "--model", "models/A", "--out", dir, "--architecture", "topk", "--d-sae", "131072",
    "--tokens", "81920", "--buffer-rows", "16384", "--seed", "1"];
  console.log(`training the 131,072-feature SAE once (cached in ${dir}): node ${args.join(" ")}`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const run = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (run.status !== 0) throw new Error(`bench analyze131k: training the 131,072-feature SAE failed (exit ${run.status}); set SAEKIT_BENCH_SAE131K to an SAE folder`);
  return dir;
}

/** Peak resident memory of this process since the last reset, bytes (Linux: VmHWM, reset through clear_refs). */
function resetPeakRss(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: the process-lifetime peak below
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * `npm run bench analyze131k`: analyze of a 131,072-feature run of model A (+ A's neurons, matched against B/1), as
 * `saekit analyze` runs it, with wall and CPU time per stage and the peak resident memory. Selected explicitly it runs
 * the full 1,048,576 evaluation tokens (up to ~30 min); inside the default bench it runs 65,536 tokens and prints an
 * extrapolation to 1M tokens, labelled as such. SAEKIT_BENCH_ANALYZE131K_TOKENS sets the token count either way.
 */
export async function benchAnalyze131k(full: boolean): Promise<void> {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const root = [path.resolve(here, ".."), path.resolve(here, "..", "..")].find((r) => fs.existsSync(path.join(r, "models", "A", "config.json")))
    ?? path.resolve(here, "..", "..");
  const dir = sae131kDir(root);
  const a = loadSaeRun(dir, { model: path.join(root, "models", "A") });
  const b = loadSaeRun(path.join(root, "models", "B", "1"));
  if (a.sae.dSae !== 131072) console.log(`note: ${dir} has ${a.sae.dSae} features, not 131,072`);
  const FULL = 1_048_576;
  const tokens = Number(process.env.SAEKIT_BENCH_ANALYZE131K_TOKENS ?? (full ? FULL : 65_536));
  const evaluation = evaluationTokens(loadCorpusSplits(a.model.cfg), tokens);
  const tokenizer = loadGpt2Tokenizer();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-bench-analyze131k-"));
  const resettable = resetPeakRss();
  const load = os.loadavg();
  const cpu0 = process.cpuUsage();
  const stageCpu: Record<string, number> = {};
  let stage = "";
  let stageStart = process.cpuUsage();
  const mark = (next: string) => {
    const now = process.cpuUsage();
    if (stage) stageCpu[stage] = (now.user - stageStart.user + now.system - stageStart.system) / 1e6;
    stage = next;
    stageStart = now;
  };
  try {
    const result = await analyzeRun({
      run: "A/131072", modelName: a.modelName, model: a.model, sae: a.sae, hook: a.hook, tokenizer, evaluation,
      featureDir: path.join(out, "A", "131072", "investigation"), neuronDir: path.join(out, "A", "investigation"),
      compare: [{ name: b.name, model: b.model, sae: b.sae, hook: b.hook }],
      onProgress: (p) => {
        const s = p.stage.slice(0, 6);
        if (s !== stage) mark(s);
      },
    });
    mark("");
    const cpu = process.cpuUsage(cpu0);
    const cpuTotal = (cpu.user + cpu.system) / 1e6;
    const peak = peakRss();
    const t = result.timing;
    const T = result.tokens;
    const scale = FULL / T;
    const k = kernels();
    console.log(
      `\n## analysis at 131,072 features: ${dir} (${a.sae.spec.architecture}${a.sae.spec.k ? `, k ${a.sae.spec.k}` : ""}) + A's 512 neurons over ` +
        `${T.toLocaleString("en-US")} tokens, matched against B/1; ${k.precision} products, ${k.threads} threads; ` +
        `load average at the start ${load.map((l) => l.toFixed(1)).join(" / ")} (1/5/15 min)\n`,
    );
    const tokenStages = ["pass1", "family", "pass2"];
    const extrapolate = T !== FULL;
    const rows: string[][] = [];
    for (const [key, label] of [
      ["pass1", "pass 1: forward A and B, encode, stats, correlations"], ["family", "family codes"], ["pass2", "pass 2: histograms, intervals, proxies"],
      ["pass3", "pass 3: ablations of the examples"], ["weights", "logit weights, universality logit r"], ["write", "write the stores"],
    ] as const) {
      if (t[key] === undefined) continue;
      const scaled = tokenStages.includes(key) ? t[key]! * scale : t[key]!;
      rows.push([label, t[key]!.toFixed(1), extrapolate ? scaled.toFixed(0) : ""]);
    }
    const extrapolated = rows.reduce((s, r) => s + (r[2] ? Number(r[2]) : 0), 0);
    rows.push(["total", t.total!.toFixed(1), extrapolate ? extrapolated.toFixed(0) : ""]);
    console.log(table(["stage", "wall s", extrapolate ? "extrapolated to 1,048,576 tokens, s" : ""], rows));
    // Finer steps with their CPU seconds (all threads): where the time goes, whatever else runs on the machine.
    console.log(table(["step", "wall s", "CPU s"], result.steps.map((x) => [x.step, x.wall.toFixed(1), x.cpu.toFixed(1)])));
    const live = result.lowDensity.features - result.lowDensity.dead;
    console.log(
      `ablation requests (scored rows): ${result.ablationRequests.features.toLocaleString("en-US")} for ${live.toLocaleString("en-US")} live features, ` +
        `${result.ablationRequests.neurons.toLocaleString("en-US")} for the neurons`,
    );
    console.log(
      `CPU time ${cpuTotal.toFixed(0)} s over ${t.total!.toFixed(0)} s wall (${(cpuTotal / t.total!).toFixed(2)} cores busy on average); ` +
        `per progress stage: ${Object.entries(stageCpu).map(([s, c]) => `${s.trim()} ${c.toFixed(0)} s`).join(", ")}`,
    );
    console.log(`peak resident memory: ${(peak / 2 ** 30).toFixed(2)} GiB${resettable ? "" : " (process lifetime: /proc/self/clear_refs unavailable)"}; target ≤ 12 GB`);
    if (T !== FULL) {
      console.log(
        `EXTRAPOLATION, not a measurement: passes 1–2 scaled linearly to 1,048,576 tokens; pass 3, weights and write taken as measured ` +
          `(they scale with features × examples, which grow only a little with more tokens). Target ≤ 1,800 s. ` +
          `The full run: npm run bench -- --only analyze131k`,
      );
    } else {
      console.log(`target ≤ 1,800 s and ≤ 12 GB: ${t.total! <= 1800 ? "met" : "not met"} (time), ${peak <= 12e9 ? "met" : "not met"} (memory)`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
