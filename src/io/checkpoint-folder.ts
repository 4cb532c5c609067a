/**
 * Crash-safe checkpoint folders shared by every long job (model training, SAE training).
 *
 * A checkpoint is written into a fresh temp folder (OUT/.checkpoint.tmp-PID-HEX; the writer puts its completion
 * marker, e.g. state.json, last), then swapped in by renames: checkpoint → checkpoint.previous, temp → checkpoint,
 * previous removed. A folder named `checkpoint` therefore always holds a complete checkpoint; a crash between the
 * two renames leaves the last one in `checkpoint.previous`, which the reader falls back to; a crash while writing
 * leaves only a temp folder, which the reader ignores and `removeCheckpointTemps` cleans up.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fsyncDirectorySync } from "./atomic.js";

export const CHECKPOINT_DIR = "checkpoint";
export const PREVIOUS_CHECKPOINT_DIR = "checkpoint.previous";
const TEMP_PREFIX = ".checkpoint.tmp-";

/** Writes a checkpoint with `writeContents(tempDir)` and swaps it in atomically. Returns its folder. */
export function writeCheckpointFolder(outDir: string, writeContents: (dir: string) => void): string {
  const temp = join(outDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  fs.mkdirSync(temp, { recursive: true });
  try {
    writeContents(temp);
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const current = join(outDir, CHECKPOINT_DIR);
      const kept = fs.existsSync(current) ? `the previous checkpoint ${current} is intact (--resume continues from it)` : "there is no previous checkpoint";
      throw Object.assign(new Error(`checkpoint not written: ${(error as Error).message.replace(/; the previous .* is intact \(if there was one\)$/, "")}; ${kept}`), { code, cause: error });
    }
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
 * Reads the latest complete checkpoint (checkpoint/, else checkpoint.previous/) — one containing `marker` — with
 * `read(dir)`, or returns null when there is none. A folder that exists but fails to load is an error naming the
 * folder, never silently skipped.
 */
export function readLatestCheckpointFolder<T>(outDir: string, marker: string, read: (dir: string) => T): T | null {
  for (const name of [CHECKPOINT_DIR, PREVIOUS_CHECKPOINT_DIR]) {
    const dir = join(outDir, name);
    if (!fs.existsSync(join(dir, marker))) continue;
    try {
      return read(dir);
    } catch (error) {
      throw new Error(`checkpoint ${dir} cannot be loaded: ${(error as Error).message}`);
    }
  }
  return null;
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
