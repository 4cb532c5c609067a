#!/usr/bin/env node
// Writes an SAE run card (README.md) from the run's training.json and the JSON of `saekit sae eval` (eval.json in
// the same folder), and investigation/summary.json when the run was analysed.
// Usage: node scripts/sae-card.mjs models/A/1 "REPRODUCE COMMANDS" ["notes"] ["host CPU, when training.json lacks it"]
import fs from "node:fs";
import { join } from "node:path";

const [dir, command, notes, hostNote] = process.argv.slice(2);
if (!dir || !command) {
  console.error("usage: node scripts/sae-card.mjs SAE_DIR REPRODUCE_COMMAND [NOTES] [HOST (when training.json does not name the CPU)]");
  process.exit(2);
}
const t = JSON.parse(fs.readFileSync(join(dir, "training.json"), "utf8"));
const e = JSON.parse(fs.readFileSync(join(dir, "eval.json"), "utf8"));
const cfg = JSON.parse(fs.readFileSync(join(dir, "cfg.json"), "utf8"));
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const cols = ["prose", "code", "overall"];
const get = (c) => (c === "overall" ? e.overall : e.domains[c]);
const row = (label, fn) => `| ${label} | ${cols.map((c) => fn(get(c))).join(" | ")} |`;
const auxK = t.auxCoefficient > 0 ? `AuxK on latents with ${t.auxDeadLatents ?? "no firing"} (k_aux = ${t.auxK ?? t.dIn / 2}, α = ${t.auxCoefficient})` : "no AuxK";
const resampling = t.resampling?.mode && t.resampling.mode !== "none" ? `resampling (${t.resampling.mode}) at steps ${t.resampled.map((r) => `${r.step} (${r.dead} dead)`).join(", ") || "—"}` : "no resampling";
const recipe = t.architecture === "topk"
  ? `TopK, k = ${t.k}, ${auxK}`
  : `standard (ReLU + L1), λ = ${t.l1Coefficient} (${t.l1Penalty}), λ warm-up ${t.l1WarmupSteps} steps, ${auxK}, ${resampling}`;
// Trained from an on-disk activation cache (sae train --activations) or streamed from the model.
const fromCache = String(cfg.metadata.dataset_path ?? "").startsWith("activations");
const source = fromCache
  ? "read from an on-disk BF16 activation cache of the model's hook_post over the corpus' train split (`saekit sae cache`),\n  in shuffled epochs"
  : `streamed from the model over the train split (${(t.bufferRows ?? 131072).toLocaleString("en-US")}-row shuffle buffer)`;
const host = t.backend.cpuModel ? `${t.backend.cpuModel}, ${t.backend.cpus} logical CPUs` : hostNote ?? "host CPU not recorded";
const shares = (d) => d.below.map((b) => `${b.count.toLocaleString("en-US")} (${pct(b.share)}) below ${b.threshold.toExponential(0)}`).join(", ");
// The interpretability score and density shares of `saekit analyze`, when the run has its store.
const summaryPath = join(dir, "investigation", "summary.json");
const summary = fs.existsSync(summaryPath) ? JSON.parse(fs.readFileSync(summaryPath, "utf8")) : null;
const interp = summary?.interpretability;
const analyzed = summary
  ? `
## Investigation (\`saekit analyze\`, ${summary.runFigures.sizes[0].tokens.toLocaleString("en-US")} evaluation tokens)
- Interpretability score of the ${interp.features.live.toLocaleString("en-US")} live features (best automatic proxy, F1 of mass-specificity and sensitivity):
  median **${interp.features.median.toFixed(3)}**, mean ${interp.features.mean.toFixed(3)}; ${pct(interp.features.share_spec_sens_ge_0_8)} with spec ≥ 0.8 and sens ≥ 0.8${interp.neurons ? `;
  the model's neurons: median ${interp.neurons.median.toFixed(3)}` : ""}.
- Density: ${summary.densityHistogram.dead} never fire; ${shares({ below: summary.lowDensity })}.
`
  : "";
const shipsWeights = fs.existsSync(join(dir, "sae_weights.safetensors"));
const card = `# SAE ${dir.replace(/^models\//, "")} — ${t.dSae.toLocaleString("en-US")} features on ${cfg.metadata.hook_name} of ${cfg.metadata.model_name}

${shipsWeights ? `SAELens v6 folder: \`cfg.json\`, \`sae_weights.safetensors\` (${cfg.dtype}, loaded as float32), \`sparsity.safetensors\`
(log10 density over the last ${t.densityWindowTokens.toLocaleString("en-US")} training tokens), \`training.json\`, \`eval.json\`.` : `Card and metrics only: \`cfg.json\`, \`sparsity.safetensors\` (log10 density over the last
${t.densityWindowTokens.toLocaleString("en-US")} training tokens), \`training.json\`, \`eval.json\`. Its \`sae_weights.safetensors\` (${cfg.dtype}) is not
shipped, to keep \`models/\` within its size budget; the command under "Reproduce" trains it again.`}

## Training
- Recipe: ${recipe}.
- d_in ${t.dIn} → d_sae ${t.dSae.toLocaleString("en-US")}; seed ${t.seed}; ${t.tokens.toLocaleString("en-US")} tokens (${t.steps} steps × batch ${t.batchSize}) ${source}.
- Adam (β ${t.adam.beta1}/${t.adam.beta2}), lr ${t.lr} (warm-up ${t.lrWarmupSteps} steps, linear decay to 0 over the last ${100 * t.lrDecayFraction}%),
  activations scaled by ${t.normScale.toPrecision(4)} during training (E‖x‖² = d_in), folded into the saved weights.
- Time: ${(t.trainSeconds / 60).toFixed(1)} min of SAE steps${fromCache ? "" : " (model forward included)"} at ${Math.round(t.tokensPerSecond).toLocaleString("en-US")} tokens/s on ${host}
  (${t.backend.name}, ${t.backend.isa}, ${t.backend.threads} threads, ${t.precision ?? t.backend.precision} products), shared with other jobs during part of the run.

## Evaluation (\`saekit sae eval\`, validation split, ${e.overall.tokens.toLocaleString("en-US")} tokens)
| metric | prose | code | overall |
|---|---|---|---|
${row("L0", (m) => m.l0.toFixed(1))}
${row("MSE", (m) => m.mse.toPrecision(4))}
${row("explained variance", (m) => pct(m.explainedVariance))}
${row("CE clean", (m) => m.ceClean.toFixed(4))}
${row("CE with SAE", (m) => m.ceSae.toFixed(4))}
${row("CE zero-ablated", (m) => m.ceZeroAblation.toFixed(4))}
${row("**CE loss recovered**", (m) => `**${pct(m.lossRecovered)}**`)}

Dead features (never fired on these tokens): ${e.deadFeatures} (${pct(e.deadFraction)}); dense (> 10 % of tokens): ${e.denseFeatures} (${pct(e.denseFraction)})${e.lowDensity ? `;
ultra-low density: ${shares(e.lowDensity)}` : ""}.
${analyzed}${notes ? `\n## Notes\n${notes}\n` : ""}
## Reproduce
\`\`\`sh
${command}
\`\`\`
`;
fs.writeFileSync(join(dir, "README.md"), card);
console.log(`wrote ${join(dir, "README.md")}`);
