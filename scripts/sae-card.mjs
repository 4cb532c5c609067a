#!/usr/bin/env node
// Writes an SAE run card (README.md) from the run's training.json and the JSON of `saekit sae eval` (eval.json in
// the same folder). Usage: node scripts/sae-card.mjs models/A/1 "REPRODUCE COMMANDS" ["notes"]
import fs from "node:fs";
import { join } from "node:path";

const [dir, command, notes] = process.argv.slice(2);
if (!dir || !command) {
  console.error("usage: node scripts/sae-card.mjs SAE_DIR REPRODUCE_COMMAND [NOTES]");
  process.exit(2);
}
const t = JSON.parse(fs.readFileSync(join(dir, "training.json"), "utf8"));
const e = JSON.parse(fs.readFileSync(join(dir, "eval.json"), "utf8"));
const cfg = JSON.parse(fs.readFileSync(join(dir, "cfg.json"), "utf8"));
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const cols = ["prose", "code", "overall"];
const get = (c) => (c === "overall" ? e.overall : e.domains[c]);
const row = (label, fn) => `| ${label} | ${cols.map((c) => fn(get(c))).join(" | ")} |`;
const recipe = t.architecture === "topk"
  ? `TopK, k = ${t.k}, AuxK k_aux = ${t.auxK ?? t.dIn / 2}, α = ${t.auxCoefficient}`
  : `standard (ReLU + L1), λ = ${t.l1Coefficient} (${t.l1Penalty}), λ warm-up ${t.l1WarmupSteps} steps, resampling at steps ${t.resampled.map((r) => `${r.step} (${r.dead} dead)`).join(", ") || "—"}`;
const card = `# SAE ${dir.replace(/^models\//, "")} — ${t.dSae.toLocaleString("en-US")} features on ${cfg.metadata.hook_name} of ${cfg.metadata.model_name}

SAELens v6 folder: \`cfg.json\`, \`sae_weights.safetensors\` (${cfg.dtype}, loaded as float32), \`sparsity.safetensors\`
(log10 density over the last ${t.densityWindowTokens.toLocaleString("en-US")} training tokens), \`training.json\`, \`eval.json\`.

## Training
- Recipe: ${recipe}.
- d_in ${t.dIn} → d_sae ${t.dSae.toLocaleString("en-US")}; seed ${t.seed}; ${t.tokens.toLocaleString("en-US")} tokens (${t.steps} steps × batch ${t.batchSize}) streamed
  from the model over the train split (131,072-row shuffle buffer).
- Adam (β ${t.adam.beta1}/${t.adam.beta2}), lr ${t.lr} (warm-up ${t.lrWarmupSteps} steps, linear decay to 0 over the last ${100 * t.lrDecayFraction}%),
  activations scaled by ${t.normScale.toPrecision(4)} during training (E‖x‖² = d_in), folded into the saved weights.
- Time: ${(t.trainSeconds / 60).toFixed(1)} min of SAE steps (model forward included) at ${Math.round(t.tokensPerSecond).toLocaleString("en-US")} tokens/s on the 2-core
  Zen 5 VM (${t.backend.name}, ${t.backend.isa}, ${t.backend.threads} threads), shared with other jobs during part of the run.

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

Dead features (never fired on these tokens): ${e.deadFeatures} (${pct(e.deadFraction)}); dense (> 10 % of tokens): ${e.denseFeatures} (${pct(e.denseFraction)}).
${notes ? `\n## Notes\n${notes}\n` : ""}
## Reproduce
\`\`\`sh
${command}
\`\`\`
`;
fs.writeFileSync(join(dir, "README.md"), card);
console.log(`wrote ${join(dir, "README.md")}`);
