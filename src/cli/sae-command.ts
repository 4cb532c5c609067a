/**
 * The `saekit sae` command group (train, cache, eval), one file per subcommand; whichever registers first creates
 * the group. Also the shared loading of a model folder and its corpus for those subcommands.
 */
import type { Command } from "commander";
import { loadModelFolder } from "../model/checkpoint.js";
import { HookedTransformer } from "../model/transformer.js";

export function saeCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === "sae");
  if (existing) return existing;
  return program.command("sae").description("train, cache activations for, and evaluate sparse autoencoders (SAELens folders)");
}

export const DEFAULT_HOOK = "blocks.0.mlp.hook_post";

/** Loads a model folder and checks that `hook` is one of its hook points (the error lists the MLP hooks). */
export function loadHookedModel(dir: string, hook: string): { model: HookedTransformer; name: string } {
  const { cfg, weights } = loadModelFolder(dir);
  const model = new HookedTransformer(cfg, weights);
  if (!model.hookNames().includes(hook)) {
    const mlp = model.hookNames().filter((n) => n.includes("mlp") || n.includes("resid"));
    throw new Error(`--hook ${hook} is not a hook point of the model in ${dir}; e.g. ${mlp.join(", ")}`);
  }
  return { model, name: dir.replace(/\/+$/, "").split("/").slice(-1)[0] ?? dir };
}

