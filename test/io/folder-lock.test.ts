/** The output-folder lock: held locks are refused naming the holder; locks of dead processes and garbage are taken over. */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { acquireFolderLock, FolderLockedError, LOCK_FILE, processAlive } from "../../src/io/folder-lock.js";

const root = fs.mkdtempSync(join(os.tmpdir(), "saekit-lock-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function deadPid(): number {
  for (let pid = 4_194_000; pid > 4_000_000; pid--) if (!processAlive(pid)) return pid;
  throw new Error("no free pid");
}

describe("folder lock", () => {
  it("refuses a second holder while held, and releases only its own lock", () => {
    const release = acquireFolderLock(root, "sae train");
    expect(() => acquireFolderLock(root, "sae train")).toThrow(FolderLockedError);
    expect(() => acquireFolderLock(root, "sae train")).toThrow(new RegExp(`in use by another saekit process \\(pid ${process.pid}, sae train since`));
    release();
    expect(fs.existsSync(join(root, LOCK_FILE))).toBe(false);
    acquireFolderLock(root, "x")();
  });

  it("takes over the lock of a killed process, and a half-written lock file", () => {
    fs.writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid: deadPid(), hostname: os.hostname(), job: "sae train", since: "then", token: "t" }));
    const release = acquireFolderLock(root, "sae train");
    expect(JSON.parse(fs.readFileSync(join(root, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    release();
    fs.writeFileSync(join(root, LOCK_FILE), '{"pid": 12');
    acquireFolderLock(root, "sae train")();
    expect(fs.existsSync(join(root, LOCK_FILE))).toBe(false);
  });
});
