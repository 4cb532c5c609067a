/**
 * An SAE run as a unit of work: the SAE folder, the model folder its cfg.json records (relative to the SAE folder,
 * or given), both loaded, and the run's name `MODEL/RUN` from the two folder names (CONVENTIONS "Feature names").
 */
import fs from "node:fs";
import path from "node:path";
import { loadModelFolder } from "../model/checkpoint.js";
import { HookedTransformer } from "../model/transformer.js";
import { loadSaeFolder, type LoadedSae } from "./format.js";

export interface SaeRun extends LoadedSae {
  saeDir: string;
  modelDir: string;
  model: HookedTransformer;
  /** "A" and "A/1". */
  modelName: string;
  name: string;
  hook: string;
  /** Headline figures of the folder's eval.json, when it has one. */
  evalSummary: { l0: number | null; ceLossRecovered: number | null; dead: number | null; dense: number | null } | null;
}

export function loadSaeRun(saeDir: string, options: { model?: string; name?: string } = {}): SaeRun {
  const loaded = loadSaeFolder(saeDir);
  const recorded = typeof loaded.meta.extra?.model === "string" ? path.resolve(saeDir, loaded.meta.extra.model) : undefined;
  const modelDir = options.model ?? recorded;
  if (!modelDir || !fs.existsSync(path.join(modelDir, "config.json"))) {
    throw new Error(`${saeDir}: no model folder${modelDir ? ` (${modelDir}, from ${saeDir}/cfg.json, has no config.json)` : " recorded in cfg.json"}; pass --model DIR`);
  }
  const { cfg, weights } = loadModelFolder(modelDir);
  const model = new HookedTransformer(cfg, weights);
  const hook = loaded.meta.hookName;
  if (!model.hookNames().includes(hook)) throw new Error(`${saeDir}: the SAE's hook ${hook} is not a hook point of the model in ${modelDir}`);
  const modelName = path.basename(path.resolve(modelDir));
  const name = options.name ?? `${modelName}/${path.basename(path.resolve(saeDir))}`;
  let evalSummary: SaeRun["evalSummary"] = null;
  const evalPath = path.join(saeDir, "eval.json");
  if (fs.existsSync(evalPath)) {
    try {
      const e = JSON.parse(fs.readFileSync(evalPath, "utf8")) as { overall?: { l0?: number; lossRecovered?: number }; deadFeatures?: number; denseFeatures?: number };
      evalSummary = { l0: e.overall?.l0 ?? null, ceLossRecovered: e.overall?.lossRecovered ?? null, dead: e.deadFeatures ?? null, dense: e.denseFeatures ?? null };
    } catch (err) {
      throw new Error(`${evalPath}: not valid JSON (${(err as Error).message})`);
    }
  }
  return { ...loaded, saeDir, modelDir, model, modelName, name, hook, evalSummary };
}
