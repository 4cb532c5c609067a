/**
 * Atomic writes when things go wrong (issue 13 item 11): a full disk names the path and says the previous file or
 * checkpoint is intact; a target that is a directory is refused before any temp file is made; temp files a killed
 * process left (.NAME.tmp-PID-HEX) are removed by the next write, while a live process's are left alone.
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { removeStaleAtomicTemps, writeFileAtomic, writeFileAtomicSync } from "../../src/io/atomic.js";
import { writeCheckpointFolder } from "../../src/io/checkpoint-folder.js";

const root = fs.mkdtempSync(join(os.tmpdir(), "saekit-atomic-rel-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());
let n = 0;
const fresh = () => {
  const d = join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
};

function enospc(): never {
  throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
}

/** A pid that is not running (the highest pids are free on any normal system). */
function deadPid(): number {
  for (let pid = 4_194_000; pid > 4_000_000; pid--) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
  throw new Error("no free pid found");
}

describe("atomic writes when the disk is full, the target is a folder, or a writer was killed", () => {
  it("ENOSPC names the path and says the previous file is intact (sync and async); no temp file stays", async () => {
    const dir = fresh();
    const file = join(dir, "eval.json");
    fs.writeFileSync(file, "old");
    vi.spyOn(fs, "writeSync").mockImplementation(enospc);
    expect(() => writeFileAtomicSync(file, "new")).toThrow(new RegExp(`no space left on the device writing ${file}.*previous eval\\.json is intact`));
    vi.restoreAllMocks();
    const handleWrite = vi.spyOn(fs.promises, "open");
    handleWrite.mockImplementationOnce(async (...args: Parameters<typeof fs.promises.open>) => {
      const h = await (vi.importActual<typeof import("node:fs")>("node:fs") as unknown as Promise<typeof fs>).then((m) => m.promises.open(...args));
      h.write = (() => enospc()) as unknown as typeof h.write;
      return h;
    });
    await expect(writeFileAtomic(file, "new")).rejects.toThrow(/no space left on the device writing .*eval\.json.*intact/);
    expect(fs.readFileSync(file, "utf8")).toBe("old");
    expect(fs.readdirSync(dir)).toEqual(["eval.json"]);
  });

  it("a checkpoint that does not fit says the previous checkpoint is intact", () => {
    const dir = fresh();
    writeCheckpointFolder(dir, (tmp) => writeFileAtomicSync(join(tmp, "state.json"), "1"));
    vi.spyOn(fs, "writeSync").mockImplementation(enospc);
    expect(() => writeCheckpointFolder(dir, (tmp) => writeFileAtomicSync(join(tmp, "state.json"), "2"))).toThrow(
      new RegExp(`checkpoint not written: no space left on the device .*; the previous checkpoint ${join(dir, "checkpoint")} is intact`),
    );
    vi.restoreAllMocks();
    expect(fs.readFileSync(join(dir, "checkpoint", "state.json"), "utf8")).toBe("1");
    expect(fs.readdirSync(dir)).toEqual(["checkpoint"]);
  });

  it("a target that is a folder is refused by name, and nothing is left in its parent", async () => {
    const dir = fresh();
    fs.mkdirSync(join(dir, "out.json"));
    expect(() => writeFileAtomicSync(join(dir, "out.json"), "x")).toThrow(`${join(dir, "out.json")} is a directory; give a file path`);
    await expect(writeFileAtomic(join(dir, "out.json"), "x")).rejects.toThrow(/out\.json is a directory/);
    expect(fs.readdirSync(dir)).toEqual(["out.json"]);
  });

  it("removes the temp files of killed writers, not those of live ones", () => {
    const dir = fresh();
    const dead = `.training.json.tmp-${deadPid()}-0123456789ab`;
    const live = `.training.json.tmp-${process.pid}-0123456789ab`;
    const other = `.cfg.json.tmp-${deadPid()}-abcdef012345`;
    for (const name of [dead, live, other]) fs.writeFileSync(join(dir, name), "partial");
    writeFileAtomicSync(join(dir, "training.json"), "{}");
    expect(fs.readdirSync(dir).sort()).toEqual([live, other, "training.json"].sort());
    expect(removeStaleAtomicTemps(dir)).toEqual([other]);
    expect(fs.readdirSync(dir).sort()).toEqual([live, "training.json"].sort());
  });
});
