#!/usr/bin/env node
// Writes a model card (README.md) for a model folder from its training.json — every figure in the card comes from
// that file. Usage: node scripts/model-card.mjs models/A "scripts/train-shipped.sh models  (seed 1)"
import fs from "node:fs";
import { join } from "node:path";

const [dir, command, timingNote] = process.argv.slice(2);
if (!dir || !command) {
  console.error("usage: node scripts/model-card.mjs MODEL_DIR REPRODUCE_COMMAND");
  process.exit(2);
}
const t = JSON.parse(fs.readFileSync(join(dir, "training.json"), "utf8"));
const h = t.hyperparameters;
const m = t.model;
const f = (x, d = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
const minutes = (s) => `${(s / 60).toFixed(1)} min`;
// The host as training.json records it (newer runs), else the machine every earlier shipped model was trained on.
const host = t.environment.cpu ? `${t.environment.cpu} (${t.environment.cpus} logical CPUs)` : "this project's 2-core AMD Zen 5 VM";
const domains = ["prose", "code"];
const rows = domains.map((d) => {
  const v = t.validation[d];
  return `| ${d} | ${v.targets.toLocaleString("en-US")} | **${f(v.loss)}** | ${f(t.validationF32?.[d])} | ${f(t.train?.[d]?.loss)} | ${f(v.bigram)} | ${f(v.unigram)} | ${f(v.bigram - v.loss, 2)} |`;
});
// Train-split samples (same size as the validation sample) show over-fitting as the gap between the two.
const evals = (t.history.validation ?? []).map((e) => `| ${e.step} | ${e.tokens.toLocaleString("en-US")} | ${f(e.prose)} | ${f(e.train?.prose)} | ${f(e.code)} | ${f(e.train?.code)} |`);
const card = `# Model ${dir.split("/").pop()} — 1-layer transformer trained by saekit

A TransformerLens-layout model (\`config.json\` + \`model.safetensors\`, ${h.dtype} storage, loaded as float32) trained
from scratch by \`saekit model train\` on the default corpus. Models A and B share the recipe and differ only in the
seed (weights and data order), as in *Towards Monosemanticity*.

## Architecture
${m.n_layers} layer, d_model ${m.d_model}, d_mlp ${m.d_mlp} (${m.act_fn}), ${m.n_heads} heads × d_head ${m.d_head}, n_ctx ${m.n_ctx}, LayerNorm,
learned positional embeddings, vocabulary ${m.d_vocab.toLocaleString("en-US")} (GPT-2 tokenizer) — ${t.parameters.toLocaleString("en-US")} parameters.

## Data
${t.data.sources.join("; ")}; deterministic train/validation split by document id, per domain.
Train sequences (${t.data.nCtx} tokens): prose ${t.data.trainSequences.prose.toLocaleString("en-US")}, code ${t.data.trainSequences.code.toLocaleString("en-US")}.
Tokens seen: **${t.result.tokensSeen.toLocaleString("en-US")}** (${t.result.epochs.toFixed(2)} epochs) in ${t.result.steps} steps.

## Hyper-parameters
AdamW (β ${h.adam.beta1}/${h.adam.beta2}, ε ${h.adam.eps}), peak lr ${h.lr}, ${h.warmupSteps} warm-up steps then cosine decay to
${h.minLrRatio}× peak, weight decay ${h.weightDecay} (${h.weightDecayApplies}), gradient clip ${h.clipNorm},
${h.sequencesPerStep} sequences × ${t.data.nCtx} tokens = ${h.tokensPerStep} tokens per step (batch ${h.batchSize} × accumulation ${h.accumSteps}), seed ${h.seed}.

## Training time
${minutes(t.result.trainSeconds)} of training steps, ${minutes(t.result.wallSeconds)} wall clock (tokenisation, validation and baselines
included) at ${Math.round(t.result.tokensPerSecond).toLocaleString("en-US")} tokens/s, on ${host}
(${t.environment.backend} backend, ${t.environment.isa}, ${t.environment.threads} threads, Node ${t.environment.node}). The machine was shared with
other work during part of the run, so the figure is an upper bound.${timingNote ? `\n${timingNote}` : ""}

## Validation loss (nats per token, whole validation split)
| domain | tokens scored | model (${t.validation.dtype}) | model (F32) | train split (same count) | bigram | unigram | below bigram |
|---|---|---|---|---|---|---|---|
${rows.join("\n")}

Baselines are fitted on the same train split and scored on the same targets: ${t.baselines.description}

Loss during training (validation sample, and a train-split sample of the same size):

| step | tokens | prose val | prose train | code val | code train |
|---|---|---|---|---|---|
${evals.join("\n")}

## Reproduce
\`\`\`sh
${command}
\`\`\`
`;
fs.writeFileSync(join(dir, "README.md"), card);
console.log(`wrote ${join(dir, "README.md")}`);
