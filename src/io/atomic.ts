/**
 * Atomic file writes: readers of `path` see either the old file or the complete new one, never a
 * half-written file (a crash mid-checkpoint must not destroy the previous checkpoint).
 *
 * Recipe: write to a uniquely named temp file in the same directory (rename is only atomic within
 * one filesystem), fsync it, rename it over the target, then fsync the directory so the rename
 * itself survives a power loss (best-effort: not every platform can fsync a directory). On any
 * error the temp file is removed and the previous file is left untouched.
 *
 * Large outputs are streamed: pass an iterable (e.g. a generator) of chunks instead of one buffer,
 * and each chunk is written as soon as it is produced.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { processAlive } from "./folder-lock.js";

/** One buffer, a UTF-8 string, or a sequence of byte chunks written in order. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array>;
/** As {@link AtomicData}, plus async sequences (streams, async generators). */
export type AtomicDataAsync = AtomicData | AsyncIterable<Uint8Array>;

/** The temp-file name used next to `path` (exported for tests and for cleanup tools). */
export function atomicTempPath(path: string): string {
  const target = resolve(path);
  const suffix = `${process.pid}-${randomBytes(6).toString("hex")}`;
  return join(dirname(target), `.${basename(target)}.tmp-${suffix}`);
}

/** Temp files left behind by a crashed process look like this (`.NAME.tmp-PID-HEX`). */
export const ATOMIC_TEMP_PATTERN = /^\..+\.tmp-\d+-[0-9a-f]{12}$/;

/** The writer's pid in a temp file name, or null when the name is not one. */
function tempOwner(name: string): number | null {
  if (!ATOMIC_TEMP_PATTERN.test(name)) return null;
  return Number(/\.tmp-(\d+)-[0-9a-f]{12}$/.exec(name)![1]);
}

/**
 * Removes the temp files in `dir` whose writer is gone (killed mid-write: SIGKILL, power loss); `forName` limits it
 * to the temps of one target file. A live process's temps (this one's included) are left alone. Returns the names.
 */
export function removeStaleAtomicTemps(dir: string, forName?: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (forName !== undefined && !name.startsWith(`.${forName}.tmp-`)) continue;
    const pid = tempOwner(name);
    if (pid === null || pid === process.pid || processAlive(pid)) continue;
    try {
      fs.rmSync(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // Another process got there first, or it is not ours to remove: harmless.
    }
  }
  return removed;
}

/** A full disk (or quota) is named as such, with the path, and the previous file is said to be intact. */
function explainWriteError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== "ENOSPC" && code !== "EDQUOT") return err;
  const what = code === "ENOSPC" ? "no space left on the device" : "disk quota exceeded";
  return Object.assign(new Error(`${what} writing ${target} (${(err as Error).message}); the previous ${basename(target)} is intact (if there was one)`), { code, cause: err });
}

/** A target that is a folder (a --json or --out given a directory) is refused before any temp file is made. */
function refuseDirectory(target: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    return;
  }
  if (stat.isDirectory()) throw Object.assign(new Error(`${target} is a directory; give a file path`), { code: "EISDIR" });
}

function asChunks(data: AtomicData): Iterable<Uint8Array> {
  if (typeof data === "string") return [Buffer.from(data, "utf8")];
  if (data instanceof Uint8Array) return [data];
  return data;
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let written = 0;
  while (written < chunk.byteLength) {
    written += fs.writeSync(fd, chunk, written, chunk.byteLength - written);
  }
}

/** fsync a directory so a rename in it is durable; best-effort where the platform refuses. */
export function fsyncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Best-effort: Windows and some filesystems refuse to open or fsync a directory.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Write `data` to `path` atomically (synchronous). */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
  const target = resolve(path);
  refuseDirectory(target);
  removeStaleAtomicTemps(dirname(target), basename(target));
  const tmp = atomicTempPath(target);
  // "wx": fail rather than clobber if the (random) temp name somehow exists.
  let fd: number | undefined = fs.openSync(tmp, "wx");
  try {
    for (const chunk of asChunks(data)) writeAllSync(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    fs.rmSync(tmp, { force: true });
    throw explainWriteError(err, target);
  }
  fsyncDirectorySync(dirname(target));
}

async function* asAsyncChunks(data: AtomicDataAsync): AsyncIterable<Uint8Array> {
  if (typeof data === "string" || data instanceof Uint8Array || Symbol.iterator in data) {
    yield* asChunks(data as AtomicData);
  } else {
    yield* data;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, "r");
    await handle.sync();
  } catch {
    // Best-effort, as in fsyncDirectorySync.
  } finally {
    await handle?.close();
  }
}

/** Write `data` to `path` atomically; chunks may come from an async source (e.g. a stream). */
export async function writeFileAtomic(path: string, data: AtomicDataAsync): Promise<void> {
  const target = resolve(path);
  refuseDirectory(target);
  removeStaleAtomicTemps(dirname(target), basename(target));
  const tmp = atomicTempPath(target);
  let handle: fs.promises.FileHandle | undefined = await fs.promises.open(tmp, "wx");
  try {
    for await (const chunk of asAsyncChunks(data)) {
      let written = 0;
      while (written < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
        written += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw explainWriteError(err, target);
  }
  await fsyncDirectory(dirname(target));
}
