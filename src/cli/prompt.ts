/** `saekit prompt --sae DIR --text "..."`: the features that fire on a prompt and the prompt-level rankings. */
import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { analyzePrompt } from "../analysis/prompt.js";
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
        if (f.json) {
          writeFileAtomicSync(f.json, `${JSON.stringify(result, null, 1)}\n`);
          console.log(`\nwrote ${f.json}`);
        }
      } finally {
        store?.close();
      }
    });
}
