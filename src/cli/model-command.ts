/**
 * The `saekit model` command group. Its subcommands live in their own files (model-run.ts, model-train.ts);
 * each asks for the group here, so whichever registers first creates it and the others attach to it.
 */
import type { Command } from "commander";

/** The program's `model` group, created on first use. */
export function modelCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === "model");
  if (existing) return existing;
  return program.command("model").description("train, save, load and run the transformer (TransformerLens names and files)");
}
