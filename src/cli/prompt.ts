/**
 * `saekit prompt --sae DIR --text "..." [--position N]`: the features that fire on a prompt and the prompt-level
 * rankings; with --position, the prediction made at token N (the model's top next tokens and the features active
 * there ranked by their direct effect on the target token's logit).
 */
import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { analyzePrompt } from "../analysis/prompt.js";
import type { PromptAnalysis } from "../analysis/unit-record.js";
import { INVESTIGATION_DIR, openInvestigation } from "../analysis/store.js";
import { loadGpt2Tokenizer } from "../data/tokenizer.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { loadSaeRun } from "../sae/run-folder.js";
import { formatPromptReport } from "../vis/text-report.js";
import { integerFlag } from "./flags.js";
import { terminalSafe } from "./terminal.js";

interface PromptFlags {
  sae: string;
  model?: string;
  text: string;
  json?: string;
  top: number;
  position?: number;
}

const pct = (p: number) => `${(100 * p).toFixed(2)}%`;
const shown = (t: string) => JSON.stringify(t);
const signedFixed = (v: number) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`;

/** The prediction at one token as text: top next tokens, then the active features by direct logit effect. */
export function formatPrediction(p: PromptAnalysis, position: number, count = 10): string {
  const t = p.tokens[position];
  if (!t?.prediction) throw new Error(`--position ${position}: the prompt has ${p.tokens.length} tokens (0–${p.tokens.length - 1})`);
  const { top, target, features } = t.prediction;
  const lines = [
    `prediction at token ${position} ${shown(t.text)}: ${target.actual ? "actual next token" : "last token; scored for the top prediction"} ${shown(target.text)} P=${pct(target.prob)}`,
    "  top next tokens: " + top.map((x) => `${shown(x.text)} ${pct(x.prob)}`).join(", "),
    `  features active here (${features.length}), by direct effect on the logit of ${shown(target.text)}; loss effect = −Δ log P when zeroed here:`,
  ];
  for (const f of [...features].sort((a, b) => b.logitEffect - a.logitEffect || a.index - b.index).slice(0, count)) {
    lines.push(`    ${f.name.padEnd(12)} act ${f.activation.toFixed(3).padStart(7)}  logit ${signedFixed(f.logitEffect).padStart(7)}  loss ${signedFixed(f.lossEffect).padStart(7)}`);
  }
  return lines.join("\n");
}

export function registerPrompt(program: Command): void {
  program
    .command("prompt")
    .description("run a prompt through a model with its SAE spliced in: features per token, ranked by max activation, loss effect and logit effect")
    .requiredOption("--sae <dir>", "SAE run folder (e.g. models/A/1)")
    .requiredOption("--text <text>", "the prompt")
    .option("--model <dir>", "model folder (default: the one recorded in the SAE's cfg.json)")
    .option("--top <n>", "features listed per token", integerFlag("--top", 1), 3)
    .option("--json <file>", "also write the analysis as JSON")
    .option("--position <n>", "also show the prediction at token n: top next tokens and the features ranked for it", integerFlag("--position", 0))
    .action((f: PromptFlags) => {
      const run = loadSaeRun(f.sae, f.model ? { model: f.model } : {});
      const tokenizer = loadGpt2Tokenizer();
      // Labels come from the run's investigation when it has been analysed.
      const storeDir = path.join(f.sae, INVESTIGATION_DIR);
      const store = fs.existsSync(path.join(storeDir, "manifest.json")) ? openInvestigation(storeDir, tokenizer) : null;
      try {
        const result = analyzePrompt(
          { run: run.name, model: run.model, sae: run.sae, tokenizer, hook: run.hook, labels: (i) => store?.searchTable[i]?.label ?? null },
          f.text,
        );
        console.log(terminalSafe(formatPromptReport(result, f.top)));
        if (f.position !== undefined) console.log(`\n${terminalSafe(formatPrediction(result, f.position, f.top * 4))}`);
        if (f.json) {
          writeFileAtomicSync(f.json, `${JSON.stringify(result, null, 1)}\n`);
          console.log(`\nwrote ${f.json}`);
        }
      } finally {
        store?.close();
      }
    });
}
