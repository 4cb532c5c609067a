/**
 * Model-training checkpoints: everything a resumed run needs to continue bit-for-bit.
 *
 *   OUT/checkpoint/config.json + model.safetensors   the weights, float32 (a regular model folder)
 *   OUT/checkpoint/optimizer.safetensors             AdamW moments "m.<param>", "v.<param>" (F32)
 *   OUT/checkpoint/state.json                        step, RNG / data-order position, history, run identity
 *
 * Atomic swap-in and fallback to checkpoint.previous: src/io/checkpoint-folder.ts (state.json is written last).
 */
import fs from "node:fs";
import { join } from "node:path";
import type { OptimizerState } from "../core/optim.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { readLatestCheckpointFolder, writeCheckpointFolder } from "../io/checkpoint-folder.js";
import { openSafetensors, saveSafetensors, type SafetensorsTensorToSave } from "../io/safetensors.js";
import { loadModelFolder, saveModelFolder } from "./checkpoint.js";
import type { ModelConfig } from "./config.js";
import type { ModelWeights } from "./weights.js";

export { CHECKPOINT_DIR, isCheckpointEntry, PREVIOUS_CHECKPOINT_DIR, removeCheckpointTemps } from "../io/checkpoint-folder.js";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "state.json";

export interface LoadedCheckpoint<State> {
  /** The folder it was read from (checkpoint/ or checkpoint.previous/). */
  dir: string;
  cfg: ModelConfig;
  weights: ModelWeights;
  optimizer: OptimizerState;
  state: State;
}

/** Writes a complete checkpoint and swaps it in atomically (see the module comment). Returns its folder. */
export function writeCheckpoint(
  outDir: string, cfg: ModelConfig, weights: ModelWeights, optimizer: OptimizerState, state: object,
): string {
  return writeCheckpointFolder(outDir, (dir) => {
    saveModelFolder(dir, cfg, weights, { dtype: "F32" });
    saveOptimizerState(join(dir, OPTIMIZER_FILE), optimizer);
    // state.json last: a folder with it is complete.
    writeFileAtomicSync(join(dir, STATE_FILE), `${JSON.stringify(state)}\n`);
  });
}

/** AdamW moments as "m.<param>" / "v.<param>" F32 tensors, the step in the metadata. */
export function saveOptimizerState(file: string, optimizer: OptimizerState): void {
  const tensors = new Map<string, SafetensorsTensorToSave>();
  for (const name of Object.keys(optimizer.m).sort()) {
    tensors.set(`m.${name}`, { dtype: "F32", shape: [optimizer.m[name]!.length], data: optimizer.m[name]! });
    tensors.set(`v.${name}`, { dtype: "F32", shape: [optimizer.v[name]!.length], data: optimizer.v[name]! });
  }
  saveSafetensors(file, tensors, { step: String(optimizer.step) });
}

/**
 * The latest complete checkpoint in outDir (checkpoint/, else checkpoint.previous/), or null when there is none.
 * A folder that exists but fails to load is an error (it names the folder), never silently skipped.
 */
export function readLatestCheckpoint<State>(outDir: string): LoadedCheckpoint<State> | null {
  return readLatestCheckpointFolder(outDir, STATE_FILE, (dir) => readCheckpoint<State>(dir));
}

function readCheckpoint<State>(dir: string): LoadedCheckpoint<State> {
  const state = JSON.parse(fs.readFileSync(join(dir, STATE_FILE), "utf8")) as State;
  const { cfg, weights } = loadModelFolder(dir);
  return { dir, cfg, weights, optimizer: loadOptimizerState(join(dir, OPTIMIZER_FILE)), state };
}

/** Reads what saveOptimizerState wrote. */
export function loadOptimizerState(file: string): OptimizerState {
  const reader = openSafetensors(file);
  try {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const name of reader.names()) {
      const target = name.startsWith("m.") ? m : name.startsWith("v.") ? v : null;
      if (target === null) throw new Error(`${OPTIMIZER_FILE}: unexpected tensor "${name}" (expected m.<param> or v.<param>)`);
      target[name.slice(2)] = reader.readFloat32(name);
    }
    const step = Number(reader.metadata?.step);
    if (!Number.isInteger(step) || step < 0) throw new Error(`${OPTIMIZER_FILE}: metadata "step" is missing or not an integer`);
    return { step, m, v };
  } finally {
    reader.close();
  }
}
