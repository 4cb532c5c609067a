import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ATOMIC_TEMP_PATTERN, atomicTempPath, writeFileAtomic, writeFileAtomicSync } from "../../src/io/atomic.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-atomic-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const bytes = (...values: number[]) => Uint8Array.from(values);

function* chunksThatFail(): Generator<Uint8Array> {
  yield bytes(1, 2, 3);
  yield bytes(4, 5);
  throw new Error("producer failed mid-way");
}

async function* asyncChunksThatFail(): AsyncGenerator<Uint8Array> {
  yield bytes(1, 2, 3);
  await new Promise((r) => setTimeout(r, 1));
  throw new Error("async producer failed mid-way");
}

describe("atomicTempPath", () => {
  it("names a hidden, unique file in the target's directory", () => {
    const target = path.join(dir, "model.safetensors");
    const a = atomicTempPath(target);
    const b = atomicTempPath(target);
    expect(path.dirname(a)).toBe(dir);
    expect(path.basename(a)).toMatch(ATOMIC_TEMP_PATTERN);
    expect(path.basename(a).startsWith(".model.safetensors.tmp-")).toBe(true);
    expect(a).not.toBe(b);
  });
});

describe("writeFileAtomicSync", () => {
  it("writes a buffer, a string, or a sequence of chunks, leaving no temp files", () => {
    const target = path.join(dir, "out.bin");
    writeFileAtomicSync(target, bytes(9, 8, 7));
    expect([...fs.readFileSync(target)]).toEqual([9, 8, 7]);

    writeFileAtomicSync(target, "héllo");
    expect(fs.readFileSync(target, "utf8")).toBe("héllo");

    writeFileAtomicSync(target, [bytes(1), bytes(), Buffer.from([2, 3])]);
    expect([...fs.readFileSync(target)]).toEqual([1, 2, 3]);

    function* generated() {
      for (let i = 0; i < 4; i++) yield new Uint8Array(1000).fill(i);
    }
    writeFileAtomicSync(target, generated());
    const read = fs.readFileSync(target);
    expect(read.length).toBe(4000);
    expect(read[999]).toBe(0);
    expect(read[3999]).toBe(3);
    expect(fs.readdirSync(dir)).toEqual(["out.bin"]);
  });

  it("keeps the previous file intact and removes the temp file when the producer throws", () => {
    const target = path.join(dir, "ckpt.bin");
    fs.writeFileSync(target, "previous checkpoint");
    expect(() => writeFileAtomicSync(target, chunksThatFail())).toThrow("producer failed mid-way");
    expect(fs.readFileSync(target, "utf8")).toBe("previous checkpoint");
    expect(fs.readdirSync(dir)).toEqual(["ckpt.bin"]);
  });

  it("removes the temp file when the final rename fails", () => {
    const target = path.join(dir, "is-a-dir");
    fs.mkdirSync(path.join(target, "child"), { recursive: true });
    expect(() => writeFileAtomicSync(target, bytes(1))).toThrow();
    expect(fs.readdirSync(dir)).toEqual(["is-a-dir"]);
  });

  it("fails without side effects when the directory does not exist", () => {
    expect(() => writeFileAtomicSync(path.join(dir, "missing", "x.bin"), bytes(1))).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("writeFileAtomic (async)", () => {
  it("writes buffers, strings, sync and async chunk sequences and streams", async () => {
    const target = path.join(dir, "out.bin");
    await writeFileAtomic(target, bytes(1, 2));
    expect([...fs.readFileSync(target)]).toEqual([1, 2]);
    await writeFileAtomic(target, "text");
    expect(fs.readFileSync(target, "utf8")).toBe("text");
    await writeFileAtomic(target, [bytes(3), bytes(4)]);
    expect([...fs.readFileSync(target)]).toEqual([3, 4]);
    await writeFileAtomic(
      target,
      (async function* () {
        yield bytes(5);
        yield bytes(6, 7);
      })(),
    );
    expect([...fs.readFileSync(target)]).toEqual([5, 6, 7]);
    await writeFileAtomic(target, Readable.from([Buffer.from("ab"), Buffer.from("cd")]));
    expect(fs.readFileSync(target, "utf8")).toBe("abcd");
    expect(fs.readdirSync(dir)).toEqual(["out.bin"]);
  });

  it("keeps the previous file intact and removes the temp file when the source throws", async () => {
    const target = path.join(dir, "ckpt.bin");
    fs.writeFileSync(target, "previous checkpoint");
    await expect(writeFileAtomic(target, asyncChunksThatFail())).rejects.toThrow("async producer failed mid-way");
    await expect(writeFileAtomic(target, chunksThatFail())).rejects.toThrow("producer failed mid-way");
    expect(fs.readFileSync(target, "utf8")).toBe("previous checkpoint");
    expect(fs.readdirSync(dir)).toEqual(["ckpt.bin"]);
  });
});
