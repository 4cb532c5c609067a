/**
 * An exclusive lock on an output folder, so two long jobs (two `sae train` runs) never write one folder at once.
 *
 * The lock is a file DIR/.saekit.lock created with O_EXCL holding {pid, hostname, job, since, token}. A lock whose
 * process is gone (SIGKILL, power loss) is stale and taken over; one held by a live process — this one included —
 * is refused, naming the pid. Released by removing the file, only while it still holds this holder's token.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import { join } from "node:path";

export const LOCK_FILE = ".saekit.lock";

export class FolderLockedError extends Error {
  override name = "FolderLockedError";
}

interface LockRecord {
  pid: number;
  hostname: string;
  job: string;
  since: string;
  token: string;
}

/** Whether process `pid` exists on this machine (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock on `dir` (which must exist) for `job`; returns the function that releases it. */
export function acquireFolderLock(dir: string, job: string): () => void {
  const path = join(dir, LOCK_FILE);
  const record: LockRecord = { pid: process.pid, hostname: os.hostname(), job, since: new Date().toISOString(), token: randomBytes(8).toString("hex") };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(path, `${JSON.stringify(record)}\n`, { flag: "wx" });
      return () => {
        try {
          const held = JSON.parse(fs.readFileSync(path, "utf8")) as Partial<LockRecord>;
          if (held.token === record.token) fs.rmSync(path, { force: true });
        } catch {
          // Already gone or unreadable: nothing of ours to remove.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let held: Partial<LockRecord> | null = null;
    try {
      held = JSON.parse(fs.readFileSync(path, "utf8")) as Partial<LockRecord>;
    } catch {
      held = null; // half-written or garbage: treat as stale
    }
    const otherHost = held?.hostname !== undefined && held.hostname !== os.hostname();
    if (held !== null && (otherHost || processAlive(Number(held.pid)))) {
      throw new FolderLockedError(
        `${dir} is in use by another saekit process (pid ${held.pid}${otherHost ? ` on ${held.hostname}` : ""}, ${held.job ?? "a job"} since ${held.since ?? "?"}); ` +
          `wait for it to finish or stop it, or use another folder (if no such process runs, remove ${path})`,
      );
    }
    fs.rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new FolderLockedError(`${dir}: could not take the lock ${path} (another process keeps taking it)`);
}
