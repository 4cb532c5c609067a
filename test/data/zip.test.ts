import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { packageFile } from "../../src/data/packageFiles.js";
import { listZipEntries, readZipEntry } from "../../src/data/zip.js";

/** A zip archive written by hand, with one stored and one deflated entry, to test both paths of the reader. */
function makeZip(files: { name: string; data: Buffer; deflate: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, deflate } of files) {
    const nameBytes = Buffer.from(name, "utf8");
    const body = deflate ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

describe("zip reader", () => {
  it("reads stored and deflated entries", () => {
    const text = Buffer.from("def f(x):\n    return x * 2\n".repeat(50), "utf8");
    const archive = makeZip([
      { name: "pkg/", data: Buffer.alloc(0), deflate: false },
      { name: "pkg/a.py", data: text, deflate: false },
      { name: "pkg/b.py", data: text, deflate: true },
    ]);
    const entries = listZipEntries(archive);
    expect(entries.map((e) => [e.name, e.method])).toEqual([["pkg/", 0], ["pkg/a.py", 0], ["pkg/b.py", 8]]);
    expect(readZipEntry(archive, entries[1]!).equals(text)).toBe(true);
    expect(readZipEntry(archive, entries[2]!).equals(text)).toBe(true);
  });

  it("rejects corrupted data", () => {
    const archive = makeZip([{ name: "a.txt", data: Buffer.from("hello hello hello"), deflate: false }]);
    archive[30 + "a.txt".length] ^= 0xff; // flip the first data byte
    expect(() => readZipEntry(archive, listZipEntries(archive)[0]!)).toThrow(/CRC mismatch in a\.txt/);
    expect(() => listZipEntries(Buffer.from("not a zip file at all, just some text"))).toThrow(/end of central directory/);
  });

  it("finds json/decoder.py in pyodide's python_stdlib.zip with the right content", () => {
    const archive = readFileSync(packageFile("pyodide", "python_stdlib.zip"));
    const entries = listZipEntries(archive);
    const names = new Set(entries.map((e) => e.name));
    for (const known of ["json/decoder.py", "json/__init__.py", "collections/__init__.py", "os.py", "re/_parser.py"]) expect(names).toContain(known);
    const decoder = readZipEntry(archive, entries.find((e) => e.name === "json/decoder.py")!);
    // Reference: sha256 of the same member as extracted by Python's zipfile module.
    expect(createHash("sha256").update(decoder).digest("hex")).toBe("302ce57cb6f411122d7ef2ad2997c1fc0f184849fab3f1f585752f18f2195c73");
    const source = decoder.toString("utf8");
    expect(source.startsWith('"""Implementation of JSONDecoder\n"""\nimport re\n')).toBe(true);
    expect(source).toContain("class JSONDecoder(object):");
  });
});
