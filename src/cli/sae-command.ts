/**
 * The `saekit sae` command group (train, cache, eval), one file per subcommand; whichever registers first creates
 * the group. Also the shared loading of a model folder and its corpus for those subcommands.
 */
import type { Command } from "commander";

export function saeCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === "sae");
  if (existing) return existing;
  return program.command("sae").description("train, cache activations for, and evaluate sparse autoencoders (SAELens folders)");
}

export const DEFAULT_HOOK = "blocks.0.mlp.hook_post";

/** Loading a model folder with its hook checked lives with the folder layout (sae/run-folder.ts). */
export { loadHookedModel } from "../sae/run-folder.js";
