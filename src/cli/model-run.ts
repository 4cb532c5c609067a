/** `saekit model run`: run a model folder on a text and save tokens, logits and chosen activations. */
import type { Command } from "commander";
import { runModelFolderOnText } from "../model/run.js";
import { modelCommand } from "./model-command.js";

interface ModelRunOptions {
  model: string;
  text: string;
  hooks?: string;
  out: string;
}

/** "a, b,,c" → ["a", "b", "c"]. */
function parseHookList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

export function registerModelRun(program: Command): void {
  modelCommand(program)
    .command("run")
    .description("run a model on a text; write tokens, logits and hook activations to a safetensors file")
    .requiredOption("--model <dir>", "model folder (config.json + model.safetensors)")
    .requiredOption("--text <text>", "the text to run the model on (one sequence, at most n_ctx tokens)")
    .option("--hooks <names>", "comma-separated hook points to save, e.g. blocks.0.mlp.hook_post")
    .requiredOption("--out <file>", "output .safetensors file")
    .action((opts: ModelRunOptions) => {
      const run = runModelFolderOnText({ modelDir: opts.model, text: opts.text, hooks: parseHookList(opts.hooks), out: opts.out });
      const parts = [`${run.tokens.length} tokens`, `logits [${run.logits.shape.join(", ")}]`];
      for (const [name, t] of run.activations) parts.push(`${name} [${t.shape.join(", ")}]`);
      console.log(`wrote ${opts.out}: ${parts.join(", ")}`);
    });
}
