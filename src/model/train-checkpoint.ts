/**
 * Training checkpoints: everything a resumed run needs to continue bit-for-bit.
 *
 *   OUT/checkpoint/config.json + model.safetensors   the weights, float32 (a regular model folder)
 *   OUT/checkpoint/optimizer.safetensors             AdamW moments "m.<param>", "v.<param>" (F32)
 *   OUT/checkpoint/state.json                        step, RNG / data-order position, history, run identity
 *
 * Atomicity: a checkpoint is written into a fresh temp folder (OUT/.checkpoint.tmp-PID-HEX, state.json last),
 * then swapped in by renames: checkpoint → checkpoint.previous, temp → checkpoint, previous removed. A folder
 * named `checkpoint` therefore always holds a complete checkpoint; a crash between the two renames leaves the
 * last one in `checkpoint.previous`, which the reader falls back to; a crash while writing leaves only a temp
 * folder, which the reader ignores and `removeCheckpointTemps` cleans up.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { OptimizerState } from "../core/optim.js";
import { fsyncDirectorySync, writeFileAtomicSync } from "../io/atomic.js";
import { openSafetensors, saveSafetensors, type SafetensorsTensorToSave } from "../io/safetensors.js";
import { loadModelFolder, saveModelFolder } from "./checkpoint.js";
import type { ModelConfig } from "./config.js";
import type { ModelWeights } from "./weights.js";

export const CHECKPOINT_DIR = "checkpoint";
export const PREVIOUS_CHECKPOINT_DIR = "checkpoint.previous";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const STATE_FILE = "state.json";
const TEMP_PREFIX = ".checkpoint.tmp-";

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
  const temp = join(outDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  fs.mkdirSync(temp, { recursive: true });
  try {
    saveModelFolder(temp, cfg, weights, { dtype: "F32" });
    const tensors = new Map<string, SafetensorsTensorToSave>();
    for (const name of Object.keys(optimizer.m).sort()) {
      tensors.set(`m.${name}`, { dtype: "F32", shape: [optimizer.m[name]!.length], data: optimizer.m[name]! });
      tensors.set(`v.${name}`, { dtype: "F32", shape: [optimizer.v[name]!.length], data: optimizer.v[name]! });
    }
    saveSafetensors(join(temp, OPTIMIZER_FILE), tensors, { step: String(optimizer.step) });
    // state.json last: a folder with it is complete.
    writeFileAtomicSync(join(temp, STATE_FILE), `${JSON.stringify(state)}\n`);
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  const current = join(outDir, CHECKPOINT_DIR);
  const previous = join(outDir, PREVIOUS_CHECKPOINT_DIR);
  if (fs.existsSync(current)) {
    fs.rmSync(previous, { recursive: true, force: true });
    fs.renameSync(current, previous);
  }
  fs.renameSync(temp, current);
  fs.rmSync(previous, { recursive: true, force: true });
  fsyncDirectorySync(outDir);
  return current;
}

/**
 * The latest complete checkpoint in outDir (checkpoint/, else checkpoint.previous/), or null when there is none.
 * A folder that exists but fails to load is an error (it names the folder), never silently skipped.
 */
export function readLatestCheckpoint<State>(outDir: string): LoadedCheckpoint<State> | null {
  for (const name of [CHECKPOINT_DIR, PREVIOUS_CHECKPOINT_DIR]) {
    const dir = join(outDir, name);
    if (!fs.existsSync(join(dir, STATE_FILE))) continue;
    try {
      return readCheckpoint<State>(dir);
    } catch (error) {
      throw new Error(`checkpoint ${dir} cannot be loaded: ${(error as Error).message}`);
    }
  }
  return null;
}

function readCheckpoint<State>(dir: string): LoadedCheckpoint<State> {
  const state = JSON.parse(fs.readFileSync(join(dir, STATE_FILE), "utf8")) as State;
  const { cfg, weights } = loadModelFolder(dir);
  const reader = openSafetensors(join(dir, OPTIMIZER_FILE));
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
    return { dir, cfg, weights, optimizer: { step, m, v }, state };
  } finally {
    reader.close();
  }
}

/** Removes temp folders left by a checkpoint write that crashed. Returns their names. */
export function removeCheckpointTemps(outDir: string): string[] {
  if (!fs.existsSync(outDir)) return [];
  const stale = fs.readdirSync(outDir).filter((name) => name.startsWith(TEMP_PREFIX));
  for (const name of stale) fs.rmSync(join(outDir, name), { recursive: true, force: true });
  return stale;
}

/** Whether a folder entry is checkpoint machinery (the current, previous or an unfinished temp checkpoint). */
export function isCheckpointEntry(name: string): boolean {
  return name === CHECKPOINT_DIR || name === PREVIOUS_CHECKPOINT_DIR || name.startsWith(TEMP_PREFIX);
}
