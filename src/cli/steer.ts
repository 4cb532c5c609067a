/**
 * `saekit steer --sae models/A/1 --feature A/1/617=+8 [--feature …] --text "…" [--tokens 40] [--temperature T --seed S]
 * [--position P] [--json]`: generation with SAE features steered at the SAE's hook point, beside the unsteered text,
 * and the next-token distribution shift (analysis/steering.ts). `=8` clamps the feature to 8 everywhere, `=+8` /
 * `=-3` adds to its activation, `=*2` scales it (`=*0` ablates it).
 */
import path from "node:path";
import type { Command } from "commander";
import type { SteerResult } from "../analysis/steering.js";
import { openWorkspace } from "../analysis/workspace.js";
import { dashboardService } from "../vis/service.js";
import { collect, integerFlag, numberFlag } from "./flags.js";
import { terminalSafe } from "./terminal.js";

interface SteerFlags {
  sae: string;
  feature: string[];
  text: string;
  tokens: number;
  temperature: number;
  seed: number;
  position?: number;
  json?: boolean;
}

const pct = (p: number) => `${(100 * p).toFixed(2)}%`;
const shown = (t: string) => JSON.stringify(t);

export function formatSteer(r: SteerResult): string {
  const nt = r.nextToken;
  const lines = [
    `steering ${r.features.map((f) => `${f.name} ${f.label}`).join(", ")} · ${r.temperature > 0 ? `temperature ${r.temperature}, seed ${r.seed}` : "greedy"}`,
    `prompt:     ${shown(r.prompt)}`,
    `unsteered:  ${shown(r.unsteered.text)}`,
    `steered:    ${shown(r.steered.text)}`,
    "",
    `next token after ${shown(nt.token)} (prompt position ${nt.position}): probability before → after`,
    "  raised:  " + nt.raised.slice(0, 6).map((s) => `${shown(s.text)} ${pct(s.before)} → ${pct(s.after)}`).join(", "),
    "  lowered: " + nt.lowered.slice(0, 6).map((s) => `${shown(s.text)} ${pct(s.before)} → ${pct(s.after)}`).join(", "),
  ];
  return lines.join("\n");
}

export function registerSteer(program: Command): void {
  program
    .command("steer")
    .description("generate with SAE features clamped (=8), shifted (=+8) or scaled (=*2) at the SAE's hook point, beside the unsteered text")
    .requiredOption("--sae <dir>", "the analysed SAE folder inside its model folder, e.g. models/A/1")
    .requiredOption("--feature <unit=value>", "A/1/617=+8 (add 8), =*2 (scale), =8 (clamp); repeatable", collect, [])
    .requiredOption("--text <prompt>", "the prompt")
    .option("--tokens <n>", "tokens to generate", integerFlag("--tokens", 0), 40)
    .option("--temperature <t>", "0 for greedy, else sample from softmax(logits / t)", numberFlag("--temperature", 0, 10, true), 0)
    .option("--seed <s>", "sampling seed (both texts use it)", integerFlag("--seed", 0), 0)
    .option("--position <p>", "prompt token whose next-token distribution is compared (default the last)", integerFlag("--position", 0))
    .option("--json", "print the result as JSON")
    .action((f: SteerFlags) => {
      const dir = path.resolve(f.sae);
      const run = `${path.basename(path.dirname(dir))}/${path.basename(dir)}`;
      const workspace = openWorkspace(path.dirname(path.dirname(dir)));
      try {
        const r = dashboardService(workspace).steer(run, f.text, f.feature, {
          tokens: f.tokens, temperature: f.temperature, seed: f.seed, ...(f.position !== undefined ? { position: f.position } : {}),
        });
        console.log(f.json ? JSON.stringify(r, null, 1) : terminalSafe(formatSteer(r)));
      } finally {
        workspace.close();
      }
    });
}
