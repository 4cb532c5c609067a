/**
 * The folder layout of models, SAE runs and their investigations, in one place:
 *   MODEL/config.json + model.safetensors          a model folder (its name: the folder's name)
 *   MODEL/investigation/                           the investigation of its MLP neurons (analyze)
 *   MODEL/RUN/cfg.json + sae_weights.safetensors   an SAE run on it (sae train; cfg.json records the model folder)
 *   MODEL/RUN/eval.json                            the SAE's own metrics (sae eval writes it; analyze copies its
 *                                                  headline figures into the feature store's manifest)
 *   MODEL/RUN/investigation/                       the investigation of the SAE's features (analyze)
 * and the SAE run as a unit of work: both folders loaded and the run's unit-set name `MODEL/RUN` from the two
 * folder names (names.ts unitSetName; docs/conventions.md "Feature names").
 */
import fs from "node:fs";
import path from "node:path";
import { loadModelFolder } from "../model/checkpoint.js";
import { HookedTransformer } from "../model/transformer.js";
import { unitSetName } from "../names.js";
import { loadSaeFolder, type LoadedSae } from "./format.js";

/** The investigation store's folder name, inside an SAE folder (features) or a model folder (neurons). */
export const INVESTIGATION_DIR = "investigation";
/** The SAE's metrics file inside its folder (what `saekit sae eval` writes, what `analyze` reads). */
export const SAE_EVAL_FILE = "eval.json";

/** The headline figures of an SAE's eval.json. */
export interface SaeEvalSummary {
  l0: number | null;
  ceLossRecovered: number | null;
  dead: number | null;
  dense: number | null;
}

export interface SaeRun extends LoadedSae {
  saeDir: string;
  modelDir: string;
  model: HookedTransformer;
  /** The model's name ("A") and the run's unit-set name ("A/1"). */
  modelName: string;
  name: string;
  hook: string;
  /** Headline figures of the folder's eval.json, when it has one. */
  evalSummary: SaeEvalSummary | null;
}

export class HookMismatchError extends Error {
  override name = "HookMismatchError";
}

/** Loads a model folder and checks that `hook` is one of its hook points (the error lists the MLP hooks). */
export function loadHookedModel(dir: string, hook: string): { model: HookedTransformer; name: string } {
  const { cfg, weights } = loadModelFolder(dir);
  const model = new HookedTransformer(cfg, weights);
  if (!model.hookNames().includes(hook)) {
    const mlp = model.hookNames().filter((n) => n.includes("mlp") || n.includes("resid"));
    throw new HookMismatchError(`--hook ${hook} is not a hook point of the model in ${dir}; e.g. ${mlp.join(", ")}`);
  }
  return { model, name: path.basename(path.resolve(dir)) };
}

/** The headline figures of SAE_EVAL_FILE in an SAE folder, or null when it has none. */
export function readSaeEvalSummary(saeDir: string): SaeEvalSummary | null {
  const evalPath = path.join(saeDir, SAE_EVAL_FILE);
  if (!fs.existsSync(evalPath)) return null;
  let e: { overall?: { l0?: number; lossRecovered?: number }; deadFeatures?: number; denseFeatures?: number };
  try {
    e = JSON.parse(fs.readFileSync(evalPath, "utf8")) as typeof e;
  } catch (err) {
    throw new Error(`${evalPath}: not valid JSON (${(err as Error).message})`);
  }
  return { l0: e.overall?.l0 ?? null, ceLossRecovered: e.overall?.lossRecovered ?? null, dead: e.deadFeatures ?? null, dense: e.denseFeatures ?? null };
}

/** The model folder an SAE's cfg.json records (relative to the SAE folder), if any. */
export function recordedModelDir(saeDir: string, loaded: LoadedSae): string | undefined {
  return typeof loaded.meta.extra?.model === "string" ? path.resolve(saeDir, loaded.meta.extra.model) : undefined;
}

export function loadSaeRun(saeDir: string, options: { model?: string; name?: string } = {}): SaeRun {
  const loaded = loadSaeFolder(saeDir);
  const recorded = recordedModelDir(saeDir, loaded);
  const modelDir = options.model ?? recorded;
  if (!modelDir || !fs.existsSync(path.join(modelDir, "config.json"))) {
    throw new Error(`${saeDir}: no model folder${modelDir ? ` (${modelDir}, from ${saeDir}/cfg.json, has no config.json)` : " recorded in cfg.json"}; pass --model DIR`);
  }
  const hook = loaded.meta.hookName;
  let model: HookedTransformer;
  try {
    model = loadHookedModel(modelDir, hook).model;
  } catch (e) {
    if (e instanceof HookMismatchError) throw new Error(`${saeDir}: the SAE's hook ${hook} is not a hook point of the model in ${modelDir}`);
    throw e;
  }
  const modelName = path.basename(path.resolve(modelDir));
  const name = options.name ?? unitSetName(modelName, path.basename(path.resolve(saeDir)));
  return { ...loaded, saeDir, modelDir, model, modelName, name, hook, evalSummary: readSaeEvalSummary(saeDir) };
}

/** Where analyze writes an SAE run's feature store and its model's neuron store. */
export function featureStoreDir(saeDir: string): string {
  return path.join(saeDir, INVESTIGATION_DIR);
}

export function neuronStoreDir(modelDir: string): string {
  return path.join(modelDir, INVESTIGATION_DIR);
}
